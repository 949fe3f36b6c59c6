"""W2 generation: characters after PRIME, batch 1 (chars/s)."""

from __future__ import annotations

import json
import statistics

from .common import PRIME, _timed_reps, log, save
from .peers import (OURS, PRECISION_ONLY, _ort_session, _set_torch_threads, _swiftrnn, run_worker,
                    torch_int8, torch_models)


def w2_worker(a):
    """Generate a.n characters after 'The island', batch 1."""
    import numpy as np
    n, t = a.n, a.threads
    if a.peer in OURS:
        sr = _swiftrnn()
        m = sr.load(a.model)
        m.sample(PRIME, length=min(50, n), seed=2, threads=t)
        times, out = _timed_reps(lambda: m.sample(PRIME, length=n, seed=1, threads=t), 3, 3.0)
        text = out
    else:
        with open(a.chars, encoding="utf-8") as f:
            char_array = json.load(f)
        char2int = {ch: i for i, ch in enumerate(char_array)}
        if a.peer in ("torch-book", "torch-best", "torch-int8"):
            torch = _set_torch_threads(t)
            from torch.distributions.categorical import Categorical
            _, CharRNN = torch_models()
            sd = torch.load(a.model_pt)
            model = CharRNN(sd["embedding.weight"].shape[0])
            model.load_state_dict(sd)
            torch.manual_seed(1)
            if a.peer == "torch-int8":
                # issue 13's measurement: the book's sample() loop (below) on the dynamically
                # quantized model, under inference_mode
                model = torch_int8(model.eval())
            if a.peer in ("torch-book", "torch-int8"):
                def sample(model, starting_str, len_generated_text=500, scale_factor=1.0):
                    # the book's sample(), verbatim (no torch.no_grad(), as in the book)
                    encoded_input = torch.tensor([char2int[s] for s in starting_str])
                    encoded_input = torch.reshape(encoded_input, (1, -1))
                    generated_str = starting_str
                    model.eval()
                    hidden, cell = model.init_hidden(1)
                    for c in range(len(starting_str) - 1):
                        _, hidden, cell = model(encoded_input[:, c].view(1), hidden, cell)
                    last_char = encoded_input[:, -1]
                    for i in range(len_generated_text):
                        logits, hidden, cell = model(last_char.view(1), hidden, cell)
                        logits = torch.squeeze(logits, 0)
                        scaled_logits = logits * scale_factor
                        m = Categorical(logits=scaled_logits)
                        last_char = m.sample()
                        generated_str += str(char_array[last_char])
                    return generated_str
            else:
                import torch.nn.functional as F
                cellm = torch.nn.LSTMCell(model.rnn.input_size, model.rnn.hidden_size)
                with torch.no_grad():
                    cellm.weight_ih.copy_(model.rnn.weight_ih_l0)
                    cellm.weight_hh.copy_(model.rnn.weight_hh_l0)
                    cellm.bias_ih.copy_(model.rnn.bias_ih_l0)
                    cellm.bias_hh.copy_(model.rnn.bias_hh_l0)
                emb, fcw, fcb = model.embedding.weight, model.fc.weight, model.fc.bias

                def sample(model, starting_str, len_generated_text=500, scale_factor=1.0):
                    with torch.inference_mode():
                        # fold the embedding into the input projection: one row per character
                        xproj = F.linear(emb, cellm.weight_ih, cellm.bias_ih)
                        h = torch.zeros(1, cellm.hidden_size)
                        c = torch.zeros(1, cellm.hidden_size)
                        Whh, bhh = cellm.weight_hh, cellm.bias_hh

                        def step(ci, h, c):
                            g = xproj[ci] + torch.addmm(bhh, h, Whh.t())
                            i, f, gg, o = g.chunk(4, 1)
                            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                            h = torch.sigmoid(o) * torch.tanh(c)
                            return h, c
                        ids = [char2int[s] for s in starting_str]
                        for ci in ids[:-1]:
                            h, c = step(ci, h, c)
                        last, out = ids[-1], []
                        for _ in range(len_generated_text):
                            h, c = step(last, h, c)
                            logits = torch.addmm(fcb, h, fcw.t())[0] * scale_factor
                            last = int(torch.multinomial(torch.softmax(logits, 0), 1))
                            out.append(char_array[last])
                        return starting_str + "".join(out)
            if a.peer == "torch-int8":
                book_sample = sample

                def sample(*args):
                    with torch.inference_mode():
                        return book_sample(*args)
            sample(model, PRIME, min(50, n))
            times, text = _timed_reps(lambda: sample(model, PRIME, n), 1, 0.0, 1)
        elif a.peer == "onnxruntime":
            sess = _ort_session(a.model_onnx, t)
            rng = np.random.default_rng(1)
            H = 512
            for inp in sess.get_inputs():
                if inp.name == "h":
                    H = inp.shape[-1]

            def sample(n):
                h = np.zeros((1, 1, H), dtype=np.float32)
                c = np.zeros((1, 1, H), dtype=np.float32)
                ids = [char2int[s] for s in PRIME]
                x = np.zeros(1, dtype=np.int64)
                for ci in ids[:-1]:
                    x[0] = ci
                    _, h, c = sess.run(None, {"x": x, "h": h, "c": c})
                last, out = ids[-1], []
                for _ in range(n):
                    x[0] = last
                    logits, h, c = sess.run(None, {"x": x, "h": h, "c": c})
                    z = logits[0].astype(np.float64)
                    p = np.exp(z - z.max())
                    cdf = np.cumsum(p)
                    last = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
                    last = min(last, len(char_array) - 1)
                    out.append(char_array[last])
                return PRIME + "".join(out)
            sample(min(50, n))
            times, text = _timed_reps(lambda: sample(n), 1, 0.0, 1)
        else:
            raise SystemExit(f"unknown peer {a.peer}")
    if a.text_out:
        with open(a.text_out, "w", encoding="utf-8") as f:
            f.write(text)
    sec = statistics.median(times)
    return {"chars": n, "seconds": sec, "all_seconds": times, "rate": n / sec,
            "unit": "chars/s", "sample": text[:80]}


def bench_w2(cfg, paths, peers):
    rows = []
    for t in cfg["threads"]:
        for peer in [p for p in peers if p not in PRECISION_ONLY]:
            args = ["w2", "--peer", peer, "--n", cfg["w2_n"], "--model", paths["char_st"],
                    "--model-pt", paths["char_pt"], "--chars", paths["char_chars"],
                    "--model-onnx", paths["char_onnx"]]
            log(f"W2 {peer} threads={t} chars={cfg['w2_n']} ...")
            try:
                r = run_worker(args, t)
            except Exception as e:  # noqa: BLE001
                log(f"  FAILED: {e}")
                rows.append({"peer": peer, "threads": t, "error": str(e)[-800:]})
                continue
            r.update(peer=peer, threads=t)
            log(f"  {r['rate']:.1f} chars/s")
            rows.append(r)
    save(cfg, "w2", {"rows": rows, "n": cfg["w2_n"]})
