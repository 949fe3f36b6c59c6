"""W1 scoring: IMDb test reviews, text in, probability out (reviews/s), and the agreement of
the peers' probabilities."""

from __future__ import annotations

import json
import os
import statistics

from .common import SHIPPED, _timed_reps, book_tokenizer, log, read_imdb, save
from .peers import (OURS, PRECISION_ONLY, _ort_session, _set_torch_threads, _swiftrnn, run_worker,
                    torch_int8, torch_models)


def w1_worker(a):
    """Score the test reviews end to end (text in, probability out)."""
    import numpy as np
    reviews = [t for _, t in read_imdb(a.imdb, "test", limit=a.n or None)]  # 0: all 25,000
    n, t = len(reviews), a.threads
    warm = reviews[:min(64, n)]
    if a.peer in OURS:
        sr = _swiftrnn()
        m = sr.load(a.model)
        m.score_batch(warm, threads=t)
        times, probs = _timed_reps(lambda: m.score_batch(reviews, threads=t), 3, 5.0)
        probs = np.asarray(probs, dtype=np.float32)
    elif a.peer in ("torch-book", "torch-best", "torch-int8"):
        torch = _set_torch_threads(t)
        import torch.nn as nn
        SentimentRNN, _ = torch_models()
        sd = torch.load(a.model_pt)
        model = SentimentRNN(sd["embedding.weight"].shape[0])
        model.load_state_dict(sd)
        model.eval()
        if a.peer == "torch-int8":          # torch-best's loop on the dynamically quantized model
            model = torch_int8(model)
        with open(a.vocab, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(json.load(f))}
        if a.peer == "torch-book":
            from torch.utils.data import DataLoader
            text_pipeline = lambda x: [vocab.get(tok, 1) for tok in book_tokenizer(x)]  # noqa

            def collate_batch(batch):
                text_list, lengths = [], []
                for _text in batch:
                    processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
                    text_list.append(processed_text)
                    lengths.append(processed_text.size(0))
                lengths = torch.tensor(lengths)
                padded = nn.utils.rnn.pad_sequence(text_list, batch_first=True)
                return padded, lengths

            def run(texts):
                dl = DataLoader(texts, batch_size=32, shuffle=False, collate_fn=collate_batch)
                out = []
                with torch.no_grad():              # the book's evaluate()
                    for text_batch, lengths in dl:
                        out.append(model(text_batch, lengths)[:, 0])
                return torch.cat(out).numpy()
        else:
            def run(texts):
                with torch.inference_mode():
                    ids = [[vocab.get(tok, 1) for tok in book_tokenizer(x)] or [0]
                           for x in texts]
                    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
                    res = np.empty(len(ids), dtype=np.float32)
                    for s in range(0, len(order), 256):
                        idx = order[s:s + 256]
                        seqs = [torch.tensor(ids[i], dtype=torch.int64) for i in idx]
                        lengths = torch.tensor([len(ids[i]) for i in idx])
                        padded = nn.utils.rnn.pad_sequence(seqs, batch_first=True)
                        emb = model.embedding(padded)
                        packed = nn.utils.rnn.pack_padded_sequence(
                            emb, lengths, enforce_sorted=True, batch_first=True)
                        _, (h, _c) = model.rnn(packed)
                        p = model.sigmoid(model.fc2(model.relu(model.fc1(h[-1]))))
                        res[idx] = p[:, 0].numpy()
                    return res
        run(warm)
        times, probs = _timed_reps(lambda: run(reviews), 1, 0.0, 1)
    elif a.peer == "onnxruntime":
        sess = _ort_session(a.model_onnx, t)
        with open(a.vocab, encoding="utf-8") as f:
            vocab = {w: i for i, w in enumerate(json.load(f))}

        def run(texts):
            ids = [[vocab.get(tok, 1) for tok in book_tokenizer(x)] or [0] for x in texts]
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
            res = np.empty(len(ids), dtype=np.float32)
            for s in range(0, len(order), 256):
                idx = order[s:s + 256]
                T = len(ids[idx[0]])
                x = np.zeros((len(idx), T), dtype=np.int64)
                for r, i in enumerate(idx):
                    x[r, :len(ids[i])] = ids[i]
                ln = np.array([len(ids[i]) for i in idx], dtype=np.int64)
                res[idx] = sess.run(None, {"text": x, "lengths": ln})[0][:, 0]
            return res
        run(warm)
        times, probs = _timed_reps(lambda: run(reviews), 1, 0.0, 1)
    else:
        raise SystemExit(f"unknown peer {a.peer}")
    if a.probs_out:
        np.save(a.probs_out, np.asarray(probs, dtype=np.float32))
    sec = statistics.median(times)
    return {"reviews": n, "seconds": sec, "all_seconds": times, "rate": n / sec,
            "unit": "reviews/s"}


def bench_w1(cfg, paths, peers):
    import numpy as np
    rows, probs = [], {}
    models = [("random", paths["sent_st"])]
    if os.path.exists(SHIPPED["sentiment"]):
        models.append(("shipped", SHIPPED["sentiment"]))
    for t in cfg["threads"]:
        for peer in [p for p in peers if p not in PRECISION_ONLY]:
            for mname, mpath in models:
                if mname == "shipped" and peer not in OURS:
                    continue
                po = os.path.join(cfg["work"], f"probs-{peer}-{mname}-{t}.npy")
                args = ["w1", "--peer", peer, "--imdb", cfg["imdb"], "--n", cfg["w1_n"] or 0,
                        "--model", mpath, "--model-pt", paths["sent_pt"],
                        "--vocab", paths["sent_vocab"], "--model-onnx", paths["sent_onnx"],
                        "--probs-out", po]
                log(f"W1 {peer} ({mname} model) threads={t} reviews={cfg['w1_n']} ...")
                try:
                    r = run_worker(args, t)
                except Exception as e:  # noqa: BLE001
                    log(f"  FAILED: {e}")
                    rows.append({"peer": peer, "model": mname, "threads": t, "error": str(e)[-800:]})
                    continue
                r.update(peer=peer, model=mname, threads=t)
                log(f"  {r['rate']:.1f} reviews/s")
                rows.append(r)
                if mname == "random":
                    probs[(peer, t)] = np.load(po)
    agreement = []
    ref_key = next((k for k in probs if k[0] == "torch-book"), None) or next(iter(probs), None)
    if ref_key:
        ref = probs[ref_key]
        for k, v in probs.items():
            agreement.append({"peer": k[0], "threads": k[1], "reference": f"{ref_key[0]}",
                              "max_abs_diff": float(np.max(np.abs(v - ref))) if len(v) else 0.0,
                              "n": int(len(v))})
        for a in agreement:
            log(f"W1 agreement {a['peer']} t={a['threads']} vs {a['reference']}: "
                f"max |dp| = {a['max_abs_diff']:.3g}")
    save(cfg, "w1", {"rows": rows, "agreement": agreement, "n": cfg["w1_n"]})
