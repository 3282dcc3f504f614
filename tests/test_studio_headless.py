"""Scripted and headless runs never wait for a person: errors are one line on stderr with status 2.

Each case starts ``gpstoken-studio`` in a subprocess on the test's (Xvfb) display with stdin not a
terminal; before this, a modal QMessageBox opened and the run hung forever.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from gpstoken_studio.testing import GOLDEN, make_studio, wait_idle  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.timeout(300)]
TIMEOUT_S = 120


def studio(args: list[str], cwd: Path, recovery: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, GPSTOKEN_STUDIO_RECOVERY_DIR=str(recovery), GPSTOKEN_THREADS="1")
    return subprocess.run([sys.executable, "-m", "gpstoken_studio.main", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "lying.gpsproj").write_bytes(b"PK\x03\x04 not a zip")
    return tmp_path


@pytest.mark.parametrize("args, says", [
    (["MISSING.png", "--screenshot", "s.png"], "no such image file: MISSING.png"),
    (["notes.txt", "--screenshot", "s.png"], "notes.txt: not a readable image"),
    (["folder", "--screenshot", "s.png"], "folder is a folder"),
    (["lying.gpsproj", "--screenshot", "s.png"], "lying.gpsproj: not a readable"),
    (["--model", "notes.txt", str(GOLDEN / "camera.png"), "--screenshot", "s.png"], "notes.txt: not a readable"),
    (["--screenshot", "s.png"], "--screenshot needs an IMAGE"),
    (["MISSING.png"], "no such image file: MISSING.png"),  # no --screenshot, stdin not a terminal
], ids=["missing", "text_file", "folder", "bad_project", "bad_model", "no_image", "missing_no_screenshot"])
def test_a_bad_argument_is_one_line_on_stderr_and_status_2(files, args, says):
    done = studio(args, files, files / "recovery")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("gpstoken-studio: ") and says in lines[0], lines
    assert not (files / "s.png").exists()


def test_a_screenshot_run_writes_the_png_and_leaves_other_recovery_files_alone(tmp_path):
    other = tmp_path / "recovery" / "an-ended-editor"
    other.mkdir(parents=True)
    (other / "work-1.gpsproj").write_bytes(b"someone's unsaved work")
    done = studio([str(GOLDEN / "camera.png"), "--engine", "fit", "--tokens", "16", "--steps", "2",
                   "--screenshot", "s.png"], tmp_path, tmp_path / "recovery")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "s.png").stat().st_size > 10_000
    assert (other / "work-1.gpsproj").read_bytes() == b"someone's unsaved work"
    assert sorted(p.name for p in (tmp_path / "recovery").iterdir()) == ["an-ended-editor"]


def test_an_unwritable_screenshot_path_is_one_line_and_status_2(tmp_path):
    done = studio([str(GOLDEN / "camera.png"), "--engine", "fit", "--tokens", "16", "--steps", "0",
                   "--screenshot", str(tmp_path / "no" / "such" / "folder" / "s.png")], tmp_path, tmp_path / "r")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "cannot write the screenshot" in lines[0], done.stderr


def test_unattended_dialogs_answer_nothing_and_report_on_stderr(make_studio, qtbot, monkeypatch, capsys):
    from gpstoken_studio.model import commands
    from gpstoken_studio.widgets.prompts import NO_ANSWER

    def never(*_a, **_k):
        raise AssertionError("a dialog opened in an unattended run")

    for name in ("critical", "question", "about"):
        monkeypatch.setattr(QMessageBox, name, never)
    win = make_studio(tokens=16, steps=0)
    win.prompts.unattended = True
    win.confirm_close = True
    assert not win.open_path(GOLDEN / "no-such.png")
    assert capsys.readouterr().err == f"gpstoken-studio: no such image file: {GOLDEN / 'no-such.png'}\n"
    assert win.prompts.ask("Q", "?") == NO_ANSWER and win.prompts.save_path("S", "", "") == ""
    doc = win.document
    doc.history.push(commands.delete_tokens(doc, [0]))
    assert win.confirm_discard()  # nobody to ask: go on, and the autosaver keeps the work
    assert win.open_path(GOLDEN / "coffee.png")
    wait_idle(win)
    kept = list(win.autosaver.root.rglob("*.gpsproj"))
    assert len(kept) == 1 and kept[0].name.startswith("camera-")
