#!/usr/bin/env python3
"""Two builds of libswiftrnn on the same work, alternating, for "is this change slower?".

    python3 benchmarks/compare_builds.py OLD_CHECKOUT NEW_CHECKOUT --charlm M.safetensors \
        --sentiment S.safetensors --imdb aclImdb [--rounds 5] [--threads 1]

Each checkout must have its `out/lib/libswiftrnn.so` built (`make lib`) and its own
`bindings/python`; `--train` also times training with each checkout's CLI (`make cli`): 150
iterations of `train charlm` on `--text` and one epoch of `train sentiment` on `--imdb` (wall
seconds, lower is better). Every measurement is a fresh process; the builds alternate (old, new, old,
new, ...) so that other work on a shared machine slows both alike, and the best of the rounds
is compared. Prints chars/s of generation (20,000 characters, seed 1) and reviews/s of
`score_batch` over the first 1,500 positive test reviews, and new/old. Use it with files of
the same precision for both builds (an F32 file measures the code, not the file format).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = r"""
import glob, os, sys, time
sys.path.insert(0, os.environ["PYPATH"])
import swiftrnn
what, threads = sys.argv[1], int(sys.argv[2])
if what == "gen":
    m = swiftrnn.load(os.environ["CHARLM"])
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); m.sample("The island", 20000, seed=1, threads=threads)
        best = min(best, time.perf_counter() - t)
    print(20000 / best)
else:
    m = swiftrnn.load(os.environ["SENT"])
    files = sorted(glob.glob(os.path.join(os.environ["IMDB"], "test", "pos", "*.txt")))[:1500]
    texts = [open(f, encoding="utf-8").read() for f in files]
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); m.score_batch(texts, threads=threads)
        best = min(best, time.perf_counter() - t)
    print(len(texts) / best)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--charlm", required=True)
    ap.add_argument("--sentiment", required=True)
    ap.add_argument("--imdb", required=True, help="the unpacked aclImdb folder")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train", action="store_true", help="also time training (needs --text)")
    ap.add_argument("--text", help="the book's text (1268-0.txt) for --train")
    a = ap.parse_args()
    if a.train and not a.text:
        ap.error("--train needs --text")
    builds = {"old": os.path.abspath(a.old), "new": os.path.abspath(a.new)}
    res = {k: {"gen": [], "score": []} for k in builds}
    for _ in range(a.rounds):
        for what in ("gen", "score"):
            for name, repo in builds.items():
                env = dict(os.environ, SWIFTRNN_LIBRARY=os.path.join(repo, "out", "lib", "libswiftrnn.so"),
                           PYPATH=os.path.join(repo, "bindings", "python"), CHARLM=a.charlm, SENT=a.sentiment,
                           IMDB=a.imdb)
                p = subprocess.run([sys.executable, "-c", CHILD, what, str(a.threads)], env=env,
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    print(p.stderr[-2000:], file=sys.stderr)
                    return 1
                res[name][what].append(float(p.stdout.strip()))
    if a.train:
        import tempfile
        import time
        work = tempfile.mkdtemp(prefix="compare-builds-")
        jobs = {"train charlm": lambda out: ["train", "charlm", "--text", a.text, "--out", out, "--iterations", "150",
                                             "--threads", str(a.threads), "--seed", "1"],
                "train sentiment": lambda out: ["train", "sentiment", "--data", a.imdb, "--out", out, "--epochs", "1",
                                                "--threads", str(a.threads), "--seed", "1"]}
        for what in jobs:
            for name in builds:
                res[name][what] = []
        for _ in range(max(1, a.rounds // 2)):
            for what, args in jobs.items():
                for name, repo in builds.items():
                    out = os.path.join(work, f"{name}-{what.split()[1]}.safetensors")
                    for f in (out, out + ".ckpt", out + ".metrics.csv"):
                        if os.path.exists(f):
                            os.remove(f)
                    t = time.perf_counter()
                    p = subprocess.run([os.path.join(repo, "out", "bin", "swiftrnn")] + args(out), capture_output=True, text=True)
                    if p.returncode != 0:
                        print(p.stderr[-2000:], file=sys.stderr)
                        return 1
                    res[name][what].append(time.perf_counter() - t)
    print(f"threads {a.threads}, {a.rounds} alternating rounds, best of each; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for what, unit in (("gen", "chars/s"), ("score", "reviews/s")):
        o, n = max(res["old"][what]), max(res["new"][what])
        print(f"{what:5s} old {o:9.0f} new {n:9.0f} {unit:9s} new/old {n / o:.3f}   "
              f"(rounds old {[round(x) for x in res['old'][what]]}, new {[round(x) for x in res['new'][what]]})")
    for what in ("train charlm", "train sentiment"):
        if what in res["old"]:
            o, n = min(res["old"][what]), min(res["new"][what])
            print(f"{what}: old {o:.1f} s new {n:.1f} s, old/new {o / n:.3f} (speed ratio)   "
                  f"(rounds old {[round(x, 1) for x in res['old'][what]]}, new {[round(x, 1) for x in res['new'][what]]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
