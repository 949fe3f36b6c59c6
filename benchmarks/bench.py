#!/usr/bin/env python3
"""libswiftrnn performance harness (issue 5): W1 scoring, W2 generation, W3 cold start,
W4 training, against PyTorch (the book's pipeline and a tuned set-up) and ONNX Runtime; WQ, our
F32/F16/I8 files against PyTorch's dynamic int8 (issue 13).

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
import glob
import json
import os
import sys
import time

from harness.bandwidth import bench_bandwidth
from harness.common import DEFAULT_DATA, DEFAULT_WORK, HERE, log, save
from harness.conditions import conditions, openblas_probe
from harness.peers import available_peers, have_module
from harness.prepare import ensure_imdb, setup_models
from harness.report import cmd_report
from harness.w1_scoring import bench_w1, w1_worker
from harness.w2_generation import bench_w2, w2_worker
from harness.w3_coldstart import bench_w3, w3_py_worker
from harness.w4_training import bench_w4, w4_worker
from harness.wq_precision import bench_wq


def cmd_run(a):
    mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    cores = os.cpu_count() or 1
    threads = sorted({1, cores}) if not a.threads else [int(x) for x in a.threads.split(",")]
    sizes = {"full": dict(w1_n=None, w2_n=2000, w3_reps=7, w4_reviews=None, w4_char_its=100,
                          vocab_reviews=None, wq_rounds=2),
             "quick": dict(w1_n=5000, w2_n=1000, w3_reps=5, w4_reviews=2000, w4_char_its=20,
                           vocab_reviews=None, wq_rounds=2),
             "smoke": dict(w1_n=200, w2_n=100, w3_reps=3, w4_reviews=400, w4_char_its=3,
                           vocab_reviews=2000, wq_rounds=1)}[mode]
    for k in ("w1_n", "w2_n", "w4_char_its", "wq_rounds"):
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
    if "wq" in wl:
        bench_wq(cfg, paths, peers)
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
    r.add_argument("--workloads", default="bw,w1,w2,w3,wq,w4")
    r.add_argument("--w1-n", type=int, default=None, help="reviews for W1 (default all 25,000)")
    r.add_argument("--w2-n", type=int, default=None, help="characters for W2 (default 2000)")
    r.add_argument("--w4-char-its", type=int, default=None, help="charlm training iterations")
    r.add_argument("--wq-rounds", type=int, default=None, help="interleaved rounds of each wq "
                   "W1/W2 measurement, the fastest kept (default 2; smoke 1)")
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
    for k in ("imdb", "text", "model", "model-pt", "model-onnx", "vocab", "chars", "probs-out",
              "text-out"):
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
