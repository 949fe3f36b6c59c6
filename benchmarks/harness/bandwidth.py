"""The bandwidth/FLOP probe (benchmarks/bandwidth.c; workload `bw`) and the W2 roofline
computed from its results."""

from __future__ import annotations

import json
import os
import subprocess

from .common import log, save


def bench_bandwidth(cfg):
    b = cfg.get("bandwidth_bin")
    if not b or not os.path.exists(b):
        log("bandwidth probe not built; roofline skipped")
        return
    log("bandwidth/FLOP probe ...")
    p = subprocess.run([b] + [str(t) for t in cfg["threads"]], capture_output=True, text=True)
    if p.returncode != 0:
        log(f"  failed: {p.stderr[-500:]}")
        return
    save(cfg, "bandwidth", json.loads(p.stdout))


def roofline(bw, models, w2):
    """Bytes and FLOPs per generated character for the book's char model, the bound, and the
    comparison with W2."""
    V = (models or {}).get("charlm_vocab_size", 80)
    E, H = 256, 512
    G = 4 * H
    flops_ih = 2 * G * E
    flops_hh = 2 * G * H
    flops_fc = 2 * V * H
    flops_elem = 10 * H + 5 * V          # gates, cell update, softmax/sampling (rough)
    naive = {"W_ih": G * E * 4, "W_hh": G * H * 4, "fc": V * H * 4, "biases": (2 * G + V) * 4,
             "embedding row": E * 4}
    folded = {"xproj row (W_ih·emb + b_ih + b_hh, precomputed per character)": G * 4,
              "W_hh": G * H * 4, "fc": V * H * 4, "fc bias": V * 4}
    out = {"V": V, "E": E, "H": H,
           "flops_naive": flops_ih + flops_hh + flops_fc + flops_elem,
           "flops_folded": flops_hh + flops_fc + flops_elem,
           "bytes_naive": sum(naive.values()), "bytes_folded": sum(folded.values()),
           "bytes_naive_items": naive, "bytes_folded_items": folded, "per_threads": []}
    if not bw:
        return out
    kern = bw["kernels"]
    peaks = {p["threads"]: p["gflops"] for p in bw["peak_gflops"]}

    def g(t, size, k="read"):
        for r in kern:
            if r["threads"] == t and r["size_kib"] == size and r["kernel"] == k:
                return r["gb_per_s"]
        return None
    w2rows = {r["threads"]: r for r in (w2 or {}).get("rows", [])
              if r.get("peer") == "swiftrnn" and "rate" in r}
    for t in sorted(peaks):
        # the weights (~4.4-6.5 MB) exceed one core's L2 (and both L2s together): they stream
        # from L3 each step, so use the read bandwidth of a 4 MiB (L3-resident) buffer.
        bw_l3 = g(t, 4096) or g(t, 16384)
        bw_l2 = g(t, 1024 if t == 1 else 1024)
        bw_dram = g(t, 262144)
        row = {"threads": t, "peak_gflops": peaks[t], "read_gbs_l2_1MiB": bw_l2,
               "read_gbs_l3_4MiB": bw_l3, "read_gbs_dram_256MiB": bw_dram}
        for variant in ("folded", "naive"):
            tf = out["flops_" + variant] / (peaks[t] * 1e9)
            tb = out["bytes_" + variant] / (bw_l3 * 1e9) if bw_l3 else float("nan")
            row[f"t_flops_us_{variant}"] = 1e6 * tf
            row[f"t_bytes_us_{variant}"] = 1e6 * tb
            row[f"t_min_us_{variant}"] = 1e6 * max(tf, tb)
            row[f"t_dram_us_{variant}"] = 1e6 * out["bytes_" + variant] / (bw_dram * 1e9) \
                if bw_dram else None
        if t in w2rows:
            meas = 1e6 / w2rows[t]["rate"]
            row["measured_us"] = meas
            row["ratio_vs_roofline_folded"] = meas / row["t_min_us_folded"]
            row["ratio_vs_roofline_naive"] = meas / row["t_min_us_naive"]
        out["per_threads"].append(row)
    return out


def step_bytes_by_dtype(V, E=256, H=512):
    """Bytes one generation step of the book's char model reads with F32, F16 and I8 files
    (issue 13): the folded input row stays F32 in every dtype (it is computed at load), W_hh and
    fc are kept in the file's dtype (I8: int8 plus an F32 scale per row), biases F32."""
    G = 4 * H
    out = {}
    for d, b in (("F32", 4), ("F16", 2), ("I8", 1)):
        items = {"xproj row": G * 4, "W_hh": G * H * b, "fc": V * H * b, "fc bias": V * 4}
        if d == "I8":
            items["row scales"] = (G + V) * 4
        out[d] = items
    return out


def bandwidth_at(bw, t, size_kib, kernel="read"):
    for r in (bw or {}).get("kernels", []):
        if r["threads"] == t and r["size_kib"] == size_kib and r["kernel"] == kernel:
            return r["gb_per_s"]
    return None
