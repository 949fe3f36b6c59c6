#!/usr/bin/env python3
"""PyTorch fixtures for the hashed n-gram term (issue 14; docs/model-format.md, n-gram term).

Run from the repository root with a Python that has torch (see tools/README.md):

    ../venv-torch/bin/python tools/make_ngram_fixtures.py

Writes, in Tests/SwiftRNNTests/Fixtures/models/:

  sentiment_gru_bi_ngram.safetensors (+ .expected.json)
        tools/torch_reference.WideSentimentRNN: the book's sentiment model (BiGRU, random
        weights) plus NGramBag (order 2, 61 buckets: collisions on purpose; random weights, idf
        with zeros) exported by swiftrnn.export (ngram_order=2); the probabilities and logits
        of make_fixtures.py's SCORE_TEXTS and of texts with repeated and unseen n-grams.
  ngram_hashing.json
        the buckets of every n-gram (order 3, 2^20 buckets) and the tf-idf features of a few
        texts under a given idf: the hashing and feature rules, pinned outside Swift.

The network's half is checked against the plain sentiment model (the term is zero for a text
without tokens); each text alone agrees with the batch.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (sets torch's threads and determinism)
from swiftrnn.export import export_sentiment  # noqa: E402
from torch_reference import WideSentimentRNN, ngram_buckets, ngram_features  # noqa: E402

EXTRA_TEXTS = [
    "good good good movie movie",                          # counts above 1 (sublinear tf)
    "a movie a movie a movie",
    "Unseen zebra words, unseen zebra phrases.",
    "Ça va? naïve café :) =D",
]


def make_model():
    d = os.path.join(mf.OUT, "models")
    os.makedirs(d, exist_ok=True)
    vocab = mf.build_vocab(mf.REVIEWS)
    index = {t: i for i, t in enumerate(vocab)}
    torch.manual_seed(5100)
    model = WideSentimentRNN(len(vocab), 61, 2, embed_dim=8, rnn_hidden_size=6, fc_hidden_size=5,
                             rnn_cls=torch.nn.GRU, bidirectional=True)
    with torch.no_grad():
        model.fc2.weight.mul_(4.0)
        model.ngram.weight.copy_(3 * torch.randn(61, 1))
        idf = 1 + 4 * torch.rand(61)
        idf[::7] = 0                                     # buckets turned off (min_df)
        model.ngram.idf.copy_(idf)
    model.eval()
    path = os.path.join(d, "sentiment_gru_bi_ngram.safetensors")
    export_sentiment(model.state_dict(), vocab, path, ngram_order=2,
                     description=f"fixture: sentiment BiGRU with a hashed n-gram term (order 2, "
                                 f"61 buckets), random weights, torch {torch.__version__}")
    mf.note(path)
    texts = mf.SCORE_TEXTS + EXTRA_TEXTS
    ids = [mf.encode(index, t) for t in texts]
    tokens = [mf.tokenizer(t) for t in texts]
    padded, lengths = mf.collate(ids)
    with torch.no_grad():
        logits = model.logits(padded, lengths, tokens).squeeze(1)
        probs = torch.sigmoid(logits)
        for i in range(len(texts)):
            p1, l1 = mf.collate([ids[i]])
            alone = model.logits(p1, l1, [tokens[i]]).squeeze(1)[0]
            assert abs(float(alone) - float(logits[i])) < 1e-5, i
        term = model.ngram(tokens).squeeze(1)
    assert float(term[2]) == 0.0, "a text without tokens has no n-gram term"
    exp = OrderedDict([
        ("_comment", "WideSentimentRNN (tools/torch_reference.py): the sentiment model's logit "
                     "(one padded batch, as the sentiment fixtures) plus NGramBag over the book "
                     "tokenizer's tokens; probabilities = sigmoid(logits); ngram_terms = the "
                     "term alone. float32 values."),
        ("model", os.path.basename(path)),
        ("torch_version", torch.__version__),
        ("texts", texts),
        ("logits", mf.floats(logits)),
        ("probabilities", mf.floats(probs)),
        ("ngram_terms", mf.floats(term)),
    ])
    jpath = path[: -len(".safetensors")] + ".expected.json"
    mf.dump_json(jpath, exp)
    mf.note(jpath)


def make_hashing():
    texts = ["A great movie, I loved it :)", "the the the end", "Café naïve résumé ÉCOLE", ""]
    buckets = 1 << 20
    torch.manual_seed(5200)
    idf = [float(v) for v in (1 + 3 * torch.rand(buckets))]
    cases = []
    for t in texts:
        toks = mf.tokenizer(t)
        b, v = ngram_features(toks, 3, buckets, idf)
        cases.append(OrderedDict([("text", t), ("tokens", toks),
                                  ("buckets", ngram_buckets(toks, 3, buckets)),
                                  ("feature_buckets", b), ("feature_values", v)]))
    path = os.path.join(mf.OUT, "ngram_hashing.json")
    mf.dump_json(path, OrderedDict([
        ("_comment", "order 3, 2^20 buckets: buckets = FNV-1a 64 of the n-gram's tokens joined by "
                     "one space, mod buckets, in token order (unigram, bigram, trigram ending at "
                     "each token); features with idf[b] = 1 + 3 * torch.rand(2^20) under "
                     "torch.manual_seed(5200), values float64 before normalization"),
        ("order", 3), ("buckets", buckets), ("idf_seed", 5200),
        ("idf_of_feature_buckets", [[idf[b] for b in c["feature_buckets"]] for c in cases]),
        ("cases", cases),
    ]))
    mf.note(path)


if __name__ == "__main__":
    make_model()
    make_hashing()
