"""What the canvas draws, read back from GL: the swipe at 0% and 100%, a staged candidate over the
reconstruction; and the Generate panel's staging strip (unique labels, the ghost cleared on Accept)."""
import numpy as np
import pytest
import torch

from gpstoken_studio.testing import make_studio, wait_idle  # noqa: F401
from gpstoken_studio.views.staging_view import StagingView
from gpstoken_studio.session import LAYERS

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)


def drawn_at(win, view, points_xy: np.ndarray) -> np.ndarray:
    """The canvas's rendered RGB (uint8 [K, 3]) at plane points ``points_xy`` [K, 2] of ``view``."""
    rgba = win.canvas.canvas.render()
    ratio = rgba.shape[1] / win.canvas.canvas.size[0]
    xy = np.array([win.canvas.to_canvas(p, view) for p in points_xy]) * ratio
    return rgba[xy[:, 1].astype(int), xy[:, 0].astype(int), :3].astype(np.int32)


def overlays_hidden(win) -> None:
    for key, _ in LAYERS:
        if win.layer_visible[key]:
            win.toggle_layer(key)


def far_apart(a: np.ndarray, b: np.ndarray, count: int = 40) -> np.ndarray:
    """Plane points (x, y) where uint8 images ``a`` and ``b`` differ by more than 60 in every channel sum."""
    diff = np.abs(a.astype(np.int32) - b.astype(np.int32)).sum(axis=2)
    ys, xs = np.nonzero(diff > 60)
    assert len(xs) >= count, "the two images must differ somewhere"
    pick = np.linspace(0, len(xs) - 1, count).astype(int)
    return np.stack([xs[pick], ys[pick]], axis=1).astype(np.float64)


def recon_u8(doc) -> np.ndarray:
    return np.round(np.clip(doc.result.reconstruction, 0, 1) * 255).astype(np.uint8)


def closer_to(drawn: np.ndarray, want: np.ndarray, other: np.ndarray) -> float:
    """Fraction of the points whose drawn colour is nearer ``want`` than ``other``."""
    return float((np.abs(drawn - want).sum(1) < np.abs(drawn - other).sum(1)).mean())


def test_swipe_at_0_shows_the_original_and_at_100_the_reconstruction(make_studio, qtbot):
    win = make_studio(steps=2)
    doc = win.document
    overlays_hidden(win)
    recon = recon_u8(doc)
    points = far_apart(doc.image, recon)
    rows, cols = points[:, 1].astype(int), points[:, 0].astype(int)
    original, reconstruction = doc.image[rows, cols].astype(np.int32), recon[rows, cols].astype(np.int32)

    win.view_bar.swipe.setValue(0)
    assert closer_to(drawn_at(win, win.canvas.left, points), original, reconstruction) == 1.0
    win.view_bar.swipe.setValue(100)
    assert closer_to(drawn_at(win, win.canvas.left, points), reconstruction, original) == 1.0
    win.view_bar.swipe.setValue(50)  # left of the line the reconstruction, right of it the original
    drawn = drawn_at(win, win.canvas.left, points)
    left = points[:, 0] < doc.image_size[1] / 2 - 1
    right = points[:, 0] > doc.image_size[1] / 2
    assert closer_to(drawn[left], reconstruction[left], original[left]) == 1.0
    assert closer_to(drawn[right], original[right], reconstruction[right]) == 1.0


def test_a_staged_candidate_covers_the_reconstruction(make_studio, qtbot):
    win = make_studio(steps=2)
    doc = win.document
    staging = StagingView(win.canvas)
    candidate = 255 - recon_u8(doc)  # as unlike the reconstruction as an image gets
    points = far_apart(candidate, recon_u8(doc))
    rows, cols = points[:, 1].astype(int), points[:, 0].astype(int)
    want, other = candidate[rows, cols].astype(np.int32), recon_u8(doc)[rows, cols].astype(np.int32)

    staging.show_image(candidate, "Candidate #1")
    assert closer_to(drawn_at(win, win.canvas.right, points), want, other) == 1.0
    assert np.abs(drawn_at(win, win.canvas.right, points) - want).max() <= 2
    win.set_right_mode("error")  # it covers the error heatmap too
    assert closer_to(drawn_at(win, win.canvas.right, points), want, other) == 1.0
    staging.show_image(None)
    win.set_right_mode("reconstruction")
    assert closer_to(drawn_at(win, win.canvas.right, points), other, want) == 1.0
    assert win.canvas.right_title.text == "Reconstruction"


def _generate(panel, qtbot, count: int) -> None:
    panel.count.setValue(count)
    assert panel.generate()
    qtbot.waitUntil(lambda: panel.job is None, timeout=180_000)
    wait_idle(panel.window)


def labels(panel) -> list[str]:
    return [panel.strip.item(i).text() for i in range(panel.strip.count())]


@pytest.mark.timeout(600)
def test_candidate_labels_stay_unique_after_an_accept_and_the_ghost_goes(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    panel.new_blank()
    panel.sampler.setCurrentText("euler")
    panel.steps.setValue(2)
    panel.layout_seed.setValue(1)
    panel.sample_layout()
    qtbot.waitUntil(lambda: panel.job is None, timeout=120_000)
    assert panel.staging.ghost.visible and panel.staging.ghost_count > 0
    _generate(panel, qtbot, 2)
    assert labels(panel) == ["#1", "#2"]
    panel.strip.setCurrentRow(1)
    assert win.canvas.right_title.text.startswith("Candidate #2")

    assert panel.accept(0)
    assert not panel.staging.ghost.visible and not panel.show_before.isChecked()  # the ghost drew the old layout
    panel.show_before.setChecked(True)  # nothing to show until a new calibration
    assert not panel.staging.ghost.visible
    assert labels(panel) == ["#2"]
    _generate(panel, qtbot, 2)
    assert labels(panel) == ["#2", "#3", "#4"]
    panel.strip.setCurrentRow(0)
    assert win.canvas.right_title.text.startswith("Candidate #2")  # the label its strip item shows
    panel.discard(0)
    panel.strip.setCurrentRow(1)
    assert labels(panel) == ["#3", "#4"] and win.canvas.right_title.text.startswith("Candidate #4")
