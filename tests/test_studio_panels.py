"""Panel geometry in the real window: opening the Generate or Training dock keeps the window's size and
the other docks' sizes, and no dock or column is clipped at 1500x900 and 1280x800."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QDockWidget

from gpstoken_studio.testing import make_studio  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)
SIZES = [(1500, 900), (1280, 800)]


def settle(qtbot, win, w: int, h: int) -> None:
    win.resize(w, h)
    qtbot.waitUntil(lambda: win.size().toTuple() == (w, h), timeout=5000)
    qtbot.wait(200)


def in_window(win, widget) -> QRect:
    return QRect(widget.mapTo(win, QPoint(0, 0)), widget.size())


def shown_docks(win) -> dict[str, QDockWidget]:
    return {d.objectName(): d for d in win.findChildren(QDockWidget)
            if d.isVisible() and not d.visibleRegion().isEmpty()}


def assert_not_clipped(win) -> None:
    """Every shown dock lies inside the window and is at least its minimum size; the Metrics columns
    are as wide as their headers and inside the table's viewport."""
    frame = win.rect()
    for name, dock in shown_docks(win).items():
        assert frame.contains(in_window(win, dock)), f"{name} reaches outside the window"
        inner = dock.widget()
        hint = inner.minimumSizeHint()
        assert inner.width() >= hint.width() and inner.height() >= hint.height(), f"{name} squashed below its minimum"
    table = win.metrics.table
    header = table.horizontalHeader()
    for col in range(table.columnCount()):
        assert table.columnWidth(col) >= header.sectionSizeHint(col), f"column {col} clips its header"
        right = table.columnViewportPosition(col) + table.columnWidth(col)
        assert 0 <= table.columnViewportPosition(col) and right <= table.viewport().width(), f"column {col} cut off"
    assert not table.horizontalScrollBar().isVisible()


def untouched_margin(widget, pixels: int = 4) -> bool:
    """Whether the rightmost ``pixels`` columns of ``widget`` as drawn hold nothing but its background."""
    image = widget.grab().toImage()
    edge = [image.pixelColor(image.width() - 1 - dx, y).rgb() for dx in range(pixels)
            for y in range(0, image.height(), 2)]
    return len(set(edge)) == 1


@pytest.mark.parametrize("size", SIZES)
def test_no_panel_is_clipped(make_studio, qtbot, size):
    win = make_studio()
    win.pipeline.sweep((32, 64, 256))
    assert win.wait_idle(120)
    settle(qtbot, win, *size)
    assert_not_clipped(win)
    assert win.canvas.native.width() >= size[0] // 2  # the docks leave the canvas most of the width
    assert untouched_margin(win.rate_plot.plot)  # the plot's last tick label is not cut at the dock's edge


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("panel", ["generate", "training"])
def test_opening_a_tab_dock_keeps_the_window_and_the_other_docks(make_studio, qtbot, size, panel):
    win = make_studio()
    settle(qtbot, win, *size)
    before = {name: dock.size().toTuple() for name, dock in shown_docks(win).items()}
    win.actions_registry.trigger(panel)
    qtbot.wait(300)
    assert win.size().toTuple() == size
    after = shown_docks(win)
    opened = after["Generate" if panel == "generate" else "Training"]
    for name in ("Metrics", "Rate / quality"):  # their heights stay; the dock column widens for a wider panel only
        assert after[name].height() == before[name][1], f"{name} changed height"
        assert before[name][0] <= after[name].width() <= max(before[name][0], opened.widget().minimumWidth())
    assert opened.height() >= before["Inspector"][1] - 40  # in the Inspector's place, less only the tab bar
    assert_not_clipped(win)


def test_the_tab_docks_scroll_rather_than_grow(make_studio, qtbot):
    win = make_studio()
    settle(qtbot, win, 1280, 800)
    generate = win.show_generate()
    scroll = win.generation_dock.widget()
    assert scroll.widget() is generate and generate.height() >= generate.minimumSizeHint().height()
    assert scroll.verticalScrollBar().maximum() > 0  # taller than its tab: it scrolls
    assert np.isclose(generate.width(), scroll.viewport().width(), atol=1)  # never a horizontal scroll
