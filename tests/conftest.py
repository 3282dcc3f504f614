"""Test-wide fixtures."""
import gc

import pytest


def pytest_addoption(parser):
    parser.addoption("--device", choices=("cpu", "cuda"), default="cpu",
                     help="torch device of the device-capable tests (those taking the `device` fixture)")


def pytest_configure(config):
    config.addinivalue_line("markers", "device: takes the --device fixture (select with -m device)")
    if config.getoption("--device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError("--device cuda: torch sees no CUDA device")


def pytest_collection_modifyitems(items):
    for item in items:
        if "device" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.device)


@pytest.fixture(scope="session")
def bundled():
    """The bundled tokenizer (default.safetensors), loaded once, on one torch thread."""
    import torch
    from gpstoken.models import load_tokenizer
    from gpstoken.models.default_model import BUNDLED_MODEL

    torch.set_num_threads(1)
    return load_tokenizer(BUNDLED_MODEL).eval()


@pytest.fixture(scope="session")
def device(request) -> str:
    """The torch device of device-capable tests: ``--device`` (cpu by default)."""
    return request.config.getoption("--device")


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_the_main_thread(request):
    """After a Qt test (its widgets released by qtbot), collect cycles here, on the main thread: a later
    collection on a worker thread that frees Qt objects would abort the process (see gc_guard)."""
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()
