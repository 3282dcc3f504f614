"""Project files from someone else: declared sizes are checked before allocation, non-finite or huge
values are refused on opening, each with one line."""
import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gpstoken.io.images import load_image
from gpstoken_studio.model import Document, Settings, commands
from gpstoken_studio.model.project import ProjectError, load_project, save_project, snapshot
from gpstoken_studio.model.result import Result

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def saved_arrays(tmp_path_factory):
    """The arrays of a real project file that holds refined tokens."""
    doc = Document(load_image(GOLDEN / "camera.png"), Settings(tokens_per_tile=16))
    doc.reset_layout(doc.partition())
    doc.history.push(commands.delete_tokens(doc, [0]))
    rows = np.arange(len(doc.layout))
    tokens = np.concatenate([doc.layout.geometry(), np.full((len(rows), 3), 0.5, np.float32)], axis=1)
    doc.set_result(Result(revision=doc.revision, path="full", engine="fit", rows=rows, g_init=doc.layout.geometry(),
                          tokens=tokens, reconstruction=np.zeros(doc.image_size + (3,), np.float32), features="rgb"))
    path = tmp_path_factory.mktemp("project") / "good.gpsproj"
    save_project(snapshot(doc), path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def npy_bytes(header_shape: tuple, dtype: str, payload: bytes) -> bytes:
    """A .npy member whose header declares ``header_shape`` but that holds only ``payload``."""
    fh = io.BytesIO()
    np.lib.format.write_array_header_1_0(fh, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                              "shape": header_shape})
    return fh.getvalue() + payload


def write_project(path: Path, arrays: dict, forged: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            if forged and name in forged:
                zf.writestr(f"{name}.npy", forged[name])
            else:
                fh = io.BytesIO()
                np.save(fh, array)
                zf.writestr(f"{name}.npy", fh.getvalue())
    return path


def open_error(path: Path) -> str:
    with pytest.raises(ProjectError) as err:
        load_project(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(path.name)
    return message


def test_a_forged_project_round_trips_when_nothing_is_forged(saved_arrays, tmp_path):
    data = load_project(write_project(tmp_path / "same.gpsproj", saved_arrays))
    assert np.array_equal(data.image, saved_arrays["image"]) and data.tokens.shape == saved_arrays["tokens"].shape


def test_a_header_declaring_27_gib_is_refused_before_allocating(saved_arrays, tmp_path):
    lying = npy_bytes((100_000, 100_000, 3), "u1", saved_arrays["image"].tobytes())  # declares 27.9 GiB
    path = write_project(tmp_path / "lying.gpsproj", saved_arrays, {"image": lying})
    tracemalloc.start()
    try:
        message = open_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "'image' declares 28,610 MiB" in message and "GPSTOKEN_MAX_ARRAY_MB" in message
    assert peak < 64 * 2**20


def test_a_header_declaring_more_than_the_file_holds_is_refused(saved_arrays, tmp_path):
    lying = npy_bytes((4096, 5), "<f4", saved_arrays["geometry"].tobytes())
    message = open_error(write_project(tmp_path / "short.gpsproj", saved_arrays, {"geometry": lying}))
    assert "truncated or forged" in message


def test_the_pixel_limit_is_raisable_by_its_environment_variable(saved_arrays, tmp_path, monkeypatch):
    path = write_project(tmp_path / "small.gpsproj", saved_arrays)
    monkeypatch.setenv("GPSTOKEN_MAX_PIXELS", "1000")
    assert "over the 1,000 pixel limit" in open_error(path)
    monkeypatch.setenv("GPSTOKEN_MAX_PIXELS", str(256 * 256))
    assert load_project(path).image.shape == (256, 256, 3)


@pytest.mark.parametrize("array, value", [("tokens", 1e30), ("tokens", np.nan), ("tokens", -np.inf),
                                          ("geometry", 1e30), ("bias", np.nan)])
def test_non_finite_or_huge_values_are_refused_when_opening(saved_arrays, tmp_path, array, value):
    arrays = {k: v.copy() for k, v in saved_arrays.items()}
    arrays[array].reshape(-1)[-1] = value  # a feature channel of the last token / the last bias pixel
    message = open_error(write_project(tmp_path / "values.gpsproj", arrays))
    assert array in message


def test_an_object_array_is_never_unpickled(saved_arrays, tmp_path):
    arrays = dict(saved_arrays, meta=np.array([{"format": "x"}], dtype=object))
    with zipfile.ZipFile(path := tmp_path / "pickle.gpsproj", "w") as zf:
        for name, array in arrays.items():
            fh = io.BytesIO()
            np.save(fh, array, allow_pickle=True)
            zf.writestr(f"{name}.npy", fh.getvalue())
    assert "Python objects" in open_error(path)
    assert json.loads(str(saved_arrays["meta"]))["format"] == "gpstoken-studio-project"
