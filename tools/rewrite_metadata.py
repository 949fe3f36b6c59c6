#!/usr/bin/env python3
"""Rewrites entries of a safetensors file's ``__metadata__`` and nothing else.

    python3 tools/rewrite_metadata.py MODEL --set KEY=VALUE [--set KEY=VALUE ...] [--out PATH]

Only the JSON header changes: the data section (every tensor byte) is copied as it is, and
tensor entries keep their dtype, shape and data_offsets (offsets are relative to the data
section, so a header of another length moves nothing). When the key already exists, only its
string literal is replaced in the header text, so every other header byte stays as it was;
otherwise the header is re-serialised. The header is padded with spaces to a multiple of 8 bytes,
as SafeTensorsWriter does. Without --out the file is replaced atomically (write + rename).

Afterwards the result is checked against the original: the same data section byte for byte, the
same tensor entries, the same metadata but for the keys set. With --verify (needs the swiftrnn
bindings and libswiftrnn.so, e.g. SWIFTRNN_LIBRARY=out/lib/libswiftrnn.so
PYTHONPATH=bindings/python), both files are also loaded by the library and must score the same
reviews / sample the same text, bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys


class Obj(list):
    """A JSON object as its (key, value) pairs, in file order."""


def split(blob: bytes, what: str):
    """(header text, header as ordered pairs, data section) of a safetensors file."""
    if len(blob) < 9 or blob[8:9] != b"{":
        raise SystemExit(f"{what}: not a safetensors file")
    n = struct.unpack("<Q", blob[:8])[0]
    if 8 + n > len(blob):
        raise SystemExit(f"{what}: header length {n} runs past the end of the file")
    text = blob[8:8 + n].decode("utf-8")

    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise SystemExit(f"{what}: duplicate keys in the header")
        return Obj(items)

    header = json.loads(text, object_pairs_hook=pairs)
    return text, header, blob[8 + n:]


def metadata_of(header) -> list:
    for k, v in header:
        if k == "__metadata__":
            return list(v)
    return []


def tensors_of(header) -> list:
    return [(k, v) for k, v in header if k != "__metadata__"]


def rewrite(blob: bytes, updates: dict, what: str) -> bytes:
    text, header, data = split(blob, what)
    meta = dict(metadata_of(header))
    new_text = text.rstrip(" ")
    for key, value in updates.items():
        if key in meta:
            # The existing literal, as a JSON writer may have spelled it (escaped or not).
            old_literals = {json.dumps(key, ensure_ascii=e) + ":" + json.dumps(meta[key], ensure_ascii=e)
                            for e in (False, True)}
            found = [lit for lit in old_literals if new_text.count(lit) == 1]
            if len(found) == 1:
                new_text = new_text.replace(found[0], json.dumps(key, ensure_ascii=False) + ":" +
                                            json.dumps(value, ensure_ascii=False))
                continue
        # Otherwise re-serialise the header with the key set (in place, or appended).
        _, header_now, _ = split(encode(new_text, data), what)
        m = Obj(metadata_of(header_now))
        keys = [k for k, _ in m]
        if key in keys:
            m[keys.index(key)] = (key, value)
        else:
            m.append((key, value))
        new_text = dump(Obj([("__metadata__", m)] + tensors_of(header_now)))
    return encode(new_text, data)


def dump(v) -> str:
    if isinstance(v, Obj):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dump(x) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dump(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def encode(header_text: str, data: bytes) -> bytes:
    h = header_text.rstrip(" ").encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def check(old: bytes, new: bytes, updates: dict) -> None:
    _, h_old, d_old = split(old, "original")
    _, h_new, d_new = split(new, "rewritten")
    assert d_old == d_new, "the data section changed"
    assert tensors_of(h_old) == tensors_of(h_new), "tensor entries changed"
    m_old, m_new = dict(metadata_of(h_old)), dict(metadata_of(h_new))
    for k, v in updates.items():
        assert m_new.get(k) == v, f"{k} was not set"
    assert {k: v for k, v in m_old.items() if k not in updates} == \
           {k: v for k, v in m_new.items() if k not in updates}, "other metadata changed"
    assert [k for k in m_old if k not in updates] == [k for k in m_new if k not in updates], \
        "metadata order changed"


REVIEWS = [
    "A wonderful, moving film. The acting is superb and the story stays with you.",
    "Terrible. Boring, predictable and far too long; I walked out after an hour.",
    "It was fine, I guess. Some good scenes, some dull ones <br /><br />Not bad :)",
    "", "?!", "The plot was a mess but the music was lovely and the lead was great.",
]


def verify_with_library(old: bytes, new: bytes) -> str:
    import swiftrnn
    a, b = swiftrnn.load_bytes(old), swiftrnn.load_bytes(new)
    try:
        assert a.kind == b.kind and a.info == b.info, "the library describes them differently"
        if a.kind == "sentiment":
            pa = [struct.pack("<f", a.score(r)) for r in REVIEWS]
            pb = [struct.pack("<f", b.score(r)) for r in REVIEWS]
            assert pa == pb, "scores differ"
            ba, bb = a.score_batch(REVIEWS, threads=1), b.score_batch(REVIEWS, threads=1)
            assert [struct.pack("<f", x) for x in ba] == [struct.pack("<f", x) for x in bb], "batch scores differ"
            return f"{len(REVIEWS)} reviews scored bit-identically"
        texts = []
        for seed, scale in ((1, 2.0), (7, 1.0), (3, 0.5)):
            sa = a.sample("The island", length=400, scale_factor=scale, seed=seed)
            sb = b.sample("The island", length=400, scale_factor=scale, seed=seed)
            assert sa == sb, f"samples differ (seed {seed})"
            texts.append(sa)
        return f"{len(texts)} samples of 400 characters identical"
    finally:
        a.close()
        b.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", required=True)
    ap.add_argument("--out", help="write here instead of replacing MODEL")
    ap.add_argument("--verify", action="store_true",
                    help="also load both with libswiftrnn: same scores / same samples, bit for bit")
    args = ap.parse_args(argv)
    updates = {}
    for kv in args.set:
        if "=" not in kv:
            ap.error(f"--set {kv!r}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        updates[k] = v
    with open(args.model, "rb") as f:
        old = f.read()
    new = rewrite(old, updates, args.model)
    check(old, new, updates)
    note = verify_with_library(old, new) if args.verify else ""
    out = args.out or args.model
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(new)
    os.replace(tmp, out)
    print(f"{out}: header {len(old) - len(split(old, 'x')[2]) - 8} -> {len(new) - len(split(new, 'x')[2]) - 8} bytes, "
          f"data section identical ({len(split(new, 'x')[2])} bytes)" + (f"; {note}" if note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
