"""Files that are not safetensors at all get FormatError saying so, not a header-length message.

Real zips and pickles from Python's own zipfile and pickle modules (a torch.save file is a zip
whose entries include <name>/data.pkl; the legacy format is a bare pickle stream).
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
sys.path.insert(0, PYROOT)

import swiftrnn  # noqa: E402

NOT_ST = "not a safetensors model file"
TORCH = "not a safetensors model file: a PyTorch checkpoint; convert it with python -m swiftrnn.export"


def _zip(names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in names:
            z.writestr(name, pickle.dumps({"w": [1.0, 2.0]}, protocol=2) if name.endswith(".pkl") else b"\0" * 32)
    return buf.getvalue()


def _load_error(blob, tmp_path):
    """The message for blob, from memory and from a file (they must agree)."""
    with pytest.raises(swiftrnn.FormatError) as from_memory:
        swiftrnn.load_bytes(blob)
    p = tmp_path / "model.safetensors"
    p.write_bytes(blob)
    with pytest.raises(swiftrnn.FormatError) as from_file:
        swiftrnn.load(p)
    assert from_memory.value.status_name == "SWIFTRNN_ERR_FORMAT"
    assert from_memory.value.message == from_file.value.message
    return from_memory.value.message


def test_readme_is_text(tmp_path):
    with open(os.path.join(REPO, "README.md"), "rb") as f:
        msg = _load_error(f.read(), tmp_path)
    assert msg.startswith(NOT_ST + ": text"), msg
    assert "header length" not in msg


def test_html_page(tmp_path):
    page = b"<!doctype html>\n<html lang=en><head><title>Sign in</title></head><body></body></html>\n"
    assert _load_error(page, tmp_path) == NOT_ST + ": an HTML page"


def test_zip_archive(tmp_path):
    assert _load_error(_zip(["weights.bin", "notes.txt"]), tmp_path) == NOT_ST + ": a zip archive"


@pytest.mark.parametrize("prefix", ["archive", "model", "checkpoint"])
def test_torch_zip_checkpoint(tmp_path, prefix):
    names = [f"{prefix}/data.pkl", f"{prefix}/byteorder", f"{prefix}/data/0", f"{prefix}/version",
             f"{prefix}/.data/serialization_id"]
    assert _load_error(_zip(names), tmp_path) == TORCH
    # data.pkl not first: the central directory still lists it.
    assert _load_error(_zip(names[1:] + names[:1]), tmp_path) == TORCH


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_legacy_pickle_checkpoint(tmp_path, protocol):
    # torch's legacy format begins with a pickled magic number (0x1950a86a20f9469cfc6c).
    blob = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=protocol) + pickle.dumps({"w": 1}, protocol=protocol)
    assert _load_error(blob, tmp_path) == TORCH
