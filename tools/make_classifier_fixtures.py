#!/usr/bin/env python3
"""PyTorch fixtures for the classifier kind and for bias=False / dropout (issue 15, items 2-3).

Run from the repository root with a Python that has torch (see tools/README.md):

    ../venv-bench/bin/python tools/make_classifier_fixtures.py

Deterministic (torch.manual_seed, CPU, float32). Uses make_fixtures.py's tokenizer, vocabulary,
reviews and collate (the book's pipeline) and writes, under Tests/SwiftRNNTests/Fixtures/models:

  classifier_*.safetensors (+ .expected.json)   tools/torch_reference.TextClassifier, random
                                                 weights, exported with swiftrnn.export; the
                                                 json holds per text the token ids, the label
                                                 probabilities and the feature vector (the final
                                                 hidden state the head reads), all computed by
                                                 PyTorch in ONE padded batch.

Variants: a 3-class softmax LSTM (bidirectional, 2 layers, dropout=0.5: inference ignores it),
a 4-label multi-label GRU with bias=False everywhere (recurrent and Linear), a 3-class RNN-tanh
with bias=False, a 2-label multi-label LSTM with bias=False, and two LSTMs with proj_size
(hidden 6 projected to 4, bidirectional, 2 layers; to 3, bias=False, multi-label), and a
2-layer bidirectional GRU with concat pooling. It does not touch the
fixtures make_fixtures.py writes.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (sets torch's threads and determinism)
from swiftrnn.export import export_classifier  # noqa: E402  (make_fixtures put bindings/python on the path)
from torch_reference import TextClassifier  # noqa: E402

VARIANTS = [
    # name, rnn class, bidirectional, labels, multi_label, bias, rnn keywords
    ("classifier_lstm_bi_3class", nn.LSTM, True, ["negative", "neutral", "positive"], False, True,
     dict(num_layers=2, dropout=0.5)),
    ("classifier_gru_multilabel_nobias", nn.GRU, False, ["acting", "plot", "music", "spoilers"],
     True, False, {}),
    ("classifier_rnn_tanh_nobias", nn.RNN, False, ["a", "b", "c"], False, False, {}),
    ("classifier_lstm_multilabel_nobias", nn.LSTM, False, ["funny", "sad"], True, False, {}),
    ("classifier_lstm_proj_bi", nn.LSTM, True, ["x", "y", "z"], False, True,
     dict(num_layers=2, proj_size=4)),
    ("classifier_lstm_proj_multilabel_nobias", nn.LSTM, False, ["p", "q"], True, False,
     dict(proj_size=3)),
    # concat pooling (issue 14): the features are the final states, max and mean
    ("classifier_gru_bi_concat_2layer", nn.GRU, True, ["neg", "mixed", "pos"], False, True,
     dict(num_layers=2, pooling="concat")),
]


def main():
    d = os.path.join(mf.OUT, "models")
    os.makedirs(d, exist_ok=True)
    vocab = mf.build_vocab(mf.REVIEWS)
    index = {t: i for i, t in enumerate(vocab)}
    ids = [mf.encode(index, t) for t in mf.SCORE_TEXTS]
    padded, lengths = mf.collate(ids)
    for vi, (name, cls, bi, labels, multi, bias, kw) in enumerate(VARIANTS):
        torch.manual_seed(3000 + vi)
        model = TextClassifier(len(vocab), 8, 6, 5, len(labels), rnn_cls=cls, bidirectional=bi,
                               multi_label=multi, bias=bias, **kw)
        with torch.no_grad():                          # spread the outputs a little
            model.fc2.weight.mul_(4.0)
        model.eval()                                   # dropout off, as at inference
        sd = model.state_dict()
        assert bias or not any("bias" in k for k in sd), name
        path = os.path.join(d, f"{name}.safetensors")
        export_classifier(sd, vocab, labels, path, multi_label=multi,
                          description=f"fixture: classifier ({name}), random weights, "
                                      f"torch {torch.__version__}")
        mf.note(path)
        with torch.no_grad():
            probs = model(padded, lengths)
            feats = model.features(padded, lengths)
            for i, one in enumerate(ids):             # each text alone agrees with the batch
                p1, l1 = mf.collate([one])
                assert (model(p1, l1)[0] - probs[i]).abs().max() < 1e-6, (name, i)
        exp = OrderedDict([
            ("_comment",
             "texts classified in ONE padded batch through the book's pipeline (as the "
             "sentiment fixtures); probabilities[i] per label (softmax, or sigmoid per label "
             "when multi_label), features[i] the final hidden state the head reads "
             "(bidirectional: forward then backward). float32 values."),
            ("model", os.path.basename(path)),
            ("torch_version", torch.__version__),
            ("labels", labels),
            ("multi_label", multi),
            ("bias", bias),
            ("rnn_kw", {k: v for k, v in kw.items()}),
            ("texts", mf.SCORE_TEXTS),
            ("token_ids", ids),
            ("probabilities", [mf.floats(r) for r in probs]),
            ("features", [mf.floats(r) for r in feats]),
        ])
        jpath = path[: -len(".safetensors")] + ".expected.json"
        mf.dump_json(jpath, exp)
        mf.note(jpath)
    for p in mf.written:
        print(f"  {os.path.getsize(p):8d}  {os.path.relpath(p, mf.OUT)}")


if __name__ == "__main__":
    main()
