"""The Training dock's checkpoint list: double-clicking a training checkpoint (.pt) opens it in the editor's
model engine like an exported model, and that engine loads the checkpoint's EMA weights."""
import pytest
import torch
from PySide6.QtCore import QSettings, Qt

from gpstoken.models import load_tokenizer
from gpstoken.train import train_tokenizer
from gpstoken_studio.testing import make_studio  # noqa: F401
from train_helpers import make_images, spec

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def own_qsettings(qapp, tmp_path):
    """The panel remembers its last run folder in QSettings: keep it inside this test."""
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "qsettings"))
    yield


def double_click(qtbot, view, item) -> None:
    qtbot.waitUntil(lambda: view.visualItemRect(item).height() > 0)
    center = view.visualItemRect(item).center()
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=center)  # Qt 6 double-clicks after a press
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=center)


def test_double_clicking_a_pt_checkpoint_opens_it_in_the_model_engine(make_studio, qtbot, tmp_path):
    out = tmp_path / "run"
    train_tokenizer(spec(out, make_images(tmp_path / "data")))
    win = make_studio(image=None)  # the micro model's 32-px tiles do not fit the editor's 256-px documents
    assert win.pipeline.engine.name == "fit"
    panel = win.show_training()
    assert panel.attach(out)
    names = [panel.models.item(i).text() for i in range(panel.models.count())]
    assert {"model.safetensors", "latest.pt", "step_00000002.pt"} <= set(names)

    checkpoint = out / "checkpoints" / "step_00000002.pt"
    double_click(qtbot, panel.models, panel.models.findItems(checkpoint.name, Qt.MatchExactly)[0])
    assert win.pipeline.engine.name == "model" and win.pipeline.engine.checkpoint == str(checkpoint)
    assert win.toolbar.engine.currentText() == "model"
    expected = load_tokenizer(checkpoint).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in win.pipeline.engine.model.state_dict().items())
