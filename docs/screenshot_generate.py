"""Re-create docs/generate.png: the Generate panel after a sampled, hand-edited and calibrated layout,
three generated candidates in the staging strip, one of them staged over the right view.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_generate.py [OUT.png]
"""
from __future__ import annotations

import sys
from pathlib import Path

import vispy
from screenshot import pump, save_window  # docs/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]


def settle(app, win, seconds: float = 0.8) -> None:
    """Wait for the Generate panel's job and the pipeline, then let the canvas draw."""
    while win.generation.job is not None:
        pump(app, 0.02)
    win.wait_idle(600)
    pump(app, seconds)


def main(out: Path = ROOT / "docs" / "generate.png") -> int:
    vispy.use("pyside6")
    from PySide6.QtWidgets import QApplication

    from gpstoken.settings import set_threads
    from gpstoken_studio.model import commands
    from gpstoken_studio.widgets.main_window import MainWindow
    from gpstoken_studio.widgets.style import apply_dark_style

    set_threads(1)
    app = QApplication.instance() or QApplication([])
    apply_dark_style(app)
    win = MainWindow(autosave_s=3600)
    win.confirm_close = False
    win.resize(1500, 900)
    win.show()
    panel = win.show_generate()
    doc = panel.new_blank()
    panel.layout_seed.setValue(3)
    panel.sample_layout()
    settle(app, win)
    # a hand edit: drop a handful of tokens, then calibrate back to the generator's count
    doc.history.push(commands.delete_tokens(doc, doc.layout.live()[::9]))
    panel.calibrate()
    panel.count.setValue(3)
    panel.seed.setValue(4)
    panel.generate()
    settle(app, win)
    panel.strip.setCurrentRow(1)
    win.generation_dock.widget().ensureWidgetVisible(panel.strip, 0, 60)  # the panel scrolls in its dock
    settle(app, win, 0.0)
    return save_window(app, win, out)


if __name__ == "__main__":
    sys.exit(main(*(Path(a) for a in sys.argv[1:2])))
