#!/usr/bin/env python3
"""Benchmark: scoring the IMDb reviews through Dask (swiftrnn.dask) with 1 and 2 workers,
next to single-process ``Model.score_batch``.

    SWIFTRNN_LIBRARY=out/lib/libswiftrnn.so PYTHONPATH=bindings/python \\
        python3 benchmarks/dask_bench.py [--data ../bench-work/data/aclImdb] \\
        [--model models/sentiment-imdb.safetensors] [--rows 0] [--workers 1,2] \\
        [--files 32] [--out benchmarks/results/dask.json]

Steps: the reviews ``{train,test}/{pos,neg}/*.txt`` (50,000; ``--rows N`` takes the first N in
sorted order) are written to ``--files`` Parquet files (columns ``id``, ``review``, ``label``) in
a temp dir. Then, each timed ``--repeat`` times (best kept):

* ``score_batch``: one process, the texts already in memory, ``threads=1`` and ``threads=0``
  (every core);
* ``files, 1 process``: read the Parquet files with pandas, ``score_batch(threads=1)``, write
  Parquet: the same end-to-end work as the Dask path, without Dask;
* ``dask, N workers``: a LocalCluster of N worker processes x 1 thread, started and warmed up
  (model preloaded) before the clock starts; timed: ``swiftrnn.dask.score_files`` from the
  Parquet files to a Parquet folder.

Every Dask output is compared with the single-process probabilities (they must be equal). The
conditions (cores, load, other jobs) go into the JSON next to the numbers: on a busy machine
the numbers say little, and the scaling ratio says nothing.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
os.environ.setdefault("SWIFTRNN_LIBRARY", os.path.join(REPO, "out", "lib", "libswiftrnn.so"))


def _read_reviews(root: str, rows: int):
    files = []
    for split in ("train", "test"):
        for lab in ("pos", "neg"):
            files += sorted(glob.glob(os.path.join(root, split, lab, "*.txt")))
    if not files:
        raise SystemExit(f"no reviews under {root}/{{train,test}}/{{pos,neg}}/*.txt")
    if rows:
        # an even spread over the four folders, not just train/pos
        step = max(1, len(files) // rows)
        files = files[::step][:rows]
    texts, labels = [], []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            texts.append(fh.read())
        labels.append(1 if os.sep + "pos" + os.sep in f else 0)
    return texts, labels


def _other_jobs():
    try:
        out = subprocess.run(["pgrep", "-af", "swiftrnn-train"], capture_output=True,
                             text=True).stdout
        return [line.split(" ", 1)[1][:80] for line in out.splitlines() if line.strip()]
    except OSError:
        return []


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _best(fn, repeat):
    best, out = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "bench-work", "data", "aclImdb"),
                    help="unpacked aclImdb folder (default: ../bench-work/data/aclImdb next to the "
                    "checkout, where benchmarks/run.sh unpacks it)")
    ap.add_argument("--model", default=os.path.join(REPO, "models", "sentiment-imdb.safetensors"))
    ap.add_argument("--rows", type=int, default=0, help="0: every review (50,000)")
    ap.add_argument("--files", type=int, default=32, help="Parquet files to write")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (best kept)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "dask.json"))
    args = ap.parse_args(argv)

    import dask
    import distributed
    import pandas as pd
    import pyarrow
    from distributed import Client, LocalCluster

    import swiftrnn
    import swiftrnn.dask as sd

    path, sha = sd.model_fingerprint(args.model)       # the library's error if missing/corrupt
    model = swiftrnn.load(path)
    texts, labels = _read_reviews(args.data, args.rows)
    n = len(texts)
    workers_list = [int(w) for w in args.workers.split(",") if w.strip()]
    cond = {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": platform.processor() or platform.machine(),
        "threads_per_worker": 1, "score_batch_threads_in_tasks": 1,
        "rows": n, "chars": sum(len(t) for t in texts), "parquet_files": args.files,
        "data": args.data, "model": path, "model_sha256": sha,
        "model_description": model.info["description"],
        "library": swiftrnn.library_path, "library_version": swiftrnn.__version__,
        "python": platform.python_version(), "dask": dask.__version__,
        "distributed": distributed.__version__, "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__, "loadavg_before": _loadavg(),
        "other_jobs": _other_jobs(),
    }
    print("conditions: " + ", ".join(f"{k}={cond[k]}" for k in (
        "cores", "cores_usable", "rows", "parquet_files", "threads_per_worker", "loadavg_before")))
    print(f"model: {cond['model_description']}")
    if cond["other_jobs"]:
        print(f"WARNING: {len(cond['other_jobs'])} other jobs running "
              f"({'; '.join(cond['other_jobs'])}): numbers are not representative")

    results = {"conditions": cond, "runs": []}

    def record(name, seconds, **extra):
        r = {"name": name, "seconds": round(seconds, 4), "rows_per_second": round(n / seconds, 1)}
        r.update(extra)
        results["runs"].append(r)
        print(f"  {name:<34} {seconds:8.2f} s  {n / seconds:10.1f} rows/s"
              + "".join(f"  {k}={v}" for k, v in extra.items()))
        return r

    with tempfile.TemporaryDirectory(prefix="swiftrnn-dask-bench-") as tmp:
        src = os.path.join(tmp, "reviews")
        os.makedirs(src)
        df = pd.DataFrame({"id": range(n), "review": texts, "label_true": labels})
        per = -(-n // args.files)
        files = []
        for k in range(args.files):
            part = df.iloc[k * per:(k + 1) * per]
            if len(part):
                f = os.path.join(src, f"reviews-{k:03d}.parquet")
                part.to_parquet(f, index=False)
                files.append(f)
        cond["parquet_files"] = len(files)
        print(f"wrote {n} reviews to {len(files)} Parquet files")

        print("single process:")
        model.score_batch(texts[:50], threads=1)                     # warm-up
        t1, ref = _best(lambda: model.score_batch(texts, threads=1), args.repeat)
        record("score_batch threads=1", t1)
        t0_, ref0 = _best(lambda: model.score_batch(texts, threads=0), args.repeat)
        record("score_batch threads=0 (all cores)", t0_, equal=ref0 == ref)

        def files_one_process():
            out = os.path.join(tmp, "single")
            os.makedirs(out, exist_ok=True)
            for i, f in enumerate(files):
                part = pd.read_parquet(f)
                part["probability"] = model.score_batch(part["review"].tolist(), threads=1)
                part.to_parquet(os.path.join(out, f"part.{i:05d}.parquet"), index=False)
        tf, _ = _best(files_one_process, args.repeat)
        record("files, 1 process (pandas)", tf)

        acc = sum((p >= 0.5) == bool(y) for p, y in zip(ref, labels)) / n
        cond["accuracy_at_0.5"] = round(acc, 4)

        print("dask:")
        by_workers = {}
        for w in workers_list:
            cluster = LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            try:
                client.run(sd.preload, path, sha)                  # warm: imports + model
                best = None
                for rep in range(args.repeat):
                    out = os.path.join(tmp, f"dask-{w}-{rep}")
                    t0 = time.perf_counter()
                    summary = sd.score_files(files, out, path, "review", client=client)
                    dt = time.perf_counter() - t0
                    best = dt if best is None else min(best, dt)
                got = pd.read_parquet(out).sort_values("id")
                same = got["probability"].astype(float).tolist() == ref
                loads = client.run(sd.load_counts)
                r = record(f"dask, {w} worker{'s' if w > 1 else ''} x 1 thread", best,
                           equal_to_score_batch=same, partitions=summary["partitions"],
                           loads_per_worker=sorted(sum(c.values()) for c in loads.values()))
                by_workers[w] = r
                if not same:
                    print("ERROR: the Dask output differs from score_batch", file=sys.stderr)
            finally:
                client.close()
                cluster.close()
        if 1 in by_workers and 2 in by_workers:
            ratio = by_workers[2]["rows_per_second"] / by_workers[1]["rows_per_second"]
            results["scaling_2_over_1"] = round(ratio, 3)
            print(f"scaling 2 workers / 1 worker: {ratio:.2f}x")
        if 1 in by_workers:
            results["dask_1_worker_over_score_batch_threads1"] = round(
                by_workers[1]["rows_per_second"] / (n / t1), 3)

    cond["loadavg_after"] = _loadavg()
    cond["quiet_machine"] = not cond["other_jobs"]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"results: {args.out}")
    return 0 if all(r.get("equal_to_score_batch", True) for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
