"""Recovery never loses work: an editor killed mid-edit leaves its autosaved work, the next editor offers it
as an unsaved document, closing asks, and the file goes only after a save or an explicit discard. A
running editor's recovery files are never offered to, or deleted by, another editor."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from gpstoken_studio.testing import GOLDEN, make_studio, wait_idle  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.timeout(300)]

# A real editor window that deletes three Gaussians (one undo step), waits for its autosave, then starts
# dragging a Gaussian with the mouse and never releases: it is killed mid-edit.
EDITOR = """
import sys, time
import vispy
vispy.use("pyside6")
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from gpstoken_studio.model import Settings, commands
from gpstoken_studio.testing import canvas_point
from gpstoken_studio.tools import Mode
from gpstoken_studio.widgets.main_window import MainWindow

app = QApplication([])
win = MainWindow(settings=Settings(tokens_per_tile=32, fit_steps=0), autosave_s=0.2)
win.show()
assert win.open_path(sys.argv[1])
assert win.wait_idle(120)
doc = win.document
doc.history.push(commands.delete_tokens(doc, [0, 1, 2]))
while win.autosaver.path is None or not win.autosaver.path.is_file():
    QTest.qWait(50)
win.autosaver.wait()
win.set_mode(Mode.MOVE)
start = canvas_point(win, doc.plane.centers(doc.layout.geometry())[10])
QTest.mousePress(win.canvas.native, Qt.LeftButton, Qt.NoModifier, start)
QTest.mouseMove(win.canvas.native, start + QPoint(20, 10))
print("READY", win.autosaver.path, flush=True)
while True:
    QTest.qWait(100)
"""


def start_editor(recovery_dir) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, GPSTOKEN_STUDIO_RECOVERY_DIR=str(recovery_dir), GPSTOKEN_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", EDITOR, str(GOLDEN / "camera.png")], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY "), proc.stderr.read() if proc.poll() is not None else line
    return proc, line.split(" ", 1)[1].strip()


def answering(monkeypatch, *answers):
    """QMessageBox.question answers ``answers`` in turn; returns the texts it was asked."""
    asked, queue = [], list(answers)
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, _title, text, *a, **k: asked.append(text)
                        or queue.pop(0))
    return asked


def test_work_of_an_editor_killed_mid_edit_is_offered_kept_and_asked_about(make_studio, qtbot, tmp_path,
                                                                         monkeypatch):
    win = make_studio(image=None)
    proc, path = start_editor(win.autosaver.root)
    try:
        asked = answering(monkeypatch)
        assert not win.offer_recovery() and not asked  # that editor is running: its work is not offered
        assert os.path.isfile(path)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        asked = answering(monkeypatch, QMessageBox.Open)
        assert win.offer_recovery()
    finally:
        proc.kill()
    assert len(asked) == 1 and os.path.basename(path) in asked[0]
    wait_idle(win)
    doc = win.document
    assert doc.layout.deleted().sum() == 3 and doc.layout.deleted()[:3].all()  # the committed edit, not the drag
    assert doc.history.dirty and doc.project_path is None and win.windowTitle().startswith("camera.png *")
    kept = win.autosaver.path
    assert kept is not None and kept.is_file() and not os.path.exists(path)  # moved into this editor's folder

    win.confirm_close = True
    asked = answering(monkeypatch, QMessageBox.Cancel)
    win.close()
    assert win.isVisible() and kept.is_file() and asked == ["Save changes before closing?"]
    answering(monkeypatch, QMessageBox.Discard)
    win.close()
    assert not win.isVisible() and not kept.exists()
    assert list(win.autosaver.root.iterdir()) == []  # both folders are gone with their last file


def test_recovered_work_stays_recoverable_until_saved(make_studio, qtbot, tmp_path, monkeypatch):
    from gpstoken_studio.model import commands

    first = make_studio(tokens=16, steps=0, autosave_s=0.2)
    doc = first.document
    doc.history.push(commands.delete_tokens(doc, [4]))
    qtbot.waitUntil(lambda: first.autosaver.path is not None and first.autosaver.path.is_file(), timeout=10000)
    first.autosaver.wait()
    first.close()  # not asked (confirm_close is off in tests): a clean exit keeps unsaved work
    second = make_studio(image=None)
    answering(monkeypatch, QMessageBox.Ignore)
    assert not second.offer_recovery()  # Ignore keeps it for the next start
    answering(monkeypatch, QMessageBox.Open)
    assert second.offer_recovery()
    wait_idle(second)
    assert second.document.layout.deleted().tolist() == doc.layout.deleted().tolist()
    kept = second.autosaver.path
    second.close()  # closed again without a save: still kept
    assert kept.is_file()
    third = make_studio(image=None)
    answering(monkeypatch, QMessageBox.Open)
    assert third.offer_recovery()
    assert third.save_project(tmp_path / "saved.gpsproj")
    assert not list(third.autosaver.root.rglob("*.gpsproj")) and not third.document.history.dirty
    assert np.array_equal(third.document.layout.deleted(), doc.layout.deleted())


def test_discarding_an_offered_file_deletes_it(make_studio, qtbot, monkeypatch):
    from gpstoken_studio.model import commands

    first = make_studio(tokens=16, steps=0)
    first.document.history.push(commands.delete_tokens(first.document, [1]))
    first.close()
    second = make_studio(image=None)
    assert len(list(second.autosaver.root.rglob("*.gpsproj"))) == 1
    answering(monkeypatch, QMessageBox.Discard)
    assert not second.offer_recovery() and second.document is None
    assert list(second.autosaver.root.iterdir()) == []


def test_two_editors_in_one_process_keep_separate_recovery_files(make_studio, qtbot):
    from gpstoken_studio.model import commands

    a, b = make_studio(tokens=16, steps=0), make_studio(GOLDEN / "coffee.png", tokens=16, steps=0)
    for win in (a, b):
        win.document.history.push(commands.delete_tokens(win.document, [0]))
        win.autosaver.save_now(wait=True)
    assert a.autosaver.path.parent != b.autosaver.path.parent
    assert a.autosaver.path.name.startswith("camera-") and b.autosaver.path.name.startswith("coffee-")
    assert b.autosaver.orphans() == []  # a is running
    a.document.history.undo()  # a has nothing unsaved any more: its file goes when it closes
    a_file = a.autosaver.path
    a.close()
    assert not a_file.exists() and not a_file.parent.exists() and b.autosaver.path.is_file()


def test_an_unwritable_recovery_folder_is_a_status_message_not_a_crash(make_studio, qtbot, tmp_path, monkeypatch):
    from gpstoken_studio.model import commands

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the recovery folder should be")
    win = make_studio(tokens=16, steps=0)
    win.autosaver.root = blocker / "recovery"
    messages = []
    win.autosaver.failed.connect(messages.append)
    win.document.history.push(commands.delete_tokens(win.document, [0]))
    win.autosaver.save_now(wait=True)
    assert len(messages) == 1 and messages[0].startswith("autosave failed:") and win.autosaver.path is None
