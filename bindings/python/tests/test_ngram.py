"""Issue 14 from Python: a model with a hashed n-gram term (docs/model-format.md), from the
PyTorch fixture (tools/make_ngram_fixtures.py; no torch needed here) and from the exporter.
"""

from __future__ import annotations

import json
import math
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
MODELS = os.path.join(REPO, "Tests", "SwiftRNNTests", "Fixtures", "models")
sys.path.insert(0, PYROOT)

import swiftrnn  # noqa: E402
from swiftrnn.export import export_sentiment  # noqa: E402


def test_fixture_scores_as_pytorch():
    with open(os.path.join(MODELS, "sentiment_gru_bi_ngram.expected.json"), encoding="utf-8") as f:
        exp = json.load(f)
    with swiftrnn.load(os.path.join(MODELS, "sentiment_gru_bi_ngram.safetensors")) as m:
        one = [m.score(t) for t in exp["texts"]]
        for got, want in zip(one, exp["probabilities"]):
            assert abs(got - want) < 1e-5
        assert list(m.score_batch(exp["texts"], threads=2)) == one


def _tiny_state_dict(term_weight, buckets=1, idf=1.0):
    """A sentiment model whose network says nothing (zero fc2, zero bias) and a term."""
    V, E, H = 4, 2, 2
    z = lambda *shape: (list(shape), [0.0] * math.prod(shape))  # noqa: E731
    return {
        "embedding.weight": z(V, E),
        "rnn.weight_ih_l0": z(H, E), "rnn.weight_hh_l0": z(H, H),
        "rnn.bias_ih_l0": z(H), "rnn.bias_hh_l0": z(H),
        "fc1.weight": z(3, H), "fc1.bias": z(3), "fc2.weight": z(1, 3), "fc2.bias": z(1),
        "ngram.weight": ([buckets, 1], [term_weight] * buckets),
        "ngram.idf": ([buckets], [idf] * buckets),
    }


def test_export_and_the_term_alone(tmp_path):
    # One bucket: every text with a token has the feature vector [1], so its logit is the
    # bucket's weight; a text without tokens has no term (logit 0, probability 0.5).
    out = str(tmp_path / "wide.safetensors")
    md = export_sentiment(_tiny_state_dict(1.5), ["<pad>", "<unk>", "good", "bad"], out,
                          nonlinearity="tanh", ngram_order=2)
    assert md["format_version"] == "4" and md["ngram_order"] == "2" and md["ngram_buckets"] == "1"
    with swiftrnn.load(out) as m:
        assert abs(m.score("an unseen word, twice: unseen word") - 1 / (1 + math.exp(-1.5))) < 1e-6
        assert m.score("?!") == 0.5
    # idf 0 turns the bucket off.
    export_sentiment(_tiny_state_dict(1.5, idf=0.0), ["<pad>", "<unk>", "good", "bad"], out,
                     nonlinearity="tanh", ngram_order=1)
    with swiftrnn.load(out) as m:
        assert m.score("good") == 0.5


def test_export_refuses_half_a_term(tmp_path):
    out = str(tmp_path / "x.safetensors")
    vocab = ["<pad>", "<unk>", "good", "bad"]
    with pytest.raises(ValueError, match="ngram_order"):
        export_sentiment(_tiny_state_dict(1.0), vocab, out, nonlinearity="tanh")
    sd = _tiny_state_dict(1.0)
    del sd["ngram.idf"]
    with pytest.raises(ValueError, match="both"):
        export_sentiment(sd, vocab, out, nonlinearity="tanh", ngram_order=2)
    sd = _tiny_state_dict(1.0)
    del sd["ngram.idf"], sd["ngram.weight"]
    with pytest.raises(ValueError, match="no ngram"):
        export_sentiment(sd, vocab, out, nonlinearity="tanh", ngram_order=2)
    with pytest.raises(ValueError, match="buckets"):
        export_sentiment(_tiny_state_dict(1.0, buckets=3) | {"ngram.idf": ([2], [1.0, 1.0])},
                         vocab, out, nonlinearity="tanh", ngram_order=2)
