"""Tests of swiftrnn.export (the PyTorch -> libswiftrnn exporter).

No Swift library is needed. The torch tests are skipped when torch is not importable.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from collections import OrderedDict

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
FIXTURES = os.path.join(REPO, "Tests", "SwiftRNNTests", "Fixtures")
sys.path.insert(0, PYROOT)

from swiftrnn.export import (export_charlm, export_classifier, export_sentiment,  # noqa: E402
                             infer_architecture, write_safetensors)

SIZES = {"I8": 1, "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}
FMT = {"I8": "b", "F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i"}


# ---------------------------------------------------------------------------------------------
# a tiny safetensors reader (independent of the writer)
# ---------------------------------------------------------------------------------------------

def read_safetensors(path):
    """-> (metadata, OrderedDict name -> (dtype, shape, values as floats/ints), raw header)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert (8 + n) % 8 == 0, "data section must start 8-aligned"
    raw = blob[8:8 + n]
    header = json.loads(raw.decode("utf-8"), object_pairs_hook=OrderedDict)
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = OrderedDict()
    end_prev = 0
    for name, info in header.items():
        b, e = info["data_offsets"]
        assert b == end_prev, f"{name}: offsets not contiguous"
        size = SIZES[info["dtype"]]
        assert b % size == 0, f"{name}: misaligned"
        count = math.prod(info["shape"])
        assert e - b == count * size
        chunk = data[b:e]
        if info["dtype"] == "BF16":
            vals = [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                    for h in struct.unpack(f"<{count}H", chunk)]
        else:
            vals = list(struct.unpack(f"<{count}{FMT[info['dtype']]}", chunk))
        tensors[name] = (info["dtype"], info["shape"], vals)
        end_prev = e
    assert end_prev == len(data), "trailing bytes after the last tensor"
    return meta, tensors, raw


def _rand(shape, seed=[12345]):
    # a small deterministic LCG; values in (-1, 1)
    out = []
    for _ in range(math.prod(shape)):
        seed[0] = (seed[0] * 1103515245 + 12345) % (1 << 31)
        out.append(seed[0] / (1 << 30) - 1.0)
    return (list(shape), out)


def book_sentiment_sd(V=7, E=3, H=4, G=4, L=1, bi=False, fc=(5,)):
    sd = OrderedDict()
    sd["embedding.weight"] = _rand([V, E])
    D = 2 if bi else 1
    for k in range(L):
        for s in (["", "_reverse"] if bi else [""]):
            sd[f"rnn.weight_ih_l{k}{s}"] = _rand([G * H, E if k == 0 else D * H])
            sd[f"rnn.weight_hh_l{k}{s}"] = _rand([G * H, H])
            sd[f"rnn.bias_ih_l{k}{s}"] = _rand([G * H])
            sd[f"rnn.bias_hh_l{k}{s}"] = _rand([G * H])
    prev = D * H
    for i, n in enumerate(list(fc) + [1]):
        sd[f"fc{i + 1}.weight"] = _rand([n, prev])
        sd[f"fc{i + 1}.bias"] = _rand([n])
        prev = n
    return sd


VOCAB7 = ["<pad>", "<unk>", "the", "movie", "great", "bad", ":)"]


# ---------------------------------------------------------------------------------------------
# (a) write_safetensors round trip
# ---------------------------------------------------------------------------------------------

def test_write_safetensors_round_trip(tmp_path):
    tensors = OrderedDict()
    tensors["ids"] = ("I64", [3], struct.pack("<3q", 1, -2, 3))
    tensors["b.weight"] = ("F32", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6.5))
    tensors["z.i32"] = ("I32", [1], struct.pack("<i", 7))
    tensors["a.half"] = ("F16", [3], struct.pack("<3e", 0.5, -1.0, 2.0))
    meta = {"format": "swiftrnn", "note": "héllo \"quoted\"\n"}
    p = tmp_path / "x.safetensors"
    n = write_safetensors(p, tensors, meta)
    assert n == os.path.getsize(p)
    m, t, raw = read_safetensors(p)
    assert m == meta
    assert list(t) == ["ids", "b.weight", "z.i32", "a.half"]     # order as given
    assert t["ids"] == ("I64", [3], [1, -2, 3])
    assert t["b.weight"] == ("F32", [2, 3], [1, 2, 3, 4, 5, 6.5])
    assert t["a.half"] == ("F16", [3], [0.5, -1.0, 2.0])
    assert t["z.i32"] == ("I32", [1], [7])
    text = raw.decode("utf-8")
    assert text.rstrip(" ") == text.strip()                    # only trailing space padding
    assert ", " not in text.rstrip(" ") and ": " not in text.split('"note"')[0]  # compact
    assert text.startswith('{"__metadata__":')


def test_write_safetensors_errors(tmp_path):
    p = tmp_path / "x.safetensors"
    with pytest.raises(ValueError, match="bytes"):
        write_safetensors(p, {"a": ("F32", [2], b"\0" * 4)}, {})
    with pytest.raises(ValueError, match="dtype"):
        write_safetensors(p, {"a": ("F8", [2], b"\0" * 2)}, {})
    with pytest.raises(ValueError, match="multiple of 8"):
        write_safetensors(p, OrderedDict([("a", ("F32", [1], b"\0" * 4)),
                                          ("b", ("I64", [1], b"\0" * 8))]), {})
    with pytest.raises(ValueError, match="str"):
        write_safetensors(p, {}, {"n": 1})


def test_empty_file_layout(tmp_path):
    p = tmp_path / "e.safetensors"
    write_safetensors(p, {}, {"format": "swiftrnn"})
    m, t, _ = read_safetensors(p)
    assert m == {"format": "swiftrnn"} and not t


# ---------------------------------------------------------------------------------------------
# (b) architecture inference, metadata, dtypes, validation
# ---------------------------------------------------------------------------------------------

def _fixture_files(sub, prefix):
    d = os.path.join(FIXTURES, sub)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.startswith(prefix) and f.endswith(".safetensors")
                  and not f.endswith(".grads.safetensors"))   # gradient fixtures, not models


MODEL_FIXTURES = _fixture_files("models", "")
LAYER_FIXTURES = _fixture_files("layers", "")


@pytest.mark.skipif(not MODEL_FIXTURES, reason="no model fixtures (tools/make_fixtures.py)")
@pytest.mark.parametrize("path", MODEL_FIXTURES, ids=os.path.basename)
def test_fixture_models_infer_and_reexport_identically(path, tmp_path):
    meta, tensors, _ = read_safetensors(path)
    sd = OrderedDict((n, (shape, vals)) for n, (_, shape, vals) in tensors.items())
    arch = infer_architecture(sd)
    assert arch["cell"] == meta["cell"]
    assert str(arch["vocab_size"]) == meta["vocab_size"]
    assert str(arch["embedding_dim"]) == meta["embedding_dim"]
    assert str(arch["hidden_size"]) == meta["hidden_size"]
    assert str(arch["num_layers"]) == meta["num_layers"]
    assert ("true" if arch["bidirectional"] else "false") == meta["bidirectional"]
    assert ",".join(arch["head"]) == meta["head"]
    # Exporting the values read back gives the very same file (F16/BF16 values are exact).
    dtype = next(iter(tensors.values()))[0]
    out = tmp_path / "re.safetensors"
    if meta["kind"] == "classifier":
        export_classifier(sd, json.loads(meta["vocab"]), json.loads(meta["labels"]), out,
                          multi_label=meta["multi_label"] == "true", dtype=dtype,
                          description=meta.get("description"))
    else:
        fn = export_sentiment if meta["kind"] == "sentiment" else export_charlm
        kw = {"ngram_order": int(meta["ngram_order"])} if "ngram_order" in meta else {}
        fn(sd, json.loads(meta["vocab"]), out, dtype=dtype, description=meta.get("description"), **kw)
    with open(path, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()


@pytest.mark.skipif(not LAYER_FIXTURES, reason="no layer fixtures (tools/make_fixtures.py)")
@pytest.mark.parametrize("path", LAYER_FIXTURES, ids=os.path.basename)
def test_fixture_layers_infer(path):
    meta, tensors, _ = read_safetensors(path)
    assert meta["format"] == "swiftrnn" and meta["kind"] == "layer_fixture"
    sd = OrderedDict((n, (shape, vals)) for n, (_, shape, vals) in tensors.items()
                     if n.startswith("rnn."))
    H = int(meta["hidden_size"])
    D = 2 if meta["bidirectional"] == "true" else 1
    sd["embedding.weight"] = _rand([3, int(meta["input_size"])])
    sd["fc.weight"] = _rand([3, D * H])
    sd["fc.bias"] = _rand([3])
    nl = "relu" if meta["cell"] == "rnn_relu" else None
    arch = infer_architecture(sd, nonlinearity=nl)
    assert arch["cell"] == meta["cell"]
    assert arch["hidden_size"] == H
    assert arch["num_layers"] == int(meta["num_layers"])
    assert arch["bidirectional"] == (D == 2)
    assert arch["head"] == ["fc"]
    # The expected outputs are laid out as documented.
    B, T, _ = tensors["input"][1]
    assert tensors["lengths"][0] == "I64" and tensors["lengths"][1] == [B]
    assert max(tensors["lengths"][2]) == T and min(tensors["lengths"][2]) == 1
    assert tensors["output"][1] == [B, T, D * H]
    assert tensors["h_n"][1] == [int(meta["num_layers"]) * D, B, H]
    assert ("c_n" in tensors) == (meta["cell"] == "lstm")


@pytest.mark.parametrize("G,cell", [(4, "lstm"), (3, "gru"), (1, "rnn_tanh")])
@pytest.mark.parametrize("L,bi", [(1, False), (2, False), (1, True), (3, True)])
def test_infer_synthetic(G, cell, L, bi):
    sd = book_sentiment_sd(G=G, L=L, bi=bi)
    arch = infer_architecture(sd)
    assert arch["cell"] == cell
    assert (arch["vocab_size"], arch["embedding_dim"], arch["hidden_size"]) == (7, 3, 4)
    assert arch["num_layers"] == L and arch["bidirectional"] == bi
    assert arch["head"] == ["fc1", "fc2"]


def test_head_order_follows_shapes_not_names():
    sd = book_sentiment_sd(fc=(5, 6))                 # fc1 [5,4], fc2 [6,5], fc3 [1,6]
    shuffled = OrderedDict()
    for k in ["fc3.weight", "fc3.bias", "embedding.weight"]:
        shuffled[k] = sd[k]
    for k, v in sd.items():
        if k not in shuffled:
            shuffled[k] = v
    # rename so that names sort against the chain
    renamed = OrderedDict((k.replace("fc1", "zz").replace("fc3", "aa"), v)
                          for k, v in shuffled.items())
    assert infer_architecture(renamed)["head"] == ["zz", "fc2", "aa"]


def test_rnn_nonlinearity():
    sd = book_sentiment_sd(G=1)
    assert infer_architecture(sd)["cell"] == "rnn_tanh"
    assert infer_architecture(sd, nonlinearity="tanh")["cell"] == "rnn_tanh"
    assert infer_architecture(sd, nonlinearity="relu")["cell"] == "rnn_relu"
    with pytest.raises(ValueError, match="only applies"):
        infer_architecture(book_sentiment_sd(G=4), nonlinearity="relu")
    with pytest.raises(ValueError, match="tanh"):
        infer_architecture(sd, nonlinearity="sigmoid")


def test_module_prefix_is_stripped(tmp_path):
    sd = OrderedDict(("module." + k, v) for k, v in book_sentiment_sd().items())
    md = export_sentiment(sd, VOCAB7, tmp_path / "m.safetensors")
    assert md["cell"] == "lstm"


def test_metadata_exact(tmp_path):
    p = tmp_path / "s.safetensors"
    sd = book_sentiment_sd(G=3, L=2, bi=True)
    md = export_sentiment(sd, VOCAB7, p, description="hello")
    meta, tensors, _ = read_safetensors(p)
    assert meta == md
    assert list(meta) == ["format", "format_version", "kind", "cell", "vocab_size",
                          "embedding_dim", "hidden_size", "num_layers", "bidirectional", "head",
                          "vocab", "description"]
    assert meta["format"] == "swiftrnn" and meta["format_version"] == "1"
    assert meta["kind"] == "sentiment" and meta["cell"] == "gru"
    assert (meta["vocab_size"], meta["embedding_dim"], meta["hidden_size"]) == ("7", "3", "4")
    assert meta["num_layers"] == "2" and meta["bidirectional"] == "true"
    assert meta["head"] == "fc1,fc2" and json.loads(meta["vocab"]) == VOCAB7
    assert set(tensors) == set(sd)
    for n, (dt, shape, vals) in tensors.items():
        assert dt == "F32" and shape == sd[n][0]
        assert vals == [struct.unpack("<f", struct.pack("<f", v))[0] for v in sd[n][1]]
    p2 = tmp_path / "s2.safetensors"
    assert "description" not in export_sentiment(sd, VOCAB7, p2)
    assert "description" not in read_safetensors(p2)[0]


def test_charlm_metadata(tmp_path):
    chars = ["\n", " ", "a", "b", "é", "😀"]
    sd = OrderedDict()
    sd["embedding.weight"] = _rand([6, 3])
    for n, s in [("weight_ih_l0", [16, 3]), ("weight_hh_l0", [16, 4]), ("bias_ih_l0", [16]),
                 ("bias_hh_l0", [16])]:
        sd["rnn." + n] = _rand(s)
    sd["fc.weight"] = _rand([6, 4])
    sd["fc.bias"] = _rand([6])
    md = export_charlm(sd, chars, tmp_path / "c.safetensors")
    assert md["kind"] == "charlm" and md["head"] == "fc"
    assert json.loads(md["vocab"]) == chars
    with pytest.raises(ValueError, match="exactly one character"):
        export_charlm(sd, ["\n", " ", "a", "b", "e\u0301", "x"], tmp_path / "d.safetensors")
    with pytest.raises(ValueError, match="duplicate"):
        export_charlm(sd, ["\n", " ", "a", "b", "a", "x"], tmp_path / "d.safetensors")
    with pytest.raises(ValueError, match="must match"):
        export_charlm(sd, chars[:5], tmp_path / "d.safetensors")
    with pytest.raises(ValueError, match="exactly one Linear"):
        export_charlm(book_sentiment_sd(), VOCAB7, tmp_path / "d.safetensors")


def _jordan_sd(layers=2, E=3, H=5, O=4, V=6, bias=True):
    """A state_dict shaped like tools/torch_reference.CharJordan's (no torch needed)."""
    sd = OrderedDict()
    sd["embedding.weight"] = _rand([V, E])
    for k in range(layers):
        for n, s in [("weight_ih", [H, E if k == 0 else O]), ("weight_ho", [H, O]), ("bias_ih", [H]),
                     ("bias_ho", [H]), ("weight_hy", [O, H]), ("bias_hy", [O])]:
            if bias or not n.startswith("bias"):
                sd[f"rnn.{n}_l{k}"] = _rand(s)
    sd["fc.weight"] = _rand([V, O])
    sd["fc.bias"] = _rand([V])
    return sd


def test_jordan_charlm(tmp_path):
    chars = ["\n", " ", "a", "b", "c", "d"]
    arch = infer_architecture(_jordan_sd())
    assert (arch["cell"], arch["hidden_size"], arch["output_size"], arch["num_layers"]) == ("jordan", 5, 4, 2)
    md = export_charlm(_jordan_sd(), chars, tmp_path / "j.safetensors")
    assert md["cell"] == "jordan" and md["output_size"] == "4" and md["hidden_size"] == "5"
    meta, tensors, _ = read_safetensors(tmp_path / "j.safetensors")
    assert list(tensors)[:7] == ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_ho_l0", "rnn.bias_ih_l0",
                                 "rnn.bias_ho_l0", "rnn.weight_hy_l0", "rnn.bias_hy_l0"]
    # bias=False: no bias tensors written (the loader reads zeros)
    md = export_charlm(_jordan_sd(bias=False), chars, tmp_path / "nb.safetensors")
    assert not any("bias" in n for n in read_safetensors(tmp_path / "nb.safetensors")[1] if n.startswith("rnn."))
    with pytest.raises(ValueError, match="charlm model only"):
        sd = _jordan_sd(layers=1, O=4)
        sd["fc.weight"], sd["fc.bias"] = _rand([1, 4]), _rand([1])
        export_sentiment(sd, VOCAB7[:6], tmp_path / "s.safetensors")
    sd = _jordan_sd()
    sd["rnn.weight_hy_l0"] = _rand([4, 6])
    with pytest.raises(ValueError, match="weight_hy_l0"):
        infer_architecture(sd)
    sd = _jordan_sd()
    del sd["rnn.bias_hy_l1"]
    with pytest.raises(ValueError, match="bias_hy_l1"):
        infer_architecture(sd)
    sd = _jordan_sd()
    sd["rnn.weight_ih_l1"] = _rand([5, 5])
    with pytest.raises(ValueError, match="weight_ih_l1"):
        infer_architecture(sd)
    with pytest.raises(ValueError, match="nonlinearity"):
        infer_architecture(_jordan_sd(), nonlinearity="relu")


def test_sentiment_validation(tmp_path):
    sd = book_sentiment_sd()
    p = tmp_path / "x.safetensors"
    with pytest.raises(ValueError, match="must match"):
        export_sentiment(sd, VOCAB7[:-1], p)
    with pytest.raises(ValueError, match="<pad>"):
        export_sentiment(sd, ["<unk>", "<pad>"] + VOCAB7[2:], p)
    with pytest.raises(ValueError, match="duplicate"):
        export_sentiment(sd, VOCAB7[:-1] + ["the"], p)
    with pytest.raises(ValueError, match="dtype"):
        export_sentiment(sd, VOCAB7, p, dtype="F64")
    bad = OrderedDict(sd)
    del bad["rnn.bias_hh_l0"]
    with pytest.raises(ValueError, match="bias_hh_l0"):
        export_sentiment(bad, VOCAB7, p)
    bad = OrderedDict(sd)
    bad["bn.running_mean"] = _rand([5])
    with pytest.raises(ValueError, match="bn.running_mean"):
        export_sentiment(bad, VOCAB7, p)
    bad = OrderedDict(sd)
    bad["rnn.weight_ih_l0"] = _rand([15, 3])
    with pytest.raises(ValueError, match="weight_ih_l0"):
        export_sentiment(bad, VOCAB7, p)
    bad = OrderedDict(sd)
    bad["fc2.weight"] = _rand([2, 5])
    bad["fc2.bias"] = _rand([2])
    with pytest.raises(ValueError, match="1 output"):
        export_sentiment(bad, VOCAB7, p)
    bad = OrderedDict(sd)
    del bad["embedding.weight"]
    with pytest.raises(ValueError, match="embedding.weight"):
        export_sentiment(bad, VOCAB7, p)
    bad = OrderedDict(sd)
    shape, vals = bad["fc1.bias"]
    bad["fc1.bias"] = (shape, [float("nan")] + vals[1:])
    with pytest.raises(ValueError, match="non-finite"):
        export_sentiment(bad, VOCAB7, p)
    bad = OrderedDict(sd)
    shape, vals = bad["fc1.bias"]
    bad["fc1.bias"] = (shape, [70000.0] + vals[1:])
    with pytest.raises(ValueError, match="F16"):
        export_sentiment(bad, VOCAB7, p, dtype="F16")
    export_sentiment(bad, VOCAB7, p, dtype="BF16")          # fine in BF16


def test_f16_and_bf16_rounding(tmp_path):
    sd = book_sentiment_sd()
    one = 1.0
    tie_down = 1.0 + 2 ** -8            # halfway between bf16 1.0 and 1.0078125: even -> 1.0
    tie_up = 1.0 + 3 * 2 ** -8          # halfway between 1.0078125 and 1.015625: even -> up
    above = 1.0 + 2 ** -8 + 2 ** -20    # just above the tie -> up
    shape, vals = sd["fc1.bias"]
    sd["fc1.bias"] = (shape, [one, tie_down, tie_up, above, -tie_up])
    p = tmp_path / "b.safetensors"
    export_sentiment(sd, VOCAB7, p, dtype="BF16")
    _, t, _ = read_safetensors(p)
    assert t["fc1.bias"][2] == [1.0, 1.0, 1.015625, 1.0078125, -1.015625]
    p = tmp_path / "h.safetensors"
    export_sentiment(sd, VOCAB7, p, dtype="F16")
    _, t, _ = read_safetensors(p)
    assert t["fc1.bias"][0] == "F16"
    assert t["fc1.bias"][2] == [struct.unpack("<e", struct.pack("<e", v))[0]
                                for v in [one, tie_down, tie_up, above, -tie_up]]


# ---------------------------------------------------------------------------------------------
# (c) with torch: the book's models -> .pt -> CLI
# ---------------------------------------------------------------------------------------------

def _cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = PYROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "swiftrnn.export", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _torch_models():
    """torch and the book's models from tools/torch_reference.py (skips without torch)."""
    torch = pytest.importorskip("torch")
    torch_reference = _torch_reference()
    return torch, torch_reference.SentimentRNN, torch_reference.CharRNN


def _torch_reference():
    tools = os.path.join(REPO, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import torch_reference
    return torch_reference


@pytest.mark.parametrize("bi", [False, True])
def test_cli_sentiment_from_pt(tmp_path, bi):
    torch, SentimentRNN, _ = _torch_models()
    torch.manual_seed(0)
    model = SentimentRNN(len(VOCAB7), 5, 6, 4, bidirectional=bi)
    pt = tmp_path / "model.pt"
    torch.save(model.state_dict(), pt)
    vocab = tmp_path / "vocab.json"
    vocab.write_text(json.dumps(VOCAB7), encoding="utf-8")
    out = tmp_path / "model.safetensors"
    r = _cli("--kind", "sentiment", "--state-dict", str(pt), "--vocab", str(vocab),
             "--out", str(out), "--dtype", "F16")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    meta, tensors, _ = read_safetensors(out)
    assert meta["kind"] == "sentiment" and meta["cell"] == "lstm"
    assert meta["vocab_size"] == "7" and meta["embedding_dim"] == "5"
    assert meta["hidden_size"] == "6" and meta["num_layers"] == "1"
    assert meta["bidirectional"] == ("true" if bi else "false")
    assert meta["head"] == "fc1,fc2" and json.loads(meta["vocab"]) == VOCAB7
    sd = model.state_dict()
    assert set(tensors) == set(sd)
    for n, (dt, shape, vals) in tensors.items():
        assert dt == "F16" and shape == list(sd[n].shape)
        assert vals == sd[n].half().float().reshape(-1).tolist()


def test_cli_charlm_from_pt_and_whole_module(tmp_path):
    torch, _, CharRNN = _torch_models()
    chars = sorted(set("hello world\ncafé"))
    torch.manual_seed(1)
    model = CharRNN(len(chars), 4, 8)
    cj = tmp_path / "chars.json"
    cj.write_text(json.dumps(chars), encoding="utf-8")
    pt = tmp_path / "char.pt"
    torch.save(model.state_dict(), pt)
    out = tmp_path / "char.safetensors"
    r = _cli("--kind", "charlm", "--state-dict", str(pt), "--chars", str(cj), "--out", str(out),
             "--dtype", "BF16", "--description", "tiny")
    assert r.returncode == 0, r.stderr
    meta, tensors, _ = read_safetensors(out)
    assert meta["kind"] == "charlm" and meta["head"] == "fc"
    assert json.loads(meta["vocab"]) == chars and meta["description"] == "tiny"
    for n, (dt, shape, vals) in tensors.items():
        assert dt == "BF16"
        assert vals == model.state_dict()[n].bfloat16().float().reshape(-1).tolist()
    # A wrong --kind is a clear error, not a traceback.
    r = _cli("--kind", "sentiment", "--state-dict", str(pt), "--vocab", str(cj), "--out",
             str(tmp_path / "bad.safetensors"))
    assert r.returncode == 1 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_cli_whole_pickled_module_needs_trust_pickle(tmp_path):
    torch, _, CharRNN = _torch_models()
    chars = list("abcdef")
    model = CharRNN(len(chars), 4, 8)
    # The class must be importable by the subprocess to unpickle: save a module made only of
    # torch classes instead.
    whole = torch.nn.Module()
    whole.embedding = model.embedding
    whole.rnn = model.rnn
    whole.fc = model.fc
    pt = tmp_path / "whole.pt"
    torch.save(whole, pt)
    cj = tmp_path / "chars.json"
    cj.write_text(json.dumps(chars), encoding="utf-8")
    out = tmp_path / "w.safetensors"
    # Refused by default: unpickling a module runs code from the file.
    r = _cli("--kind", "charlm", "--state-dict", str(pt), "--chars", str(cj), "--out", str(out))
    assert r.returncode == 1 and "--trust-pickle" in r.stderr and not out.exists()
    r = _cli("--kind", "charlm", "--state-dict", str(pt), "--chars", str(cj), "--out", str(out),
             "--trust-pickle")
    assert r.returncode == 0, r.stderr
    assert "weights_only=False" in r.stderr
    assert read_safetensors(out)[0]["cell"] == "lstm"
