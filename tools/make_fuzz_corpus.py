#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzzers (stdlib only): Fuzz/corpus/{load,score,sample}.

load:   the small fixture models and one of each bad-file case of docs/bad-input.md
score:  the tokenizer fixture texts (HTML, emoticons, scripts, emoji, invalid UTF-8)
sample: sampling parameter blobs (the layout Fuzz/FuzzSample/main.swift reads) with primes
"""
import json, os, struct, hashlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "SwiftRNNTests", "Fixtures")
OUT = os.path.join(ROOT, "Fuzz", "corpus")


def put(kind, data):
    d = os.path.join(OUT, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def split(model):
    n = struct.unpack("<Q", model[:8])[0]
    return json.loads(model[8:8 + n]), model[8 + n:]


def join(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


models = ["charlm_small", "sentiment_lstm_uni", "sentiment_gru_bi", "sentiment_lstm_uni.f16",
          "sentiment_lstm_bi_concat", "classifier_gru_bi_concat_2layer",
          "charlm_jordan", "sentiment_gru_bi_ngram"]
for name in models:
    raw = open(os.path.join(FIX, "models", name + ".safetensors"), "rb").read()
    put("load", raw)
base = open(os.path.join(FIX, "models", "sentiment_lstm_uni.safetensors"), "rb").read()
header, data = split(base)
first = next(k for k in header if k != "__metadata__")


def variant(edit, data_edit=None):
    h = json.loads(json.dumps(header))
    edit(h)
    put("load", join(h, data_edit(data) if data_edit else data))


put("load", base[:len(base) // 2])                                   # truncated
put("load", struct.pack("<Q", 1 << 40) + base[8:])                   # header length beyond file
put("load", struct.pack("<Q", 9) + b"not json!")                     # non-JSON
put("load", base.replace(b'"format"', b'"kind"', 1))                 # duplicate key
variant(lambda h: h[first].__setitem__("data_offsets", [0, 4]))      # overlap / size
variant(lambda h: h[first].__setitem__("dtype", "F64"))              # unknown dtype
variant(lambda h: h[first].__setitem__("shape", [2**31 - 1] * 4))    # overflow
variant(lambda h: h["__metadata__"].__setitem__("num_layers", "1000000000000"))
variant(lambda h: h["__metadata__"].__setitem__("kind", "translator"))
variant(lambda h: h["__metadata__"].__setitem__("vocab", "[]"))
variant(lambda h: h.pop(first))                                      # missing tensor

for case in json.load(open(os.path.join(FIX, "tokenizer.json"))):
    put("score", case["text"].encode("utf-8"))
put("score", b"\xff\xfe invalid \xc3 utf-8 \xed\xa0\x80 surrogate")
put("score", b"nul\x00inside")

for size, scale, topk, topp, greedy, seed, n, cap, nullp, prime in [
    (32, 1.0, 0, 1.0, 0, 1, 50, 400, 0, "ab"), (32, 2.0, 3, 0.9, 0, 7, 100, 120, 0, "a b\n"),
    (32, 0.5, 0, 1.0, 1, 0, 20, 5, 0, "\u00e9"), (24, 1.0, 0, 1.0, 0, 3, 10, 60, 1, "c"),
    (32, float("nan"), 0, 1.0, 0, 1, 5, 50, 0, "a"), (32, 1.0, -2, 1.0, 0, 1, 5, 50, 0, "a"),
    (32, 1.0, 0, 1.0, 0, 1, 5, 50, 0, ""), (32, 1.0, 0, 1.0, 0, 1, 5, 50, 0, "x#"),
]:
    blob = struct.pack("<BfbfBQHHB", size, scale, topk, topp, greedy, seed, n, cap, nullp)
    put("sample", blob + prime.encode("utf-8"))
print("seed corpora written under", os.path.relpath(OUT, ROOT))
