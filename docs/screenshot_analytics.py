"""Re-create docs/analytics.png: the Metrics, Region and Workbench docks after a density stroke on the face, a
warm refit (before/after), a pinned snapshot and a sweep across token counts.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_analytics.py [OUT.png]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from screenshot import open_editor, paint_stroke, pump  # docs/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path = ROOT / "docs" / "analytics.png") -> int:
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtWidgets import QDockWidget

    from gpstoken_studio.model.region_analytics import SOURCES

    app, win = open_editor(ROOT / "assets" / "images" / "astronaut.png", (1500, 1000), 900,
                           tokens_per_tile=64, fit_steps=30, brush_radius=16.0)
    doc = win.document
    win.region_panel.source.setCurrentIndex(SOURCES.index("painted"))
    paint_stroke(app, win, [np.array([x, 90 + 12 * np.sin(x / 25)]) for x in np.linspace(80, 180, 21)])  # the face
    assert win.wait_idle(900)
    win.region_panel.analytics.pin("A")
    doc.update_settings(fit_steps=60)  # 60 more steps, warm-started: "before" is the 30-step fit
    assert win.wait_idle(900)
    win.pipeline.sweep((16, 32, 64, 128, 256))
    assert win.wait_idle(1800)
    win.workbench.table.selectRow(0)
    pump(app, 0.8)
    docks = [win.findChild(QDockWidget, name) for name in ("Inspector", "Metrics", "Region", "Workbench")]
    docks[3].raise_()
    win.resizeDocks(docks, [120, 170, 330, 360], Qt.Vertical)  # room for every row of the Region table
    pump(app, 0.5)
    area = QRect()
    for name in ("Metrics", "Region", "Workbench"):
        dock = win.findChild(QDockWidget, name)
        area = area.united(QRect(dock.mapTo(win, dock.rect().topLeft()), dock.size()))
    if not win.grab(area).save(str(out)):
        print(f"cannot write {out}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(a) for a in sys.argv[1:2])))
