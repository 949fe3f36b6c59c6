"""WQ reduced precision (issue 13): our F32, F16 and I8 files of the same models side by side,
against PyTorch's dynamic int8 (`torch-int8`), in one run.

1. `swiftrnn convert` of the book-shaped models the harness prepared (seeded random weights)
   and of the shipped models (models/*.safetensors: the character model F16, the sentiment model
   I8 since 0.6.0, whose F16 and F32 files hold its dequantized weights), into WORK/precision/: F16 and I8
   from the model, F32 from the F16 file (the exact widening: the F32 and F16 files hold the same
   model, so their texts and probabilities must be identical; the W1/W2 speed of an F32 file does
   not depend on its values).
2. W2-style generation (chars/s; `Model.sample`, the same prime, length and seed as W2) of each
   char-model file, and of torch-int8 (the book's sample() loop under inference_mode on the
   quantized model, issue 13's measurement); the full texts are kept: F16 must equal F32.
3. W1-style scoring (reviews/s; `Model.score_batch`) of each sentiment file, and of torch-int8
   (torch-best's loop on the quantized model, book shape only: the shipped model has no
   PyTorch twin); the probabilities are kept: max |dp| of F16 and I8 against our F32.
4. W3-style cold start (coldstart.c: load + first result, peak RSS) of every file.
Every measurement is a fresh `bench.py worker` (or coldstart) process at 1 and 2 threads, as in
W1-W3; the variants run interleaved, W1/W2 in `wq_rounds` rounds (the fastest kept), W3 run by
run. Writes results/wq.json; report.py turns it into "Reduced precision (issue 13)".
"""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import subprocess

from .common import CLI, PRIME, SHIPPED, log, save
from .peers import run_worker
from .w3_coldstart import coldstart_swiftrnn

DTYPES = ("F32", "F16", "I8")


def _loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return None


def _cpu_flags():
    """The CPU features the reduced-precision kernels use, as /proc/cpuinfo names them."""
    want = ("avx2", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16")
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("flags"):
                    have = set(ln.split(":", 1)[1].split())
                    return [x for x in want if x in have]
    except OSError:
        pass
    return []


def _header_bytes(path):
    """The safetensors header (8-byte length + JSON: tensor table and metadata, which holds the
    vocabulary or character table) of a model file; the rest is tensor data."""
    import struct
    with open(path, "rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


def convert_models(cfg, paths):
    """[(kind, model, {dtype: path})] and the conversion records (bytes, the CLI's message and
    the max weight error it reports for I8)."""
    out_dir = os.path.join(cfg["work"], "precision")
    os.makedirs(out_dir, exist_ok=True)
    sources = [("charlm", "random", paths["char_st"]), ("sentiment", "random", paths["sent_st"])]
    for kind in ("charlm", "sentiment"):
        if os.path.exists(SHIPPED[kind]):
            sources.append((kind, "shipped", SHIPPED[kind]))
    models, conv = [], []
    conv_order = {d: i for i, d in enumerate(DTYPES)}
    for kind, mname, src in sources:
        base = os.path.splitext(os.path.basename(src))[0]
        files = {}
        # F16 and I8 from the source; F32 from the F16 file (the exact widening), so that the
        # F32 and F16 files hold the same model and must give the same bits (issue 13 item 1).
        # For an F16 shipped model that is also the F32 conversion of the source.
        for d in ("F16", "F32", "I8"):
            dst = os.path.join(out_dir, f"{base}.{d}.safetensors")
            frm = files.get("F16") if d == "F32" else src
            if frm is None:
                continue
            p = subprocess.run([CLI, "convert", frm, "--dtype", d, "--out", dst],
                               capture_output=True, text=True)
            rec = {"kind": kind, "model": mname, "dtype": d, "source_bytes": os.path.getsize(src),
                   "source": os.path.basename(src), "converted_from": os.path.basename(frm)}
            if p.returncode != 0 or not os.path.exists(dst):
                rec["error"] = (p.stderr or p.stdout)[-500:]
                log(f"WQ convert {kind}/{mname} -> {d} FAILED: {rec['error']}")
            else:
                msg = p.stdout.strip()
                rec.update(bytes=os.path.getsize(dst), header_bytes=_header_bytes(dst),
                           message=msg.replace(os.path.dirname(dst) + os.sep, ""))
                m = re.search(r"max weight error ([-+0-9.eE]+)", msg)
                if m:
                    rec["max_weight_error"] = float(m.group(1))
                files[d] = dst
                log(f"WQ convert {kind}/{mname} -> {d}: {rec['bytes'] / 1e6:.2f} MB"
                    + (f", max weight error {rec['max_weight_error']:.3g}"
                       if "max_weight_error" in rec else ""))
            conv.append(rec)
        models.append((kind, mname, files))
    conv.sort(key=lambda c: (c["kind"], c["model"], conv_order[c["dtype"]]))
    return models, conv


def _rounds(jobs, rounds):
    """Run every job (label, worker args, threads, tags) `rounds` times, interleaved (job 1, 2,
    ..., n, then again): on a shared machine a burst of other work then slows one round of
    every variant rather than all rounds of one. One row per job: the fastest round (other work
    only ever slows a run down), with every round's rate in `round_rates`."""
    runs = [[] for _ in jobs]
    for k in range(rounds):
        for i, (label, args, t, tags) in enumerate(jobs):
            log(f"WQ {label} threads={t}" + (f" (round {k + 1}/{rounds})" if rounds > 1 else "")
                + " ...")
            try:
                r = run_worker(args, t)
                log(f"  {r['rate']:.1f} {r['unit']}")
            except Exception as e:  # noqa: BLE001
                log(f"  FAILED: {e}")
                r = {"error": str(e)[-800:]}
            runs[i].append(dict(r, **tags, threads=t))
    rows = []
    for (label, args, t, tags), rs in zip(jobs, runs):
        ok = [r for r in rs if "rate" in r]
        if ok:
            best = dict(max(ok, key=lambda r: r["rate"]))
            best.update(round_rates=[r["rate"] for r in ok], rounds=len(rs))
        else:
            best = rs[-1]
        rows.append(best)
    return rows


def _prefix_len(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def bench_wq(cfg, paths, peers):
    import numpy as np
    la_start = _loadavg()
    models, conv = convert_models(cfg, paths)
    work = os.path.join(cfg["work"], "precision")
    ours = "swiftrnn" in peers
    tint8 = "torch-int8" in peers
    rounds = max(1, int(cfg.get("wq_rounds", 1)))
    w3_rows, text_checks, prob_checks = [], [], []
    texts, probs = {}, {}
    # ---- W2-style generation
    n2 = cfg["w2_n"]
    jobs, text_files = [], {}
    for t in cfg["threads"]:
        for kind, mname, files in models:
            if kind != "charlm" or not ours:
                continue
            for d in DTYPES:
                if d not in files:
                    continue
                tout = os.path.join(work, f"text-{mname}-{d}-{t}.txt")
                if os.path.exists(tout):
                    os.remove(tout)
                text_files[(mname, d, t)] = tout
                jobs.append((f"W2 swiftrnn {mname} {d} chars={n2}",
                             ["w2", "--peer", "swiftrnn", "--n", n2, "--model", files[d],
                              "--text-out", tout], t, dict(peer="swiftrnn", model=mname, dtype=d)))
        if tint8:
            jobs.append((f"W2 torch-int8 chars={n2}",
                         ["w2", "--peer", "torch-int8", "--n", n2, "--model-pt", paths["char_pt"],
                          "--chars", paths["char_chars"]], t,
                         dict(peer="torch-int8", model="random", dtype="int8 dynamic")))
    w2_rows = _rounds(jobs, rounds)
    for key, tout in text_files.items():
        if os.path.exists(tout):      # every round writes the same text (same seed)
            with open(tout, encoding="utf-8") as f:
                texts[key] = f.read()
            for r in w2_rows:
                if (r.get("peer"), r.get("model"), r.get("dtype"), r.get("threads")) == \
                        ("swiftrnn",) + key:
                    r["text_sha256"] = hashlib.sha256(texts[key].encode()).hexdigest()
    for (mname, d, t), txt in sorted(texts.items()):
        ref = texts.get((mname, "F32", t))
        if d == "F32" or ref is None:
            continue
        gen = len(ref) - len(PRIME)
        text_checks.append({"model": mname, "dtype": d, "threads": t, "identical": txt == ref,
                            "common_prefix_chars": max(0, _prefix_len(txt, ref) - len(PRIME)),
                            "generated_chars": gen})
    for (mname, d, t), txt in sorted(texts.items()):   # threads never change the text
        ref = texts.get((mname, d, cfg["threads"][0]))
        if t != cfg["threads"][0] and ref is not None:
            text_checks.append({"model": mname, "dtype": d, "threads": t,
                                "versus_threads": cfg["threads"][0], "identical": txt == ref})
    for c in text_checks:
        log(f"WQ text {c['model']} {c['dtype']} t={c['threads']} vs "
            + (f"{c['versus_threads']} threads" if "versus_threads" in c else "F32")
            + f": {'identical' if c['identical'] else 'DIFFERENT'}")
    # ---- W1-style scoring
    n1 = cfg["w1_n"]
    jobs, prob_files = [], {}
    for t in cfg["threads"]:
        for kind, mname, files in models:
            if kind != "sentiment" or not ours:
                continue
            for d in DTYPES:
                if d not in files:
                    continue
                po = os.path.join(work, f"probs-{mname}-{d}-{t}.npy")
                prob_files[(mname, d, t)] = po
                jobs.append((f"W1 swiftrnn {mname} {d} reviews={n1}",
                             ["w1", "--peer", "swiftrnn", "--imdb", cfg["imdb"], "--n", n1 or 0,
                              "--model", files[d], "--probs-out", po], t,
                             dict(peer="swiftrnn", model=mname, dtype=d)))
        if tint8:
            po = os.path.join(work, f"probs-torch-int8-{t}.npy")
            prob_files[("random", "torch-int8", t)] = po
            jobs.append((f"W1 torch-int8 reviews={n1}",
                         ["w1", "--peer", "torch-int8", "--imdb", cfg["imdb"], "--n", n1 or 0,
                          "--model-pt", paths["sent_pt"], "--vocab", paths["sent_vocab"],
                          "--probs-out", po], t,
                         dict(peer="torch-int8", model="random", dtype="int8 dynamic")))
    for po in prob_files.values():
        if os.path.exists(po):
            os.remove(po)
    w1_rows = _rounds(jobs, rounds)
    for key, po in prob_files.items():
        if os.path.exists(po):
            probs[key] = np.load(po)
    for (mname, d, t), v in sorted(probs.items()):
        ref = probs.get((mname, "F32", t))
        if d == "F32" or ref is None or len(ref) != len(v):
            continue
        prob_checks.append({"model": mname, "dtype": d, "threads": t, "reference": "swiftrnn F32",
                            "n": int(len(v)),
                            "max_abs_diff": float(np.max(np.abs(v - ref))) if len(v) else 0.0,
                            "mean_abs_diff": float(np.mean(np.abs(v - ref))) if len(v) else 0.0,
                            "flipped": int(np.sum((v >= 0.5) != (ref >= 0.5)))})
    for c in prob_checks:
        log(f"WQ probs {c['model']} {c['dtype']} t={c['threads']} vs our F32: max |dp| "
            f"{c['max_abs_diff']:.3g}, {c['flipped']} of {c['n']} decisions flipped")
    # ---- W3-style cold start
    cold = cfg["coldstart_bin"]
    if ours and cold and os.path.exists(cold):
        for t in cfg["threads"]:
            for kind, mname, files in models:
                # the dtypes interleaved run by run (F32, F16, I8, F32, ...), medians per dtype
                runs = {d: [] for d in DTYPES if d in files}
                for _ in range(cfg["w3_reps"]):
                    for d in runs:
                        runs[d].append(coldstart_swiftrnn(cold, files[d], t, 1))
                for d, rs in runs.items():
                    bad = [r for r in rs if "error" in r]
                    if bad:
                        med = bad[0]
                    else:
                        med = {k: statistics.median([r[k] for r in rs])
                               for k in ("load_ms", "first_ms", "total_ms", "process_ms",
                                         "peak_rss_kb", "rss_start_kb")}
                        med.update(reps=len(rs), file_bytes=rs[0]["file_bytes"],
                                   result=rs[0]["result"])
                    med.update(peer="swiftrnn", kind=kind, model=mname, dtype=d, threads=t)
                    if "error" not in med:
                        log(f"WQ W3 {kind}/{mname} {d} t={t}: {med['total_ms']:.2f} ms, peak RSS "
                            f"{med['peak_rss_kb'] / 1024:.1f} MB, file "
                            f"{med['file_bytes'] / 1e6:.2f} MB")
                    else:
                        log(f"WQ W3 {kind}/{mname} {d} t={t} FAILED: {med['error']}")
                    w3_rows.append(med)
    torch_engine = None
    if tint8:
        try:
            import torch
            torch_engine = torch.backends.quantized.engine
        except Exception:  # noqa: BLE001
            pass
    save(cfg, "wq", {"conversions": conv, "w2": w2_rows, "w1": w1_rows, "w3": w3_rows,
                     "text_checks": text_checks, "prob_checks": prob_checks,
                     "w1_n": n1, "w2_n": n2, "threads": cfg["threads"], "rounds": rounds,
                     "loadavg_at_start": la_start, "loadavg_at_end": _loadavg(),
                     "cpu_flags": _cpu_flags(),
                     "SWIFTRNN_SIMD": os.environ.get("SWIFTRNN_SIMD", "(unset)"),
                     "torch_quantized_engine": torch_engine})
