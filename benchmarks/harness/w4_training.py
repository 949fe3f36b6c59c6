"""W4 training: one sentiment epoch and charlm iterations, the book's PyTorch loops (and
torch-best's) against `swiftrnn train`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from .common import CLI, _read_csv, book_text, book_tokenizer, build_vocab, log, read_imdb, save
from .peers import _set_torch_threads, run_worker, thread_env, torch_models
from .prepare import make_subset


def w4_worker(a):
    """PyTorch training: the book's loops (sentiment epoch over a.imdb's train split; charlm
    iterations). Returns seconds measured and, in quick mode, the extrapolation."""
    torch = _set_torch_threads(a.threads)
    import numpy as np
    import torch.nn as nn
    SentimentRNN, CharRNN = torch_models()
    torch.manual_seed(1)
    if a.kind == "sentiment":
        from torch.utils.data import DataLoader, random_split
        data = read_imdb(a.imdb, "train")
        n_valid = min(5000, len(data) // 5)
        train_dataset, _valid = random_split(data, [len(data) - n_valid, n_valid])
        vocab_list = build_vocab(t for _, t in train_dataset)
        vocab = {w: i for i, w in enumerate(vocab_list)}
        text_pipeline = lambda x: [vocab.get(tok, 1) for tok in book_tokenizer(x)]  # noqa
        label_pipeline = lambda x: 1. if x == 'pos' else 0.  # noqa

        def collate_batch(batch):
            label_list, text_list, lengths = [], [], []
            for _label, _text in batch:
                label_list.append(label_pipeline(_label))
                processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
                text_list.append(processed_text)
                lengths.append(processed_text.size(0))
            label_list = torch.tensor(label_list)
            lengths = torch.tensor(lengths)
            padded_text_list = nn.utils.rnn.pad_sequence(text_list, batch_first=True)
            return padded_text_list, label_list, lengths
        train_dl = DataLoader(train_dataset, batch_size=32, shuffle=True,
                              collate_fn=collate_batch)
        model = SentimentRNN(len(vocab_list), 20, 64, 64)
        loss_fn = nn.BCELoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
        model.train()
        max_batches = a.n if a.n else None
        nb, seen = 0, 0
        t0 = time.perf_counter()
        for text_batch, label_batch, lengths in train_dl:
            optimizer.zero_grad()
            pred = model(text_batch, lengths)[:, 0]
            loss = loss_fn(pred, label_batch)
            loss.backward()
            optimizer.step()
            _acc = ((pred >= 0.5).float() == label_batch).float().sum().item()
            _loss = loss.item() * label_batch.size(0)
            nb += 1
            seen += label_batch.size(0)
            if max_batches and nb >= max_batches:
                break
        sec = time.perf_counter() - t0
        return {"train_reviews": len(train_dataset), "reviews_seen": seen, "batches": nb,
                "seconds": sec, "reviews_per_s": seen / sec, "vocab_size": len(vocab_list)}
    # charlm
    text = book_text(a.text)
    chars = sorted(set(text))
    char2int = {ch: i for i, ch in enumerate(chars)}
    enc = np.array([char2int[ch] for ch in text], dtype=np.int32)
    seq_length, batch_size = a.seq, 64
    chunks = np.lib.stride_tricks.sliding_window_view(enc, seq_length + 1)
    model = CharRNN(len(chars), 256, 512)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    if a.peer == "torch-book":
        from torch.utils.data import DataLoader, Dataset

        class TextDataset(Dataset):
            def __init__(self, text_chunks):
                self.text_chunks = text_chunks

            def __len__(self):
                return len(self.text_chunks)

            def __getitem__(self, idx):
                text_chunk = self.text_chunks[idx]
                return text_chunk[:-1].long(), text_chunk[1:].long()
        seq_dataset = TextDataset(torch.from_numpy(np.ascontiguousarray(chunks)))
        seq_dl = DataLoader(seq_dataset, batch_size=batch_size, shuffle=True, drop_last=True)

        def iteration():
            hidden, cell = model.init_hidden(batch_size)
            seq_batch, target_batch = next(iter(seq_dl))
            optimizer.zero_grad()
            loss = 0
            for c in range(seq_length):
                pred, hidden, cell = model(seq_batch[:, c], hidden, cell)
                loss += loss_fn(pred, target_batch[:, c])
            loss.backward()
            optimizer.step()
            return loss.item() / seq_length
    else:   # torch-best: the whole window in one LSTM call, random windows without a DataLoader
        data = torch.from_numpy(np.ascontiguousarray(chunks)).long()
        gen = torch.Generator().manual_seed(1)

        def iteration():
            idx = torch.randint(0, data.shape[0], (batch_size,), generator=gen)
            b = data[idx]
            optimizer.zero_grad()
            out, _ = model.rnn(model.embedding(b[:, :-1]))
            loss = loss_fn(model.fc(out).reshape(-1, len(chars)), b[:, 1:].reshape(-1))
            loss.backward()
            optimizer.step()
            return loss.item()
    iteration()                     # warm-up, not timed
    t0 = time.perf_counter()
    for _ in range(a.n):
        iteration()
    sec = time.perf_counter() - t0
    return {"iterations": a.n, "seconds": sec, "its_per_s": a.n / sec}


def bench_w4(cfg, paths, peers):
    rows = []
    # sentiment: one epoch on the same data folder for both (a subset in quick/smoke mode)
    if cfg["w4_reviews"]:
        data = make_subset(cfg["imdb"], cfg["work"], cfg["w4_reviews"])
        n_all = cfg["w4_reviews"]
    else:
        data, n_all = cfg["imdb"], 25000
    n_train = n_all - min(5000, n_all // 5)
    scale = 20000 / n_train
    extrap = scale != 1.0
    for t in cfg["threads"]:
        if "swiftrnn" in peers and os.path.exists(CLI):
            out = os.path.join(cfg["work"], f"w4-sent-{t}", "m.safetensors")
            shutil.rmtree(os.path.dirname(out), ignore_errors=True)
            os.makedirs(os.path.dirname(out))
            cmd = [CLI, "train", "sentiment", "--data", data, "--out", out, "--epochs", "1",
                   "--embedding", "20", "--hidden", "64", "--fc-hidden", "64", "--batch-size", "32",
                   "--lr", "0.001", "--threads", str(t), "--seed", "1"]
            log(f"W4 swiftrnn sentiment t={t}: {' '.join(cmd[1:])}")
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=thread_env(t), capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                rows.append({"peer": "swiftrnn", "task": "sentiment", "threads": t,
                             "error": (p.stderr or p.stdout)[-800:]})
            else:
                m = _read_csv(out + ".metrics.csv")[-1]
                rps = float(m["reviews_per_s"])
                rows.append({"peer": "swiftrnn", "task": "sentiment", "threads": t,
                             "train_reviews": n_train, "seconds": n_train / rps,
                             "epoch_seconds_20k": 20000 / rps, "extrapolated": extrap,
                             "process_wall_s": wall, "reviews_per_s": rps})
                log(f"  {rps:.1f} reviews/s -> epoch {20000 / rps:.1f} s")
        if "torch-book" in peers:
            log(f"W4 torch-book sentiment t={t} on {n_train} training reviews ...")
            try:
                r = run_worker(["w4", "--peer", "torch-book", "--kind", "sentiment",
                                "--imdb", data], t)
                rps = r["reviews_per_s"]
                r.update(peer="torch-book", task="sentiment", threads=t,
                         epoch_seconds_20k=20000 / rps, extrapolated=extrap)
                rows.append(r)
                log(f"  {rps:.1f} reviews/s -> epoch {20000 / rps:.1f} s")
            except Exception as e:  # noqa: BLE001
                rows.append({"peer": "torch-book", "task": "sentiment", "threads": t,
                             "error": str(e)[-800:]})
        # charlm: iterations/s, batch 64, 40 steps
        its = cfg["w4_char_its"]
        if "swiftrnn" in peers and os.path.exists(CLI):
            out = os.path.join(cfg["work"], f"w4-char-{t}", "m.safetensors")
            shutil.rmtree(os.path.dirname(out), ignore_errors=True)
            os.makedirs(os.path.dirname(out))
            cmd = [CLI, "train", "charlm", "--text", cfg["text"], "--out", out, "--iterations",
                   str(its), "--seq-length", "40", "--batch-size", "64", "--lr", "0.005",
                   "--embedding", "256", "--hidden", "512", "--threads", str(t), "--seed", "1"]
            log(f"W4 swiftrnn charlm t={t}: {its} iterations")
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=thread_env(t), capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                rows.append({"peer": "swiftrnn", "task": "charlm", "threads": t,
                             "error": (p.stderr or p.stdout)[-800:]})
            else:
                m = _read_csv(out + ".metrics.csv")
                cps = float(m[-1]["chars_per_s"]) if len(m) == 1 else \
                    its * 64 * 40 / float(m[-1]["seconds"])
                rows.append({"peer": "swiftrnn", "task": "charlm", "threads": t,
                             "iterations": its, "its_per_s": cps / (64 * 40),
                             "process_wall_s": wall})
                log(f"  {cps / 2560:.2f} it/s")
        for peer in [p for p in peers if p in ("torch-book", "torch-best")]:
            log(f"W4 {peer} charlm t={t}: {its} iterations")
            try:
                r = run_worker(["w4", "--peer", peer, "--kind", "charlm", "--text", cfg["text"],
                                "--n", its, "--seq", 40], t)
                r.update(peer=peer, task="charlm", threads=t)
                rows.append(r)
                log(f"  {r['its_per_s']:.2f} it/s")
            except Exception as e:  # noqa: BLE001
                rows.append({"peer": peer, "task": "charlm", "threads": t, "error": str(e)[-800:]})
    save(cfg, "w4", {"rows": rows, "train_reviews": n_train, "extrapolated": extrap,
                     "subset_reviews": n_all})
