#!/usr/bin/env python3
"""PyTorch fixtures for the Jordan cell (output recurrence, issue 15 item 5, docs/jordan.md).

Run from the repository root with a Python that has torch (see tools/README.md):

    ../venv-bench/bin/python tools/make_jordan_fixtures.py

Deterministic (torch.manual_seed, one thread, float32 on the CPU). The reference is
tools/torch_reference.JordanRNN / CharJordan; it writes, under Tests/SwiftRNNTests/Fixtures:

  jordan/layer_l2.safetensors          one 2-layer JordanRNN (input 5, hidden 6, output 4,
                                       batch 4, lengths [3, 6, 1, 5]): its state_dict under
                                       `rnn.`, `input` (junk up to 1e4 at padding), `lengths`,
                                       `y0`, the expected `output` (zeros at padding) and `y_n`;
                                       `grad_output`, `grad_y_n` and PyTorch's gradients
                                       (`grad.rnn.*`, `grad.input`) of
                                       loss = sum(output * grad_output) + sum(y_n * grad_y_n).
  models/charlm_jordan.safetensors     CharJordan (embedding 8, hidden 12, output 7, 2 layers)
                                       with random weights, exported with swiftrnn.export;
  models/charlm_jordan.expected.json   the logits after each character of make_fixtures.py's
                                       CHAR_EVAL fed one at a time (state carried), nats and
                                       predicted, as the charlm_*.expected.json;
  models/charlm_jordan.grads.safetensors  the training step's loss and gradients (windows of 9
                                       characters, batch 3, zero state, CrossEntropyLoss mean),
                                       and a second step from a given state (`y0`, loss2,
                                       grad2.*) as stateful training (--tbptt) runs it.

It checks itself (packed semantics against each sequence run alone; step-by-step logits
against one pass over the text) and does not touch the files of the other fixture scripts.
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
from swiftrnn.export import export_charlm, write_safetensors  # noqa: E402
from torch_reference import CharJordan, JordanRNN  # noqa: E402


def make_layer():
    d = os.path.join(mf.OUT, "jordan")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(4100)
    I, H, O, L, B, T = 5, 6, 4, 2, 4, 6
    rnn = JordanRNN(I, H, O, num_layers=L)
    lengths = torch.tensor([3, 6, 1, 5])
    x = torch.randn(B, T, I)
    for b in range(B):                      # junk at padding: must never matter
        x[b, int(lengths[b]):] = 1e4 * (torch.rand(T - int(lengths[b]), I) - 0.5)
    y0 = 0.5 * torch.randn(L, B, O)
    x.requires_grad_(True)
    out, y_n = rnn(x, y0, lengths=lengths)
    # packed semantics: each sequence alone, at its own length, gives the same
    for b in range(B):
        n = int(lengths[b])
        ob, yb = rnn(x[b:b + 1, :n].detach(), y0[:, b:b + 1])
        assert torch.allclose(ob[0], out[b, :n], atol=1e-6) and torch.allclose(yb[:, 0], y_n[:, b], atol=1e-6)
        assert torch.all(out[b, n:] == 0)
    g_out = torch.randn(B, T, O)
    g_yn = torch.randn(L, B, O)
    loss = (out * g_out).sum() + (y_n * g_yn).sum()
    loss.backward()
    tensors = OrderedDict()
    for k, p in rnn.named_parameters():
        tensors["rnn." + k] = ("F32", list(p.shape), mf.f32_bytes(p))
    tensors["input"] = ("F32", [B, T, I], mf.f32_bytes(x))
    tensors["lengths"] = ("I64", [B], mf.i64_bytes(lengths))
    tensors["y0"] = ("F32", [L, B, O], mf.f32_bytes(y0))
    tensors["output"] = ("F32", [B, T, O], mf.f32_bytes(out))
    tensors["y_n"] = ("F32", [L, B, O], mf.f32_bytes(y_n))
    tensors["grad_output"] = ("F32", [B, T, O], mf.f32_bytes(g_out))
    tensors["grad_y_n"] = ("F32", [L, B, O], mf.f32_bytes(g_yn))
    for k, p in rnn.named_parameters():
        tensors["grad.rnn." + k] = ("F32", list(p.shape), mf.f32_bytes(p.grad))
    tensors["grad.input"] = ("F32", [B, T, I], mf.f32_bytes(x.grad))
    path = os.path.join(d, "layer_l2.safetensors")
    write_safetensors(path, tensors, OrderedDict([
        ("format", "swiftrnn"), ("kind", "layer_fixture"), ("cell", "jordan"),
        ("input_size", str(I)), ("hidden_size", str(H)), ("output_size", str(O)),
        ("num_layers", str(L)), ("bidirectional", "false"),
        ("description", f"torch {torch.__version__}: tools/torch_reference.JordanRNN")]))
    mf.note(path)


def char_logits(model, ids):
    rows = []
    with torch.no_grad():
        hidden = model.init_hidden(1)
        for i in ids:
            logits, hidden = model(torch.tensor([i]), hidden)
            rows.append(logits[0])
    return torch.stack(rows)


def make_charlm():
    d = os.path.join(mf.OUT, "models")
    chars = sorted(set(mf.CHAR_TEXT))
    index = {c: i for i, c in enumerate(chars)}
    torch.manual_seed(4200)
    model = CharJordan(len(chars), 8, 12, 7, num_layers=2)
    with torch.no_grad():                         # sharper distributions than default
        model.fc.weight.mul_(3.0)
    model.eval()
    path = os.path.join(d, "charlm_jordan.safetensors")
    export_charlm(model.state_dict(), chars, path,
                  description=f"fixture: CharJordan (output recurrence), random weights, "
                              f"torch {torch.__version__}")
    mf.note(path)
    ids = [index[c] for c in mf.CHAR_EVAL]
    logits = char_logits(model, ids)
    with torch.no_grad():
        full = model.forward_sequence(torch.tensor([ids]))[0][0]
    assert torch.allclose(full, logits, atol=1e-5)
    logp = torch.log_softmax(logits.double(), dim=1)
    nats = -sum(float(logp[t, ids[t + 1]]) for t in range(len(ids) - 1))
    exp = OrderedDict([
        ("_comment",
         "logits[t] = fc output after feeding text[0..t] one character at a time with the "
         "state (the last outputs y) carried, float32 values; nats = -sum_t "
         "log_softmax(logits[t] as float64)[ids[t+1]] for t < len-1; predicted = len-1."),
        ("model", os.path.basename(path)),
        ("torch_version", torch.__version__),
        ("chars", chars),
        ("text", mf.CHAR_EVAL),
        ("ids", ids),
        ("logits", mf.floats(logits)),
        ("nats", nats),
        ("predicted", len(ids) - 1),
    ])
    jpath = os.path.join(d, "charlm_jordan.expected.json")
    mf.dump_json(jpath, exp)
    mf.note(jpath)

    # Gradients of a training step: from a zero state, then from a given state y0.
    T, B = 8, 3
    windows = torch.tensor([ids[b * 5: b * 5 + T + 1] for b in range(B)])
    tensors = OrderedDict()
    tensors["windows"] = ("I64", [B, T + 1], mf.i64_bytes(windows))
    y0 = 0.5 * torch.randn(model.num_layers, B, model.output_size)
    for prefix, state in (("", None), ("2", y0)):
        model.zero_grad()
        out, _ = model.forward_sequence(windows[:, :T], state)
        loss = nn.CrossEntropyLoss()(out.reshape(-1, out.size(-1)), windows[:, 1:].reshape(-1))
        loss.backward()
        if state is not None:
            tensors["y0"] = ("F32", list(state.shape), mf.f32_bytes(state))
        tensors["loss" + prefix] = ("F32", [1], mf.f32_bytes(loss.detach().reshape(1)))
        for k, prm in model.named_parameters():
            tensors[f"grad{prefix}." + k] = ("F32", list(prm.shape), mf.f32_bytes(prm.grad))
    gpath = os.path.join(d, "charlm_jordan.grads.safetensors")
    write_safetensors(gpath, tensors, OrderedDict([
        ("format", "swiftrnn"), ("kind", "gradient_fixture"),
        ("description", f"torch {torch.__version__}: CrossEntropyLoss, mean; grad2/loss2 from state y0")]))
    mf.note(gpath)


def main():
    make_layer()
    make_charlm()
    total = sum(os.path.getsize(p) for p in mf.written)
    print(f"torch {torch.__version__}: wrote {len(mf.written)} files, {total} bytes:")
    for p in mf.written:
        print(f"  {mf.rel(p)} ({os.path.getsize(p)} bytes)")


if __name__ == "__main__":
    main()
