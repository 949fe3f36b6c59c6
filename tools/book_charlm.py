#!/usr/bin/env python3
"""Train the book's character model with the book's PyTorch code, on our training part only.

This is the reference for issue #4's "held-out bits per character below the book's model under
the same evaluation". It follows ch. 15 of Raschka et al. exactly: the text read in Python text
mode and sliced from 'THE MYSTERIOUS ISLAND' to 'End of the Project Gutenberg', characters
sorted by code point, chunks of 41 characters, a random batch of 64 chunks per iteration with a
zero initial state, Embedding(80, 256) -> LSTM(256, 512) -> Linear(512, 80), cross-entropy
summed over the 40 steps and divided by 40 for the log, Adam(lr=0.005), torch.manual_seed(1),
10,000 iterations. Two differences, both stated:

* the last 5% of the sliced text is held out (as `swiftrnn train charlm` does, see
  Sources/SwiftRNNTraining/Data.swift) so that the model never sees the text it is scored on;
* the 40 steps run as one ``nn.LSTM`` call over the sequence instead of the book's Python loop of
  single steps. The two are the same computation (same state carried, same loss) and the loop
  would only make this reference slower.

Then it exports the model with ``swiftrnn.export`` and the held-out score is measured by
``swiftrnn eval charlm``, the same command that measures our models::

    ../venv-torch/bin/python tools/book_charlm.py --text 1268-0.txt \\
        --out book-charlm.safetensors [--iterations 10000] [--threads 1]
    out/bin/swiftrnn eval charlm --text 1268-0.txt --model book-charlm.safetensors
"""

import argparse
import csv
import math
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
from swiftrnn.export import export_charlm  # noqa: E402
from torch_reference import CharRNN  # noqa: E402  (tools/, the script's folder)

HELD_OUT_FRACTION = 0.05


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--iterations", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with open(args.text, "r", encoding="utf8") as fp:
        text = fp.read()
    start, end = text.index("THE MYSTERIOUS ISLAND"), text.index("End of the Project Gutenberg")
    text = text[start:end]
    chars = sorted(set(text))
    char2int = {ch: i for i, ch in enumerate(chars)}
    encoded = torch.tensor([char2int[ch] for ch in text], dtype=torch.long)
    cut = int(len(encoded) * (1 - HELD_OUT_FRACTION))
    train = encoded[:cut]
    print(f"text {len(text):,} characters, {len(chars)} distinct; training on the first {cut:,}",
          flush=True)

    seq_length, batch_size = 40, 64
    chunks = train.unfold(0, seq_length + 1, 1)  # every window of 41, as the book's list
    torch.manual_seed(args.seed)
    model = CharRNN(len(chars), 256, 512)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

    metrics = open(args.out + ".metrics.csv", "w", newline="")
    w = csv.writer(metrics)
    w.writerow(["iteration", "loss", "elapsed_s"])
    t0 = time.time()
    for it in range(1, args.iterations + 1):
        # The book draws `next(iter(seq_dl))` from a shuffled DataLoader: a uniform random batch.
        idx = torch.randint(0, len(chunks), (batch_size,))
        batch = chunks[idx]
        seq_batch, target_batch = batch[:, :-1], batch[:, 1:]
        hidden, cell = model.init_hidden(batch_size)
        optimizer.zero_grad()
        pred, _, _ = model.forward_sequence(seq_batch, hidden, cell)
        # sum over steps of the per-step mean, as the book's `loss += loss_fn(pred, target[:, c])`
        loss = loss_fn(pred.reshape(-1, len(chars)), target_batch.reshape(-1)) * seq_length
        loss.backward()
        optimizer.step()
        if it % 100 == 0 or it == args.iterations:
            el = time.time() - t0
            w.writerow([it, f"{loss.item() / seq_length:.5f}", f"{el:.1f}"])
            metrics.flush()
            print(f"iteration {it} loss {loss.item() / seq_length:.4f} "
                  f"{it / el:.2f} it/s elapsed {el:.0f} s", flush=True)
    el = time.time() - t0
    print(f"done: {args.iterations} iterations in {el:.0f} s ({args.iterations / el:.2f} it/s, "
          f"{args.threads} thread(s))", flush=True)
    # PyTorch's own held-out figure, for comparison with `swiftrnn eval charlm` on the export:
    # one stateful pass over the tail, the first character only conditions.
    tail = encoded[cut:]
    model.eval()
    with torch.no_grad():
        hidden, cell = model.init_hidden(1)
        logits, _, _ = model.forward_sequence(tail[None, :-1], hidden, cell)
        nats = nn.functional.cross_entropy(logits[0], tail[1:], reduction="sum").item()
    n = len(tail) - 1
    print(f"held-out (PyTorch): {n} characters predicted, {nats / n:.4f} nats/char, "
          f"{nats / n / math.log(2):.4f} bits/char", flush=True)
    torch.save(model.state_dict(), args.out + ".pt")
    export_charlm(model.state_dict(), chars, args.out, dtype="F32",
                  description=f"the book's character model, trained by tools/book_charlm.py "
                              f"({args.iterations} iterations, seed {args.seed}, last 5% held out)")
    print(f"model: {args.out}")


if __name__ == "__main__":
    main()
