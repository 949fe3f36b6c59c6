#!/usr/bin/env python3
"""libswiftrnn performance harness (issue 5): W1 scoring, W2 generation, W3 cold start,
W4 training, against PyTorch (the book's pipeline and a tuned set-up) and ONNX Runtime.

Run with the benchmark venv's python (benchmarks/setup_venv.sh), from anywhere:

    python benchmarks/bench.py run     [--quick | --smoke] [--imdb DIR] [--text FILE] ...
    python benchmarks/bench.py report  [--results DIR] [--out RESULTS.md] [--plot plot.png]

``run`` writes raw results to ``--results`` (default benchmarks/results/*.json); ``report``
turns them into RESULTS.md and plot.png. Every measurement runs in a fresh subprocess
(``bench.py worker ...``) whose environment pins the thread count of every library
(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS) before anything is loaded.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TOOLS = os.path.join(REPO, "tools")          # torch_reference.py: the book's PyTorch models
# Defaults relative to the checkout (a fresh machine has no fixed paths); --work, --data,
# --imdb and --text (run.sh: WORK, DATA, IMDB, TEXT) override them.
DEFAULT_WORK = os.path.join(os.path.dirname(REPO), "bench-work")
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")  # aclImdb.tar.gz, 1268-0.txt
LIB = os.path.join(REPO, "out", "lib", "libswiftrnn.so")
CLI = os.path.join(REPO, "out", "bin", "swiftrnn")
SHIPPED = {"sentiment": os.path.join(REPO, "models", "sentiment-imdb.safetensors"),
           "charlm": os.path.join(REPO, "models", "charlm-mysterious-island.safetensors")}
PRIME = "The island"

# The targets of issue 5 (ratios measured in the same run).
TARGETS = {
    "W1 vs torch-book": 20.0, "W1 vs onnxruntime": 3.0,
    "W2 vs torch-book": 30.0, "W2 vs onnxruntime": 8.0, "W2 vs roofline": 0.5,
    "W3 ms": 20.0, "W3 rss": 30.0,
    "W4 sentiment vs torch-book": 3.0, "W4 charlm vs torch-book": 1.0,
}

PEERS = ["swiftrnn", "torch-book", "torch-best", "onnxruntime"]


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# =============================================================================================
# the book's pipeline pieces (ch. 15), shared by the peers
# =============================================================================================

def book_tokenizer(text):
    """The book's tokenizer, verbatim but with raw strings (same regexes)."""
    text = re.sub(r'<[^>]*>', '', text)
    emoticons = re.findall(r'(?::|;|=)(?:-)?(?:\)|\(|D|P)', text.lower())
    text = re.sub(r'[\W]+', ' ', text.lower()) + ' '.join(emoticons).replace('-', '')
    return text.split()


def read_imdb(root, split, limit=None, seed=1):
    """[(label 'pos'/'neg', text)], pos then neg, sorted by name; limit: a seeded sample."""
    items = []
    for lab in ("pos", "neg"):
        for p in sorted(glob.glob(os.path.join(root, split, lab, "*.txt"))):
            items.append((lab, p))
    if limit is not None and limit < len(items):
        rng = random.Random(seed)
        items = sorted(rng.sample(items, limit), key=lambda x: (x[0] != "pos", x[1]))
    out = []
    for lab, p in items:
        with open(p, encoding="utf-8") as f:
            out.append((lab, f.read()))
    return out


def build_vocab(texts):
    """The book's vocabulary: tokens by decreasing frequency, then '<pad>'=0, '<unk>'=1 in front
    (torchtext's vocab(OrderedDict(sorted(counts, by count desc))); ties keep first-seen order,
    as Python's stable sort on a Counter does)."""
    counts = collections.Counter()
    for t in texts:
        counts.update(book_tokenizer(t))
    ordered = sorted(counts.items(), key=lambda x: x[1], reverse=True)
    return ["<pad>", "<unk>"] + [w for w, _ in ordered]


def book_text(path):
    with open(path, encoding="utf-8") as fp:
        text = fp.read()
    s = text.find('THE MYSTERIOUS ISLAND')
    e = text.find('End of the Project Gutenberg')
    return text[s:e]


def torch_models():
    """The book's sentiment and character models (tools/torch_reference.py). Imported here, in
    the processes that run torch, where the classes used to be defined: the swiftrnn and ONNX
    Runtime workers never import torch."""
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    from torch_reference import CharRNN, SentimentRNN
    return SentimentRNN, CharRNN


# =============================================================================================
# setup: data, models (random seeded weights, identical for every peer), ONNX graphs
# =============================================================================================

def ensure_imdb(path, work, data):
    """The unpacked aclImdb folder: `path` (--imdb) if given, else WORK/data/aclImdb, unpacked
    there from DATA/aclImdb.tar.gz when missing."""
    if path and os.path.isdir(os.path.join(path, "test", "pos")):
        return path
    unpacked = os.path.join(work, "data", "aclImdb")
    if os.path.isdir(os.path.join(unpacked, "test", "pos")):
        return unpacked
    tar = os.path.join(data, "aclImdb.tar.gz")
    if not os.path.exists(tar):
        raise SystemExit(f"IMDb data not found at {path or unpacked} and no {tar} to unpack "
                         "(give --imdb DIR or --data DIR; run.sh: IMDB=DIR or DATA=DIR)")
    log(f"unpacking {tar} into {os.path.dirname(unpacked)} ...")
    os.makedirs(os.path.dirname(unpacked), exist_ok=True)
    with tarfile.open(tar) as tf:
        members = [m for m in tf.getmembers()
                   if m.name.startswith(("aclImdb/test/pos", "aclImdb/test/neg",
                                         "aclImdb/train/pos", "aclImdb/train/neg"))]
        tf.extractall(os.path.dirname(unpacked), members=members)
    return unpacked


def make_subset(imdb, work, n_reviews, seed=1):
    """A train/{pos,neg} folder of n_reviews symlinked training reviews (W4 quick/smoke)."""
    dst = os.path.join(work, f"imdb-subset-{n_reviews}")
    if os.path.isdir(dst):
        return dst
    files = [(lab, p) for lab in ("pos", "neg")
             for p in sorted(glob.glob(os.path.join(imdb, "train", lab, "*.txt")))]
    rng = random.Random(seed)
    pick = rng.sample(files, min(n_reviews, len(files)))
    tmp = dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for lab in ("pos", "neg"):
        os.makedirs(os.path.join(tmp, "train", lab))
    for lab, p in pick:
        os.symlink(p, os.path.join(tmp, "train", lab, os.path.basename(p)))
    os.rename(tmp, dst)
    return dst


def setup_models(cfg):
    """Seeded random book-shaped models -> .pt state dicts, safetensors (swiftrnn.export) and
    ONNX graphs. Returns a dict of paths and facts."""
    import torch
    sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
    from swiftrnn import export as sexport
    SentimentRNN, CharRNN = torch_models()
    work = cfg["work"]
    tag = "vall" if not cfg["vocab_reviews"] else f"v{cfg['vocab_reviews']}"
    paths = {
        "sent_pt": os.path.join(work, f"sentiment-{tag}.pt"),
        "sent_st": os.path.join(work, f"sentiment-{tag}.safetensors"),
        "sent_vocab": os.path.join(work, f"sentiment-{tag}.vocab.json"),
        "sent_onnx": os.path.join(work, f"sentiment-{tag}.onnx"),
        "char_pt": os.path.join(work, "charlm.pt"),
        "char_st": os.path.join(work, "charlm.safetensors"),
        "char_chars": os.path.join(work, "charlm.chars.json"),
        "char_onnx": os.path.join(work, "charlm-step.onnx"),
    }
    facts = {}
    if not os.path.exists(paths["sent_st"]):
        log(f"building the vocabulary from {cfg['vocab_reviews']} training reviews ...")
        train = read_imdb(cfg["imdb"], "train", limit=cfg["vocab_reviews"], seed=1)
        vocab = build_vocab(t for _, t in train)
        torch.manual_seed(1)
        m = SentimentRNN(len(vocab)).eval()
        torch.save(m.state_dict(), paths["sent_pt"])
        with open(paths["sent_vocab"], "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        sexport.export_sentiment(m.state_dict(), vocab, paths["sent_st"],
                                 description="benchmark: book shape, random weights (seed 1)")
    if not os.path.exists(paths["char_st"]):
        text = book_text(cfg["text"])
        chars = sorted(set(text))
        torch.manual_seed(1)
        m = CharRNN(len(chars)).eval()
        torch.save(m.state_dict(), paths["char_pt"])
        with open(paths["char_chars"], "w", encoding="utf-8") as f:
            json.dump(chars, f, ensure_ascii=False)
        sexport.export_charlm(m.state_dict(), chars, paths["char_st"],
                              description="benchmark: book shape, random weights (seed 1)")
    with open(paths["sent_vocab"], encoding="utf-8") as f:
        facts["sentiment_vocab_size"] = len(json.load(f))
    with open(paths["char_chars"], encoding="utf-8") as f:
        facts["charlm_vocab_size"] = len(json.load(f))
    facts["onnx"] = export_onnx(paths)
    for k in ("sent_st", "char_st"):
        facts[k + "_bytes"] = os.path.getsize(paths[k])
    return paths, facts


def _onnx_export(module, args, path, input_names, output_names, dynamic_axes):
    """torch.onnx.export with the TorchScript exporter (one fused ONNX LSTM op); falls back to
    the dynamo exporter. Returns which one worked."""
    import torch
    errors = []
    for dynamo in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kw = dict(input_names=input_names, output_names=output_names)
                if dynamo:
                    from torch.export import Dim
                    ds = {}
                    for name, axes in dynamic_axes.items():
                        if name in input_names:
                            ds[name] = {ax: Dim(f"{name}_{ax}") for ax in axes} or None
                    kw["dynamic_shapes"] = ds if ds else None
                    torch.onnx.export(module, args, path, dynamo=True, **kw)
                else:
                    torch.onnx.export(module, args, path, dynamo=False,
                                      dynamic_axes=dynamic_axes, opset_version=17, **kw)
            return "dynamo" if dynamo else "torchscript"
        except Exception as e:  # noqa: BLE001
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(e).__name__}: {e}")
    raise RuntimeError("ONNX export failed: " + " | ".join(errors)[:2000])


def export_onnx(paths):
    """The ONNX graphs. Sentiment: a padded-batch graph (text [B,T] int64, lengths [B] int64)
    that runs the LSTM over the right-padded batch and gathers the output at position
    length-1 -- for a unidirectional LSTM that is exactly hidden[-1] of the packed sequence
    (pack_padded_sequence itself does not export). Charlm: one step, (x [1], h, c) -> (logits,
    h, c), driven from Python."""
    try:
        import torch
        import torch.nn as nn
    except ImportError:
        return {"error": "torch missing"}
    SentimentRNN, CharRNN = torch_models()
    info = {}
    if not os.path.exists(paths["sent_onnx"]):
        sd = torch.load(paths["sent_pt"])
        m = SentimentRNN(sd["embedding.weight"].shape[0])
        m.load_state_dict(sd)
        m.eval()

        class Padded(nn.Module):
            def __init__(self, b):
                super().__init__()
                self.b = b

            def forward(self, text, lengths):
                out, _ = self.b.rnn(self.b.embedding(text))
                idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.size(2))
                last = out.gather(1, idx).squeeze(1)
                return self.b.sigmoid(self.b.fc2(self.b.relu(self.b.fc1(last))))

        x = torch.randint(1, 50, (3, 9))
        ln = torch.tensor([9, 4, 1])
        info["sentiment_exporter"] = _onnx_export(
            Padded(m).eval(), (x, ln), paths["sent_onnx"], ["text", "lengths"], ["prob"],
            {"text": {0: "B", 1: "T"}, "lengths": {0: "B"}, "prob": {0: "B"}})
        # Does the book's own forward (pack_padded_sequence) export? Recorded, not used.
        # (The exporters dump whole graphs to fd 2 when it fails: silenced.)
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as dn:
                os.dup2(dn.fileno(), 2)
                info["book_forward_exporter"] = _onnx_export(
                    m, (x, ln), paths["sent_onnx"] + ".book.onnx", ["text", "lengths"], ["prob"],
                    {"text": {0: "B", 1: "T"}, "lengths": {0: "B"}, "prob": {0: "B"}})
        except Exception as e:  # noqa: BLE001
            info["book_forward_exporter"] = "failed: " + " ".join(str(e).split())[:300]
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        with open(paths["sent_onnx"] + ".json", "w") as f:
            json.dump(info, f)
    if not os.path.exists(paths["char_onnx"]):
        sd = torch.load(paths["char_pt"])
        m = CharRNN(sd["embedding.weight"].shape[0])
        m.load_state_dict(sd)
        m.eval()
        h, c = m.init_hidden(1)
        info2 = {"charlm_exporter": _onnx_export(
            m, (torch.tensor([3]), h, c), paths["char_onnx"], ["x", "h", "c"],
            ["logits", "h_out", "c_out"], {})}
        with open(paths["char_onnx"] + ".json", "w") as f:
            json.dump(info2, f)
    for p in (paths["sent_onnx"] + ".json", paths["char_onnx"] + ".json"):
        if os.path.exists(p):
            with open(p) as f:
                info.update(json.load(f))
    return info


# =============================================================================================
# workers: one measurement each, in a fresh process with its thread environment
# =============================================================================================

def _set_torch_threads(t):
    import torch
    torch.set_num_threads(t)
    return torch


def _ort_session(path, t):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = t
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _swiftrnn():
    """The bindings of the build under test: thread_env puts the right checkout's
    bindings/python first on PYTHONPATH (this repo's, or SWIFTRNN_NATIVE_REPO's for the
    swiftrnn-native peer); this repo's are the fallback."""
    if not any(os.path.isdir(os.path.join(p, "swiftrnn")) for p in sys.path if p):
        sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
    import swiftrnn
    return swiftrnn


def _timed_reps(fn, min_reps, min_seconds, max_reps=5):
    """Run fn() until min_reps and min_seconds are reached; returns (times, last result)."""
    times, res, t_all = [], None, time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - t_all < min_seconds
                                    and len(times) < max_reps):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return times, res


def w1_worker(a):
    """Score the test reviews end to end (text in, probability out)."""
    import numpy as np
    reviews = [t for _, t in read_imdb(a.imdb, "test", limit=a.n or None)]  # 0: all 25,000
    n, t = len(reviews), a.threads
    warm = reviews[:min(64, n)]
    if a.peer in OURS:
        sr = _swiftrnn()
        m = sr.load(a.model)
        m.score_batch(warm, threads=t)
        times, probs = _timed_reps(lambda: m.score_batch(reviews, threads=t), 3, 5.0)
        probs = np.asarray(probs, dtype=np.float32)
    elif a.peer in ("torch-book", "torch-best"):
        torch = _set_torch_threads(t)
        import torch.nn as nn
        SentimentRNN, _ = torch_models()
        sd = torch.load(a.model_pt)
        model = SentimentRNN(sd["embedding.weight"].shape[0])
        model.load_state_dict(sd)
        model.eval()
        with open(a.vocab, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(json.load(f))}
        if a.peer == "torch-book":
            from torch.utils.data import DataLoader
            text_pipeline = lambda x: [vocab.get(tok, 1) for tok in book_tokenizer(x)]  # noqa

            def collate_batch(batch):
                text_list, lengths = [], []
                for _text in batch:
                    processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
                    text_list.append(processed_text)
                    lengths.append(processed_text.size(0))
                lengths = torch.tensor(lengths)
                padded = nn.utils.rnn.pad_sequence(text_list, batch_first=True)
                return padded, lengths

            def run(texts):
                dl = DataLoader(texts, batch_size=32, shuffle=False, collate_fn=collate_batch)
                out = []
                with torch.no_grad():              # the book's evaluate()
                    for text_batch, lengths in dl:
                        out.append(model(text_batch, lengths)[:, 0])
                return torch.cat(out).numpy()
        else:
            def run(texts):
                with torch.inference_mode():
                    ids = [[vocab.get(tok, 1) for tok in book_tokenizer(x)] or [0]
                           for x in texts]
                    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
                    res = np.empty(len(ids), dtype=np.float32)
                    for s in range(0, len(order), 256):
                        idx = order[s:s + 256]
                        seqs = [torch.tensor(ids[i], dtype=torch.int64) for i in idx]
                        lengths = torch.tensor([len(ids[i]) for i in idx])
                        padded = nn.utils.rnn.pad_sequence(seqs, batch_first=True)
                        emb = model.embedding(padded)
                        packed = nn.utils.rnn.pack_padded_sequence(
                            emb, lengths, enforce_sorted=True, batch_first=True)
                        _, (h, _c) = model.rnn(packed)
                        p = model.sigmoid(model.fc2(model.relu(model.fc1(h[-1]))))
                        res[idx] = p[:, 0].numpy()
                    return res
        run(warm)
        times, probs = _timed_reps(lambda: run(reviews), 1, 0.0, 1)
    elif a.peer == "onnxruntime":
        sess = _ort_session(a.model_onnx, t)
        with open(a.vocab, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(json.load(f))}

        def run(texts):
            ids = [[vocab.get(tok, 1) for tok in book_tokenizer(x)] or [0] for x in texts]
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
            res = np.empty(len(ids), dtype=np.float32)
            for s in range(0, len(order), 256):
                idx = order[s:s + 256]
                T = len(ids[idx[0]])
                x = np.zeros((len(idx), T), dtype=np.int64)
                for r, i in enumerate(idx):
                    x[r, :len(ids[i])] = ids[i]
                ln = np.array([len(ids[i]) for i in idx], dtype=np.int64)
                res[idx] = sess.run(None, {"text": x, "lengths": ln})[0][:, 0]
            return res
        run(warm)
        times, probs = _timed_reps(lambda: run(reviews), 1, 0.0, 1)
    else:
        raise SystemExit(f"unknown peer {a.peer}")
    if a.probs_out:
        np.save(a.probs_out, np.asarray(probs, dtype=np.float32))
    sec = statistics.median(times)
    return {"reviews": n, "seconds": sec, "all_seconds": times, "rate": n / sec,
            "unit": "reviews/s"}


def w2_worker(a):
    """Generate a.n characters after 'The island', batch 1."""
    import numpy as np
    n, t = a.n, a.threads
    if a.peer in OURS:
        sr = _swiftrnn()
        m = sr.load(a.model)
        m.sample(PRIME, length=min(50, n), seed=2, threads=t)
        times, out = _timed_reps(lambda: m.sample(PRIME, length=n, seed=1, threads=t), 3, 3.0)
        text = out
    else:
        with open(a.chars, encoding="utf-8") as f:
            char_array = json.load(f)
        char2int = {ch: i for i, ch in enumerate(char_array)}
        if a.peer in ("torch-book", "torch-best"):
            torch = _set_torch_threads(t)
            from torch.distributions.categorical import Categorical
            _, CharRNN = torch_models()
            sd = torch.load(a.model_pt)
            model = CharRNN(sd["embedding.weight"].shape[0])
            model.load_state_dict(sd)
            torch.manual_seed(1)
            if a.peer == "torch-book":
                def sample(model, starting_str, len_generated_text=500, scale_factor=1.0):
                    # the book's sample(), verbatim (no torch.no_grad(), as in the book)
                    encoded_input = torch.tensor([char2int[s] for s in starting_str])
                    encoded_input = torch.reshape(encoded_input, (1, -1))
                    generated_str = starting_str
                    model.eval()
                    hidden, cell = model.init_hidden(1)
                    for c in range(len(starting_str) - 1):
                        _, hidden, cell = model(encoded_input[:, c].view(1), hidden, cell)
                    last_char = encoded_input[:, -1]
                    for i in range(len_generated_text):
                        logits, hidden, cell = model(last_char.view(1), hidden, cell)
                        logits = torch.squeeze(logits, 0)
                        scaled_logits = logits * scale_factor
                        m = Categorical(logits=scaled_logits)
                        last_char = m.sample()
                        generated_str += str(char_array[last_char])
                    return generated_str
            else:
                import torch.nn.functional as F
                cellm = torch.nn.LSTMCell(model.rnn.input_size, model.rnn.hidden_size)
                with torch.no_grad():
                    cellm.weight_ih.copy_(model.rnn.weight_ih_l0)
                    cellm.weight_hh.copy_(model.rnn.weight_hh_l0)
                    cellm.bias_ih.copy_(model.rnn.bias_ih_l0)
                    cellm.bias_hh.copy_(model.rnn.bias_hh_l0)
                emb, fcw, fcb = model.embedding.weight, model.fc.weight, model.fc.bias

                def sample(model, starting_str, len_generated_text=500, scale_factor=1.0):
                    with torch.inference_mode():
                        # fold the embedding into the input projection: one row per character
                        xproj = F.linear(emb, cellm.weight_ih, cellm.bias_ih)
                        h = torch.zeros(1, cellm.hidden_size)
                        c = torch.zeros(1, cellm.hidden_size)
                        Whh, bhh = cellm.weight_hh, cellm.bias_hh

                        def step(ci, h, c):
                            g = xproj[ci] + torch.addmm(bhh, h, Whh.t())
                            i, f, gg, o = g.chunk(4, 1)
                            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                            h = torch.sigmoid(o) * torch.tanh(c)
                            return h, c
                        ids = [char2int[s] for s in starting_str]
                        for ci in ids[:-1]:
                            h, c = step(ci, h, c)
                        last, out = ids[-1], []
                        for _ in range(len_generated_text):
                            h, c = step(last, h, c)
                            logits = torch.addmm(fcb, h, fcw.t())[0] * scale_factor
                            last = int(torch.multinomial(torch.softmax(logits, 0), 1))
                            out.append(char_array[last])
                        return starting_str + "".join(out)
            sample(model, PRIME, min(50, n))
            times, text = _timed_reps(lambda: sample(model, PRIME, n), 1, 0.0, 1)
        elif a.peer == "onnxruntime":
            sess = _ort_session(a.model_onnx, t)
            rng = np.random.default_rng(1)
            H = 512
            for inp in sess.get_inputs():
                if inp.name == "h":
                    H = inp.shape[-1]

            def sample(n):
                h = np.zeros((1, 1, H), dtype=np.float32)
                c = np.zeros((1, 1, H), dtype=np.float32)
                ids = [char2int[s] for s in PRIME]
                x = np.zeros(1, dtype=np.int64)
                for ci in ids[:-1]:
                    x[0] = ci
                    _, h, c = sess.run(None, {"x": x, "h": h, "c": c})
                last, out = ids[-1], []
                for _ in range(n):
                    x[0] = last
                    logits, h, c = sess.run(None, {"x": x, "h": h, "c": c})
                    z = logits[0].astype(np.float64)
                    p = np.exp(z - z.max())
                    cdf = np.cumsum(p)
                    last = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
                    last = min(last, len(char_array) - 1)
                    out.append(char_array[last])
                return PRIME + "".join(out)
            sample(min(50, n))
            times, text = _timed_reps(lambda: sample(n), 1, 0.0, 1)
        else:
            raise SystemExit(f"unknown peer {a.peer}")
    sec = statistics.median(times)
    return {"chars": n, "seconds": sec, "all_seconds": times, "rate": n / sec,
            "unit": "chars/s", "sample": text[:80]}


def w3_py_worker(a):
    """Cold start of a Python peer: imports, load, first result, in this fresh process."""
    t_start = time.perf_counter()
    import numpy as np
    if a.peer.startswith("torch"):
        import torch
        torch.set_num_threads(a.threads)
    else:
        import onnxruntime  # noqa: F401
    t_imp = time.perf_counter()
    if a.kind == "sentiment":
        with open(a.vocab, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(json.load(f))}
        review = ("A wonderful, moving film. The acting was superb and the story kept me "
                  "watching until the very end.")
        ids = [vocab.get(tok, 1) for tok in book_tokenizer(review)]
        if a.peer.startswith("torch"):
            SentimentRNN, _ = torch_models()
            sd = torch.load(a.model_pt)
            m = SentimentRNN(sd["embedding.weight"].shape[0])
            m.load_state_dict(sd)
            m.eval()
            with torch.inference_mode():
                res = float(m(torch.tensor([ids]), torch.tensor([len(ids)]))[0, 0])
        else:
            sess = _ort_session(a.model_onnx, a.threads)
            res = float(sess.run(None, {"text": np.array([ids], dtype=np.int64),
                                        "lengths": np.array([len(ids)], dtype=np.int64)})[0][0, 0])
    else:
        with open(a.chars, encoding="utf-8") as f:
            chars = json.load(f)
        c2i = {ch: i for i, ch in enumerate(chars)}
        if a.peer.startswith("torch"):
            _, CharRNN = torch_models()
            sd = torch.load(a.model_pt)
            m = CharRNN(sd["embedding.weight"].shape[0])
            m.load_state_dict(sd)
            m.eval()
            with torch.inference_mode():
                h, c = m.init_hidden(1)
                for ch in PRIME:
                    logits, h, c = m(torch.tensor([c2i[ch]]), h, c)
                res = int(torch.multinomial(torch.softmax(logits[0], 0), 1))
        else:
            sess = _ort_session(a.model_onnx, a.threads)
            h = np.zeros((1, 1, 512), dtype=np.float32)
            c = np.zeros_like(h)
            for ch in PRIME:
                logits, h, c = sess.run(None, {"x": np.array([c2i[ch]], dtype=np.int64),
                                               "h": h, "c": c})
            res = int(np.argmax(logits[0]))
    t_end = time.perf_counter()
    return {"import_ms": 1e3 * (t_imp - t_start), "total_ms": 1e3 * (t_end - t_imp),
            "peak_rss_kb": vm_hwm_kb(),
            "result": res}


def vm_hwm_kb():
    """Peak RSS of this process (VmHWM). Not ru_maxrss: Linux carries the parent's high-water
    mark across fork+exec into it, so a child of a big Python process would report the parent's
    RSS."""
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


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


# =============================================================================================
# the orchestrator
# =============================================================================================

# By default every measured process runs without OPENBLAS_CORETYPE, as a user who never heard
# of it: libswiftrnn then picks the core itself (docs/c-api.md). The peers do not use the
# system OpenBLAS. KEEP_OPENBLAS_CORETYPE=1 keeps the caller's value instead.
KEEP_CORETYPE = os.environ.get("KEEP_OPENBLAS_CORETYPE") == "1"


# A second build of libswiftrnn to compare in the same run (W1, W2): SWIFTRNN_NATIVE_REPO names a
# checkout with its own out/lib and bindings (run.sh builds the last commit with Swift kernels
# compiled for this CPU there, NATIVE_REF). Its peer is "swiftrnn-native"; each build runs with
# its own Python bindings.
NATIVE_REPO = os.environ.get("SWIFTRNN_NATIVE_REPO") or None
OURS = ("swiftrnn", "swiftrnn-native")


def thread_env(t, peer=None):
    env = dict(os.environ)
    if not KEEP_CORETYPE:
        env.pop("OPENBLAS_CORETYPE", None)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(t)
    repo = NATIVE_REPO if peer == "swiftrnn-native" else REPO
    env["SWIFTRNN_LIBRARY"] = os.path.join(repo, "out", "lib", "libswiftrnn.so")
    env["PYTHONPATH"] = os.path.join(repo, "bindings", "python") + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def run_worker(args, t, timeout=None):
    cmd = [sys.executable, os.path.abspath(__file__), "worker"] + [str(x) for x in args]
    cmd += ["--threads", str(t)]
    t0 = time.perf_counter()
    peer = args[args.index("--peer") + 1] if "--peer" in args else None
    p = subprocess.run(cmd, env=thread_env(t, peer), capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"worker {' '.join(map(str, args))} failed ({p.returncode}):\n"
                           f"{p.stderr[-3000:]}")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    r = json.loads(line[len("RESULT "):])
    r["process_wall_s"] = wall
    return r


def have_module(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


def available_peers():
    peers, missing = ["swiftrnn"], {}
    if not os.path.exists(LIB):
        missing["swiftrnn"] = f"{LIB} not built (make lib)"
        peers = []
    if NATIVE_REPO and os.path.exists(os.path.join(NATIVE_REPO, "out", "lib", "libswiftrnn.so")):
        peers.append("swiftrnn-native")
    elif NATIVE_REPO:
        missing["swiftrnn-native"] = f"{NATIVE_REPO}/out/lib/libswiftrnn.so not built"
    if have_module("torch"):
        peers += ["torch-book", "torch-best"]
    else:
        missing["torch"] = "torch not installed in this python"
    if have_module("onnxruntime") and have_module("torch") and have_module("onnx"):
        peers.append("onnxruntime")
    else:
        missing["onnxruntime"] = "onnxruntime/onnx (or torch, to export) not installed"
    return peers, missing


def conditions(cfg):
    c = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "mode": cfg["mode"],
         "host": platform.node(), "python": platform.python_version(),
         "kernel": platform.release(), "cores": os.cpu_count(), "threads": cfg["threads"]}
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    c["cpu"] = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        lc = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key in ("CPU family", "Model:", "L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor",
                    "CPU max MHz"):
            for ln in lc.splitlines():
                if ln.strip().startswith(key):
                    c["lscpu " + key.rstrip(":")] = ln.split(":", 1)[1].strip()
    except OSError:
        pass
    for mod in ("torch", "onnxruntime", "numpy", "onnx", "onnxscript", "matplotlib"):
        try:
            c[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            c[mod] = "missing"
    try:
        import torch
        cfgtxt = torch.__config__.show()
        c["torch_blas"] = ";".join(ln.strip() for ln in cfgtxt.splitlines()
                                   if "BLAS_INFO" in ln or "CPU capability" in ln)[:300]
        c["torch_num_threads_default"] = torch.get_num_threads()
    except Exception:  # noqa: BLE001
        pass
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        c["env " + k] = os.environ.get(k, "(unset)")
    c["OPENBLAS_CORETYPE in the measured processes"] = (
        os.environ.get("OPENBLAS_CORETYPE", "(unset)") if KEEP_CORETYPE
        else "(unset: libswiftrnn picks; KEEP_OPENBLAS_CORETYPE=1 keeps the caller's)")
    try:
        c["repo_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                          capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources"],
                               capture_output=True, text=True).stdout.strip()
        c["repo_sources_dirty"] = bool(dirty)
    except OSError:
        pass
    try:
        c["loadavg_at_start"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return c


def openblas_probe(model_path):
    """The OpenBLAS our library uses, probed in a subprocess with the benchmark environment:
    libswiftrnn loads OpenBLAS lazily (dlopen at first use), so the probe generates a few
    characters first, then reads /proc/self/maps and asks that OpenBLAS for its core."""
    probe = (
        "import ctypes,sys\n"
        f"sys.path.insert(0,{os.path.join(REPO, 'bindings', 'python')!r})\n"
        "import swiftrnn\n"
        "print('VERSION', swiftrnn.__version__)\n"
        f"swiftrnn.load({model_path!r}).sample('The island', length=3, seed=1)\n"
        "maps=open('/proc/self/maps').read()\n"
        "p=sorted({l.split()[-1] for l in maps.splitlines() if 'openblas' in l.lower()})\n"
        "print('PATH', ' '.join(p) or '(OpenBLAS not mapped)')\n"
        "if p:\n"
        "    l=ctypes.CDLL(p[0])\n"
        "    l.openblas_get_corename.restype=ctypes.c_char_p\n"
        "    l.openblas_get_config.restype=ctypes.c_char_p\n"
        "    print('CORE', l.openblas_get_corename().decode())\n"
        "    print('CONFIG', l.openblas_get_config().decode())\n")
    c = {}
    try:
        env = thread_env(1)
        env["OPENBLAS_VERBOSE"] = "2"
        p = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                           text=True, timeout=60)
        for ln in p.stdout.splitlines():
            k, _, v = ln.partition(" ")
            c[{"VERSION": "libswiftrnn", "PATH": "openblas_path", "CORE": "openblas_core",
               "CONFIG": "openblas_config"}.get(k, k)] = v
        c["openblas_verbose"] = " ".join(p.stderr.split())[:200]
        c.setdefault("openblas_core", "not loaded" if p.returncode == 0
                     else f"probe failed: {p.stderr[-300:]}")
    except Exception as e:  # noqa: BLE001
        c["openblas_core"] = f"probe failed: {e}"
    return c


def save(cfg, name, obj):
    os.makedirs(cfg["results"], exist_ok=True)
    with open(os.path.join(cfg["results"], name + ".json"), "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)


def bench_w1(cfg, paths, peers):
    import numpy as np
    rows, probs = [], {}
    models = [("random", paths["sent_st"])]
    if os.path.exists(SHIPPED["sentiment"]):
        models.append(("shipped", SHIPPED["sentiment"]))
    for t in cfg["threads"]:
        for peer in peers:
            for mname, mpath in models:
                if mname == "shipped" and peer not in OURS:
                    continue
                po = os.path.join(cfg["work"], f"probs-{peer}-{mname}-{t}.npy")
                args = ["w1", "--peer", peer, "--imdb", cfg["imdb"], "--n", cfg["w1_n"] or 0,
                        "--model", mpath, "--model-pt", paths["sent_pt"],
                        "--vocab", paths["sent_vocab"], "--model-onnx", paths["sent_onnx"],
                        "--probs-out", po]
                log(f"W1 {peer} ({mname} model) threads={t} reviews={cfg['w1_n']} ...")
                try:
                    r = run_worker(args, t)
                except Exception as e:  # noqa: BLE001
                    log(f"  FAILED: {e}")
                    rows.append({"peer": peer, "model": mname, "threads": t, "error": str(e)[-800:]})
                    continue
                r.update(peer=peer, model=mname, threads=t)
                log(f"  {r['rate']:.1f} reviews/s")
                rows.append(r)
                if mname == "random":
                    probs[(peer, t)] = np.load(po)
    agreement = []
    ref_key = next((k for k in probs if k[0] == "torch-book"), None) or next(iter(probs), None)
    if ref_key:
        ref = probs[ref_key]
        for k, v in probs.items():
            agreement.append({"peer": k[0], "threads": k[1], "reference": f"{ref_key[0]}",
                              "max_abs_diff": float(np.max(np.abs(v - ref))) if len(v) else 0.0,
                              "n": int(len(v))})
        for a in agreement:
            log(f"W1 agreement {a['peer']} t={a['threads']} vs {a['reference']}: "
                f"max |dp| = {a['max_abs_diff']:.3g}")
    save(cfg, "w1", {"rows": rows, "agreement": agreement, "n": cfg["w1_n"]})


def bench_w2(cfg, paths, peers):
    rows = []
    for t in cfg["threads"]:
        for peer in peers:
            args = ["w2", "--peer", peer, "--n", cfg["w2_n"], "--model", paths["char_st"],
                    "--model-pt", paths["char_pt"], "--chars", paths["char_chars"],
                    "--model-onnx", paths["char_onnx"]]
            log(f"W2 {peer} threads={t} chars={cfg['w2_n']} ...")
            try:
                r = run_worker(args, t)
            except Exception as e:  # noqa: BLE001
                log(f"  FAILED: {e}")
                rows.append({"peer": peer, "threads": t, "error": str(e)[-800:]})
                continue
            r.update(peer=peer, threads=t)
            log(f"  {r['rate']:.1f} chars/s")
            rows.append(r)
    save(cfg, "w2", {"rows": rows, "n": cfg["w2_n"]})


def bench_w3(cfg, paths, peers):
    rows = []
    cold = cfg["coldstart_bin"]
    models = [("sentiment", "random", paths["sent_st"]), ("charlm", "random", paths["char_st"])]
    for kind in ("sentiment", "charlm"):
        if os.path.exists(SHIPPED[kind]):
            models.append((kind, "shipped", SHIPPED[kind]))
    reps = cfg["w3_reps"]
    for t in cfg["threads"]:
        for kind, mname, mpath in models:
            if "swiftrnn" in peers and cold and os.path.exists(cold):
                runs = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    p = subprocess.run([cold, mpath], env=thread_env(t), capture_output=True,
                                       text=True)
                    wall = 1e3 * (time.perf_counter() - t0)
                    if p.returncode != 0:
                        runs = None
                        rows.append({"peer": "swiftrnn", "kind": kind, "model": mname,
                                     "threads": t, "error": p.stderr[-500:]})
                        break
                    r = json.loads(p.stdout.strip().splitlines()[-1])
                    r["process_ms"] = wall
                    runs.append(r)
                if runs:
                    med = {k: statistics.median([r[k] for r in runs])
                           for k in ("load_ms", "first_ms", "total_ms", "process_ms",
                                     "peak_rss_kb", "rss_start_kb")}
                    med.update(peer="swiftrnn", kind=kind, model=mname, threads=t, reps=reps,
                               file_bytes=os.path.getsize(mpath), result=runs[0]["result"])
                    log(f"W3 swiftrnn {kind}/{mname} t={t}: {med['total_ms']:.2f} ms "
                        f"(process {med['process_ms']:.1f} ms), peak RSS "
                        f"{med['peak_rss_kb'] / 1024:.1f} MB")
                    rows.append(med)
            if mname != "random":
                continue
            for peer in [p for p in peers if p in ("torch-book", "onnxruntime")]:
                runs = []
                try:
                    for _ in range(max(1, reps // 2)):
                        args = ["w3", "--peer", peer, "--kind", kind,
                                "--model-pt", paths["sent_pt" if kind == "sentiment" else "char_pt"],
                                "--model-onnx",
                                paths["sent_onnx" if kind == "sentiment" else "char_onnx"],
                                "--vocab", paths["sent_vocab"], "--chars", paths["char_chars"]]
                        runs.append(run_worker(args, t))
                except Exception as e:  # noqa: BLE001
                    rows.append({"peer": peer, "kind": kind, "model": mname, "threads": t,
                                 "error": str(e)[-500:]})
                    continue
                med = {k: statistics.median([r[k] for r in runs])
                       for k in ("import_ms", "total_ms", "peak_rss_kb", "process_wall_s")}
                med["process_ms"] = 1e3 * med.pop("process_wall_s")
                med.update(peer="torch" if peer.startswith("torch") else peer, kind=kind,
                           model=mname, threads=t, reps=len(runs))
                log(f"W3 {peer} {kind} t={t}: {med['total_ms']:.1f} ms after "
                    f"{med['import_ms']:.0f} ms of imports, RSS {med['peak_rss_kb'] / 1024:.0f} MB")
                rows.append(med)
    save(cfg, "w3", {"rows": rows})


def _read_csv(path):
    with open(path) as f:
        lines = [ln.strip().split(",") for ln in f if ln.strip()]
    return [dict(zip(lines[0], ln)) for ln in lines[1:]]


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


def bench_bandwidth(cfg):
    b = cfg.get("bandwidth_bin")
    if not b or not os.path.exists(b):
        log("bandwidth probe not built; roofline skipped")
        return
    log("bandwidth/FLOP probe ...")
    p = subprocess.run([b] + [str(t) for t in cfg["threads"]], capture_output=True, text=True)
    if p.returncode != 0:
        log(f"  failed: {p.stderr[-500:]}")
        return
    save(cfg, "bandwidth", json.loads(p.stdout))


def cmd_run(a):
    mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    cores = os.cpu_count() or 1
    threads = sorted({1, cores}) if not a.threads else [int(x) for x in a.threads.split(",")]
    sizes = {"full": dict(w1_n=None, w2_n=2000, w3_reps=7, w4_reviews=None, w4_char_its=100,
                          vocab_reviews=None),
             "quick": dict(w1_n=5000, w2_n=1000, w3_reps=5, w4_reviews=2000, w4_char_its=20,
                           vocab_reviews=None),
             "smoke": dict(w1_n=200, w2_n=100, w3_reps=3, w4_reviews=400, w4_char_its=3,
                           vocab_reviews=2000)}[mode]
    for k in ("w1_n", "w2_n", "w4_char_its"):
        v = getattr(a, k)
        if v is not None:
            sizes[k] = v
    data = os.path.abspath(a.data)
    imdb = ensure_imdb(os.path.abspath(a.imdb) if a.imdb else "", work, data)
    text = os.path.abspath(a.text or os.path.join(data, "1268-0.txt"))
    cfg = dict(sizes, mode=mode, work=work, imdb=imdb, text=text,
               results=os.path.abspath(a.results), threads=threads,
               coldstart_bin=a.coldstart, bandwidth_bin=a.bandwidth)
    peers, missing = available_peers()
    if a.peers:
        peers = [p for p in peers if p in a.peers.split(",")]
    for k, v in missing.items():
        log(f"skipping peer {k}: {v}")
    os.makedirs(cfg["results"], exist_ok=True)
    for f in glob.glob(os.path.join(cfg["results"], "*.json")):
        os.remove(f)
    cond = conditions(cfg)
    cond["peers"] = peers
    cond["missing_peers"] = missing
    cond["sizes"] = {k: cfg[k] for k in ("w1_n", "w2_n", "w3_reps", "w4_reviews", "w4_char_its")}
    save(cfg, "conditions", cond)
    if have_module("torch"):
        paths, facts = setup_models(cfg)
    else:
        raise SystemExit("torch is needed to build the benchmark models (benchmarks/setup_venv.sh)")
    cond.update(openblas_probe(paths["char_st"]))
    save(cfg, "conditions", cond)
    facts["sent_st"] = os.path.basename(paths["sent_st"])   # in --work; no machine's paths in results
    facts["char_st"] = os.path.basename(paths["char_st"])
    if facts.get("onnx", {}).get("error") and "onnxruntime" in peers:
        peers.remove("onnxruntime")
    save(cfg, "models", facts)
    wl = a.workloads.split(",")
    t_all = time.perf_counter()
    if "bw" in wl:
        bench_bandwidth(cfg)
    if "w3" in wl:
        bench_w3(cfg, paths, peers)
    if "w2" in wl:
        bench_w2(cfg, paths, peers)
    if "w1" in wl:
        bench_w1(cfg, paths, peers)
    if "w4" in wl:
        bench_w4(cfg, paths, peers)
    cond["elapsed_s"] = time.perf_counter() - t_all
    try:
        cond["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    save(cfg, "conditions", cond)
    log(f"done in {cond['elapsed_s']:.0f} s; results in {cfg['results']}")


# =============================================================================================
# report: RESULTS.md + plot.png from results/*.json
# =============================================================================================

def _load(results, name):
    p = os.path.join(results, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def roofline(bw, models, w2):
    """Bytes and FLOPs per generated character for the book's char model, the bound, and the
    comparison with W2."""
    V = (models or {}).get("charlm_vocab_size", 80)
    E, H = 256, 512
    G = 4 * H
    flops_ih = 2 * G * E
    flops_hh = 2 * G * H
    flops_fc = 2 * V * H
    flops_elem = 10 * H + 5 * V          # gates, cell update, softmax/sampling (rough)
    naive = {"W_ih": G * E * 4, "W_hh": G * H * 4, "fc": V * H * 4, "biases": (2 * G + V) * 4,
             "embedding row": E * 4}
    folded = {"xproj row (W_ih·emb + b_ih + b_hh, precomputed per character)": G * 4,
              "W_hh": G * H * 4, "fc": V * H * 4, "fc bias": V * 4}
    out = {"V": V, "E": E, "H": H,
           "flops_naive": flops_ih + flops_hh + flops_fc + flops_elem,
           "flops_folded": flops_hh + flops_fc + flops_elem,
           "bytes_naive": sum(naive.values()), "bytes_folded": sum(folded.values()),
           "bytes_naive_items": naive, "bytes_folded_items": folded, "per_threads": []}
    if not bw:
        return out
    kern = bw["kernels"]
    peaks = {p["threads"]: p["gflops"] for p in bw["peak_gflops"]}

    def g(t, size, k="read"):
        for r in kern:
            if r["threads"] == t and r["size_kib"] == size and r["kernel"] == k:
                return r["gb_per_s"]
        return None
    w2rows = {r["threads"]: r for r in (w2 or {}).get("rows", [])
              if r.get("peer") == "swiftrnn" and "rate" in r}
    for t in sorted(peaks):
        # the weights (~4.4-6.5 MB) exceed one core's L2 (and both L2s together): they stream
        # from L3 each step, so use the read bandwidth of a 4 MiB (L3-resident) buffer.
        bw_l3 = g(t, 4096) or g(t, 16384)
        bw_l2 = g(t, 1024 if t == 1 else 1024)
        bw_dram = g(t, 262144)
        row = {"threads": t, "peak_gflops": peaks[t], "read_gbs_l2_1MiB": bw_l2,
               "read_gbs_l3_4MiB": bw_l3, "read_gbs_dram_256MiB": bw_dram}
        for variant in ("folded", "naive"):
            tf = out["flops_" + variant] / (peaks[t] * 1e9)
            tb = out["bytes_" + variant] / (bw_l3 * 1e9) if bw_l3 else float("nan")
            row[f"t_flops_us_{variant}"] = 1e6 * tf
            row[f"t_bytes_us_{variant}"] = 1e6 * tb
            row[f"t_min_us_{variant}"] = 1e6 * max(tf, tb)
            row[f"t_dram_us_{variant}"] = 1e6 * out["bytes_" + variant] / (bw_dram * 1e9) \
                if bw_dram else None
        if t in w2rows:
            meas = 1e6 / w2rows[t]["rate"]
            row["measured_us"] = meas
            row["ratio_vs_roofline_folded"] = meas / row["t_min_us_folded"]
            row["ratio_vs_roofline_naive"] = meas / row["t_min_us_naive"]
        out["per_threads"].append(row)
    return out


def _fmt(x, d=1):
    if x is None:
        return "—"
    if isinstance(x, float):
        if x != x:
            return "—"
        if abs(x) >= 100:
            return f"{x:,.0f}"
        return f"{x:.{d}f}"
    return str(x)


def _pf(ok):
    return "**PASS**" if ok else "**MISS**"


def cmd_report(a):
    R = os.path.abspath(a.results)
    cond = _load(R, "conditions") or {}
    models = _load(R, "models") or {}
    w1, w2, w3, w4 = (_load(R, n) for n in ("w1", "w2", "w3", "w4"))
    bw = _load(R, "bandwidth")
    mode = cond.get("mode", "?")
    L = []
    L.append("# libswiftrnn benchmark results (issue 5)\n")
    L.append("Generated by `make bench` (`benchmarks/run.sh` -> `benchmarks/bench.py run` then "
             "`report`) from `benchmarks/results/*.json`. Do not edit by hand.\n")
    if mode != "full":
        L.append(f"> **Mode: {mode.upper()}** — reduced sizes "
                 f"({json.dumps(cond.get('sizes', {}))}); not the issue-5 figures. "
                 "Re-run `make bench` without QUICK for the real numbers.\n")
    la, le = cond.get("loadavg_at_start"), cond.get("loadavg_at_end")
    if la and float(la[0]) > 0.5 * (cond.get("cores") or 1):
        L.append(f"> **Contended machine**: load average {' '.join(la)} at the start "
                 f"(end: {' '.join(le or [])}) on {cond.get('cores')} cores — other work was "
                 "running; figures are not representative.\n")
    # ---- conditions (the targets table goes in front of them, at the end)
    targets_at = len(L)
    L.append("## Conditions\n")
    keys = ["date", "mode", "cpu", "lscpu CPU family", "lscpu Model", "lscpu L1d cache",
            "lscpu L2 cache", "lscpu L3 cache", "lscpu Hypervisor vendor", "cores", "threads",
            "kernel", "python", "libswiftrnn", "repo_commit", "repo_sources_dirty",
            "openblas_core", "openblas_config", "openblas_path", "openblas_verbose",
            "env OPENBLAS_CORETYPE", "OPENBLAS_CORETYPE in the measured processes", "env OPENBLAS_L2_SIZE",
            "env OPENBLAS_NUM_THREADS", "env OMP_NUM_THREADS", "torch", "torch_blas",
            "onnxruntime", "onnx", "onnxscript", "numpy", "matplotlib", "peers",
            "missing_peers", "loadavg_at_start", "loadavg_at_end", "elapsed_s"]
    L.append("| | |\n|---|---|")
    for k in keys:
        if k in cond:
            v = cond[k]
            if isinstance(v, float):
                v = f"{v:.0f}"
            L.append(f"| {k} | {json.dumps(v) if isinstance(v, (list, dict)) else v} |")
    L.append("")
    L.append("Threads are pinned per measurement: `OPENBLAS_NUM_THREADS`, `OMP_NUM_THREADS`, "
             "`MKL_NUM_THREADS` in the environment of a fresh process, plus "
             "`torch.set_num_threads`, ORT `intra_op_num_threads` (inter_op 1) and our "
             "`threads=`. Models: the book's shapes with seeded random weights, built in "
             "PyTorch and exported with `swiftrnn.export`, so every peer runs identical weights"
             f" (sentiment vocabulary {models.get('sentiment_vocab_size')} tokens, "
             f"{_fmt(models.get('sent_st_bytes', 0) / 1e6, 2)} MB; char table "
             f"{models.get('charlm_vocab_size')} characters, "
             f"{_fmt(models.get('char_st_bytes', 0) / 1e6, 2)} MB). ONNX export: "
             f"{json.dumps(models.get('onnx', {}))}.\n")
    checks = []      # (target, measured, ok)

    def rate(rows, peer, t, **kw):
        for r in rows or []:
            if r.get("peer") == peer and r.get("threads") == t and "rate" in r and all(
                    r.get(k) == v for k, v in kw.items()):
                return r["rate"]
        return None
    threads = cond.get("threads", [1])
    # ---- W1
    if w1:
        n = w1.get("n") or 25000
        L.append(f"## W1 scoring — {n} IMDb test reviews, text in, probability out\n")
        L.append("Reviews per second (tokenization included). `torch-book`: the book's "
                 "tokenizer + vocabulary dict + `collate_batch` + DataLoader(batch 32) + "
                 "`model(text, lengths)` under `no_grad`; `torch-best`: `inference_mode`, "
                 "length-sorted batches of 256, `enforce_sorted=True`; `onnxruntime`: padded "
                 "batches of 256 (length-sorted) through the padded graph (see Caveats); "
                 "`swiftrnn`: `Model.score_batch(texts, threads=t)`.\n")
        L.append("| peer | model | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}"
                                                   for t in threads) + " |")
        L.append("|---|---|" + "---|" * len(threads))
        seen = []
        for r in w1["rows"]:
            k = (r["peer"], r.get("model", "random"))
            if k in seen:
                continue
            seen.append(k)
            cells = []
            for t in threads:
                v = rate(w1["rows"], k[0], t, model=k[1])
                err = next((x for x in w1["rows"] if x["peer"] == k[0] and x["threads"] == t
                            and x.get("model") == k[1] and "error" in x), None)
                cells.append(_fmt(v) if v else ("error" if err else "—"))
            L.append(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")
        L.append("")
        if w1.get("agreement"):
            L.append("Agreement of the probabilities (random-weights model, same reviews): " +
                     "; ".join(f"{x['peer']} ({x['threads']}t) vs {x['reference']}: "
                               f"max |Δp| = {x['max_abs_diff']:.2e}"
                               for x in w1["agreement"]) + ".\n")
        for t in threads:
            ours = rate(w1["rows"], "swiftrnn", t, model="random")
            for peer, key in (("torch-book", "W1 vs torch-book"), ("onnxruntime", "W1 vs onnxruntime")):
                p = rate(w1["rows"], peer, t, model="random")
                if ours and p:
                    checks.append((f"W1 {t}t: swiftrnn / {peer} ≥ {TARGETS[key]:g}x",
                                   f"{ours / p:.1f}x", ours / p >= TARGETS[key]))
    # ---- W2
    if w2:
        L.append(f"## W2 generation — {w2.get('n')} characters after '{PRIME}', batch 1\n")
        L.append("Characters per second. `torch-book`: the book's `sample()` verbatim "
                 "(one `model(last_char.view(1), hidden, cell)` per character, `Categorical` "
                 "sampling, no `no_grad` as in the book); `torch-best`: `inference_mode`, "
                 "an LSTM step written with `addmm` over the folded input projection, "
                 "`torch.multinomial`; `onnxruntime`: a one-step graph (x, h, c) -> (logits, h, c)"
                 " driven from Python with numpy sampling; `swiftrnn`: `Model.sample(threads=t)` (2 threads split every step's hidden units).\n")
        L.append("| peer | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads)
                 + " |")
        L.append("|---|" + "---|" * len(threads))
        for peer in dict.fromkeys(r["peer"] for r in w2["rows"]):
            L.append(f"| {peer} | " + " | ".join(_fmt(rate(w2["rows"], peer, t))
                                                  for t in threads) + " |")
        L.append("")
        for t in threads:
            ours = rate(w2["rows"], "swiftrnn", t)
            for peer, key in (("torch-book", "W2 vs torch-book"), ("onnxruntime", "W2 vs onnxruntime")):
                p = rate(w2["rows"], peer, t)
                if ours and p:
                    checks.append((f"W2 {t}t: swiftrnn / {peer} ≥ {TARGETS[key]:g}x",
                                   f"{ours / p:.1f}x", ours / p >= TARGETS[key]))
    # ---- the portable build against the native one (issue 11)
    native = [r for r in (w1 or {}).get("rows", []) + (w2 or {}).get("rows", [])
              if r.get("peer") == "swiftrnn-native" and "rate" in r]
    if native:
        L.append("## The portable build against a native one (same run)\n")
        L.append("`swiftrnn`: the default library (Swift code for baseline x86-64, SIMD kernels chosen "
                 "at run time from CPUID). `swiftrnn-native`: the library of "
                 f"`{os.environ.get('NATIVE_REF', 'SWIFTRNN_NATIVE_REPO')}`, the last build whose Swift "
                 "kernels were compiled for this CPU (`-target-cpu` from tools/cpuflags.sh). Target: "
                 "portable ≥ 0.95 × native.\n")
        L.append("| workload | threads | portable | native | portable / native |")
        L.append("|---|---|---|---|---|")
        for name, rows, models_ in (("W1 reviews/s", (w1 or {}).get("rows", []), ("random", "shipped")),
                                    ("W2 chars/s", (w2 or {}).get("rows", []), (None,))):
            for mname in models_:
                for t in threads:
                    if mname is None:
                        port, nat = rate(rows, "swiftrnn", t), rate(rows, "swiftrnn-native", t)
                    else:
                        port, nat = rate(rows, "swiftrnn", t, model=mname), rate(rows, "swiftrnn-native", t, model=mname)
                    if not (port and nat):
                        continue
                    label = name + (f" ({mname} model)" if mname else "")
                    L.append(f"| {label} | {t} | {_fmt(port)} | {_fmt(nat)} | {port / nat:.3f} |")
                    checks.append((f"{label} {t}t: portable / native ≥ 0.95", f"{port / nat:.3f}", port / nat >= 0.95))
        L.append("")
    # ---- two threads on a busy machine (issue 12; benchmarks/contention.py writes it)
    cpath = os.path.join(R, "contention.md")
    if os.path.exists(cpath):
        L.append("## Two threads against one on a busy machine\n")
        L.append("`python benchmarks/contention.py` (not part of `bench.py run`: it needs the "
                 "machine to itself). Generation: `Model.sample(threads=t)`; scoring: "
                 "`Model.score_batch(threads=t)`.\n")
        with open(cpath, encoding="utf-8") as f:
            L.append(f.read())
    # ---- roofline
    rf = roofline(bw, models, w2)
    L.append("## Roofline for W2 (one generated character = one LSTM step + fc + sampling)\n")
    L.append(f"Book char model: V={rf['V']}, E={rf['E']}, H={rf['H']}, gates 4H={4 * rf['H']}. "
             "Per step, F32:\n")
    L.append("| | naive (embedding row -> W_ih) | folded (W_ih·E precomputed per character) |")
    L.append("|---|---|---|")
    L.append(f"| FLOPs | {rf['flops_naive'] / 1e6:.2f} M (W_ih 2·{4 * rf['H']}·{rf['E']} + "
             f"W_hh 2·{4 * rf['H']}·{rf['H']} + fc 2·{rf['V']}·{rf['H']} + elementwise) | "
             f"{rf['flops_folded'] / 1e6:.2f} M |")
    L.append(f"| bytes read | {rf['bytes_naive'] / 1e6:.2f} MB "
             f"({', '.join(f'{k} {v / 1e3:.0f} kB' for k, v in rf['bytes_naive_items'].items())}) | "
             f"{rf['bytes_folded'] / 1e6:.2f} MB |")
    L.append("")
    L.append("Arithmetic intensity is 0.5 FLOP/byte (a GEMV): the step is bandwidth-bound on any "
             "cache level. The weights (4.4 MB folded, 6.5 MB naive) do **not** fit in one core's "
             f"L2 ({cond.get('lscpu L2 cache', '?')} in total) — nor in both L2s together when "
             "2 threads split the rows — but they do fit in L3 "
             f"({cond.get('lscpu L3 cache', '?')}), so every step streams them from L3: the "
             "relevant bandwidth is the read bandwidth of an L3-resident buffer (4 MiB), measured "
             "by `benchmarks/bandwidth.c`. "
             "t_min = max(FLOPs / peak FLOP/s, bytes / bandwidth).\n")
    if rf["per_threads"]:
        L.append("| threads | peak GFLOP/s (FMA probe) | read GB/s 1 MiB (L2) | read GB/s 4 MiB (L3) "
                 "| read GB/s 256 MiB (DRAM) | t_min folded µs | t_min naive µs | measured µs/char "
                 "| measured / t_min(folded) |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for r in rf["per_threads"]:
            L.append(f"| {r['threads']} | {_fmt(r['peak_gflops'])} | {_fmt(r['read_gbs_l2_1MiB'])} "
                     f"| {_fmt(r['read_gbs_l3_4MiB'])} | {_fmt(r['read_gbs_dram_256MiB'])} | "
                     f"{_fmt(r['t_min_us_folded'], 2)} | {_fmt(r['t_min_us_naive'], 2)} | "
                     f"{_fmt(r.get('measured_us'), 2)} | "
                     f"{_fmt(r.get('ratio_vs_roofline_folded'), 2)} |")
            if r.get("ratio_vs_roofline_folded"):
                checks.append((f"W2 {r['threads']}t: within 2x of the roofline "
                               "(measured ≤ 2 · t_min folded)",
                               f"{r['ratio_vs_roofline_folded']:.2f}x",
                               r["ratio_vs_roofline_folded"] <= 2.0))
        L.append("")
        L.append("The bound uses the folded byte count (the least a step must read); the naive "
                 "column is what a kernel that multiplies the embedding row by W_ih every step "
                 "needs. Full bandwidth table: `results/bandwidth.json`.\n")
    else:
        L.append("(bandwidth probe not run)\n")
    # ---- W3
    if w3:
        L.append("## W3 cold start — load the model and produce the first result\n")
        L.append("swiftrnn: `benchmarks/coldstart.c` in a fresh process per run (median of the "
                 "runs): `load+first` = clock_gettime around `swiftrnn_model_load` and the first "
                 "score / first generated character; `process` = exec to exit as seen by the "
                 "harness (adds dynamic loading and OpenBLAS start-up); peak RSS = "
                 "`VmHWM` from /proc/self/status (not `ru_maxrss`, which Linux carries over "
                 "from the parent across fork+exec). PyTorch / ONNX Runtime: a fresh Python process; `load+first` "
                 "excludes the imports (shown separately).\n")
        L.append("| peer | model | threads | load+first ms | (load / first) | imports ms | "
                 "process ms | peak RSS MB | file MB |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for r in w3["rows"]:
            if "error" in r:
                L.append(f"| {r['peer']} | {r['kind']}/{r['model']} | {r['threads']} | error "
                         "| | | | | |")
                continue
            fb = r.get("file_bytes")
            L.append(f"| {r['peer']} | {r['kind']}/{r['model']} | {r['threads']} | "
                     f"{_fmt(r['total_ms'], 2)} | "
                     + (f"{_fmt(r['load_ms'], 2)} / {_fmt(r['first_ms'], 2)}"
                        if "load_ms" in r else "") +
                     f" | {_fmt(r.get('import_ms'), 0)} | {_fmt(r.get('process_ms'), 1)} | "
                     f"{r['peak_rss_kb'] / 1024:.1f} | {_fmt(fb / 1e6, 2) if fb else '—'} |")
            has_shipped = any(x.get("model") == "shipped" for x in w3["rows"])
            if r["peer"] == "swiftrnn" and (r["model"] == "shipped") == has_shipped:
                label = f"{r['kind']}/{r['model']} {r['threads']}t"
                checks.append((f"W3 {label}: load + first result ≤ 20 ms",
                               f"{r['total_ms']:.2f} ms", r["total_ms"] <= 20.0))
                lim = fb / 1048576 + 30
                checks.append((f"W3 {label}: peak RSS ≤ file + 30 MB ({lim:.1f} MB)",
                               f"{r['peak_rss_kb'] / 1024:.1f} MB", r["peak_rss_kb"] / 1024 <= lim))
        L.append("")
        if not any(r.get("model") == "shipped" for r in w3["rows"]):
            L.append("The shipped models (`models/*.safetensors`) were not present: the W3 "
                     "targets are checked on the random-weights models of the book's shape.\n")
    # ---- W4
    if not w4:
        L.append("## W4 training\n")
        L.append("Not part of this run (`WORKLOADS` without `w4`): results/w4.json is absent. The "
                 "last run that measured it is in this file's git history.\n")
    if w4:
        ex = w4.get("extrapolated")
        L.append("## W4 training\n")
        L.append(f"Sentiment: one epoch, embedding 20, hidden 64, fc 64, batch 32, Adam lr 1e-3, "
                 f"BCE, on {w4.get('train_reviews')} training reviews (the 80% of "
                 f"{w4.get('subset_reviews')} after the 20% validation split); swiftrnn: "
                 "`swiftrnn train sentiment --epochs 1` (reviews/s from `MODEL.metrics.csv`, "
                 "validation not included); torch-book: the book's `train()` loop with "
                 "`collate_batch` (tokenizes on the fly), `pack_padded_sequence`. "
                 + ("**Epoch times are extrapolated linearly to 20,000 reviews from the subset "
                    "(quick/smoke mode).**" if ex else "Epoch = 20,000 reviews, measured.") + "\n")
        L.append("| peer | threads | reviews/s | epoch s (20,000 reviews) |")
        L.append("|---|---|---|---|")
        sent = [r for r in w4["rows"] if r["task"] == "sentiment"]
        for r in sent:
            if "error" in r:
                L.append(f"| {r['peer']} | {r['threads']} | error | |")
            else:
                L.append(f"| {r['peer']} | {r['threads']} | {_fmt(r['reviews_per_s'])} | "
                         f"{_fmt(r['epoch_seconds_20k'])}{' (extrapolated)' if ex else ''} |")
        L.append("")
        L.append("Character model: iterations/s, batch 64 windows of 41 characters (40 steps), "
                 "Adam lr 5e-3, cross-entropy. torch-book: the book's loop (`next(iter(seq_dl))`"
                 ", 40 calls of `model(seq_batch[:, c], hidden, cell)`); torch-best: one "
                 "`nn.LSTM` call over the 40 steps; swiftrnn: `swiftrnn train charlm`.\n")
        L.append("| peer | threads | iterations | it/s |")
        L.append("|---|---|---|---|")
        for r in [r for r in w4["rows"] if r["task"] == "charlm"]:
            if "error" in r:
                L.append(f"| {r['peer']} | {r['threads']} | | error |")
            else:
                L.append(f"| {r['peer']} | {r['threads']} | {r['iterations']} | "
                         f"{_fmt(r['its_per_s'], 2)} |")
        L.append("")
        for t in threads:
            o = next((r for r in sent if r["peer"] == "swiftrnn" and r["threads"] == t
                      and "error" not in r), None)
            p = next((r for r in sent if r["peer"] == "torch-book" and r["threads"] == t
                      and "error" not in r), None)
            if o and p:
                x = o["reviews_per_s"] / p["reviews_per_s"]
                checks.append((f"W4 {t}t: sentiment epoch ≥ 3x faster than torch-book"
                               + (" (extrapolated)" if ex else ""), f"{x:.1f}x", x >= 3.0))
            o = next((r for r in w4["rows"] if r["task"] == "charlm" and r["peer"] == "swiftrnn"
                      and r["threads"] == t and "error" not in r), None)
            for peer in ("torch-book", "torch-best"):
                p = next((r for r in w4["rows"] if r["task"] == "charlm" and r["peer"] == peer
                          and r["threads"] == t and "error" not in r), None)
                if o and p:
                    x = o["its_per_s"] / p["its_per_s"]
                    checks.append((f"W4 {t}t: charlm it/s ≥ {peer}", f"{x:.2f}x", x >= 1.0))
    # ---- targets
    tgt = ["## Targets\n", "| target | measured | |", "|---|---|---|"]
    for name, val, ok in checks:
        tgt.append(f"| {name} | {val} | {_pf(ok)} |")
    if not checks:
        tgt.append("| (no ratios: a peer or workload is missing) | | |")
    tgt.append("")
    L[targets_at:targets_at] = tgt
    L.append("## Caveats\n")
    L.append("- ONNX Runtime's sentiment graph is a padded batch graph: the LSTM runs over the "
             "right-padded batch and the output at position length−1 is gathered. For a "
             "unidirectional LSTM that equals `hidden[-1]` of the packed sequence exactly (the "
             "padding comes after the last real token), so the probabilities agree; the padded "
             "steps are wasted work, reduced by sorting by length. `pack_padded_sequence` itself "
             "does not export (see the ONNX export line above).")
    L.append("- The book's vocabulary is a torchtext `vocab` (torchtext is retired); here it is "
             "a dict lookup with the same order (frequency, `<pad>`=0, `<unk>`=1).")
    L.append("- swiftrnn's `train sentiment` groups reviews of similar length into batches "
             "(random batches of length-sorted chunks of 50 batches) and tokenizes before the "
             "epoch clock starts; the book shuffles freely and tokenizes in `collate_batch`. "
             "Both do the same number of optimizer steps with the same batch size.")
    L.append("- W2 includes warming the state on the prime (9 steps) and, for torch-book, the "
             "book's autograd bookkeeping (its `sample()` has no `no_grad`).")
    L.append("- One machine, one run: ratios are meaningful, absolute numbers less so on a "
             "shared VM. See `benchmarks/README.md`.")
    L.append("")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(L))
    log(f"wrote {a.out}")
    plot(a.plot, cond, w1, w2, w3, w4)


def plot(path, cond, w1, w2, w3, w4):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no plot")
        return
    panels = []

    def rows_rate(w, key="rate", flt=lambda r: True):
        out = collections.OrderedDict()
        for r in (w or {}).get("rows", []):
            if key in r and flt(r):
                out[f"{r['peer']}\n{r['threads']}t"] = r[key]
        return out
    if w1:
        panels.append(("W1 scoring (reviews/s)",
                       rows_rate(w1, flt=lambda r: r.get("model", "random") == "random")))
    if w2:
        panels.append(("W2 generation (chars/s)", rows_rate(w2)))
    if w3:
        d = collections.OrderedDict()
        for r in w3["rows"]:
            if "total_ms" in r and r.get("model") == "random":
                d[f"{r['peer']}\n{r['kind'][:4]} {r['threads']}t"] = 1000.0 / r["total_ms"]
        panels.append(("W3 cold start (1 / (load+first), per s)", d))
    if w4:
        panels.append(("W4 sentiment training (reviews/s)",
                       rows_rate(w4, "reviews_per_s", lambda r: r["task"] == "sentiment")))
        panels.append(("W4 charlm training (it/s)",
                       rows_rate(w4, "its_per_s", lambda r: r["task"] == "charlm")))
    panels = [p for p in panels if p[1]]
    if not panels:
        return
    colors = {"swiftrnn": "#d62728", "torch-book": "#7f7f7f", "torch-best": "#1f77b4",
              "torch": "#1f77b4", "onnxruntime": "#2ca02c"}
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.0, 4.2 * len(panels)), 4.8))
    if len(panels) == 1:
        axes = [axes]
    for ax, (title, d) in zip(axes, panels):
        labels = list(d)
        ax.bar(range(len(d)), list(d.values()),
               color=[colors.get(k.split("\n")[0], "#999") for k in labels])
        ax.set_yscale("log")
        ax.set_xticks(range(len(d)))
        ax.set_xticklabels(labels, rotation=60, fontsize=7, ha="right")
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", which="both", alpha=0.3)
    mode = cond.get("mode", "")
    fig.suptitle(f"libswiftrnn vs peers — {cond.get('cpu', '')}\n{mode} run "
                 f"{cond.get('date', '')}" + ("" if mode == "full" else " (REDUCED SIZES)"),
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    log(f"wrote {path}")


# =============================================================================================

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="measure everything, write results/*.json")
    r.add_argument("--data", default=DEFAULT_DATA, help="folder holding aclImdb.tar.gz and "
                   "1268-0.txt (default: ../shared/data next to the checkout)")
    r.add_argument("--imdb", default="", help="unpacked aclImdb folder (default: WORK/data/aclImdb, "
                   "unpacked there from DATA/aclImdb.tar.gz if missing)")
    r.add_argument("--text", default="", help="the book's text (default: DATA/1268-0.txt)")
    r.add_argument("--work", default=DEFAULT_WORK, help="scratch folder outside the repo "
                   f"(models, ONNX graphs, training outputs; default {DEFAULT_WORK})")
    r.add_argument("--results", default=os.path.join(HERE, "results"))
    r.add_argument("--quick", action="store_true", help="reduced sizes; W4 extrapolated")
    r.add_argument("--smoke", action="store_true", help="tiny sizes, to check the harness")
    r.add_argument("--threads", default="", help="comma list (default: 1 and all cores)")
    r.add_argument("--peers", default="", help="comma list of peers to run (default: all)")
    r.add_argument("--workloads", default="bw,w1,w2,w3,w4")
    r.add_argument("--w1-n", type=int, default=None, help="reviews for W1 (default all 25,000)")
    r.add_argument("--w2-n", type=int, default=None, help="characters for W2 (default 2000)")
    r.add_argument("--w4-char-its", type=int, default=None, help="charlm training iterations")
    r.add_argument("--coldstart", default=os.path.join(DEFAULT_WORK, "bin", "coldstart"))
    r.add_argument("--bandwidth", default=os.path.join(DEFAULT_WORK, "bin", "bandwidth"))
    p = sub.add_parser("report", help="RESULTS.md and plot.png from results/*.json")
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    p.add_argument("--plot", default=os.path.join(HERE, "plot.png"))
    w = sub.add_parser("worker", help="internal: one measurement")
    w.add_argument("workload", choices=["w1", "w2", "w3", "w4"])
    w.add_argument("--peer", required=True)
    w.add_argument("--threads", type=int, default=1)
    w.add_argument("--n", type=int, default=0)
    w.add_argument("--seq", type=int, default=40)
    w.add_argument("--kind", default="sentiment")
    for k in ("imdb", "text", "model", "model-pt", "model-onnx", "vocab", "chars", "probs-out"):
        w.add_argument("--" + k, default=None)
    a = ap.parse_args(argv)
    if a.cmd == "run":
        cmd_run(a)
        # torch 2.15 + the ONNX exporters segfault in interpreter teardown after
        # torch.onnx.export (seen on the reference machine); everything is saved: skip teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    elif a.cmd == "report":
        cmd_report(a)
    else:
        if a.workload == "w1" and not a.n:
            a.n = None
        fn = {"w1": w1_worker, "w2": w2_worker, "w3": w3_py_worker, "w4": w4_worker}[a.workload]
        res = fn(a)
        print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
