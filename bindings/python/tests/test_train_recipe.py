"""The review scorer's training recipe (issue 14) through the command line, on a tiny aclImdb-like
folder made here: ``train wordvec`` on the training and unlabeled reviews, ``train sentiment
--init-embedding --add-vector-words``, ``train ngrams --refit-all``, ``convert`` F16 then I8, and the
result loaded and scored through the bindings. Seconds; the CLI comes from ``make cli`` (make
test builds it; run alone, the module skips without it).
"""

import json
import os
import random
import struct
import subprocess

import pytest

import swiftrnn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CLI = os.environ.get("SWIFTRNN_CLI", os.path.join(REPO, "out", "bin", "swiftrnn"))

if not os.access(CLI, os.X_OK):
    pytest.skip(f"{CLI} is missing: run `make cli` (make test does)", allow_module_level=True)

GOOD = ["great", "wonderful", "superb", "loved", "brilliant"]
BAD = ["awful", "boring", "dull", "worst", "terrible"]
FILLER = ["the", "movie", "film", "plot", "was", "a", "it", "and", "this", "story", "acting", "i"]


def review(rng, words):
    body = [rng.choice(FILLER) for _ in range(rng.randint(4, 12))]
    body.insert(rng.randint(0, len(body)), rng.choice(words))
    return " ".join(body) + "."


@pytest.fixture(scope="module")
def imdb(tmp_path_factory):
    """aclImdb's layout: train/{pos,neg} 150 reviews each, train/unsup 200, test/{pos,neg} 50."""
    root = tmp_path_factory.mktemp("aclImdb")
    rng = random.Random(7)
    for split, n in [("train", 150), ("test", 50)]:
        for label, words in [("pos", GOOD), ("neg", BAD)]:
            d = root / split / label
            d.mkdir(parents=True)
            for i in range(n):
                (d / f"{i}_1.txt").write_text(review(rng, words))
    d = root / "train" / "unsup"
    d.mkdir()
    for i in range(200):
        (d / f"{i}_0.txt").write_text(review(rng, GOOD if i % 2 else BAD))
    return root


def metadata(path):
    """A safetensors file's __metadata__ (the bindings do not expose it)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))["__metadata__"]


def cli(*args, ok=True):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=600)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def test_wordvec_then_sentiment_then_ngrams_then_int8(imdb, tmp_path):
    vec = tmp_path / "v.vec"
    r = cli("train", "wordvec", "--data", imdb, "--unsup", imdb / "train" / "unsup", "--out", vec,
            "--dim", 8, "--epochs", 2, "--min-count", 2)
    words, dim = map(int, vec.read_text().split("\n", 1)[0].split())
    assert dim == 8 and words == len(set(GOOD + BAD + FILLER))
    # The same command writes the same bytes (one thread, seeded).
    again = tmp_path / "again.vec"
    cli("train", "wordvec", "--data", imdb, "--unsup", imdb / "train" / "unsup", "--out", again,
        "--dim", 8, "--epochs", 2, "--min-count", 2)
    assert again.read_bytes() == vec.read_bytes()

    net = tmp_path / "net.safetensors"
    r = cli("train", "sentiment", "--data", imdb, "--out", net, "--cell", "gru", "--bidirectional",
            "--embedding", 8, "--hidden", 8, "--fc-hidden", 8, "--epochs", 3, "--lr", 0.01,
            "--validation", 60, "--threads", 1, "--init-embedding", vec, "--add-vector-words")
    assert "rows started from" in r.stdout
    # Outlier exposure: windows of a text that is not reviews, trained toward 0.5.
    book = tmp_path / "book.txt"
    book.write_text("\ufeff" + " ".join(FILLER * 20) + "\r\n")
    r = cli("train", "sentiment", "--data", imdb, "--out", tmp_path / "oe.safetensors", "--embedding", 4,
            "--hidden", 4, "--epochs", 1, "--validation", 60, "--threads", 1,
            "--neutral-text", book, "--neutral-fraction", 0.5, "--crop-max", 12)
    assert f"neutral: 120 windows of {book}" in r.stdout
    wide = tmp_path / "wide.safetensors"
    cli("train", "ngrams", "--data", imdb, "--model", net, "--out", wide, "--refit-all", "--threads", 1)
    f16 = tmp_path / "f16.safetensors"
    i8 = tmp_path / "i8.safetensors"
    cli("convert", wide, "--dtype", "F16", "--out", f16)
    cli("convert", f16, "--dtype", "I8", "--out", i8)
    with swiftrnn.load(str(i8)) as m:
        good, bad = m.score_batch(["a wonderful story, i loved it", "a boring and dull plot"])
        assert good > 0.5 > bad
    r = cli("eval", "sentiment", "--data", imdb, "--model", i8, "--threads", 1)
    assert "I8" in r.stdout


def test_bad_vectors_and_flags_are_errors_not_crashes(imdb, tmp_path):
    bad = tmp_path / "bad.vec"
    bad.write_text("2 3\ngreat 1 2 3\nawful 1 two 3\n")
    common = ["train", "sentiment", "--data", imdb, "--out", tmp_path / "x.safetensors", "--embedding", 3,
              "--hidden", 4, "--epochs", 1, "--validation", 60, "--threads", 1]
    r = cli(*common, "--init-embedding", bad, ok=False)
    assert r.returncode == 1 and "bad.vec:3: number 2 of 'awful' is not a finite number" in r.stderr
    r = cli(*common, "--init-embedding", tmp_path / "missing.vec", ok=False)
    assert r.returncode == 1 and "missing.vec" in r.stderr
    r = cli(*common, "--add-vector-words", ok=False)
    assert r.returncode == 2 and "--add-vector-words needs --init-embedding" in r.stderr
    short = tmp_path / "short.txt"
    short.write_text("far too short")
    r = cli(*common, "--neutral-text", short, ok=False)
    assert r.returncode == 1 and "short.txt' has 3 tokens" in r.stderr
    r = cli(*common, "--neutral-text", tmp_path / "missing.txt", ok=False)
    assert r.returncode == 1 and "missing.txt" in r.stderr
    r = cli(*common, "--neutral-text", short, "--neutral-fraction", "nan", ok=False)
    assert r.returncode == 2 and "--neutral-fraction" in r.stderr
    r = cli("train", "wordvec", "--data", imdb, "--out", tmp_path / "v.vec", "--dim", 0, ok=False)
    assert r.returncode == 2 and "--dim" in r.stderr
    r = cli("train", "wordvec", "--data", imdb, "--out", tmp_path / "v.vec", "--min-count", 100000, ok=False)
    assert r.returncode == 1 and "--min-count" in r.stderr


def test_ngrams_stacks_on_the_networks_own_split(imdb, tmp_path):
    """train sentiment records its split (metadata training_split); train ngrams takes it, so the
    mixing is chosen on reviews the network did not train on, and refuses a contradicting --seed
    or a network trained on every review."""
    common = ["--data", imdb, "--embedding", 4, "--hidden", 4, "--fc-hidden", 4, "--epochs", 1,
              "--threads", 1]
    net = tmp_path / "s2.safetensors"
    cli("train", "sentiment", "--out", net, "--seed", 2, "--validation", 40, *common)
    assert metadata(net)["training_split"] == "seed=2 validation=40 reviews=300"
    assert "split:         seed=2 validation=40 reviews=300" in cli("inspect", net).stdout
    wide = tmp_path / "wide.safetensors"
    r = cli("train", "ngrams", "--data", imdb, "--model", net, "--out", wide, "--threads", 1)
    assert "validation 40 (seed 2)" in r.stdout
    assert metadata(wide)["training_split"] == "seed=2 validation=40 reviews=300"
    r = cli("train", "ngrams", "--data", imdb, "--model", net, "--out", wide, "--seed", 1, ok=False)
    assert r.returncode == 1 and "trained on the split of seed 2" in r.stderr
    every = tmp_path / "all.safetensors"
    cli("train", "sentiment", "--out", every, "--seed", 2, "--validation", 0, *common)
    r = cli("train", "ngrams", "--data", imdb, "--model", every, "--out", wide, ok=False)
    assert r.returncode == 1 and "--refit-network" in r.stderr
    r = cli("train", "ngrams", "--data", imdb, "--model", net, "--out", wide, "--refit-all",
            "--refit-network", every, "--threads", 1)
    assert "the final network" in r.stdout
