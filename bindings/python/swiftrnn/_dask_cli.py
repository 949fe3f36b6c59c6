"""Command line of ``python -m swiftrnn.dask`` (kept apart from ``swiftrnn.dask`` so that the
functions sent to workers are always pickled by reference to the importable module).

    python -m swiftrnn.dask score --model MODEL --input 'reviews/*.parquet' \\
        --text-column review --output scored/ [--scheduler ADDRESS | --workers N]

Without ``--scheduler`` a ``LocalCluster`` of N worker processes (default: the number of cores)
with one thread each is started for the run. The model is checked on this machine first, so a
missing or corrupt model fails with the library's error before any cluster is contacted. The
output folder gets one ``part.NNNNN.parquet`` per partition: the input's columns plus
``probability`` and ``label``. A summary line goes to stdout (``--json`` for JSON); errors print
``error: ...`` on stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m swiftrnn.dask",
                                 description="Score review backlogs on a Dask cluster.")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", required=True)
    p = sub.add_parser("score", help="score Parquet/CSV files into a Parquet folder")
    p.add_argument("--model", required=True, help="a sentiment model (.safetensors)")
    p.add_argument("--input", required=True, action="append",
                   help="Parquet/CSV files, globs or folders (repeat for several)")
    p.add_argument("--text-column", default="review")
    p.add_argument("--output", required=True, help="folder for part.NNNNN.parquet files")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", help="address of a running scheduler, e.g. tcp://host:8786")
    g.add_argument("--workers", type=int, default=None,
                   help="start a LocalCluster of N worker processes (default: the core count)")
    p.add_argument("--threads-per-worker", type=int, default=1,
                   help="for --workers (default 1)")
    p.add_argument("--score-threads", type=int, default=1,
                   help="threads of each score_batch call (default 1; 0: every core)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="label = 1 when probability >= this (default 0.5)")
    p.add_argument("--probability-column", default="probability")
    p.add_argument("--label-column", default="label", help="'' for no label column")
    p.add_argument("--overwrite", action="store_true",
                   help="replace Parquet files already in --output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return ap


def _score(args) -> int:
    import swiftrnn.dask as sd

    # Fail fast: the model is checked before any cluster is started or contacted.
    path, _sha = sd.model_fingerprint(args.model)
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be >= 1")

    from distributed import Client, LocalCluster

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler, timeout="30s")
    else:
        n = args.workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=args.threads_per_worker,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        summary = sd.score_files(
            args.input, args.output, path, args.text_column, client=client,
            probability=args.probability_column, label=args.label_column or None,
            threshold=args.threshold, threads=args.score_threads, overwrite=args.overwrite,
            progress=not args.no_progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary["workers"] = len(summary.get("workers") or {})
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"scored {summary['rows']} rows ({summary['malformed']} malformed: null "
              f"probability) in {summary['partitions']} partitions on {summary['workers']} "
              f"workers, {summary['seconds']:.1f} s ({summary['rows_per_second']:.0f} rows/s) "
              f"-> {args.output}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "score":
            return _score(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line for every failure
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
