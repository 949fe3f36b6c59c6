"""The peers: in a worker process, what each one loads (torch with its thread count, an ONNX
Runtime session, this build's swiftrnn bindings, the PyTorch models); in the orchestrator, the
thread-pinned environment of every measured process, run_worker, and which peers exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .common import BENCH, LIB, REPO, TOOLS


# =============================================================================================
# in a worker: one peer's libraries
# =============================================================================================

def torch_models():
    """The book's sentiment and character models (tools/torch_reference.py). Imported here, in
    the processes that run torch, where the classes used to be defined: the swiftrnn and ONNX
    Runtime workers never import torch."""
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    from torch_reference import CharRNN, SentimentRNN
    return SentimentRNN, CharRNN


def torch_int8(model):
    """PyTorch's dynamic int8 quantization of a float model (issue 13's peer `torch-int8`):
    int8 weights per tensor, activations quantized per call, for every nn.LSTM and nn.Linear;
    the embedding stays F32. The same call the issue measured."""
    import torch
    import torch.nn as nn
    return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)


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


# =============================================================================================
# in the orchestrator: the measured processes' environment, which peers exist
# =============================================================================================

# By default every measured process runs without OPENBLAS_CORETYPE, as a user who never heard
# of it: libswiftrnn then picks the core itself (docs/c-api.md). The peers do not use the
# system OpenBLAS. KEEP_OPENBLAS_CORETYPE=1 keeps the caller's value instead.
KEEP_CORETYPE = os.environ.get("KEEP_OPENBLAS_CORETYPE") == "1"


# A second build of libswiftrnn to compare in the same run (W1, W2): SWIFTRNN_NATIVE_REPO names a
# checkout with its own out/lib and bindings (run.sh builds NATIVE_REF there, by default the
# same commit, with make lib NATIVE=1: the Swift code compiled for this CPU). Its peer is "swiftrnn-native"; each build runs with
# its own Python bindings.
NATIVE_REPO = os.environ.get("SWIFTRNN_NATIVE_REPO") or None
OURS = ("swiftrnn", "swiftrnn-native")
# Peers that only the reduced-precision workload (wq, harness/wq_precision.py) runs: W1-W4 skip
# them, so their tables stay the F32 comparison of issue 5.
PRECISION_ONLY = ("torch-int8",)


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
    cmd = [sys.executable, BENCH, "worker"] + [str(x) for x in args]
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
        peers += ["torch-book", "torch-best", "torch-int8"]
    else:
        missing["torch"] = "torch not installed in this python"
    if have_module("onnxruntime") and have_module("torch") and have_module("onnx"):
        peers.append("onnxruntime")
    else:
        missing["onnxruntime"] = "onnxruntime/onnx (or torch, to export) not installed"
    return peers, missing
