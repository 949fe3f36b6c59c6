"""Issue 15 items 2 and 3 from Python: the classifier kind (labels, classify, embed and their
batch forms), the exporter's --kind classifier, bias=False and dropout.

The committed fixtures (tools/make_classifier_fixtures.py, PyTorch) need no torch; the round
trips through a .pt file skip when torch is not importable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import OrderedDict

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
MODELS = os.path.join(REPO, "Tests", "SwiftRNNTests", "Fixtures", "models")
sys.path.insert(0, PYROOT)

import swiftrnn  # noqa: E402
from swiftrnn.export import export_classifier, export_sentiment, infer_architecture  # noqa: E402

FIXTURES = ["classifier_lstm_bi_3class", "classifier_gru_multilabel_nobias",
            "classifier_rnn_tanh_nobias", "classifier_lstm_multilabel_nobias",
            "classifier_lstm_proj_bi", "classifier_lstm_proj_multilabel_nobias",
            "classifier_gru_bi_concat_2layer"]


def _expected(name):
    with open(os.path.join(MODELS, name + ".expected.json"), encoding="utf-8") as f:
        return json.load(f)


def _rows(x):
    return [[float(v) for v in row] for row in x]


@pytest.mark.parametrize("name", FIXTURES)
def test_classifier_fixture_equals_pytorch(name):
    exp = _expected(name)
    with swiftrnn.load(os.path.join(MODELS, name + ".safetensors")) as m:
        assert m.kind == "classifier"
        assert m.labels == exp["labels"]
        assert m.multi_label is exp["multi_label"]
        for text, probs, feats in zip(exp["texts"], exp["probabilities"], exp["features"]):
            got = m.classify(text)
            assert list(got) == exp["labels"]
            assert list(got.values()) == pytest.approx(probs, abs=1e-5)
            assert m.embed(text) == pytest.approx(feats, abs=1e-5)
        singles = [list(m.classify(t).values()) for t in exp["texts"]]
        embeds = [m.embed(t) for t in exp["texts"]]
        for threads in (1, 2):
            assert _rows(m.classify_batch(exp["texts"], threads=threads)) == singles
            assert _rows(m.embed_batch(exp["texts"], threads=threads)) == embeds
        assert len(m.classify_batch([])) == 0


def test_sentiment_model_is_the_one_label_case():
    with swiftrnn.load(os.path.join(MODELS, "sentiment_lstm_bi.safetensors")) as m:
        assert m.labels == ["positive"] and m.multi_label is True
        t = "a great film"
        assert m.classify(t) == {"positive": m.score(t)}
        assert len(m.embed(t)) == 2 * m.info["hidden_size"]
        assert _rows(m.classify_batch([t, "dull"])) == [[m.score(t)], [m.score("dull")]]


def test_charlm_is_wrong_kind():
    with swiftrnn.load(os.path.join(MODELS, "charlm_small.safetensors")) as m:
        for call in (lambda: m.classify("abc"), lambda: m.embed("abc"), lambda: m.labels,
                     lambda: m.multi_label, lambda: m.classify_batch(["a"]),
                     lambda: m.embed_batch(["a"])):
            with pytest.raises(swiftrnn.WrongKindError):
                call()


def test_batch_arguments():
    with swiftrnn.load(os.path.join(MODELS, "classifier_lstm_bi_3class.safetensors")) as m:
        with pytest.raises(TypeError):
            m.classify_batch("one text")
        with pytest.raises(swiftrnn.InvalidArgumentError):
            m.embed_batch(["a"], threads=-1)


# ---- the exporter, without torch ------------------------------------------------------------

def _rand(shape, seed=[1]):
    import random
    r = random.Random(seed[0])
    seed[0] += 1
    n = 1
    for d in shape:
        n *= d
    return (list(shape), [r.uniform(-0.5, 0.5) for _ in range(n)])


VOCAB = ["<pad>", "<unk>", "good", "bad", "film", "the", "plot"]


def classifier_sd(n_labels=3, bias=True, rnn_bias=None):
    rnn_bias = bias if rnn_bias is None else rnn_bias
    E, H, F, V = 4, 5, 6, len(VOCAB)
    sd = OrderedDict()
    sd["embedding.weight"] = _rand([V, E])
    sd["rnn.weight_ih_l0"] = _rand([3 * H, E])
    sd["rnn.weight_hh_l0"] = _rand([3 * H, H])
    if rnn_bias:
        sd["rnn.bias_ih_l0"] = _rand([3 * H])
        sd["rnn.bias_hh_l0"] = _rand([3 * H])
    sd["fc1.weight"] = _rand([F, H])
    if bias:
        sd["fc1.bias"] = _rand([F])
    sd["fc2.weight"] = _rand([n_labels, F])
    if bias:
        sd["fc2.bias"] = _rand([n_labels])
    return sd


def test_export_classifier_and_validation(tmp_path):
    p = tmp_path / "c.safetensors"
    md = export_classifier(classifier_sd(), VOCAB, ["x", "y", "z"], p)
    assert md["kind"] == "classifier" and json.loads(md["labels"]) == ["x", "y", "z"]
    assert md["multi_label"] == "false"
    with swiftrnn.load(p) as m:
        assert m.labels == ["x", "y", "z"] and not m.multi_label
        assert sum(m.classify("good film").values()) == pytest.approx(1, abs=1e-6)
    with pytest.raises(ValueError, match="must match"):
        export_classifier(classifier_sd(), VOCAB, ["x", "y"], p)
    with pytest.raises(ValueError, match="duplicate"):
        export_classifier(classifier_sd(), VOCAB, ["x", "y", "x"], p)
    with pytest.raises(ValueError, match="non-empty"):
        export_classifier(classifier_sd(), VOCAB, ["x", "", "z"], p)
    with pytest.raises(ValueError, match="at least 2"):
        export_classifier(classifier_sd(1), VOCAB, ["x"], p)
    with pytest.raises(ValueError, match="<pad>"):
        export_classifier(classifier_sd(), ["<unk>", "<pad>"] + VOCAB[2:], ["x", "y", "z"], p)
    export_classifier(classifier_sd(1), VOCAB, ["x"], p, multi_label=True)
    with swiftrnn.load(p) as m:
        assert m.labels == ["x"] and m.multi_label


def test_export_bias_free(tmp_path):
    p = tmp_path / "nobias.safetensors"
    sd = classifier_sd(bias=False)
    arch = infer_architecture(sd)
    assert arch["head"] == ["fc1", "fc2"] and arch["cell"] == "gru"
    export_classifier(sd, VOCAB, ["x", "y", "z"], p)
    with open(p, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        names = [k for k in json.loads(f.read(n)) if k != "__metadata__"]
    assert not any("bias" in k for k in names)
    with swiftrnn.load(p) as m:
        assert len(m.classify("good")) == 3
    # Only the Linear layers without bias, or only the recurrent module: both fine.
    export_classifier(classifier_sd(bias=False, rnn_bias=True), VOCAB, ["x", "y", "z"], p)
    export_classifier(classifier_sd(bias=True, rnn_bias=False), VOCAB, ["x", "y", "z"], p)
    # Some of a recurrent module's biases but not all: a truncated state_dict.
    bad = classifier_sd()
    del bad["rnn.bias_hh_l0"]
    with pytest.raises(ValueError, match="bias_hh_l0"):
        export_classifier(bad, VOCAB, ["x", "y", "z"], p)


def test_export_proj_size_checks(tmp_path):
    sd = classifier_sd()                         # a GRU: no projection
    sd["rnn.weight_hr_l0"] = _rand([3, 5])
    with pytest.raises(ValueError, match="proj"):
        export_classifier(sd, VOCAB, ["x", "y", "z"], tmp_path / "p.safetensors")


def _run_export(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = PYROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "swiftrnn.export", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_export_cli_arguments(tmp_path):
    for args, msg in [(["--kind", "classifier", "--state-dict", "x.pt", "--vocab", "v.json",
                        "--out", "o"], "--labels"),
                      (["--kind", "sentiment", "--state-dict", "x.pt", "--vocab", "v.json",
                        "--labels", "l.json", "--out", "o"], "--kind classifier"),
                      (["--kind", "charlm", "--state-dict", "x.pt", "--chars", "c.json",
                        "--multi-label", "--out", "o"], "--kind classifier")]:
        r = _run_export(*args)
        assert r.returncode == 2 and msg in r.stderr, r.stderr


# ---- round trips through PyTorch --------------------------------------------------------------

def _reference():
    tools = os.path.join(REPO, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import torch_reference
    return torch_reference


TEXTS = ["A great film, I loved it", "boring plot and awful acting", "", "the film the film",
         "music was good but the plot was bad :)", "unknown words only: zyx qwv"]


def _vocab():
    from collections import Counter
    counts = Counter()
    for t in TEXTS:
        counts.update(swiftrnn.tokenize(t))
    return ["<pad>", "<unk>"] + [t for t, _ in sorted(counts.items(), key=lambda kv: kv[1],
                                                         reverse=True)]


def _batch(torch, vocab, texts):
    index = {t: i for i, t in enumerate(vocab)}
    seqs = [[index.get(t, 1) for t in swiftrnn.tokenize(q)] or [0] for q in texts]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    padded = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True)
    return padded, lengths


@pytest.mark.parametrize("cell,multi,bias", [("lstm", False, True), ("gru", True, False),
                                             ("rnn", False, False), ("lstm", True, False)])
def test_torch_round_trip_classifier_cli(tmp_path, cell, multi, bias):
    torch = pytest.importorskip("torch")
    ref = _reference()
    nn = torch.nn
    torch.manual_seed(77)
    vocab = _vocab()
    labels = ["l%d" % k for k in range(4 if multi else 3)]
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
    model = ref.TextClassifier(len(vocab), 6, 5, 4, len(labels), rnn_cls=cls, bidirectional=True,
                               multi_label=multi, bias=bias, num_layers=2, dropout=0.4)
    with torch.no_grad():
        model.fc2.weight.mul_(3.0)
    model.eval()
    pt, vj, lj, out = (tmp_path / "m.pt", tmp_path / "v.json", tmp_path / "l.json",
                       tmp_path / "m.safetensors")
    torch.save(model.state_dict(), pt)
    vj.write_text(json.dumps(vocab))
    lj.write_text(json.dumps(labels))
    r = _run_export("--kind", "classifier", "--state-dict", str(pt), "--vocab", str(vj),
                    "--labels", str(lj), "--out", str(out), *(["--multi-label"] if multi else []))
    assert r.returncode == 0, r.stdout + r.stderr
    padded, lengths = _batch(torch, vocab, TEXTS)
    with torch.no_grad():
        want = model(padded, lengths).tolist()
        feats = model.features(padded, lengths).tolist()
    with swiftrnn.load(out) as m:
        assert m.labels == labels and m.multi_label is multi
        assert m.info["n_parameters"] == sum(p.numel() for p in model.parameters())
        for t, w, f in zip(TEXTS, want, feats):
            assert list(m.classify(t).values()) == pytest.approx(w, abs=1e-5)
            assert m.embed(t) == pytest.approx(f, abs=1e-5)


@pytest.mark.parametrize("cls_name", ["LSTM", "GRU", "RNN"])
def test_torch_round_trip_sentiment_bias_false_dropout(tmp_path, cls_name):
    torch = pytest.importorskip("torch")
    ref = _reference()
    torch.manual_seed(5)
    vocab = _vocab()
    model = ref.SentimentRNN(len(vocab), 6, 5, 4, rnn_cls=getattr(torch.nn, cls_name),
                             bias=False, num_layers=2, dropout=0.7)
    with torch.no_grad():
        model.fc1.bias = None                 # Linear without bias too (nn.Linear(bias=False))
        model.fc2.weight.mul_(3.0)
    model.eval()
    sd = model.state_dict()
    assert "fc1.bias" not in sd and not any(k.startswith("rnn.bias") for k in sd)
    out = tmp_path / "s.safetensors"
    export_sentiment(sd, vocab, out)
    padded, lengths = _batch(torch, vocab, TEXTS)
    with torch.no_grad():
        want = model(padded, lengths)[:, 0].tolist()
    with swiftrnn.load(out) as m:
        assert m.score_batch(TEXTS) == pytest.approx(want, abs=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_round_trip_sentiment_proj_size(tmp_path, bidirectional):
    torch = pytest.importorskip("torch")
    ref = _reference()
    torch.manual_seed(11)
    vocab = _vocab()
    model = ref.SentimentRNN(len(vocab), 6, 7, 4, bidirectional=bidirectional, num_layers=2,
                             proj_size=3)
    with torch.no_grad():
        model.fc2.weight.mul_(3.0)
    model.eval()
    out = tmp_path / "p.safetensors"
    md = export_sentiment(model.state_dict(), vocab, out)
    assert md["proj_size"] == "3"
    padded, lengths = _batch(torch, vocab, TEXTS)
    with torch.no_grad():
        want = model(padded, lengths)[:, 0].tolist()
    with swiftrnn.load(out) as m:
        assert m.score_batch(TEXTS) == pytest.approx(want, abs=1e-5)
        assert [m.score(t) for t in TEXTS] == m.score_batch(TEXTS)
        assert len(m.embed("a film")) == (2 if bidirectional else 1) * 3
        assert m.info["n_parameters"] == sum(p.numel() for p in model.parameters())


def test_export_concat_pooling_inferred_and_checked(tmp_path):
    """Concat pooling (issue 14): fc1 reading 3 x D x hidden means [last, max, mean]; the file
    says pooling=concat and format_version 3, and a contradiction is an error."""
    sd = classifier_sd()
    sd["fc1.weight"] = _rand([6, 3 * 5])
    p = tmp_path / "c.safetensors"
    md = export_classifier(sd, VOCAB, ["x", "y", "z"], p)
    assert md["pooling"] == "concat" and md["format_version"] == "3"
    with swiftrnn.load(p) as m:
        assert len(m.embed("good film")) == 15
        assert [float(v) for v in m.classify_batch(["good film", "bad plot"])[1]] == \
            list(m.classify("bad plot").values())
    assert export_classifier(sd, VOCAB, ["x", "y", "z"], p, dtype="I8")["format_version"] == "3"
    with pytest.raises(ValueError, match="pooling last"):
        export_classifier(sd, VOCAB, ["x", "y", "z"], p, pooling="last")
    with pytest.raises(ValueError, match="pooling concat"):
        export_classifier(classifier_sd(), VOCAB, ["x", "y", "z"], p, pooling="concat")
    with pytest.raises(ValueError, match="pooling must be"):
        export_classifier(sd, VOCAB, ["x", "y", "z"], p, pooling="max")
    assert "pooling" not in export_classifier(classifier_sd(), VOCAB, ["x", "y", "z"], p)


@pytest.mark.parametrize("cell,bidirectional", [("lstm", True), ("gru", False)])
def test_torch_round_trip_concat_pooling(tmp_path, cell, bidirectional):
    torch = pytest.importorskip("torch")
    ref = _reference()
    torch.manual_seed(21)
    vocab = _vocab()
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    model = ref.SentimentRNN(len(vocab), 6, 5, 4, rnn_cls=cls, bidirectional=bidirectional,
                             num_layers=2, pooling="concat")
    with torch.no_grad():
        model.fc2.weight.mul_(3.0)
    model.eval()
    pt, vj, out = tmp_path / "m.pt", tmp_path / "v.json", tmp_path / "m.safetensors"
    torch.save(model.state_dict(), pt)
    vj.write_text(json.dumps(vocab))
    r = _run_export("--kind", "sentiment", "--state-dict", str(pt), "--vocab", str(vj),
                    "--out", str(out), "--pooling", "concat")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "concat pooling" in r.stdout
    padded, lengths = _batch(torch, vocab, TEXTS)
    with torch.no_grad():
        want = model(padded, lengths)[:, 0].tolist()
    with swiftrnn.load(out) as m:
        assert m.score_batch(TEXTS) == pytest.approx(want, abs=1e-5)
        assert [m.score(t) for t in TEXTS] == m.score_batch(TEXTS)
