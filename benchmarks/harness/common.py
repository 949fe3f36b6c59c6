"""Paths, targets, logging, results files, the book's data pipeline and the timing helpers
shared by every workload (see harness/__init__.py)."""

from __future__ import annotations

import collections
import glob
import json
import os
import random
import re
import resource
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # benchmarks/
REPO = os.path.dirname(HERE)
TOOLS = os.path.join(REPO, "tools")          # torch_reference.py: the book's PyTorch models
BENCH = os.path.join(HERE, "bench.py")       # the entry point; workers run `bench.py worker ...`
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


# =============================================================================================
# timing and measurement helpers
# =============================================================================================

def _timed_reps(fn, min_reps, min_seconds, max_reps=5):
    """Run fn() until min_reps and min_seconds are reached; returns (times, last result)."""
    times, res, t_all = [], None, time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - t_all < min_seconds
                                    and len(times) < max_reps):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return times, res


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


# =============================================================================================
# results files
# =============================================================================================

def save(cfg, name, obj):
    os.makedirs(cfg["results"], exist_ok=True)
    with open(os.path.join(cfg["results"], name + ".json"), "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)


def _load(results, name):
    p = os.path.join(results, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def _read_csv(path):
    with open(path) as f:
        lines = [ln.strip().split(",") for ln in f if ln.strip()]
    return [dict(zip(lines[0], ln)) for ln in lines[1:]]
