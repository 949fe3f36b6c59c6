"""Two threads against one on a busy machine (issue 12): generation and batch scoring with
1 and 2 threads, on an idle machine and while another process keeps one core busy.

    python benchmarks/contention.py [--imdb DIR] [--reps 5] [--out benchmarks/results/contention.json]

Each measurement runs in a fresh process (the library from out/lib, the bindings from
bindings/python); the competitor is a `while True: pass` Python process pinned to no core,
started before and stopped after each measurement. Runs alternate 1 and 2 threads, and the
median of --reps runs is reported. Prints a Markdown table (also written next to the JSON).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LIB = os.path.join(REPO, "out", "lib", "libswiftrnn.so")
SENT = os.path.join(REPO, "models", "sentiment-imdb.safetensors")
LM = os.path.join(REPO, "models", "charlm-mysterious-island.safetensors")

WORKER = r"""
import json, os, sys, time
import swiftrnn
kind, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if kind == "generate":
    m = swiftrnn.load(sys.argv[4])
    m.sample("The island", length=200, threads=threads)
    t0 = time.perf_counter()
    m.sample("The island", length=n, seed=1, threads=threads)
    dt = time.perf_counter() - t0
else:
    m = swiftrnn.load(sys.argv[4])
    texts = json.load(open(sys.argv[5]))[:n]
    m.score_batch(texts[:64], threads=threads)
    t0 = time.perf_counter()
    m.score_batch(texts, threads=threads)
    dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "rate": n / dt}))
"""


def reviews(imdb, n):
    """n review texts: IMDb test reviews when the data is there, else synthetic prose."""
    out = []
    if imdb and os.path.isdir(os.path.join(imdb, "test")):
        for label in ("pos", "neg"):
            d = os.path.join(imdb, "test", label)
            for name in sorted(os.listdir(d))[: n // 2]:
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    out.append(f.read())
        return out, "IMDb test reviews"
    words = ("the film was a wonderful surprise with great acting and a moving story but the "
             "ending dragged and some scenes felt long and dull yet i would watch it again").split()
    return [" ".join(words[(i * 7 + k) % len(words)] for k in range(100 + i % 300))
            for i in range(n)], "synthetic reviews (no --imdb)"


def measure(kind, threads, n, args, busy):
    env = dict(os.environ, SWIFTRNN_LIBRARY=LIB,
               PYTHONPATH=os.path.join(REPO, "bindings", "python"))
    comp = None
    if busy:
        comp = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)
    try:
        p = subprocess.run([sys.executable, "-c", WORKER, kind, str(threads), str(n)] + args,
                           env=env, capture_output=True, text=True, check=True)
    finally:
        if comp:
            comp.kill()
            comp.wait()
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--imdb", default=os.environ.get("IMDB", ""))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--chars", type=int, default=20000)
    ap.add_argument("--reviews", type=int, default=5000)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "contention.json"))
    a = ap.parse_args()
    texts, source = reviews(a.imdb, a.reviews)
    tpath = os.path.join("/tmp", f"contention-reviews-{os.getpid()}.json")
    with open(tpath, "w") as f:
        json.dump(texts, f)
    rows = []
    try:
        for busy in (False, True):
            for kind, n, args in (("generate", a.chars, [LM]), ("score_batch", len(texts), [SENT, tpath])):
                runs = {1: [], 2: []}
                for _ in range(a.reps):
                    for t in (1, 2):
                        runs[t].append(measure(kind, t, n, args, busy)["rate"])
                for t in (1, 2):
                    rows.append({"workload": kind, "busy_core": busy, "threads": t,
                                 "rate": statistics.median(runs[t]), "runs": runs[t]})
                print(f"{kind} busy={busy}: 1t {statistics.median(runs[1]):.0f}/s, "
                      f"2t {statistics.median(runs[2]):.0f}/s", file=sys.stderr)
    finally:
        os.unlink(tpath)
    cond = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_before": os.getloadavg(), "reps": a.reps, "chars": a.chars,
            "reviews": len(texts), "reviews_source": source, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip()}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"conditions": cond, "rows": rows}, f, indent=1)
    L = [f"Conditions: {cond['cores']} cores, commit {cond['commit']}, {cond['date']}, median of "
         f"{a.reps} alternating runs per cell, each in a fresh process; generation: "
         f"{a.chars} characters of the shipped character model; scoring: `score_batch` of "
         f"{len(texts)} {source} with the shipped sentiment model. \"busy\": another process "
         "spins on one core for the whole measurement.\n",
         "| workload | machine | 1 thread | 2 threads | 2 / 1 | busy: 2 / 1 ≥ 0.97 (run-to-run noise ~3%) |",
         "|---|---|---|---|---|---|"]
    for kind, unit in (("generate", "chars/s"), ("score_batch", "reviews/s")):
        for busy in (False, True):
            r1 = next(r["rate"] for r in rows if r["workload"] == kind and r["busy_core"] == busy and r["threads"] == 1)
            r2 = next(r["rate"] for r in rows if r["workload"] == kind and r["busy_core"] == busy and r["threads"] == 2)
            ok = "PASS" if r2 >= 0.97 * r1 else "MISS"
            L.append(f"| {kind} ({unit}) | {'one core busy' if busy else 'idle'} | {r1:,.0f} | {r2:,.0f} | "
                     f"{r2 / r1:.2f} | {ok if busy else ''} |")
    md = "\n".join(L) + "\n"
    with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
