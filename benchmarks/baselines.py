#!/usr/bin/env python3
"""The review-scorer comparison of issue 14, measured on this machine: tf-idf + logistic
regression and fastText against any number of swiftrnn sentiment models.

    python benchmarks/baselines.py --data aclImdb \\
        --swiftrnn models/sentiment-imdb.safetensors [--swiftrnn other.safetensors ...] \\
        [--ood amazon=ood/amazon.tsv --ood rt=ood/rt-movies.tsv] [--json out.json] [--test]

Run it with the Python of the venv that `benchmarks/setup_baselines_venv.sh` makes (outside the
repository: scikit-learn, fastText, numpy and this repository's `swiftrnn` package).

The rows
--------
* **tf-idf + LR**: scikit-learn `TfidfVectorizer(tokenizer=<the book's tokenizer>,
  lowercase=False, ngram_range=(1, 2), sublinear_tf=True, min_df=2)` and
  `LogisticRegression(C=10, max_iter=1000)` (lbfgs, scikit-learn's default solver).
* **fastText**: `fasttext.train_supervised(wordNgrams=2, dim=50, epoch=10, thread=1, seed=0)`
  (the other settings are fastText's supervised defaults: lr 0.1, softmax, minCount 1,
  2,000,000 hash buckets) on the book-tokenized reviews, one per line (`__label__1 tok tok
  ...`), in a seeded shuffled order (fastText reads the file in order, and aclImdb's is all
  positive then all negative). One training thread (`--ft-threads`): fastText's training is
  reproducible only on one thread.
* **swiftrnn**: each `--swiftrnn MODEL` (a sentiment model file), scored with
  `Model.score_batch(texts, threads=1)`; positive when p >= 0.5. Nothing is trained here: its
  training time is the sum of the `seconds` column of `MODEL.metrics.csv` next to the file
  (what `swiftrnn train` writes; the epochs' time, without loading and tokenizing), or "n/a".

The text preprocessing is the book's tokenizer (ch. 15) for every row: `book_tokenizer` (harness/common.py)
is the book's code (the regexes that Sources/SwiftRNN/Text/Tokenizer.swift reimplements). Before
measuring, the script checks it against the library's own (`swiftrnn.tokenize`) on
`--check-tokenizer` reviews (half of them chosen among reviews with non-ASCII characters) and
a few hand-made edge cases, and stops if any differs.

The columns
-----------
* **validation accuracy** (default mode): aclImdb's 25,000 training reviews are split into
  20,000 for training and 5,000 for validation exactly as `swiftrnn train sentiment --seed S`
  splits them (`--split-seed`, default 1: the same seeded Fisher-Yates shuffle with the same
  xoshiro256** generator, over the reviews in the trainer's order: pos then neg, each sorted by
  file name). So a swiftrnn model trained with `--seed S` never saw a validation review's label;
  the script reads the seed from the model's `trained_by` metadata and flags a model whose seed
  differs or is unknown (its validation figure is then not held out). The baselines are trained
  on the 20,000. The test reviews are not read.
* **test accuracy** (`--test` only): the baselines are trained on all 25,000 training reviews
  and every row is scored on the 25,000 test reviews. Touch the test set once per candidate
  (issue 14): choose on validation.
* **reviews/s, 1 thread, text in**: the evaluated reviews (5,000 validation or 25,000 test),
  raw text to decision, end to end: tf-idf: `clf.predict(vectorizer.transform(texts))` (one
  batch; the transform tokenizes); fastText: one `model.predict(" ".join(book_tokenizer(t)))`
  per review, in Python; swiftrnn: `score_batch(texts, threads=1)` (the library tokenizes).
  `OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS` and `MKL_NUM_THREADS` are set to 1 before numpy is
  imported (threadpoolctl's limit too), so the baselines train and predict on one thread.
  Each measurement is repeated `--repeats` times (default 3), the rows interleaved round by
  round so that other work on a shared machine hits them alike; the fastest round is
  reported (all rounds are in the JSON), with the load average. The next column divides by
  the process's CPU time instead of the wall clock (best round): on a busy machine it moves
  less than the wall-clock rate, which counts the time other processes held the core.
* **size on disk**: tf-idf + LR: the fitted vectorizer and classifier pickled together
  (protocol 5), without the vectorizer's `stop_words_` (the terms min_df dropped, which
  scikit-learn keeps only for introspection); fastText: `save_model` (`.bin`, not quantized:
  the 2,000,000 bucket rows of the bigram hashes dominate); swiftrnn: the file.
* **training time**: wall time of tokenizing + fitting (tf-idf + LR), of tokenizing + writing
  the training file + `train_supervised` (fastText); swiftrnn: see above.
* **out-of-domain accuracy** (`--ood NAME=PATH`, repeatable; one column each): every row scores
  the labelled texts of PATH, a UTF-8 TSV with one example per line, `text<TAB>label`, label
  `1`/`0` (or `pos`/`neg`, `positive`/`negative`); tabs and newlines inside a text are not
  allowed. A fastText prediction with no label (a text with no tokens) counts as positive.

Out-of-domain data (not in this repository)
-------------------------------------------
The sdist of the PyPI package vaderSentiment 3.3.2 (MIT; Hutto & Gilbert, ICWSM 2014) ships
`additional_resources/hutto_ICWSM_2014.tar.gz`, the VADER paper's human-rated snippets: 3,708
sentences of Amazon customer reviews (Hu & Liu 2004; 5 products) and 10,605 sentence-level
snippets of movie reviews from rottentomatoes.com (Pang & Lee), each with the mean rating of
20 raters on -4..+4 (also tweets and New York Times editorials, not reviews). The converter
keeps the snippets whose mean is at least `--min-abs` (default 1.0) away from neutral and
labels them by sign:

    pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 -d /tmp/vader
    python benchmarks/baselines.py convert-vader /tmp/vader/vaderSentiment-3.3.2.tar.gz --out ood/
    # -> ood/amazon.tsv (2,455 snippets: 1,514 positive, 941 negative),
    #    ood/rt-movies.tsv (9,173: 4,598 / 4,575), ood/tweets.tsv, ood/nyt.tsv

If you use it, cite Hutto, C.J. & Gilbert, E.E. (2014), VADER: A Parsimonious Rule-based Model
for Sentiment Analysis of Social Media Text, ICWSM-14 (its README asks for that).

Output: the conditions (machine, cores, load average, threads, library versions) and a
markdown table on stdout; `--json PATH` writes everything (every round's rate, the confusion
counts, the conditions) to PATH.
"""

from __future__ import annotations

import os

# One thread for the baselines: before numpy/scipy/sklearn load their BLAS and OpenMP.
# (OPENBLAS_CORETYPE and the like are left as the caller set them.)
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse          # noqa: E402
import io                # noqa: E402
import json              # noqa: E402
import pickle            # noqa: E402
import platform          # noqa: E402
import random            # noqa: E402
import re                # noqa: E402
import shutil            # noqa: E402
import struct            # noqa: E402
import subprocess        # noqa: E402
import sys               # noqa: E402
import tarfile           # noqa: E402
import tempfile          # noqa: E402
import time              # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def log(*a):
    print("[baselines]", *a, file=sys.stderr, flush=True)


# =============================================================================================
# the book's tokenizer and the trainer's split
# =============================================================================================

sys.path.insert(0, HERE)
from harness.common import book_tokenizer  # noqa: E402  (the book's tokenizer, ch. 15; stdlib only)


MASK64 = (1 << 64) - 1


class RandomSource:
    """Sources/SwiftRNN/Sampling/RandomSource.swift: xoshiro256** seeded through splitmix64."""

    def __init__(self, seed):
        x = seed & MASK64
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            s.append(z ^ (z >> 31))
        self.s = s

    def next(self):
        s0, s1, s2, s3 = self.s
        r = (s1 * 5) & MASK64
        result = (((r << 7) | (r >> 57)) & MASK64) * 9 & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
        self.s = [s0, s1, s2, s3]
        return result


def trainer_split(n, seed, validation=5000):
    """IMDb.split of Sources/SwiftRNNTraining/Data.swift on indices 0..<n: -> (train, valid)."""
    rng = RandomSource(seed)
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    n_valid = min(validation, n // 5)
    return idx[n_valid:], idx[:n_valid]


def read_imdb(root, split):
    """The reviews of one split as the Swift trainer reads them: pos then neg, each sorted by
    file name (bytes), invalid UTF-8 replaced. -> (texts, labels 1/0)."""
    texts, labels = [], []
    for lab, sub in ((1, "pos"), (0, "neg")):
        folder = os.path.join(root, split, sub)
        names = sorted((n for n in os.listdir(folder) if n.endswith(".txt")),
                       key=lambda n: n.encode("utf-8"))
        if not names:
            sys.exit(f"no .txt reviews in {folder!r} (expected the aclImdb layout)")
        for n in names:
            with open(os.path.join(folder, n), "rb") as f:
                texts.append(f.read().decode("utf-8", errors="replace"))
            labels.append(lab)
    return texts, labels


def read_tsv(path):
    """An out-of-domain set: text<TAB>label per line -> (texts, labels 1/0)."""
    names = {"1": 1, "0": 0, "pos": 1, "neg": 0, "positive": 1, "negative": 0}
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for k, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            text, sep, lab = line.rpartition("\t")
            if not sep or lab.strip().lower() not in names:
                sys.exit(f"{path}:{k}: expected text<TAB>label (1/0/pos/neg), got {line[:60]!r}")
            texts.append(text)
            labels.append(names[lab.strip().lower()])
    if not texts:
        sys.exit(f"{path}: no examples")
    return texts, labels


# =============================================================================================
# the tokenizer check
# =============================================================================================

EDGE_CASES = [
    "I <br/>loved it :)", "fun :) really", "fun :) really :-( =P ;D", "<b>Bold</b> and <i",
    "a<b", "ΣΑΣ ΟΔΟΣ", "Straße İstanbul ǅemal", "naïve café — “quoted” ½ ² ٣", "x_y__z 3.14",
    ":-):-(", "tab\tand\nnewline", "", "   ", "ﬁne ligature", "emoji 😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]


def check_tokenizer(texts, n, seed):
    """book_tokenizer == swiftrnn.tokenize on n reviews (half with non-ASCII characters) and the
    edge cases. -> dict with counts; exits on a difference."""
    import swiftrnn
    rng = random.Random(seed)
    non_ascii = [i for i, t in enumerate(texts) if not t.isascii()]
    k = min(n // 2, len(non_ascii))
    pick = rng.sample(non_ascii, k) + rng.sample(range(len(texts)), n - k)
    cases = [texts[i] for i in pick] + EDGE_CASES
    bad = []
    for t in cases:
        a, b = book_tokenizer(t), swiftrnn.tokenize(t)
        if a != b:
            bad.append((t[:80], a[:10], b[:10]))
    info = {"reviews": len(pick), "with_non_ascii": k, "edge_cases": len(EDGE_CASES),
            "mismatches": len(bad)}
    if bad:
        for t, a, b in bad[:5]:
            log(f"tokenizer mismatch on {t!r}: python {a} vs swiftrnn {b}")
        sys.exit(f"the Python tokenizer differs from swiftrnn.tokenize on {len(bad)} of "
                 f"{len(cases)} texts")
    return info


# =============================================================================================
# conditions
# =============================================================================================

def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def pkg_version(name):
    import importlib.metadata as md
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def openblas_corename():
    """The core of the OpenBLAS that libswiftrnn loaded (after a model was loaded), or None."""
    import ctypes
    try:
        h = ctypes.CDLL("libopenblas.so.0", mode=os.RTLD_NOLOAD | os.RTLD_NOW)
        h.openblas_get_corename.restype = ctypes.c_char_p
        return h.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return None


def conditions(args):
    c = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
         "mode": "test" if args.test else "validation",
         "python": platform.python_version(), "kernel": platform.release(),
         "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
         "loadavg_start": loadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    c["cpu"] = ln.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            c["memory_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    c["threads"] = {"baselines (train and predict)": 1, "fastText training": args.ft_threads,
                    "swiftrnn score_batch": 1}
    c["env"] = {k: os.environ.get(k, "(unset)") for k in
                ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    c["versions"] = {p: pkg_version(p) for p in
                     ("scikit-learn", "numpy", "scipy", "fasttext-wheel", "fasttext", "swiftrnn")}
    c["versions"] = {k: v for k, v in c["versions"].items() if v}
    try:
        import swiftrnn
        from swiftrnn import _lib
        c["versions"]["libswiftrnn"] = _lib.version() if hasattr(_lib, "version") else "?"
        c["libswiftrnn_path"] = _lib.load()   # loads the library if needed; returns its path
    except Exception as e:  # noqa: BLE001
        c["swiftrnn"] = f"unavailable: {e}"
    try:
        c["repo_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                          capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return c


# =============================================================================================
# the scorers: each has fit(texts, labels) -> seconds, predict(texts) -> [0/1], size() -> bytes
# =============================================================================================

class TfidfLR:
    name = "tf-idf (1-2 grams, sublinear tf, min_df 2) + logistic regression C=10 (scikit-learn)"
    key = "tfidf-lr"

    def __init__(self, args):
        self.args = args

    def fit(self, texts, labels):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        t0 = time.perf_counter()
        self.vec = TfidfVectorizer(tokenizer=book_tokenizer, lowercase=False, token_pattern=None,
                                   ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        x = self.vec.fit_transform(texts)
        self.clf = LogisticRegression(C=10, max_iter=1000)
        self.clf.fit(x, labels)
        secs = time.perf_counter() - t0
        self.details = {"features": x.shape[1], "solver": self.clf.solver,
                        "lr_iterations": int(self.clf.n_iter_[0])}
        if hasattr(self.vec, "stop_words_"):
            del self.vec.stop_words_          # introspection only; not needed to predict
        return secs

    def predict(self, texts):
        return [int(y) for y in self.clf.predict(self.vec.transform(texts))]

    def size(self, tmp):
        path = os.path.join(tmp, "tfidf-lr.pkl")
        with open(path, "wb") as f:
            pickle.dump((self.vec, self.clf), f, protocol=5)
        n = os.path.getsize(path)
        os.remove(path)
        return n


class FastText:
    name = "fastText supervised (wordNgrams 2, dim 50, 10 epochs)"
    key = "fasttext"

    def __init__(self, args):
        self.args = args

    def fit(self, texts, labels):
        import fasttext
        t0 = time.perf_counter()
        order = list(range(len(texts)))
        random.Random(self.args.ft_seed).shuffle(order)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt",
                                         dir=self.args.tmp, delete=False) as f:
            for i in order:
                f.write(f"__label__{labels[i]} {' '.join(book_tokenizer(texts[i]))}\n")
            path = f.name
        try:
            self.model = fasttext.train_supervised(
                input=path, wordNgrams=2, dim=50, epoch=10, thread=self.args.ft_threads,
                seed=0, verbose=0)
        finally:
            os.remove(path)
        secs = time.perf_counter() - t0
        self.details = {"words": len(self.model.words), "train_threads": self.args.ft_threads,
                        "shuffle_seed": self.args.ft_seed}
        return secs

    def predict(self, texts):
        out = []
        predict = self.model.predict
        for t in texts:
            labels, _ = predict(" ".join(book_tokenizer(t)))
            out.append(0 if labels and labels[0] == "__label__0" else 1)
        return out

    def size(self, tmp):
        path = os.path.join(tmp, "fasttext.bin")
        self.model.save_model(path)
        n = os.path.getsize(path)
        os.remove(path)
        return n


def safetensors_metadata(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {}) or {}


class SwiftRNN:
    key = "swiftrnn"

    def __init__(self, args, path):
        import swiftrnn
        self.args, self.path = args, path
        self.model = swiftrnn.load(path)
        if self.model.kind != "sentiment":
            sys.exit(f"{path}: a {self.model.kind} model, not a sentiment model")
        self.meta = safetensors_metadata(path)
        info = self.model.info
        self.name = (f"swiftrnn `{os.path.basename(path)}` ({'Bi' if info.get('bidirectional') else ''}"
                     f"{info['cell'].upper()} {info['hidden_size']}, {info['precision'].upper()})")
        trained_by = self.meta.get("trained_by", "")
        m = re.search(r"--seed[ =](\d+)", trained_by)
        if re.match(r"\S*swiftrnn\S* train sentiment\b", trained_by):   # any path to the tool
            self.seed = int(m.group(1)) if m else 1     # the trainer's default seed
        else:
            self.seed = None
        self.details = {"info": info, "trained_by": trained_by or None,
                        "description": self.meta.get("description"), "train_seed": self.seed}
        self.train_seconds = None
        csv_path = re.sub(r"\.safetensors$", "", path) + ".metrics.csv"
        if os.path.isfile(csv_path):
            import csv
            with open(csv_path, newline="") as f:
                rows = list(csv.DictReader(f))
            if rows and "seconds" in rows[0]:
                self.train_seconds = sum(float(r["seconds"]) for r in rows)
                self.details["train_seconds_from"] = os.path.basename(csv_path)

    def fit(self, texts, labels):
        return self.train_seconds

    def predict(self, texts):
        return [1 if p >= 0.5 else 0 for p in self.model.score_batch(texts, threads=1)]

    def size(self, tmp):
        return os.path.getsize(self.path)


# =============================================================================================
# the run
# =============================================================================================

def accuracy(pred, labels):
    tp = sum(1 for p, y in zip(pred, labels) if p == 1 and y == 1)
    tn = sum(1 for p, y in zip(pred, labels) if p == 0 and y == 0)
    fp = sum(1 for p, y in zip(pred, labels) if p == 1 and y == 0)
    fn = sum(1 for p, y in zip(pred, labels) if p == 0 and y == 1)
    return (tp + tn) / len(labels), {"tp": tp, "tn": tn, "fp": fp, "fn": fn}


def fmt_int(x):
    return f"{x:,.0f}"


def fmt_size(n):
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def fmt_secs(s):
    if s is None:
        return "n/a"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def run(args):
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    args.tmp = tempfile.mkdtemp(prefix="baselines-")
    try:
        return _run(args)
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)


def _run(args):
    cond = conditions(args)
    log(f"reading {args.data}")
    train_texts, train_labels = read_imdb(args.data, "train")
    if args.test:
        fit_x, fit_y = train_texts, train_labels
        eval_x, eval_y = read_imdb(args.data, "test")
        eval_name = "IMDb test"
    else:
        tr, va = trainer_split(len(train_texts), args.split_seed)
        fit_x, fit_y = [train_texts[i] for i in tr], [train_labels[i] for i in tr]
        eval_x, eval_y = [train_texts[i] for i in va], [train_labels[i] for i in va]
        eval_name = "validation"
    if args.limit:      # a smoke run: seeded subsets of both sides
        rng = random.Random(0)
        fi = sorted(rng.sample(range(len(fit_x)), min(args.limit, len(fit_x))))
        ei = sorted(rng.sample(range(len(eval_x)), min(args.limit, len(eval_x))))
        fit_x, fit_y = [fit_x[i] for i in fi], [fit_y[i] for i in fi]
        eval_x, eval_y = [eval_x[i] for i in ei], [eval_y[i] for i in ei]
    split = {"fit": len(fit_x), "eval": len(eval_x), "eval_set": eval_name,
             "split_seed": None if args.test else args.split_seed, "limit": args.limit}
    log(f"training on {len(fit_x):,} reviews, evaluating on {len(eval_x):,} ({eval_name})")
    oods = []
    for spec in args.ood:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = os.path.splitext(os.path.basename(spec))[0], spec
        x, y = read_tsv(path)
        oods.append((name, path, x, y))
        log(f"out-of-domain {name}: {len(x):,} texts from {path}")

    if args.check_tokenizer > 0:
        try:
            cond["tokenizer_check"] = check_tokenizer(train_texts, args.check_tokenizer, 7)
            log(f"tokenizer check: the book's tokenizer in Python == swiftrnn.tokenize on "
                f"{cond['tokenizer_check']['reviews']} reviews and "
                f"{len(EDGE_CASES)} edge cases")
        except ImportError:
            log("tokenizer check skipped: the swiftrnn package is not importable")
            cond["tokenizer_check"] = "skipped: swiftrnn not importable"

    scorers = []
    for key in args.baselines:
        scorers.append({"tfidf-lr": TfidfLR, "fasttext": FastText}[key](args))
    for path in args.swiftrnn:
        scorers.append(SwiftRNN(args, path))

    if args.swiftrnn:
        cond["openblas_core_in_swiftrnn"] = openblas_corename()
    rows = []
    for s in scorers:
        la = loadavg()
        secs = s.fit(fit_x, fit_y)
        if secs is not None and s.key != "swiftrnn":
            log(f"{s.key}: trained in {secs:.1f} s (load {la[0]})")
        row = {"key": s.key, "name": s.name, "train_seconds": secs,
               "train_loadavg": la, "size_bytes": s.size(args.tmp), "rounds": []}
        if s.key == "swiftrnn":
            row["path"] = s.path
            held_out = args.test or (s.seed is not None and s.seed == args.split_seed)
            row["eval_held_out"] = held_out
            if not held_out:
                log(f"WARNING {s.path}: trained with seed {s.seed} (trained_by metadata), not "
                    f"--split-seed {args.split_seed}: its validation reviews are not held out")
        row.update(getattr(s, "details", {}))
        rows.append(row)

    # Timed prediction, rows interleaved round by round; the accuracy from the first round
    # (every round predicts the same).
    for r in range(args.repeats):
        for s, row in zip(scorers, rows):
            la = loadavg()
            c0, t0 = time.process_time(), time.perf_counter()
            pred = s.predict(eval_x)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            row["rounds"].append({"seconds": dt, "reviews_per_s": len(eval_x) / dt,
                                  "cpu_seconds": cpu, "reviews_per_cpu_s": len(eval_x) / cpu,
                                  "loadavg": la})
            if r == 0:
                row["accuracy"], row["confusion"] = accuracy(pred, eval_y)
            log(f"round {r + 1}: {s.key}: {len(eval_x) / dt:,.0f} reviews/s (load {la[0]})"
                + (f", accuracy {row['accuracy']:.4f}" if r == 0 else ""))
    for row in rows:
        best = min(row["rounds"], key=lambda x: x["seconds"])
        row["reviews_per_s"] = best["reviews_per_s"]
        row["reviews_per_cpu_s"] = max(x["reviews_per_cpu_s"] for x in row["rounds"])

    for s, row in zip(scorers, rows):
        row["ood"] = {}
        for name, path, x, y in oods:
            acc, conf = accuracy(s.predict(x), y)
            row["ood"][name] = {"accuracy": acc, "n": len(y), "confusion": conf}
    cond["loadavg_end"] = loadavg()
    try:        # the BLAS/OpenMP pools numpy, scipy and scikit-learn loaded, and their threads
        from threadpoolctl import threadpool_info
        cond["threadpools"] = [{k: p.get(k) for k in ("internal_api", "num_threads", "version",
                                                      "architecture")} for p in threadpool_info()]
    except Exception:  # noqa: BLE001
        pass
    result = {"conditions": cond, "split": split, "rows": rows,
              "ood_sets": [{"name": n, "path": p, "n": len(y), "positive": sum(y)}
                           for n, p, _, y in oods]}
    print_report(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        log(f"wrote {args.json}")
    return result


def print_report(res):
    c, sp = res["conditions"], res["split"]
    out = io.StringIO()
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"## Review scorers on this machine ({c['mode']} mode)\n")
    if sp.get("limit"):
        p(f"**SMOKE RUN (--limit {sp['limit']}): subsets, the figures mean nothing.**\n")
    p(f"- date: {c['date']}; commit {c.get('repo_commit', '?')}")
    p(f"- machine: {c.get('cpu', '?')}, {c['cores']} cores ({c['cores_usable']} usable), "
      f"{c.get('memory_gib', '?')} GiB; Linux {c['kernel']}; Python {c['python']}")
    p(f"- load average (1/5/15 min): {c['loadavg_start']} at the start, {c['loadavg_end']} at the end")
    p("- threads: " + "; ".join(f"{k} {v}" for k, v in c["threads"].items()))
    p("- environment: " + ", ".join(f"{k}={v}" for k, v in c["env"].items())
      + (f"; libswiftrnn's OpenBLAS core: {c['openblas_core_in_swiftrnn']}"
         if c.get("openblas_core_in_swiftrnn") else ""))
    p("- versions: " + ", ".join(f"{k} {v}" for k, v in c["versions"].items()))
    tc = c.get("tokenizer_check")
    if isinstance(tc, dict):
        p(f"- tokenizer: the book's (Python) == swiftrnn.tokenize on {tc['reviews']} reviews "
          f"({tc['with_non_ascii']} with non-ASCII text) and {tc['edge_cases']} edge cases")
    if sp["eval_set"] == "validation":
        p(f"- data: trained on {sp['fit']:,} aclImdb training reviews, evaluated on the other "
          f"{sp['eval']:,} (the trainer's split, seed {sp['split_seed']}); the test set was not read")
    else:
        p(f"- data: trained on all {sp['fit']:,} aclImdb training reviews, evaluated on the "
          f"{sp['eval']:,} test reviews")
    for o in res["ood_sets"]:
        p(f"- out-of-domain `{o['name']}`: {o['n']:,} labelled texts ({o['positive']:,} positive)")
    p("")
    acc_col = "IMDb test accuracy" if sp["eval_set"] != "validation" else "validation accuracy"
    oodn = [o["name"] for o in res["ood_sets"]]
    head = ["scorer", acc_col] + [f"{n} accuracy" for n in oodn] + [
        "reviews/s, 1 thread, text in", "reviews per CPU-second", "size on disk",
        "training time"]
    p("| " + " | ".join(head) + " |")
    p("|" + "---|" * len(head))
    for r in res["rows"]:
        acc = f"{100 * r['accuracy']:.2f}%"
        if r.get("eval_held_out") is False:
            acc += " (not held out)"
        cells = [r["name"], acc] + [f"{100 * r['ood'][n]['accuracy']:.2f}%" for n in oodn] + [
            fmt_int(r["reviews_per_s"]), fmt_int(r["reviews_per_cpu_s"]), fmt_size(r["size_bytes"]),
            fmt_secs(r["train_seconds"])]
        p("| " + " | ".join(cells) + " |")
    p("")
    p(f"reviews/s: the fastest of {len(res['rows'][0]['rounds'])} rounds over the "
      f"{sp['eval']:,} evaluated reviews, raw text to decision (tf-idf: one batch transform + "
      "predict; fastText: one predict call per review, Python; swiftrnn: score_batch, "
      "threads=1). Reviews per CPU-second: the same over the process's CPU time (best "
      "round), less sensitive to other work on the machine than the wall-clock rate. swiftrnn "
      "training time: the epochs' seconds in MODEL.metrics.csv (trained elsewhere, not here).")
    print(out.getvalue(), flush=True)


# =============================================================================================
# the out-of-domain converter
# =============================================================================================

VADER_SETS = {"amazon": "amazonReviewSnippets_GroundTruth.txt",
              "rt-movies": "movieReviewSnippets_GroundTruth.txt",
              "tweets": "tweets_GroundTruth.txt",
              "nyt": "nytEditorialSnippets_GroundTruth.txt"}


def convert_vader(argv):
    ap = argparse.ArgumentParser(
        prog="baselines.py convert-vader",
        description="Write the VADER ground-truth snippets (in the vaderSentiment 3.3.2 sdist) "
                    "as text<TAB>label TSV files: label 1 when the mean rating >= MIN_ABS, 0 "
                    "when <= -MIN_ABS, dropped in between.")
    ap.add_argument("sdist", help="vaderSentiment-3.3.2.tar.gz (pip download --no-deps "
                                  "--no-binary :all: vaderSentiment==3.3.2)")
    ap.add_argument("--out", required=True, help="output folder (outside the repository)")
    ap.add_argument("--min-abs", type=float, default=1.0)
    a = ap.parse_args(argv)
    with tarfile.open(a.sdist) as outer:
        inner_name = next((n for n in outer.getnames()
                           if n.endswith("additional_resources/hutto_ICWSM_2014.tar.gz")), None)
        if inner_name is None:
            sys.exit(f"{a.sdist}: no additional_resources/hutto_ICWSM_2014.tar.gz inside")
        inner_bytes = outer.extractfile(inner_name).read()
    os.makedirs(a.out, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        members = {os.path.basename(m.name): m for m in inner.getmembers()}
        for name, fname in VADER_SETS.items():
            raw = inner.extractfile(members[fname]).read().decode("utf-8")
            kept = pos = 0
            lines = []
            for ln in raw.splitlines():
                parts = ln.split("\t")
                if len(parts) != 3:
                    continue
                rating, text = float(parts[1]), " ".join(parts[2].split())
                if abs(rating) < a.min_abs or not text:
                    continue
                lab = 1 if rating > 0 else 0
                lines.append(f"{text}\t{lab}\n")
                kept += 1
                pos += lab
            path = os.path.join(a.out, f"{name}.tsv")
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(lines)
            print(f"{path}: {kept:,} snippets ({pos:,} positive, {kept - pos:,} negative), "
                  f"|mean rating| >= {a.min_abs}")


# =============================================================================================

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "convert-vader":
        return convert_vader(argv[1:])
    ap = argparse.ArgumentParser(
        description="tf-idf + LR and fastText against swiftrnn sentiment models on aclImdb "
                    "(validation split of the training reviews; --test: the test reviews). "
                    "`baselines.py convert-vader --help`: the out-of-domain converter.",
        epilog="See the module docstring (top of this file) for what each column measures.")
    ap.add_argument("--data", required=True, help="the unpacked aclImdb folder")
    ap.add_argument("--swiftrnn", action="append", default=[], metavar="MODEL",
                    help="a swiftrnn sentiment model file (repeatable)")
    ap.add_argument("--test", action="store_true",
                    help="train the baselines on all 25,000 training reviews and evaluate every "
                         "row on the 25,000 test reviews (once per candidate)")
    ap.add_argument("--ood", action="append", default=[], metavar="[NAME=]PATH",
                    help="an out-of-domain TSV (text<TAB>label), one accuracy column each")
    ap.add_argument("--baselines", default="tfidf-lr,fasttext",
                    help="comma-separated: tfidf-lr, fasttext (default both; '' for none)")
    ap.add_argument("--split-seed", type=int, default=1,
                    help="the trainer's --seed whose validation split to use (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds (fastest reported)")
    ap.add_argument("--ft-threads", type=int, default=1, help="fastText training threads")
    ap.add_argument("--ft-seed", type=int, default=1, help="the fastText training file's shuffle")
    ap.add_argument("--check-tokenizer", type=int, default=400, metavar="N",
                    help="compare the Python tokenizer with swiftrnn.tokenize on N reviews "
                         "(0: skip)")
    ap.add_argument("--limit", type=int, default=0, metavar="N",
                    help="a smoke run: at most N training and N evaluated reviews (seeded "
                         "subsets; the figures then mean nothing)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    args.baselines = [b for b in args.baselines.split(",") if b]
    for b in args.baselines:
        if b not in ("tfidf-lr", "fasttext"):
            ap.error(f"unknown baseline {b!r}")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if not os.path.isdir(os.path.join(args.data, "train")):
        ap.error(f"--data {args.data!r}: no train/ folder (the unpacked aclImdb)")
    run(args)


if __name__ == "__main__":
    main()
