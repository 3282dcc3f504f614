"""Test-wide fixtures."""
import gc

import pytest


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_the_main_thread(request):
    """After a Qt test (its widgets released by qtbot), collect cycles here, on the main thread: a later
    collection on a worker thread that frees Qt objects would abort the process (see gc_guard)."""
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()
