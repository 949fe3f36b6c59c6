"""Issue 13: ``python -m swiftrnn.export --dtype I8`` writes the int8 format the library's own
``swiftrnn convert --dtype I8`` writes (the same quantization, in binary32), and the library
scores such a file within the documented tolerance of the float model."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import swiftrnn  # noqa: E402
from swiftrnn.export import export_sentiment, quantize_int8  # noqa: E402
from test_export import book_sentiment_sd, read_safetensors  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VOCAB = ["<pad>", "<unk>"] + [f"w{i}" for i in range(48)]
TEXTS = ["w1 w2 w3", "w7 " * 200, "", "w10 w11 w40 w41 w12", "nothing known here", "w0 w5 w9 w20 w33 w47"]


# One state dict for every test (book_sentiment_sd draws from a shared generator).
SD = book_sentiment_sd(V=len(VOCAB), E=8, H=16, G=4, L=1, bi=True, fc=(12,))


def _model(tmp_path, dtype):
    path = tmp_path / f"m.{dtype}.safetensors"
    md = export_sentiment(SD, VOCAB, path, dtype=dtype)
    return path, md


def test_quantize_int8_rounds_in_binary32_half_to_even():
    q, scales, worst = quantize_int8("w", [1, 5], [1.27, 0.005, -0.015, 0.0, -1.27])
    assert struct.unpack("<f", scales)[0] == struct.unpack("<f", struct.pack("<f", struct.unpack("<f", struct.pack("<f", 1.27))[0] / 127))[0]
    assert list(struct.unpack("<5b", q)) == [127, 0, -2, 0, -127]   # 0.5 -> 0 and -1.5 -> -2: ties to even
    assert 0 < worst < 0.006
    q, scales, _ = quantize_int8("zero", [1, 3], [0.0, 0.0, 0.0])
    assert q == bytes(3) and struct.unpack("<f", scales)[0] == 0.0
    with pytest.raises(ValueError, match="non-finite"):
        quantize_int8("w", [1, 2], [float("nan"), 1.0])


def test_the_int8_file_layout(tmp_path):
    path, md = _model(tmp_path, "I8")
    meta, tensors, _ = read_safetensors(path)
    assert meta["format_version"] == "2"
    assert float(md["int8_max_weight_error"]) > 0
    for name, (dtype, shape, _) in tensors.items():
        if name.endswith(".scale"):
            assert dtype == "F32" and tensors[name[:-6]][0] == "I8" and shape == [tensors[name[:-6]][1][0]]
        elif len(shape) == 2:
            assert dtype == "I8" and name + ".scale" in tensors, name
        else:
            assert dtype == "F32", name


def test_int8_scores_stay_close_to_float_and_equal_the_library_conversion(tmp_path):
    f32, _ = _model(tmp_path, "F32")
    i8, _ = _model(tmp_path, "I8")
    mf, mq = swiftrnn.load(str(f32)), swiftrnn.load(str(i8))
    assert (mf.info["precision"], mq.info["precision"]) == ("f32", "int8")
    pf, pq = [mf.score(t) for t in TEXTS], [mq.score(t) for t in TEXTS]
    # docs/model-format.md: int8 logits within 0.05 of float on small random models; the
    # probability moves at most a quarter of that.
    assert max(abs(a - b) for a, b in zip(pf, pq)) < 0.0125, (pf, pq)
    assert mq.score_batch(TEXTS, threads=2) == pq
    cli = os.path.join(REPO, "out", "bin", "swiftrnn")
    if not os.access(cli, os.X_OK):
        pytest.skip("the Swift CLI is not built (make cli): no conversion to compare with")
    conv = tmp_path / "converted.safetensors"
    r = subprocess.run([cli, "convert", str(f32), "--dtype", "I8", "--out", str(conv)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "max weight error" in r.stdout
    mc = swiftrnn.load(str(conv))
    assert [mc.score(t) for t in TEXTS] == pq, "exporter and library quantize differently"
