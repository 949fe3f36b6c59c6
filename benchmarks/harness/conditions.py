"""The conditions recorded with the results (results/conditions.json): machine, libraries,
environment, load average, and the OpenBLAS our library loads."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

from .common import REPO
from .peers import KEEP_CORETYPE, thread_env


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
