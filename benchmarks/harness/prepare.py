"""Set-up: the data (aclImdb unpacked from DATA, the W4 subsets) and the models every peer
runs (seeded random weights of the book's shapes -> .pt, safetensors via swiftrnn.export, ONNX
graphs)."""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import sys
import tarfile
import warnings

from .common import REPO, book_text, build_vocab, log, read_imdb
from .peers import torch_models


def ensure_imdb(path, work, data):
    """The unpacked aclImdb folder: `path` (--imdb) if given, else WORK/data/aclImdb, unpacked
    there from DATA/aclImdb.tar.gz when missing."""
    if path and os.path.isdir(os.path.join(path, "test", "pos")):
        return path
    unpacked = os.path.join(work, "data", "aclImdb")
    if os.path.isdir(os.path.join(unpacked, "test", "pos")):
        return unpacked
    tar = os.path.join(data, "aclImdb.tar.gz")
    if not os.path.exists(tar):
        raise SystemExit(f"IMDb data not found at {path or unpacked} and no {tar} to unpack "
                         "(give --imdb DIR or --data DIR; run.sh: IMDB=DIR or DATA=DIR)")
    log(f"unpacking {tar} into {os.path.dirname(unpacked)} ...")
    os.makedirs(os.path.dirname(unpacked), exist_ok=True)
    with tarfile.open(tar) as tf:
        members = [m for m in tf.getmembers()
                   if m.name.startswith(("aclImdb/test/pos", "aclImdb/test/neg",
                                         "aclImdb/train/pos", "aclImdb/train/neg"))]
        tf.extractall(os.path.dirname(unpacked), members=members)
    return unpacked


def make_subset(imdb, work, n_reviews, seed=1):
    """A train/{pos,neg} folder of n_reviews symlinked training reviews (W4 quick/smoke)."""
    dst = os.path.join(work, f"imdb-subset-{n_reviews}")
    if os.path.isdir(dst):
        return dst
    files = [(lab, p) for lab in ("pos", "neg")
             for p in sorted(glob.glob(os.path.join(imdb, "train", lab, "*.txt")))]
    rng = random.Random(seed)
    pick = rng.sample(files, min(n_reviews, len(files)))
    tmp = dst + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for lab in ("pos", "neg"):
        os.makedirs(os.path.join(tmp, "train", lab))
    for lab, p in pick:
        os.symlink(p, os.path.join(tmp, "train", lab, os.path.basename(p)))
    os.rename(tmp, dst)
    return dst


def setup_models(cfg):
    """Seeded random book-shaped models -> .pt state dicts, safetensors (swiftrnn.export) and
    ONNX graphs. Returns a dict of paths and facts."""
    import torch
    sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
    from swiftrnn import export as sexport
    SentimentRNN, CharRNN = torch_models()
    work = cfg["work"]
    tag = "vall" if not cfg["vocab_reviews"] else f"v{cfg['vocab_reviews']}"
    paths = {
        "sent_pt": os.path.join(work, f"sentiment-{tag}.pt"),
        "sent_st": os.path.join(work, f"sentiment-{tag}.safetensors"),
        "sent_vocab": os.path.join(work, f"sentiment-{tag}.vocab.json"),
        "sent_onnx": os.path.join(work, f"sentiment-{tag}.onnx"),
        "char_pt": os.path.join(work, "charlm.pt"),
        "char_st": os.path.join(work, "charlm.safetensors"),
        "char_chars": os.path.join(work, "charlm.chars.json"),
        "char_onnx": os.path.join(work, "charlm-step.onnx"),
    }
    facts = {}
    if not os.path.exists(paths["sent_st"]):
        log(f"building the vocabulary from {cfg['vocab_reviews']} training reviews ...")
        train = read_imdb(cfg["imdb"], "train", limit=cfg["vocab_reviews"], seed=1)
        vocab = build_vocab(t for _, t in train)
        torch.manual_seed(1)
        m = SentimentRNN(len(vocab)).eval()
        torch.save(m.state_dict(), paths["sent_pt"])
        with open(paths["sent_vocab"], "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        sexport.export_sentiment(m.state_dict(), vocab, paths["sent_st"],
                                 description="benchmark: book shape, random weights (seed 1)")
    if not os.path.exists(paths["char_st"]):
        text = book_text(cfg["text"])
        chars = sorted(set(text))
        torch.manual_seed(1)
        m = CharRNN(len(chars)).eval()
        torch.save(m.state_dict(), paths["char_pt"])
        with open(paths["char_chars"], "w", encoding="utf-8") as f:
            json.dump(chars, f, ensure_ascii=False)
        sexport.export_charlm(m.state_dict(), chars, paths["char_st"],
                              description="benchmark: book shape, random weights (seed 1)")
    with open(paths["sent_vocab"], encoding="utf-8") as f:
        facts["sentiment_vocab_size"] = len(json.load(f))
    with open(paths["char_chars"], encoding="utf-8") as f:
        facts["charlm_vocab_size"] = len(json.load(f))
    facts["onnx"] = export_onnx(paths)
    for k in ("sent_st", "char_st"):
        facts[k + "_bytes"] = os.path.getsize(paths[k])
    return paths, facts


def _onnx_export(module, args, path, input_names, output_names, dynamic_axes):
    """torch.onnx.export with the TorchScript exporter (one fused ONNX LSTM op); falls back to
    the dynamo exporter. Returns which one worked."""
    import torch
    errors = []
    for dynamo in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kw = dict(input_names=input_names, output_names=output_names)
                if dynamo:
                    from torch.export import Dim
                    ds = {}
                    for name, axes in dynamic_axes.items():
                        if name in input_names:
                            ds[name] = {ax: Dim(f"{name}_{ax}") for ax in axes} or None
                    kw["dynamic_shapes"] = ds if ds else None
                    torch.onnx.export(module, args, path, dynamo=True, **kw)
                else:
                    torch.onnx.export(module, args, path, dynamo=False,
                                      dynamic_axes=dynamic_axes, opset_version=17, **kw)
            return "dynamo" if dynamo else "torchscript"
        except Exception as e:  # noqa: BLE001
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(e).__name__}: {e}")
    raise RuntimeError("ONNX export failed: " + " | ".join(errors)[:2000])


def export_onnx(paths):
    """The ONNX graphs. Sentiment: a padded-batch graph (text [B,T] int64, lengths [B] int64)
    that runs the LSTM over the right-padded batch and gathers the output at position
    length-1 -- for a unidirectional LSTM that is exactly hidden[-1] of the packed sequence
    (pack_padded_sequence itself does not export). Charlm: one step, (x [1], h, c) -> (logits,
    h, c), driven from Python."""
    try:
        import torch
        import torch.nn as nn
    except ImportError:
        return {"error": "torch missing"}
    SentimentRNN, CharRNN = torch_models()
    info = {}
    if not os.path.exists(paths["sent_onnx"]):
        sd = torch.load(paths["sent_pt"])
        m = SentimentRNN(sd["embedding.weight"].shape[0])
        m.load_state_dict(sd)
        m.eval()

        class Padded(nn.Module):
            def __init__(self, b):
                super().__init__()
                self.b = b

            def forward(self, text, lengths):
                out, _ = self.b.rnn(self.b.embedding(text))
                idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.size(2))
                last = out.gather(1, idx).squeeze(1)
                return self.b.sigmoid(self.b.fc2(self.b.relu(self.b.fc1(last))))

        x = torch.randint(1, 50, (3, 9))
        ln = torch.tensor([9, 4, 1])
        info["sentiment_exporter"] = _onnx_export(
            Padded(m).eval(), (x, ln), paths["sent_onnx"], ["text", "lengths"], ["prob"],
            {"text": {0: "B", 1: "T"}, "lengths": {0: "B"}, "prob": {0: "B"}})
        # Does the book's own forward (pack_padded_sequence) export? Recorded, not used.
        # (The exporters dump whole graphs to fd 2 when it fails: silenced.)
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as dn:
                os.dup2(dn.fileno(), 2)
                info["book_forward_exporter"] = _onnx_export(
                    m, (x, ln), paths["sent_onnx"] + ".book.onnx", ["text", "lengths"], ["prob"],
                    {"text": {0: "B", 1: "T"}, "lengths": {0: "B"}, "prob": {0: "B"}})
        except Exception as e:  # noqa: BLE001
            info["book_forward_exporter"] = "failed: " + " ".join(str(e).split())[:300]
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        with open(paths["sent_onnx"] + ".json", "w") as f:
            json.dump(info, f)
    if not os.path.exists(paths["char_onnx"]):
        sd = torch.load(paths["char_pt"])
        m = CharRNN(sd["embedding.weight"].shape[0])
        m.load_state_dict(sd)
        m.eval()
        h, c = m.init_hidden(1)
        info2 = {"charlm_exporter": _onnx_export(
            m, (torch.tensor([3]), h, c), paths["char_onnx"], ["x", "h", "c"],
            ["logits", "h_out", "c_out"], {})}
        with open(paths["char_onnx"] + ".json", "w") as f:
            json.dump(info2, f)
    for p in (paths["sent_onnx"] + ".json", paths["char_onnx"] + ".json"):
        if os.path.exists(p):
            with open(p) as f:
                info.update(json.load(f))
    return info
