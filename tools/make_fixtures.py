#!/usr/bin/env python3
"""Regenerate the PyTorch reference fixtures in Tests/SwiftRNNTests/Fixtures/.

Run from the repository root with a Python that has torch (see tools/README.md):

    ../venv-torch/bin/python tools/make_fixtures.py

Deterministic (torch.manual_seed, CPU, float32). Writes:

  layers/{cell}_l{L}_{uni|bi}.safetensors   one recurrent module + input, lengths, h0 (c0) and
                                            the packed-sequence outputs (output, h_n, c_n)
  models/sentiment_*.safetensors (+ .expected.json)   the book's sentiment model, random weights
  models/charlm_*.safetensors (+ .expected.json)      the book's character model, random weights
  tokenizer.json                            the book's tokenizer on edge cases
  vocab_cases.json                          the book's vocabulary construction (tie order)

Every layer fixture is also checked against a plain float64 re-implementation of the cells
(written below from the PyTorch docs), so the fixtures pin documented semantics, not accidents.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
from collections import Counter, OrderedDict

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
from swiftrnn.export import export_charlm, export_sentiment, write_safetensors  # noqa: E402
from torch_reference import CharGRU, CharRNN, SentimentRNN  # noqa: E402  (tools/, the script's folder)

OUT = os.path.join(ROOT, "Tests", "SwiftRNNTests", "Fixtures")

torch.set_num_threads(1)           # bit-for-bit reproducible on any machine
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def f32_bytes(t: torch.Tensor) -> bytes:
    return t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()


def i64_bytes(t: torch.Tensor) -> bytes:
    return t.detach().to(torch.int64).contiguous().numpy().astype("<i8").tobytes()


def floats(t: torch.Tensor):
    """float32 tensor -> nested lists of Python floats (exact: every f32 is a double)."""
    return t.detach().to(torch.float32).double().tolist()


def dump_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def rel(path):
    return os.path.relpath(path, ROOT)


written = []


def note(path):
    written.append(path)


# ---------------------------------------------------------------------------------------------
# the book's tokenizer and vocabulary (ch. 15)
# ---------------------------------------------------------------------------------------------

def tokenizer(text):
    text = re.sub(r'<[^>]*>', '', text)
    emoticons = re.findall(r'(?::|;|=)(?:-)?(?:\)|\(|D|P)', text.lower())
    text = re.sub(r'[\W]+', ' ', text.lower()) + ' '.join(emoticons).replace('-', '')
    tokenized = text.split()
    return tokenized


def build_vocab(texts):
    """As the book: Counter in corpus order, sorted by count (stable: ties keep first
    occurrence), then '<pad>' and '<unk>' inserted at 0 and 1 (torchtext vocab)."""
    token_counts = Counter()
    for text in texts:
        token_counts.update(tokenizer(text))
    sorted_by_freq_tuples = sorted(token_counts.items(), key=lambda x: x[1], reverse=True)
    ordered_dict = OrderedDict(sorted_by_freq_tuples)
    return ["<pad>", "<unk>"] + list(ordered_dict.keys())


# ---------------------------------------------------------------------------------------------
# float64 reference cells (PyTorch's documented equations)
# ---------------------------------------------------------------------------------------------

def ref_cell(cell, x, h, c, w_ih, w_hh, b_ih, b_hh):
    gi = w_ih @ x + b_ih
    gh = w_hh @ h + b_hh
    H = h.shape[0]
    if cell == "lstm":
        i = torch.sigmoid(gi[0:H] + gh[0:H])
        f = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
        g = torch.tanh(gi[2 * H:3 * H] + gh[2 * H:3 * H])
        o = torch.sigmoid(gi[3 * H:] + gh[3 * H:])
        c2 = f * c + i * g
        return o * torch.tanh(c2), c2
    if cell == "gru":
        r = torch.sigmoid(gi[0:H] + gh[0:H])
        z = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
        return (1 - z) * n + z * h, None
    if cell == "rnn_tanh":
        return torch.tanh(gi + gh), None
    if cell == "rnn_relu":
        return torch.relu(gi + gh), None
    raise ValueError(cell)


def ref_stack(cell, sd, L, D, x, lengths, h0, c0):
    """x [B,T,In] -> output [B,T,D*H] (zeros past each length), h_n, c_n; float64.
    Each sequence runs alone over its own length; the reverse direction starts at
    t = length-1 from h0[layer*D + 1] (this is what packed sequences do)."""
    B, T, _ = x.shape
    H = h0.shape[2]
    sd = {k: v.double() for k, v in sd.items()}
    out = torch.zeros(B, T, D * H, dtype=torch.float64)
    hn = torch.zeros(L * D, B, H, dtype=torch.float64)
    cn = torch.zeros(L * D, B, H, dtype=torch.float64)
    for b in range(B):
        n = int(lengths[b])
        seq = [x[b, t].double() for t in range(n)]
        for layer in range(L):
            outs = [[None] * D for _ in range(n)]
            for d in range(D):
                sfx = "_reverse" if d else ""
                w = [sd[f"weight_ih_l{layer}{sfx}"], sd[f"weight_hh_l{layer}{sfx}"],
                     sd[f"bias_ih_l{layer}{sfx}"], sd[f"bias_hh_l{layer}{sfx}"]]
                h = h0[layer * D + d, b].double()
                c = c0[layer * D + d, b].double() if c0 is not None else None
                steps = range(n) if d == 0 else range(n - 1, -1, -1)
                for t in steps:
                    h, c = ref_cell(cell, seq[t], h, c, *w)
                    outs[t][d] = h
                hn[layer * D + d, b] = h
                if c is not None:
                    cn[layer * D + d, b] = c
            seq = [torch.cat(o) for o in outs]
        for t in range(n):
            out[b, t] = seq[t]
    return out, hn, cn


# ---------------------------------------------------------------------------------------------
# a. layer fixtures
# ---------------------------------------------------------------------------------------------

def make_layers():
    d = os.path.join(OUT, "layers")
    os.makedirs(d, exist_ok=True)
    B, T, IN = 4, 6, 5
    lengths = torch.tensor([3, 6, 1, 5], dtype=torch.int64)       # unsorted, has 1 and T
    hidden_of = {"lstm": 4, "gru": 5, "rnn_tanh": 6, "rnn_relu": 7}
    for ci, cell in enumerate(["lstm", "gru", "rnn_tanh", "rnn_relu"]):
        for L in (1, 2):
            for bi in (False, True):
                torch.manual_seed(1000 + 100 * ci + 10 * L + int(bi))
                H = hidden_of[cell]
                D = 2 if bi else 1
                kw = dict(input_size=IN, hidden_size=H, num_layers=L, batch_first=True,
                          bidirectional=bi)
                if cell == "lstm":
                    m = nn.LSTM(**kw)
                elif cell == "gru":
                    m = nn.GRU(**kw)
                else:
                    m = nn.RNN(nonlinearity=cell[4:], **kw)
                # Wider weights than the default init so that the gates are not all ~0.5.
                with torch.no_grad():
                    for p in m.parameters():
                        p.uniform_(-0.8, 0.8)
                x = torch.randn(B, T, IN)
                for b in range(B):                               # junk in the padding
                    n = int(lengths[b])
                    if n < T:
                        junk = (torch.rand(T - n, IN) * 2 - 1) * 1e4
                        x[b, n:] = junk
                h0 = torch.randn(L * D, B, H) * 0.5
                c0 = torch.randn(L * D, B, H) * 0.5 if cell == "lstm" else None
                with torch.no_grad():
                    packed = nn.utils.rnn.pack_padded_sequence(
                        x, lengths, batch_first=True, enforce_sorted=False)
                    if cell == "lstm":
                        po, (hn, cn) = m(packed, (h0, c0))
                    else:
                        po, hn = m(packed, h0)
                        cn = None
                    out, out_lens = nn.utils.rnn.pad_packed_sequence(
                        po, batch_first=True, total_length=T)
                assert out_lens.tolist() == lengths.tolist()
                assert out.shape == (B, T, D * H) and hn.shape == (L * D, B, H)
                # float64 reference with the documented semantics
                sd = {k: v.detach() for k, v in m.state_dict().items()}
                r_out, r_hn, r_cn = ref_stack(cell, sd, L, D, x, lengths, h0, c0)
                assert torch.allclose(out.double(), r_out, atol=2e-5, rtol=1e-5), cell
                assert torch.allclose(hn.double(), r_hn, atol=2e-5, rtol=1e-5), cell
                if cn is not None:
                    assert torch.allclose(cn.double(), r_cn, atol=2e-5, rtol=1e-5), cell
                for b in range(B):
                    assert torch.all(out[b, int(lengths[b]):] == 0)

                # Golden gradients of loss = sum(output * g_out) + sum(h_n * g_hn), with g_out
                # zero at padding (it is never an output), w.r.t. every weight and the input.
                g_out = torch.randn(B, T, D * H)
                for b in range(B):
                    g_out[b, int(lengths[b]):] = 0
                g_hn = torch.randn(L * D, B, H)
                xg = x.clone().requires_grad_(True)
                m.zero_grad()
                packed = nn.utils.rnn.pack_padded_sequence(
                    xg, lengths, batch_first=True, enforce_sorted=False)
                if cell == "lstm":
                    po, (hn2, _) = m(packed, (h0, c0))
                else:
                    po, hn2 = m(packed, h0)
                out2, _ = nn.utils.rnn.pad_packed_sequence(po, batch_first=True, total_length=T)
                ((out2 * g_out).sum() + (hn2 * g_hn).sum()).backward()

                tensors = OrderedDict()
                tensors["lengths"] = ("I64", [B], i64_bytes(lengths))   # 8-byte dtype first
                for k, v in m.state_dict().items():
                    tensors["rnn." + k] = ("F32", list(v.shape), f32_bytes(v))
                tensors["input"] = ("F32", [B, T, IN], f32_bytes(x))
                tensors["h0"] = ("F32", list(h0.shape), f32_bytes(h0))
                if c0 is not None:
                    tensors["c0"] = ("F32", list(c0.shape), f32_bytes(c0))
                tensors["output"] = ("F32", [B, T, D * H], f32_bytes(out))
                tensors["h_n"] = ("F32", list(hn.shape), f32_bytes(hn))
                if cn is not None:
                    tensors["c_n"] = ("F32", list(cn.shape), f32_bytes(cn))
                tensors["grad_output"] = ("F32", [B, T, D * H], f32_bytes(g_out))
                tensors["grad_h_n"] = ("F32", list(g_hn.shape), f32_bytes(g_hn))
                for k, prm in m.named_parameters():
                    tensors["grad.rnn." + k] = ("F32", list(prm.shape), f32_bytes(prm.grad))
                tensors["grad.input"] = ("F32", [B, T, IN], f32_bytes(xg.grad))
                md = OrderedDict([
                    ("format", "swiftrnn"), ("format_version", "1"), ("kind", "layer_fixture"),
                    ("cell", cell), ("input_size", str(IN)), ("hidden_size", str(H)),
                    ("num_layers", str(L)), ("bidirectional", "true" if bi else "false"),
                    ("description",
                     f"torch {torch.__version__} nn.{type(m).__name__}; "
                     "pack_padded_sequence(input, lengths, batch_first=True, "
                     "enforce_sorted=False) with (h0[, c0]); pad_packed_sequence(batch_first="
                     f"True, total_length={T}); padding positions of input hold junk"),
                ])
                path = os.path.join(d, f"{cell}_l{L}_{'bi' if bi else 'uni'}.safetensors")
                write_safetensors(path, tensors, md)
                note(path)


# ---------------------------------------------------------------------------------------------
# b. sentiment models (the book's class, small)
# ---------------------------------------------------------------------------------------------

REVIEWS = [
    "This movie was great! I loved the acting and the story. :)",
    "Terrible film. The plot made no sense and the acting was wooden :(",
    "<br /><br />A wonderful, moving film with a great cast.",
    "Worst movie ever... I want my 2 hours back!!!",
    "I really enjoyed it; the music was beautiful ;-)",
    "Boring, boring, boring. Fell asleep halfway through =(",
    "An absolute masterpiece. 10/10 would watch again.",
    "The acting was bad, the story was bad, everything was bad.",
    "<i>Loved</i> every minute of it. Great direction and great music.",
    "Not good. Not funny. Not worth your time.",
    "A charming little film :-) The kids loved it too.",
    "What a waste of a great cast. The script was awful.",
    "Beautiful cinematography, but the story drags in the middle.",
    "I laughed, I cried, I loved it!",
    "Awful, awful movie :( don't bother.",
    "The best film I have seen this year. Great story, great acting.",
    "Meh. It was okay, nothing special.",
    "Horrible dialogue<br />and a predictable ending.",
    "A fun ride from start to finish =)",
    "The director clearly had no idea what the story was about.",
    "Stunning! The music and the visuals were wonderful.",
    "I wanted to like it, but the movie was just boring.",
    "Great performances all around; highly recommended :)",
    "This film is a mess. Bad acting, bad music, bad everything.",
    "One of the most moving films I have ever seen.",
    "Two hours of my life I will never get back :-(",
    "Surprisingly good! The story kept me guessing.",
    "The worst acting I have ever seen in a film.",
    "Lovely, warm and funny. I loved the cast.",
    "Dull and far too long. Not recommended.",
]

SCORE_TEXTS = [
    "A great movie, I loved it :)",
    "Terrible, boring and awful. The worst.",
    "",                                                    # no tokens
    "?!... --- !!!",                                       # no tokens
    "The xylophone soundtrack was unexpectedly splendid",  # mostly unseen words
    "<p>Beautiful <b>story</b> and great acting.</p>",
    "bad bad bad bad bad bad bad bad bad bad",
    "Not good :( not good at all",
    "zzzz qqqq",                                           # only unseen words
    "Wonderful",
    "The story was okay but the music was wonderful ;) I would watch it again.",
    "Café naïve résumé ÉCOLE",
]


def encode(vocab_index, text):
    return [vocab_index.get(tok, 1) for tok in tokenizer(text)]


def collate(id_lists):
    """The book's collate_batch (text part): tensors, pad_sequence, lengths. An empty review
    becomes [0] (<pad>), length 1 -- the book's pipeline cannot pack a length-0 sequence."""
    text_list, lengths = [], []
    for ids in id_lists:
        if not ids:
            ids = [0]
        t = torch.tensor(ids, dtype=torch.int64)
        text_list.append(t)
        lengths.append(t.size(0))
    padded = nn.utils.rnn.pad_sequence(text_list, batch_first=True)
    return padded, torch.tensor(lengths)


def round_params(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))


def make_sentiment():
    d = os.path.join(OUT, "models")
    os.makedirs(d, exist_ok=True)
    vocab = build_vocab(REVIEWS)
    index = {t: i for i, t in enumerate(vocab)}
    variants = [
        ("lstm_uni", nn.LSTM, False),
        ("lstm_bi", nn.LSTM, True),
        ("gru_bi", nn.GRU, True),
        ("rnn_tanh_uni", nn.RNN, False),
        # ULMFiT's concat pooling (final states, max and mean of the outputs; issue 14)
        ("lstm_bi_concat", nn.LSTM, True),
        ("gru_uni_concat", nn.GRU, False),
    ]
    for vi, (name, cls, bi) in enumerate(variants):
        torch.manual_seed(2000 + vi)
        model = SentimentRNN(len(vocab), 8, 6, 5, rnn_cls=cls, bidirectional=bi,
                             pooling="concat" if name.endswith("_concat") else "last")
        with torch.no_grad():                         # spread the outputs a little
            model.fc2.weight.mul_(4.0)
        model.eval()
        dtypes = [("F32", None)]
        if name == "lstm_uni":
            dtypes += [("F16", torch.float16), ("BF16", torch.bfloat16)]
        for dtype, tdtype in dtypes:
            if tdtype is not None:
                round_params(model, tdtype)       # the model the F16/BF16 file describes
            sfx = "" if dtype == "F32" else "." + dtype.lower()
            path = os.path.join(d, f"sentiment_{name}{sfx}.safetensors")
            export_sentiment(model.state_dict(), vocab, path, dtype=dtype,
                             description=f"fixture: the book's sentiment model ({name}), "
                                         f"random weights, {dtype}, torch {torch.__version__}")
            note(path)
            if tdtype is not None:
                check_rounded_export(path, model, tdtype)
            ids = [encode(index, t) for t in SCORE_TEXTS]
            padded, lengths = collate(ids)
            with torch.no_grad():
                probs = model(padded, lengths).squeeze(1)
            # Each text alone must agree with the batch (padding is ignored).
            with torch.no_grad():
                for i, one in enumerate(ids):
                    p1, l1 = collate([one])
                    alone = model(p1, l1).squeeze(1)[0]
                    assert abs(float(alone) - float(probs[i])) < 1e-6, (name, i)
            exp = OrderedDict([
                ("_comment",
                 "texts scored in ONE padded batch through the book's pipeline (tokenizer, "
                 "vocab with <unk>=1, pad_sequence, pack_padded_sequence enforce_sorted=False, "
                 "hidden[-1] or cat(hidden[-2], hidden[-1])). token_ids is what the tokenizer "
                 "and vocab give; a text with no tokens (token_ids []) is scored as the "
                 "one-token sequence [0] (<pad>), length 1 (docs/model-format.md). "
                 "probabilities are float32 values."),
                ("model", os.path.basename(path)),
                ("torch_version", torch.__version__),
                ("texts", SCORE_TEXTS),
                ("token_ids", ids),
                ("probabilities", floats(probs)),
            ])
            jpath = path[: -len(".safetensors")] + ".expected.json"
            dump_json(jpath, exp)
            note(jpath)
            if dtype == "F32" and name in ("lstm_bi", "gru_bi", "lstm_bi_concat", "gru_uni_concat"):
                make_sentiment_grads(model, ids, os.path.join(d, f"sentiment_{name}.grads.safetensors"))
    return vocab


def make_sentiment_grads(model, ids, path):
    """Golden gradients of the whole book model (embedding with padding_idx, recurrent stack,
    Linear, ReLU, and BCE-with-logits as the book's Sigmoid + BCELoss): the mean loss of one
    padded batch of SCORE_TEXTS with fixed labels, backward, every parameter's .grad."""
    labels = torch.tensor([float(i % 2) for i in range(len(ids))])
    padded, lengths = collate(ids)
    model.train()
    model.zero_grad()
    loss = nn.BCELoss()(model(padded, lengths).squeeze(1), labels)
    loss.backward()
    model.eval()
    tensors = OrderedDict()
    flat = [t for one in ids for t in (one or [0])]
    tensors["ids"] = ("I64", [len(flat)], i64_bytes(torch.tensor(flat)))
    tensors["lengths"] = ("I64", [len(ids)], i64_bytes(lengths))
    tensors["labels"] = ("F32", [len(ids)], f32_bytes(labels))
    tensors["loss"] = ("F32", [1], f32_bytes(loss.detach().reshape(1)))
    for k, prm in model.named_parameters():
        tensors["grad." + k] = ("F32", list(prm.shape), f32_bytes(prm.grad))
    write_safetensors(path, tensors, OrderedDict([("format", "swiftrnn"), ("kind", "gradient_fixture"),
                                                  ("description", f"torch {torch.__version__}: BCELoss "
                                                   "of the batch, mean; ids concatenated, empty texts as [0]")]))
    note(path)


def check_rounded_export(path, model, tdtype):
    """The exporter's F16/BF16 bytes must equal torch's own conversion."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    for k, v in model.state_dict().items():
        b, e = header[k]["data_offsets"]
        want = v.to(tdtype).contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
        assert data[b:e] == want, (path, k)


# ---------------------------------------------------------------------------------------------
# c. character models
# ---------------------------------------------------------------------------------------------

CHAR_TEXT = (
    "The island was quiet at dawn.\n"
    "Captain Nemo looked at the sea, and said: café?\n"
    "We were far from home; the water was deep and cold.\n"
)
CHAR_EVAL = "The sea was deep, and Nemo said: café.\nWe were home"


def char_logits(model, ids):
    """Logits after each character, state carried from one call to the next (book's
    sample())."""
    rows = []
    with torch.no_grad():
        if isinstance(model, CharRNN):
            hidden, cell = model.init_hidden(1)
            for i in ids:
                logits, hidden, cell = model(torch.tensor([i]), hidden, cell)
                rows.append(logits[0])
        else:
            hidden = model.init_hidden(1)
            for i in ids:
                logits, hidden = model(torch.tensor([i]), hidden)
                rows.append(logits[0])
    return torch.stack(rows)


def make_charlm():
    d = os.path.join(OUT, "models")
    chars = sorted(set(CHAR_TEXT))
    assert "\n" in chars and " " in chars and "é" in chars
    index = {c: i for i, c in enumerate(chars)}
    assert all(c in index for c in CHAR_EVAL)
    for mi, (fname, make) in enumerate([
        ("charlm_small", lambda: CharRNN(len(chars), 8, 12)),
        ("charlm_gru2", lambda: CharGRU(len(chars), 8, 12, num_layers=2)),
    ]):
        torch.manual_seed(3000 + mi)
        model = make()
        with torch.no_grad():                         # sharper distributions than default
            model.fc.weight.mul_(3.0)
        model.eval()
        path = os.path.join(d, fname + ".safetensors")
        export_charlm(model.state_dict(), chars, path,
                      description=f"fixture: the book's character model ({fname}), random "
                                  f"weights, torch {torch.__version__}")
        note(path)
        ids = [index[c] for c in CHAR_EVAL]
        logits = char_logits(model, ids)
        # the same through one batched call over the whole sequence must agree
        with torch.no_grad():
            emb = model.embedding(torch.tensor([ids]))
            seq_out = model.rnn(emb)[0]
            full = model.fc(seq_out)[0]
        assert torch.allclose(full, logits, atol=1e-5)
        logp = torch.log_softmax(logits.double(), dim=1)
        nats = -sum(float(logp[t, ids[t + 1]]) for t in range(len(ids) - 1))
        exp = OrderedDict([
            ("_comment",
             "logits[t] = fc output after feeding text[0..t] one character at a time with the "
             "state carried (the book's sample()), float32 values; nats = -sum_t "
             "log_softmax(logits[t] as float64)[ids[t+1]] for t < len-1; predicted = len-1."),
            ("model", os.path.basename(path)),
            ("torch_version", torch.__version__),
            ("chars", chars),
            ("text", CHAR_EVAL),
            ("ids", ids),
            ("logits", floats(logits)),
            ("nats", nats),
            ("predicted", len(ids) - 1),
        ])
        jpath = os.path.join(d, fname + ".expected.json")
        dump_json(jpath, exp)
        note(jpath)
        if fname == "charlm_small":
            make_charlm_grads(model, ids, os.path.join(d, fname + ".grads.safetensors"))


def make_charlm_grads(model, ids, path):
    """Golden gradients of the book's char model training step: windows of 9 characters
    (8 inputs, 8 targets) from the text, batch 3, zero state, CrossEntropyLoss (mean)."""
    T, B = 8, 3
    windows = torch.tensor([ids[b * 5: b * 5 + T + 1] for b in range(B)])
    model.zero_grad()
    out = model.fc(model.rnn(model.embedding(windows[:, :T]))[0])
    loss = nn.CrossEntropyLoss()(out.reshape(-1, out.size(-1)), windows[:, 1:].reshape(-1))
    loss.backward()
    tensors = OrderedDict()
    tensors["windows"] = ("I64", [B, T + 1], i64_bytes(windows))
    tensors["loss"] = ("F32", [1], f32_bytes(loss.detach().reshape(1)))
    for k, prm in model.named_parameters():
        tensors["grad." + k] = ("F32", list(prm.shape), f32_bytes(prm.grad))
    write_safetensors(path, tensors, OrderedDict([("format", "swiftrnn"), ("kind", "gradient_fixture"),
                                                  ("description", f"torch {torch.__version__}: CrossEntropyLoss, mean")]))
    note(path)


# ---------------------------------------------------------------------------------------------
# d. tokenizer cases
# ---------------------------------------------------------------------------------------------

LONG_REVIEW = (
    "I went into this movie with low expectations, having read a few lukewarm reviews, "
    "but I came out genuinely moved.<br /><br />The lead performance is superb -- subtle, "
    "restrained, never showy -- and the supporting cast (especially the grandmother!) is "
    "wonderful. Yes, the second act drags a bit, and the score is sometimes heavy-handed; "
    "still, the final 20 minutes are as good as anything I've seen this year. 8/10 :) "
    "Would I watch it again? Absolutely. <a href=\"http://www.example.com/review?id=42\">"
    "Read more</a> ;-)"
)

TOKENIZER_CASES = [
    # HTML
    "<br /><br />Great movie!",
    "Line one<br/>line two<br />line three",
    "<a href=\"http://x.y/z\">link text</a> after",
    "a < b and c > d",
    "unclosed <tag and more text",
    "nested <<b>> tags",
    "<p>multi\nline\ntag</p>",
    "x<y>z",
    # emoticons
    "I loved it :)",
    "So sad ;-)",
    "Meh =(",
    "Funny :-P",
    "Big grin :D",
    "wink;)",
    "middle :) of the text",
    "two :) and :( here",
    ":-) :-( ;-( =-)",
    ":) at the start",
    "no emoticon: here (really)",
    "<b>:)</b> inside a tag",
    # letters beyond ASCII
    "café naïve résumé",
    "ÉCOLE Française",
    "e\u0301cole combining acute",
    "İstanbul and ıspanak",
    "Straße STRASSE ẞ",
    "ΟΔΟΣ Σίσυφος",
    "Привет, мир!",
    "ǅemal titlecase",
    # digits and numbers
    "snake_case and __dunder__",
    "1984 was 2 good 4 u",
    "Arabic-Indic ٠١٢٣٤٥٦٧٨٩ digits",
    "x² and H₂O",
    "½ of ¾",
    "Ⅻ roman",
    # other scripts and symbols
    "中文电影很好看",
    "日本語のテキスト、カタカナ。",
    "emoji 😀 great 👍🏽 family 👨‍👩‍👧",
    "zero\u200bwidth\u200djoiner",
    "replacement\ufffdcharacter",
    # whitespace
    "tabs\tand\nnewlines\r\nhere",
    "no\u00a0break\u00a0space",
    "line\u2028separator\u2029paragraph",
    "",
    "   \t\n  ",
    # punctuation
    "?!... --- !!!",
    "don't won't it's",
    "well-known self-aware",
    "see http://www.example.com/a_b?c=1&d=2 now",
    "email me@example.com",
    "$100 & 50% off",
    "ALL CAPS SHOUTING!!!",
    LONG_REVIEW,
]

VOCAB_CORPUS = [
    "b a c",
    "c b d :)",
    "e d a",
    "f",
    "the end. THE END!",
]


def make_tokenizer():
    cases = [{"text": t, "tokens": tokenizer(t)} for t in TOKENIZER_CASES]
    path = os.path.join(OUT, "tokenizer.json")
    dump_json(path, cases)
    note(path)
    vocab = build_vocab(VOCAB_CORPUS)
    counts = Counter()
    for t in VOCAB_CORPUS:
        counts.update(tokenizer(t))
    assert len(set(counts.values())) < len(counts)          # there are ties
    path = os.path.join(OUT, "vocab_cases.json")
    dump_json(path, OrderedDict([
        ("_comment",
         "The book's vocabulary: Counter over tokenizer(text) for each text in order, "
         "sorted by count descending with a stable sort (ties keep first occurrence), then "
         "['<pad>', '<unk>'] + tokens."),
        ("corpus", VOCAB_CORPUS),
        ("vocab", vocab),
        ("sentiment_corpus", REVIEWS),
        ("sentiment_vocab", build_vocab(REVIEWS)),
    ]))
    note(path)


POS_WORDS = ["great", "excellent", "wonderful", "loved", "brilliant", "superb", "enjoyable", "best"]
NEG_WORDS = ["terrible", "awful", "boring", "worst", "waste", "bad", "dull", "horrible"]
FILLER = ["the", "movie", "film", "acting", "plot", "was", "a", "it", "and", "i", "this", "story",
          "of", "time", "really", "quite", "watched", "characters"]


def make_keyword_trained():
    """A tiny sentiment model *trained* (with the book's code and Adam) on a keyword rule, so C
    and Python examples can assert that clearly positive text scores positive."""
    import random
    rng = random.Random(5)
    torch.manual_seed(5)

    def sentence(label):
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 14))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randint(0, len(words)), rng.choice(POS_WORDS if label else NEG_WORDS))
        return " ".join(words) + rng.choice([".", "!", " :)", ""])

    data = [(sentence(k % 2), k % 2) for k in range(2000)]
    vocab = build_vocab([t for t, _ in data])
    index = {tok: i for i, tok in enumerate(vocab)}
    model = SentimentRNN(len(vocab), 16, 16, 16)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.BCELoss()
    for epoch in range(3):
        for b in range(0, len(data), 50):
            chunk = data[b:b + 50]
            x, lengths = collate([encode(index, t) for t, _ in chunk])
            y = torch.tensor([float(l) for _, l in chunk])
            opt.zero_grad()
            loss = loss_fn(model(x, lengths)[:, 0], y)
            loss.backward()
            opt.step()
    model.eval()
    tests = [(sentence(k % 2), k % 2) for k in range(200)]
    with torch.no_grad():
        x, lengths = collate([encode(index, t) for t, _ in tests])
        acc = ((model(x, lengths)[:, 0] > 0.5).long() == torch.tensor([l for _, l in tests])).float().mean()
    assert acc > 0.95, acc
    path = os.path.join(OUT, "models", "sentiment_keyword_trained.safetensors")
    export_sentiment(model.state_dict(), vocab, path,
                     description=f"keyword-rule fixture, trained by tools/make_fixtures.py (accuracy {acc:.3f})")
    note(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    make_layers()
    make_sentiment()
    make_charlm()
    make_tokenizer()
    make_keyword_trained()
    total = 0
    for p in written:
        total += os.path.getsize(p)
    print(f"torch {torch.__version__}: wrote {len(written)} files, {total} bytes, under "
          f"{rel(OUT)}")
    for p in written:
        print(f"  {os.path.getsize(p):8d}  {os.path.relpath(p, OUT)}")


if __name__ == "__main__":
    main()
