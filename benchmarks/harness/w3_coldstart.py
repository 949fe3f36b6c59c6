"""W3 cold start: load the model and produce the first result in a fresh process (ms, peak
RSS). swiftrnn through benchmarks/coldstart.c, the Python peers through a worker."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time

from .common import PRIME, SHIPPED, book_tokenizer, log, save, vm_hwm_kb
from .peers import _ort_session, run_worker, thread_env, torch_models


def w3_py_worker(a):
    """Cold start of a Python peer: imports, load, first result, in this fresh process."""
    t_start = time.perf_counter()
    import numpy as np
    if a.peer.startswith("torch"):
        import torch
        torch.set_num_threads(a.threads)
    else:
        import onnxruntime  # noqa: F401
    t_imp = time.perf_counter()
    if a.kind == "sentiment":
        with open(a.vocab, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(json.load(f))}
        review = ("A wonderful, moving film. The acting was superb and the story kept me "
                  "watching until the very end.")
        ids = [vocab.get(tok, 1) for tok in book_tokenizer(review)]
        if a.peer.startswith("torch"):
            SentimentRNN, _ = torch_models()
            sd = torch.load(a.model_pt)
            m = SentimentRNN(sd["embedding.weight"].shape[0])
            m.load_state_dict(sd)
            m.eval()
            with torch.inference_mode():
                res = float(m(torch.tensor([ids]), torch.tensor([len(ids)]))[0, 0])
        else:
            sess = _ort_session(a.model_onnx, a.threads)
            res = float(sess.run(None, {"text": np.array([ids], dtype=np.int64),
                                        "lengths": np.array([len(ids)], dtype=np.int64)})[0][0, 0])
    else:
        with open(a.chars, encoding="utf-8") as f:
            chars = json.load(f)
        c2i = {ch: i for i, ch in enumerate(chars)}
        if a.peer.startswith("torch"):
            _, CharRNN = torch_models()
            sd = torch.load(a.model_pt)
            m = CharRNN(sd["embedding.weight"].shape[0])
            m.load_state_dict(sd)
            m.eval()
            with torch.inference_mode():
                h, c = m.init_hidden(1)
                for ch in PRIME:
                    logits, h, c = m(torch.tensor([c2i[ch]]), h, c)
                res = int(torch.multinomial(torch.softmax(logits[0], 0), 1))
        else:
            sess = _ort_session(a.model_onnx, a.threads)
            h = np.zeros((1, 1, 512), dtype=np.float32)
            c = np.zeros_like(h)
            for ch in PRIME:
                logits, h, c = sess.run(None, {"x": np.array([c2i[ch]], dtype=np.int64),
                                               "h": h, "c": c})
            res = int(np.argmax(logits[0]))
    t_end = time.perf_counter()
    return {"import_ms": 1e3 * (t_imp - t_start), "total_ms": 1e3 * (t_end - t_imp),
            "peak_rss_kb": vm_hwm_kb(),
            "result": res}


def coldstart_swiftrnn(cold, mpath, t, reps):
    """`coldstart MODEL` in `reps` fresh processes at t threads: the medians (ms, peak RSS), the
    file size and the first result; {"error": ...} when a run fails."""
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        p = subprocess.run([cold, mpath], env=thread_env(t), capture_output=True, text=True)
        wall = 1e3 * (time.perf_counter() - t0)
        if p.returncode != 0:
            return {"error": p.stderr[-500:]}
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r["process_ms"] = wall
        runs.append(r)
    med = {k: statistics.median([r[k] for r in runs])
           for k in ("load_ms", "first_ms", "total_ms", "process_ms", "peak_rss_kb",
                     "rss_start_kb")}
    med.update(reps=reps, file_bytes=os.path.getsize(mpath), result=runs[0]["result"])
    return med


def bench_w3(cfg, paths, peers):
    rows = []
    cold = cfg["coldstart_bin"]
    models = [("sentiment", "random", paths["sent_st"]), ("charlm", "random", paths["char_st"])]
    for kind in ("sentiment", "charlm"):
        if os.path.exists(SHIPPED[kind]):
            models.append((kind, "shipped", SHIPPED[kind]))
    reps = cfg["w3_reps"]
    for t in cfg["threads"]:
        for kind, mname, mpath in models:
            if "swiftrnn" in peers and cold and os.path.exists(cold):
                med = coldstart_swiftrnn(cold, mpath, t, reps)
                med.update(peer="swiftrnn", kind=kind, model=mname, threads=t)
                if "error" not in med:
                    log(f"W3 swiftrnn {kind}/{mname} t={t}: {med['total_ms']:.2f} ms "
                        f"(process {med['process_ms']:.1f} ms), peak RSS "
                        f"{med['peak_rss_kb'] / 1024:.1f} MB")
                rows.append(med)
            if mname != "random":
                continue
            for peer in [p for p in peers if p in ("torch-book", "onnxruntime")]:
                runs = []
                try:
                    for _ in range(max(1, reps // 2)):
                        args = ["w3", "--peer", peer, "--kind", kind,
                                "--model-pt", paths["sent_pt" if kind == "sentiment" else "char_pt"],
                                "--model-onnx",
                                paths["sent_onnx" if kind == "sentiment" else "char_onnx"],
                                "--vocab", paths["sent_vocab"], "--chars", paths["char_chars"]]
                        runs.append(run_worker(args, t))
                except Exception as e:  # noqa: BLE001
                    rows.append({"peer": peer, "kind": kind, "model": mname, "threads": t,
                                 "error": str(e)[-500:]})
                    continue
                med = {k: statistics.median([r[k] for r in runs])
                       for k in ("import_ms", "total_ms", "peak_rss_kb", "process_wall_s")}
                med["process_ms"] = 1e3 * med.pop("process_wall_s")
                med.update(peer="torch" if peer.startswith("torch") else peer, kind=kind,
                           model=mname, threads=t, reps=len(runs))
                log(f"W3 {peer} {kind} t={t}: {med['total_ms']:.1f} ms after "
                    f"{med['import_ms']:.0f} ms of imports, RSS {med['peak_rss_kb'] / 1024:.0f} MB")
                rows.append(med)
    save(cfg, "w3", {"rows": rows})
