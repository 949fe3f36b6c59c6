"""Export the book's PyTorch RNN models to libswiftrnn model files (docs/model-format.md).

The two models of ch. 15 of Raschka et al., "Machine Learning with PyTorch and Scikit-Learn":

* ``kind="sentiment"``: ``embedding`` -> ``rnn`` (LSTM/GRU/RNN, batch-first, optionally
  bidirectional, any number of layers) -> Linear layers (``fc1``, ``fc2``, ReLU between) -> sigmoid.
* ``kind="charlm"``: ``embedding`` -> ``rnn`` -> one Linear ``fc`` with ``vocab_size`` outputs.
* ``kind="classifier"``: the sentiment layers with one output per label (``--labels``), a
  softmax over them or (``--multi-label``) a sigmoid each.

``bias=False`` layers (no bias tensors) export as they are (the loader reads zeros),
``dropout`` is a training-only setting that the state_dict does not carry, and an LSTM's
``proj_size`` (``rnn.weight_hr_l*``) exports for sentiment and classifier models.

The architecture is inferred from the ``state_dict``'s names and shapes, so a
``torch.save(model.state_dict(), path)`` file exports as is::

    python -m swiftrnn.export --kind sentiment --state-dict model.pt --vocab vocab.json \\
        --out model.safetensors [--dtype F16] [--nonlinearity relu]
    python -m swiftrnn.export --kind charlm --state-dict model.pt --chars chars.json \\
        --out model.safetensors
    python -m swiftrnn.export --kind classifier --state-dict model.pt --vocab vocab.json \\
        --labels labels.json [--multi-label] --out model.safetensors

This module needs only the standard library; reading a ``.pt`` file imports torch (lazily).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import struct
import os
import sys
from array import array
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "write_safetensors",
    "export_sentiment",
    "export_charlm",
    "export_classifier",
    "infer_architecture",
    "load_state_dict",
    "main",
]

FORMAT_VERSION = 1          # int8 matrices need 2, concat pooling 3 (docs/model-format.md)

# dtype -> (bytes per element)
_DTYPE_SIZE = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I8": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}
_WEIGHT_DTYPES = ("F32", "F16", "BF16", "I8")

_GATES_TO_CELL = {4: "lstm", 3: "gru", 1: "rnn"}

_MAX_VOCAB = 16_777_216
_MAX_DIM = 65_536
_MAX_LAYERS = 64


# ---------------------------------------------------------------------------------------------
# safetensors writer
# ---------------------------------------------------------------------------------------------

def write_safetensors(path, tensors: Mapping[str, Tuple[str, Sequence[int], bytes]],
                      metadata: Optional[Mapping[str, str]] = None) -> int:
    """Write a safetensors file.

    ``tensors`` is an ordered mapping ``name -> (dtype, shape, raw little-endian bytes)``. The
    header lists ``__metadata__`` first, then the tensors in the order given; the data offsets
    are contiguous in that order. The header JSON is compact and padded with spaces so that the
    data section starts at a multiple of 8. Returns the number of bytes written.

    Raises ValueError for a bad dtype, a byte count that does not match the shape, a tensor
    whose offset would not be a multiple of its element size (put larger dtypes first), or
    metadata that is not string -> string.
    """
    header: Dict[str, Any] = OrderedDict()
    if metadata:
        md = OrderedDict()
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"metadata must map str to str, got {k!r}: {v!r}")
            md[k] = v
        header["__metadata__"] = md
    blobs: List[bytes] = []
    offset = 0
    for name, entry in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"bad tensor name {name!r}")
        try:
            dtype, shape, data = entry
        except (TypeError, ValueError):
            raise ValueError(f"tensor {name!r}: expected (dtype, shape, bytes)") from None
        if dtype not in _DTYPE_SIZE:
            raise ValueError(f"tensor {name!r}: unknown dtype {dtype!r}")
        shape = [int(d) for d in shape]
        if any(d < 0 for d in shape):
            raise ValueError(f"tensor {name!r}: negative dimension in shape {shape}")
        size = _DTYPE_SIZE[dtype]
        data = bytes(data)
        expected = math.prod(shape) * size
        if len(data) != expected:
            raise ValueError(f"tensor {name!r}: {len(data)} bytes of data, shape {shape} x "
                             f"{dtype} needs {expected}")
        if offset % size:
            raise ValueError(f"tensor {name!r} ({dtype}) would start at data offset {offset}, "
                             f"not a multiple of {size}: list tensors with larger dtypes first")
        header[name] = OrderedDict([("dtype", dtype), ("shape", shape),
                                    ("data_offsets", [offset, offset + len(data)])])
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-(8 + len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return 8 + len(h) + offset


# ---------------------------------------------------------------------------------------------
# tensors of any origin -> (shape, flat list of floats)
# ---------------------------------------------------------------------------------------------

def _flatten(values) -> List[float]:
    out: List[float] = []
    stack = [iter(values)]
    while stack:
        try:
            v = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if isinstance(v, (list, tuple)):
            stack.append(iter(v))
        else:
            out.append(float(v))
    return out


def _as_shape_values(name: str, value) -> Tuple[List[int], List[float]]:
    """A torch tensor, a numpy array or a (shape, values) pair -> (shape, flat float list)."""
    if hasattr(value, "detach") and hasattr(value, "shape"):          # torch.Tensor
        t = value.detach().cpu()
        shape = [int(d) for d in t.shape]
        values = t.double().reshape(-1).tolist()
    elif hasattr(value, "shape") and hasattr(value, "ravel"):         # numpy.ndarray
        shape = [int(d) for d in value.shape]
        values = value.astype("float64").ravel().tolist()
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        shape = [int(d) for d in value[0]]
        values = _flatten(value[1])
    else:
        raise ValueError(f"tensor {name!r}: expected a torch tensor, a numpy array or a "
                         f"(shape, values) pair, got {type(value).__name__}")
    if len(values) != math.prod(shape):
        raise ValueError(f"tensor {name!r}: {len(values)} values for shape {shape}")
    return shape, values


def _encode(name: str, values: List[float], dtype: str) -> bytes:
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise ValueError(f"tensor {name!r}: non-finite value {v} at flat index {i} "
                             "(libswiftrnn refuses non-finite weights)")
    n = len(values)
    try:
        f32 = struct.pack(f"<{n}f", *values)
    except OverflowError:
        raise ValueError(f"tensor {name!r}: a value is out of the F32 range") from None
    if dtype == "F32":
        return f32
    if dtype == "F16":
        try:
            # Round through F32 first so that an F16 file holds what the F32 one would,
            # rounded once more (struct 'e' rounds to nearest even).
            vals32 = struct.unpack(f"<{n}f", f32)
            return struct.pack(f"<{n}e", *vals32)
        except OverflowError:
            raise ValueError(f"tensor {name!r}: a value is out of the F16 range "
                             "(|x| > 65504); export as F32 or BF16") from None
    if dtype == "BF16":
        bits = array("I")
        bits.frombytes(f32)
        if sys.byteorder != "little":
            bits.byteswap()
        out = array("H", bytes(2 * n))
        for i, b in enumerate(bits):
            r = (b + 0x7FFF + ((b >> 16) & 1)) >> 16          # round to nearest, ties to even
            if (r & 0x7F80) == 0x7F80:
                raise ValueError(f"tensor {name!r}: value {values[i]} overflows BF16")
            out[i] = r
        if sys.byteorder != "little":
            out.byteswap()
        return out.tobytes()
    raise ValueError(f"unsupported weight dtype {dtype!r}: use one of {', '.join(_WEIGHT_DTYPES)}")


def _f32(x: float) -> float:
    """x rounded to binary32 (a binary32 operation done in double and rounded once gives the
    binary32 result: the library's float arithmetic, bit for bit)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def quantize_int8(name: str, shape: List[int], values: List[float]) -> Tuple[bytes, bytes, float]:
    """Per-row symmetric int8 of a [rows, cols] matrix, as libswiftrnn's `convert --dtype I8`:
    scale[r] = max|w[r, :]| / 127 and q = round-half-even(w / scale) in binary32. Returns the
    int8 bytes, the F32 scale bytes and the largest |w - q * scale|."""
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise ValueError(f"tensor {name!r}: non-finite value {v} at flat index {i} "
                             "(libswiftrnn refuses non-finite weights)")
    rows, cols = shape
    try:
        w = struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values))
    except OverflowError:
        raise ValueError(f"tensor {name!r}: a value is out of the F32 range") from None
    q = array("b", bytes(rows * cols))
    scales = array("f", bytes(4 * rows))
    worst = 0.0
    for r in range(rows):
        row = w[r * cols:(r + 1) * cols]
        s = _f32(max(abs(v) for v in row) / 127.0)
        scales[r] = s
        for k, v in enumerate(row):
            qi = 0 if s == 0 else max(-127, min(127, round(_f32(v / s))))
            q[r * cols + k] = qi
            worst = max(worst, abs(v - _f32(qi * s)))
    if sys.byteorder != "little":
        scales.byteswap()
    return q.tobytes(), scales.tobytes(), worst


# ---------------------------------------------------------------------------------------------
# architecture inference
# ---------------------------------------------------------------------------------------------

_RNN_RE = re.compile(r"^rnn\.(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr"
                     r"|weight_ho|bias_ho|weight_hy|bias_hy)_l(\d+)(_reverse)?$")


def _normalize_state_dict(state_dict: Mapping[str, Any]) -> "OrderedDict[str, Any]":
    if not isinstance(state_dict, Mapping):
        raise ValueError(f"state_dict must be a mapping of name -> tensor, "
                         f"got {type(state_dict).__name__}")
    keys = list(state_dict.keys())
    # nn.DataParallel / DistributedDataParallel save every name under "module.".
    if keys and all(isinstance(k, str) and k.startswith("module.") for k in keys):
        return OrderedDict((k[len("module."):], state_dict[k]) for k in keys)
    return OrderedDict((k, state_dict[k]) for k in keys)


def infer_architecture(state_dict: Mapping[str, Any], nonlinearity: Optional[str] = None,
                       pooling: Optional[str] = None) -> Dict[str, Any]:
    """Infer the model's configuration from a state_dict's names and shapes.

    Returns a dict with ``cell`` (lstm, gru, rnn_tanh, rnn_relu), ``vocab_size``,
    ``embedding_dim``, ``hidden_size``, ``num_layers``, ``bidirectional`` (bool), ``head``
    (list of Linear prefixes in order) and ``head_shapes`` (list of (out, in)). Raises
    ValueError when the state_dict is not one of the book's models.

    ``nonlinearity`` ("tanh" or "relu") picks between rnn_tanh and rnn_relu for a plain RNN,
    which the weights cannot tell apart; None means tanh.

    ``pooling`` ("last" or "concat") is what the head reads: the final states (``D x S``
    features), or concat pooling (final states, max and mean of the outputs: ``3 x D x S``,
    docs/model-format.md). None infers it from the first Linear layer's in_features. The
    result's ``pooling`` says which. A hashed n-gram term (``ngram.weight``, ``ngram.idf``) is
    not part of the architecture: it is left out here (the export functions take it).
    """
    if pooling not in (None, "last", "concat"):
        raise ValueError(f"pooling must be 'last' or 'concat', got {pooling!r}")
    sd = _normalize_state_dict(state_dict)
    for n in ("ngram.weight", "ngram.idf"):
        sd.pop(n, None)
    shapes: Dict[str, List[int]] = {}
    for name, value in sd.items():
        if hasattr(value, "shape"):
            shapes[name] = [int(d) for d in value.shape]
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            shapes[name] = [int(d) for d in value[0]]
        else:
            raise ValueError(f"tensor {name!r}: expected a torch tensor, a numpy array or a "
                             f"(shape, values) pair, got {type(value).__name__}")

    if "embedding.weight" not in shapes:
        raise ValueError("state_dict has no 'embedding.weight' (is this one of the book's "
                         f"models? names: {', '.join(list(shapes)[:12])})")
    emb = shapes["embedding.weight"]
    if len(emb) != 2:
        raise ValueError(f"embedding.weight must be 2-D, has shape {emb}")
    vocab_size, embedding_dim = emb
    # tools/torch_reference.JordanRNN (output recurrence, docs/jordan.md): weight_ho [H, O]
    # multiplies the previous output, weight_hy [O, H] / bias_hy [O] make the output.
    jordan = "rnn.weight_ho_l0" in shapes
    if jordan:
        who, why = shapes["rnn.weight_ho_l0"], shapes.get("rnn.weight_hy_l0")
        if "rnn.weight_hh_l0" in shapes:
            raise ValueError("state_dict has both rnn.weight_hh_l0 and rnn.weight_ho_l0 "
                             "(a JordanRNN has no weight_hh)")
        if len(who) != 2 or why is None or why != [who[1], who[0]]:
            raise ValueError(f"rnn.weight_ho_l0 {who} needs rnn.weight_hy_l0 of shape "
                             f"[output_size, hidden_size] = {[who[1], who[0]] if len(who) == 2 else '?'}, "
                             f"found {why}")
        shapes["rnn.weight_hh_l0"] = who        # the checks below read it as the state weight
    if "rnn.weight_ih_l0" not in shapes or "rnn.weight_hh_l0" not in shapes:
        raise ValueError("state_dict has no 'rnn.weight_ih_l0'/'rnn.weight_hh_l0': the "
                         "recurrent layer must be an attribute named 'rnn' (nn.LSTM, nn.GRU "
                         "or nn.RNN)")
    whh = shapes["rnn.weight_hh_l0"]
    wih = shapes["rnn.weight_ih_l0"]
    if len(whh) != 2 or len(wih) != 2:
        raise ValueError(f"rnn.weight_ih_l0 {wih} and rnn.weight_hh_l0 {whh} must be 2-D")
    hidden = whh[0] if jordan else whh[1]
    proj = 0
    whr = shapes.get("rnn.weight_hr_l0")
    if whr is not None:                   # nn.LSTM(proj_size=P): weight_hr [P, H], W_hh [4H, P]
        if len(whr) != 2 or whr[0] != whh[1] or not 0 < whr[0] < whr[1]:
            raise ValueError(f"rnn.weight_hr_l0 {whr} is not an LSTM projection of "
                             f"rnn.weight_hh_l0 {whh} (expected [proj_size, hidden_size] with "
                             "proj_size < hidden_size)")
        proj, hidden = whr[0], whr[1]
    if hidden <= 0 or wih[0] % hidden:
        raise ValueError(f"rnn.weight_ih_l0 has {wih[0]} rows, not a multiple of hidden size "
                         f"{hidden} (from rnn.weight_hh_l0)")
    gates = wih[0] // hidden
    if gates not in _GATES_TO_CELL:
        raise ValueError(f"rnn.weight_ih_l0 has {wih[0]} rows = {gates} x hidden {hidden}: "
                         "expected 4 (LSTM), 3 (GRU) or 1 (RNN)")
    cell = "jordan" if jordan else _GATES_TO_CELL[gates]
    if jordan and gates != 1:
        raise ValueError(f"rnn.weight_ih_l0 has {wih[0]} rows; a JordanRNN's has hidden_size "
                         f"= {hidden}")
    if jordan and nonlinearity is not None:
        raise ValueError("nonlinearity does not apply to a JordanRNN (its hidden layer is tanh)")
    if nonlinearity not in (None, "tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    if proj and cell != "lstm":
        raise ValueError("rnn.weight_hr_l0 (proj_size) belongs to an LSTM only")
    if cell == "rnn":
        cell = "rnn_relu" if nonlinearity == "relu" else "rnn_tanh"
    elif nonlinearity is not None:
        raise ValueError(f"nonlinearity={nonlinearity!r} only applies to a plain RNN; this "
                         f"state_dict is a{'n' if cell == 'lstm' else ''} {cell.upper()}")

    if jordan:
        del shapes["rnn.weight_hh_l0"]
    layers = set()
    bidirectional = "rnn.weight_ih_l0_reverse" in shapes
    for name in shapes:
        if name.startswith("rnn."):
            m = _RNN_RE.match(name)
            if not m:
                raise ValueError(f"unexpected recurrent tensor {name!r}")
            layers.add(int(m.group(2)))
    num_layers = len([n for n in shapes if re.fullmatch(r"rnn\.weight_ih_l\d+", n)])
    if sorted(layers) != list(range(num_layers)):
        raise ValueError(f"recurrent layers must be numbered 0..{num_layers - 1}, found "
                         f"{sorted(layers)}")
    D = 2 if bidirectional else 1
    G = gates
    # bias=False drops every bias of the module; a state_dict with some but not all is truncated.
    rnn_biases = [n for n in shapes if n.startswith("rnn.bias_")]
    has_bias = bool(rnn_biases)
    S = proj or hidden                  # the width of h (and of the next layer's input)
    if jordan:
        S = shapes["rnn.weight_ho_l0"][1]     # the output, which recurs and feeds the next layer
        if bidirectional:
            raise ValueError("a JordanRNN is unidirectional (no _reverse tensors)")
    for k in range(num_layers):
        in_k = embedding_dim if k == 0 else D * S
        for sfx in (["", "_reverse"] if bidirectional else [""]):
            if jordan:
                want = {
                    f"rnn.weight_ih_l{k}{sfx}": [hidden, in_k],
                    f"rnn.weight_ho_l{k}{sfx}": [hidden, S],
                    f"rnn.bias_ih_l{k}{sfx}": [hidden],
                    f"rnn.bias_ho_l{k}{sfx}": [hidden],
                    f"rnn.weight_hy_l{k}{sfx}": [S, hidden],
                    f"rnn.bias_hy_l{k}{sfx}": [S],
                }
            else:
                want = {
                    f"rnn.weight_ih_l{k}{sfx}": [G * hidden, in_k],
                    f"rnn.weight_hh_l{k}{sfx}": [G * hidden, S],
                    f"rnn.bias_ih_l{k}{sfx}": [G * hidden],
                    f"rnn.bias_hh_l{k}{sfx}": [G * hidden],
                }
            if proj:
                want[f"rnn.weight_hr_l{k}{sfx}"] = [proj, hidden]
            for n, s in want.items():
                if n not in shapes:
                    if n.startswith("rnn.bias_") and not has_bias:
                        continue                  # bias=False: the loader reads zeros
                    raise ValueError(f"missing {n!r} (expected shape {s}"
                                     + ("; a recurrent module has all its biases or, with "
                                        "bias=False, none" if n.startswith("rnn.bias_") else "")
                                     + ")")
                if shapes[n] != s:
                    raise ValueError(f"{n} has shape {shapes[n]}, expected {s}"
                                     + (" (input size must equal embedding_dim)"
                                        if k == 0 and n.startswith("rnn.weight_ih") else ""))
    if not bidirectional and any(n.endswith("_reverse") for n in shapes if n.startswith("rnn.")):
        raise ValueError("found '_reverse' recurrent tensors but no rnn.weight_ih_l0_reverse")

    # Head: every other tensor must be part of a Linear layer (prefix.weight + prefix.bias).
    prefixes: "OrderedDict[str, Tuple[int, int]]" = OrderedDict()
    for name, s in shapes.items():
        if name == "embedding.weight" or name.startswith("rnn."):
            continue
        if name.endswith(".weight"):
            p = name[: -len(".weight")]
        elif name.endswith(".bias"):
            p = name[: -len(".bias")]
        else:
            raise ValueError(f"unexpected tensor {name!r}: only embedding, rnn and Linear "
                             "layers (name.weight, name.bias) are supported")
        if p in prefixes:
            continue
        w, b = shapes.get(p + ".weight"), shapes.get(p + ".bias")
        if w is None:
            raise ValueError(f"Linear layer {p!r} has {p}.bias but no {p}.weight")
        if len(w) != 2 or (b is not None and b != [w[0]]):
            raise ValueError(f"{p}.weight {w} / {p}.bias {b} are not a Linear layer's shapes")
        prefixes[p] = (w[0], w[1])
    if not prefixes:
        raise ValueError("no Linear head after the recurrent layer (expected e.g. fc1, fc2 "
                         "or fc)")
    head: List[str] = []
    remaining = OrderedDict(prefixes)
    # The first layer reads D x S features (the final states) or 3 x D x S (concat pooling).
    if pooling is None:
        pooling = "concat" if not any(i == D * S for _, i in prefixes.values()) and any(
            i == 3 * D * S for _, i in prefixes.values()) else "last"
    want_in = (3 if pooling == "concat" else 1) * D * S
    while remaining:
        cands = [p for p, (o, i) in remaining.items() if i == want_in]
        if not cands:
            raise ValueError(
                "cannot chain the Linear layers: " + ", ".join(
                    f"{p} [{o}x{i}]" for p, (o, i) in prefixes.items())
                + f"; the next layer must have in_features {want_in}"
                + (f" after {head[-1]}" if head else
                   f" (= {3 if pooling == 'concat' else 1} x {D} x state size {S}, pooling "
                   f"{pooling})"))
        # Several layers fit (e.g. fc1 [16x16] and fc2 [1x16]): take the first in state_dict
        # order, which is the order the module registered its layers in (the book's forward
        # order); the chain is still checked to the end.
        p = cands[0]
        head.append(p)
        want_in = remaining.pop(p)[0]
    for name, lo, hi in (("vocab_size", 2, _MAX_VOCAB), ("embedding_dim", 1, _MAX_DIM),
                         ("hidden_size", 1, _MAX_DIM), ("num_layers", 1, _MAX_LAYERS)):
        v = {"vocab_size": vocab_size, "embedding_dim": embedding_dim,
             "hidden_size": hidden, "num_layers": num_layers}[name]
        if not lo <= v <= hi:
            raise ValueError(f"{name} = {v} is outside {lo}..{hi}")
    return {
        "cell": cell,
        "vocab_size": vocab_size,
        "embedding_dim": embedding_dim,
        "hidden_size": hidden,
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "head": head,
        "head_shapes": [prefixes[p] for p in head],
        "proj_size": proj,
        "output_size": S if jordan else 0,
        "pooling": pooling,
    }


# ---------------------------------------------------------------------------------------------
# vocabularies
# ---------------------------------------------------------------------------------------------

def _check_scalar_string(s: str, what: str) -> None:
    for ch in s:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"{what} contains a lone surrogate U+{ord(ch):04X} (not valid "
                             "Unicode text)")


def _validate_sentiment_vocab(vocab: Sequence[str], vocab_size: int) -> List[str]:
    vocab = list(vocab)
    for i, t in enumerate(vocab):
        if not isinstance(t, str):
            raise ValueError(f"vocab[{i}] is {type(t).__name__} {t!r}, not a string")
        _check_scalar_string(t, f"vocab[{i}]")
    if len(vocab) != vocab_size:
        raise ValueError(f"vocab has {len(vocab)} tokens but embedding.weight has {vocab_size} "
                         "rows: they must match (pass the vocabulary the model was trained with)")
    if len(vocab) < 2 or vocab[0] != "<pad>" or vocab[1] != "<unk>":
        raise ValueError("a sentiment vocab must start with '<pad>' (index 0) and '<unk>' "
                         f"(index 1), as the book's; it starts with {vocab[:2]!r}")
    _check_duplicates(vocab, "vocab")
    return vocab


def _validate_chars(chars: Sequence[str], vocab_size: int) -> List[str]:
    chars = list(chars)
    for i, c in enumerate(chars):
        if not isinstance(c, str) or len(c) != 1:
            raise ValueError(f"chars[{i}] = {c!r} is not exactly one character (Unicode "
                             "code point)")
        _check_scalar_string(c, f"chars[{i}]")
    if len(chars) != vocab_size:
        raise ValueError(f"the character table has {len(chars)} entries but embedding.weight "
                         f"has {vocab_size} rows: they must match")
    _check_duplicates(chars, "chars")
    return chars


def _check_duplicates(items: List[str], what: str) -> None:
    seen: Dict[str, int] = {}
    for i, t in enumerate(items):
        if t in seen:
            raise ValueError(f"duplicate entry {t!r} in {what} at indices {seen[t]} and {i}")
        seen[t] = i


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------

def _validate_labels(labels: Sequence[str], n_out: int, multi_label: bool) -> List[str]:
    if isinstance(labels, (str, bytes)):
        raise ValueError("labels must be a list of label names, not one string")
    labels = list(labels)
    for i, t in enumerate(labels):
        if not isinstance(t, str) or not t:
            raise ValueError(f"labels[{i}] is {t!r}, not a non-empty string")
        _check_scalar_string(t, f"labels[{i}]")
    if len(labels) != n_out:
        raise ValueError(f"there are {len(labels)} labels but the last Linear layer has {n_out} "
                         "outputs: they must match")
    if len(labels) < (1 if multi_label else 2):
        raise ValueError("a single-label classifier needs at least 2 labels (a softmax over one "
                         "label is always 1); pass multi_label=True (--multi-label) for one "
                         "sigmoid per label")
    _check_duplicates(labels, "labels")
    return labels


def _export(kind: str, state_dict, table: List[str], out_path, dtype: str,
            description: Optional[str], nonlinearity: Optional[str],
            labels: Optional[Sequence[str]] = None, multi_label: bool = False,
            pooling: Optional[str] = None, ngram_order: Optional[int] = None) -> Dict[str, str]:
    if dtype not in _WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_WEIGHT_DTYPES)}, got {dtype!r}")
    sd = _normalize_state_dict(state_dict)
    # The hashed n-gram term (tools/torch_reference.NGramBag: `ngram.weight` [buckets, outputs],
    # the buffer `ngram.idf` [buckets]); its order is not in the tensors.
    ngram = OrderedDict((n, sd.pop(n)) for n in ("ngram.idf", "ngram.weight") if n in sd)
    if ngram and len(ngram) != 2:
        raise ValueError("an n-gram term needs both ngram.weight and ngram.idf")
    if ngram and kind == "charlm":
        raise ValueError("an n-gram term is for sentiment and classifier models, not charlm")
    if ngram and ngram_order not in (1, 2, 3):
        raise ValueError(f"the state_dict has an n-gram term: ngram_order must be 1, 2 or 3 "
                         f"(the longest n-gram it hashes), got {ngram_order!r}")
    if not ngram and ngram_order is not None:
        raise ValueError("ngram_order given but the state_dict has no ngram.weight / ngram.idf")
    arch = infer_architecture(sd, nonlinearity=nonlinearity, pooling=pooling)
    if kind == "charlm" and arch["pooling"] != "last":
        raise ValueError("pooling is for sentiment and classifier models, not charlm")
    if kind == "sentiment":
        if arch["head_shapes"][-1][0] != 1:
            raise ValueError(f"a sentiment model's last Linear layer ({arch['head'][-1]}) must "
                             f"have 1 output, has {arch['head_shapes'][-1][0]}")
        table = _validate_sentiment_vocab(table, arch["vocab_size"])
    elif kind == "charlm":
        if len(arch["head"]) != 1:
            raise ValueError("a charlm model must have exactly one Linear layer after the "
                             f"recurrent layer, found {', '.join(arch['head'])}")
        if arch["head_shapes"][0][0] != arch["vocab_size"]:
            raise ValueError(f"the charlm output layer {arch['head'][0]} has "
                             f"{arch['head_shapes'][0][0]} outputs, expected vocab_size "
                             f"{arch['vocab_size']}")
        table = _validate_chars(table, arch["vocab_size"])
    elif kind == "classifier":
        if labels is None:
            raise ValueError("a classifier needs its labels (a list of names, one per output)")
        labels = _validate_labels(labels, arch["head_shapes"][-1][0], bool(multi_label))
        table = _validate_sentiment_vocab(table, arch["vocab_size"])
    else:
        raise ValueError(f"kind must be 'sentiment', 'charlm' or 'classifier', got {kind!r}")
    if description is not None and not isinstance(description, str):
        raise ValueError("description must be a string")

    metadata: "OrderedDict[str, str]" = OrderedDict([
        ("format", "swiftrnn"),
        ("format_version", str(max(3 if arch["pooling"] == "concat" else FORMAT_VERSION,
                                   2 if dtype == "I8" else FORMAT_VERSION))),
        ("kind", kind),
        ("cell", arch["cell"]),
        ("vocab_size", str(arch["vocab_size"])),
        ("embedding_dim", str(arch["embedding_dim"])),
        ("hidden_size", str(arch["hidden_size"])),
        ("num_layers", str(arch["num_layers"])),
        ("bidirectional", "true" if arch["bidirectional"] else "false"),
        ("head", ",".join(arch["head"])),
        ("vocab", json.dumps(table, ensure_ascii=False, separators=(",", ":"))),
    ])
    if arch["proj_size"]:
        if kind == "charlm":
            raise ValueError("proj_size (rnn.weight_hr_l*) is supported for sentiment and "
                             "classifier models, not charlm")
        metadata["proj_size"] = str(arch["proj_size"])
    if arch["cell"] == "jordan":
        if kind != "charlm":
            raise ValueError("a JordanRNN (rnn.weight_ho_l*) exports as a charlm model only")
        metadata["output_size"] = str(arch["output_size"])
    if arch["pooling"] == "concat":
        metadata["pooling"] = "concat"
    if ngram:
        buckets = _as_shape_values("ngram.idf", ngram["ngram.idf"])[0]
        wshape = _as_shape_values("ngram.weight", ngram["ngram.weight"])[0]
        n_out = arch["head_shapes"][-1][0]
        if len(buckets) != 1 or wshape != [buckets[0], n_out]:
            raise ValueError(f"ngram.idf must be [buckets] and ngram.weight [buckets, {n_out}], "
                             f"got {buckets} and {wshape}")
        metadata["format_version"] = "4"
        metadata["ngram_order"] = str(ngram_order)
        metadata["ngram_buckets"] = str(buckets[0])
    if kind == "classifier":
        metadata["labels"] = json.dumps(labels, ensure_ascii=False, separators=(",", ":"))
        metadata["multi_label"] = "true" if multi_label else "false"
    if description is not None:
        metadata["description"] = description

    # Canonical tensor order: embedding, rnn (layer by layer, forward then reverse), head.
    names = ["embedding.weight"]
    for k in range(arch["num_layers"]):
        for sfx in (["", "_reverse"] if arch["bidirectional"] else [""]):
            if arch["cell"] == "jordan":
                names += [f"rnn.weight_ih_l{k}{sfx}", f"rnn.weight_ho_l{k}{sfx}",
                          f"rnn.bias_ih_l{k}{sfx}", f"rnn.bias_ho_l{k}{sfx}",
                          f"rnn.weight_hy_l{k}{sfx}", f"rnn.bias_hy_l{k}{sfx}"]
                continue
            names += [f"rnn.weight_ih_l{k}{sfx}", f"rnn.weight_hh_l{k}{sfx}",
                      f"rnn.bias_ih_l{k}{sfx}", f"rnn.bias_hh_l{k}{sfx}"]
            if arch["proj_size"]:
                names.append(f"rnn.weight_hr_l{k}{sfx}")
    for p in arch["head"]:
        names += [p + ".weight", p + ".bias"]
    extra = [n for n in sd if n not in set(names)]
    # bias=False (nn.LSTM/GRU/RNN, nn.Linear): the bias is not written; the loader reads zeros.
    names = [n for n in names if n in sd]
    if extra:      # infer_architecture already refuses these; keep the invariant explicit
        raise ValueError(f"unexpected tensors: {', '.join(extra)}")

    tensors: "OrderedDict[str, Tuple[str, List[int], bytes]]" = OrderedDict()
    int8: "OrderedDict[str, Tuple[str, List[int], bytes]]" = OrderedDict()
    worst = 0.0
    for n in names:
        shape, values = _as_shape_values(n, sd[n])
        if 0 in shape:
            raise ValueError(f"tensor {n!r} has a zero-sized dimension {shape}")
        if dtype == "I8" and len(shape) == 2:
            # int8 matrices after every F32 tensor (the writer keeps each tensor aligned).
            q, scales, err = quantize_int8(n, shape, values)
            worst = max(worst, err)
            tensors[n + ".scale"] = ("F32", [shape[0]], scales)
            int8[n] = ("I8", shape, q)
        else:
            tensors[n] = ("F32" if dtype == "I8" else dtype, shape, _encode(n, values, "F32" if dtype == "I8" else dtype))
    for n, value in ngram.items():       # never int8: one value per row
        shape, values = _as_shape_values(n, value)
        wdt = "F32" if dtype == "I8" else dtype
        tensors[n] = (wdt, shape, _encode(n, values, wdt))
    tensors.update(int8)
    write_safetensors(out_path, tensors, metadata)
    md = dict(metadata)
    if dtype == "I8":
        md["int8_max_weight_error"] = repr(worst)
    return md


def export_sentiment(state_dict, vocab: Sequence[str], out_path, dtype: str = "F32",
                     description: Optional[str] = None, nonlinearity: Optional[str] = None,
                     pooling: Optional[str] = None, ngram_order: Optional[int] = None) -> Dict[str, str]:
    """Export the book's sentiment model (Embedding -> RNN -> fc1 -> ReLU -> fc2 -> sigmoid).

    ``state_dict`` maps names to torch tensors, numpy arrays or (shape, values) pairs;
    ``vocab`` lists the tokens in index order (``['<pad>', '<unk>', ...]``, as the book builds
    it). ``dtype`` is F32, F16, BF16 or I8. ``nonlinearity`` ("tanh"/"relu") is for nn.RNN,
    whose state_dict cannot tell; default tanh. ``pooling`` ("last" or "concat", None: inferred
    from fc1's in_features) is what the head reads (see infer_architecture). Returns the
    metadata written. ``ngram_order`` (1-3) is required when the state_dict has a hashed n-gram
    term (``ngram.weight``, ``ngram.idf``: tools/torch_reference.NGramBag), and only then.
    """
    return _export("sentiment", state_dict, vocab, out_path, dtype, description, nonlinearity,
                   pooling=pooling, ngram_order=ngram_order)


def export_classifier(state_dict, vocab: Sequence[str], labels: Sequence[str], out_path,
                      multi_label: bool = False, dtype: str = "F32",
                      description: Optional[str] = None, nonlinearity: Optional[str] = None,
                      pooling: Optional[str] = None) -> Dict[str, str]:
    """Export a many-to-one text classifier: the sentiment model's layers (Embedding -> RNN ->
    Linear (ReLU Linear)*) whose last Linear layer has one output per label. ``labels`` names
    them in output order; ``multi_label`` picks a sigmoid per label instead of a softmax over
    them. The rest as export_sentiment. Returns the metadata written.
    """
    return _export("classifier", state_dict, vocab, out_path, dtype, description, nonlinearity,
                   labels=labels, multi_label=multi_label, pooling=pooling)


def export_charlm(state_dict, chars: Sequence[str], out_path, dtype: str = "F32",
                  description: Optional[str] = None, nonlinearity: Optional[str] = None
                  ) -> Dict[str, str]:
    """Export the book's character language model (Embedding -> RNN -> fc).

    ``chars`` is the character table in index order (the book's ``sorted(set(text))``), each
    entry one code point. See export_sentiment for the other arguments.
    """
    return _export("charlm", state_dict, chars, out_path, dtype, description, nonlinearity)


# ---------------------------------------------------------------------------------------------
# .pt loading and CLI
# ---------------------------------------------------------------------------------------------

def load_state_dict(path, trust_pickle: bool = False) -> Mapping[str, Any]:
    """Load a state_dict saved with ``torch.save(model.state_dict(), path)``.

    A checkpoint dict holding a ``state_dict``/``model_state_dict`` entry is accepted too.
    Loads with ``weights_only=True``, which cannot run code. A file that needs more (a whole
    pickled module from ``torch.save(model, path)``) is refused unless ``trust_pickle=True``
    (CLI: ``--trust-pickle``), which unpickles arbitrary objects and so runs whatever code the
    file carries: only for files you made yourself.
    """
    if not os.path.isfile(path):
        raise OSError(f"{path}: no such file")
    try:
        import torch  # noqa: F401  (lazy: the rest of this module is stdlib-only)
    except ImportError as e:
        raise RuntimeError("reading a .pt file needs PyTorch (pip install torch)") from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:                           # a torch too old to know weights_only
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, ...
        first = str(e).splitlines()[0] if str(e) else ""
        if not trust_pickle:
            raise ValueError(f"{path}: not loadable as plain tensors ({type(e).__name__}: {first}). "
                             "If it is a whole pickled model you made yourself, pass --trust-pickle "
                             "(trust_pickle=True): unpickling runs code stored in the file") from e
        print(f"warning: {path}: loading with weights_only=False (--trust-pickle): this runs "
              "the code pickled in the file", file=sys.stderr)
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if isinstance(obj, Mapping) and "embedding.weight" not in obj \
            and "module.embedding.weight" not in obj:
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if hasattr(inner, "state_dict") and callable(inner.state_dict):
                inner = inner.state_dict()
            if isinstance(inner, Mapping):
                obj = inner
                break
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state_dict (a mapping of name -> tensor), got "
                         f"{type(obj).__name__}")
    return obj


def _load_json_list(path, what: str) -> List[str]:
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError(f"{path}: the {what} file must hold a JSON list in index order, "
                         f"got {type(data).__name__}")
    return data


def main(argv: Optional[Iterable[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m swiftrnn.export",
        description="Export a PyTorch state_dict of the book's ch. 15 models to a libswiftrnn "
                    "model file (safetensors).")
    ap.add_argument("--kind", required=True, choices=["sentiment", "charlm", "classifier"])
    ap.add_argument("--state-dict", required=True, metavar="MODEL.pt",
                    help="file written by torch.save(model.state_dict(), path)")
    ap.add_argument("--vocab", metavar="VOCAB.json",
                    help="sentiment: JSON list of tokens in index order ('<pad>', '<unk>', ...)")
    ap.add_argument("--chars", metavar="CHARS.json",
                    help="charlm: JSON list of characters in index order")
    ap.add_argument("--labels", metavar="LABELS.json",
                    help="classifier: JSON list of label names, one per output of the last layer")
    ap.add_argument("--multi-label", action="store_true",
                    help="classifier: a sigmoid per label (default: a softmax over the labels)")
    ap.add_argument("--out", required=True, metavar="MODEL.safetensors")
    ap.add_argument("--dtype", default="F32", choices=list(_WEIGHT_DTYPES))
    ap.add_argument("--nonlinearity", choices=["tanh", "relu"],
                    help="for nn.RNN models (cannot be inferred from the weights); default tanh")
    ap.add_argument("--pooling", choices=["last", "concat"],
                    help="what the head reads (sentiment, classifier): the final states, or "
                         "concat pooling (final states, max and mean of the outputs); default: "
                         "inferred from the first Linear layer's in_features")
    ap.add_argument("--ngram-order", type=int, choices=[1, 2, 3],
                    help="sentiment: the longest n-gram of the state_dict's hashed n-gram term "
                         "(ngram.weight and ngram.idf; docs/model-format.md)")
    ap.add_argument("--description", help="free text stored in the file")
    ap.add_argument("--trust-pickle", action="store_true",
                    help="allow a .pt that is not plain tensors (a whole pickled model): "
                         "unpickling runs code from the file, so only for files you made")
    args = ap.parse_args(None if argv is None else list(argv))

    if args.kind != "sentiment" and args.ngram_order is not None:
        ap.error("--ngram-order is for --kind sentiment")
    if args.kind == "charlm" and args.pooling:
        ap.error("--pooling is for --kind sentiment or classifier")
    if args.kind != "classifier" and (args.labels or args.multi_label):
        ap.error("--labels and --multi-label are for --kind classifier")
    if args.kind == "classifier":
        if not args.vocab or not args.labels or args.chars:
            ap.error("--kind classifier needs --vocab and --labels (and not --chars)")
    elif args.kind == "sentiment":
        if not args.vocab or args.chars:
            ap.error("--kind sentiment needs --vocab (and not --chars)")
    else:
        if not args.chars or args.vocab:
            ap.error("--kind charlm needs --chars (and not --vocab)")
    try:
        sd = load_state_dict(args.state_dict, trust_pickle=args.trust_pickle)
        if args.kind == "classifier":
            table = _load_json_list(args.vocab, "vocab")
            labels = _load_json_list(args.labels, "labels")
            md = export_classifier(sd, table, labels, args.out, multi_label=args.multi_label,
                                   dtype=args.dtype, description=args.description,
                                   nonlinearity=args.nonlinearity, pooling=args.pooling)
        elif args.kind == "sentiment":
            table = _load_json_list(args.vocab, "vocab")
            md = export_sentiment(sd, table, args.out, dtype=args.dtype,
                                  description=args.description, nonlinearity=args.nonlinearity,
                                  pooling=args.pooling, ngram_order=args.ngram_order)
        else:
            table = _load_json_list(args.chars, "chars")
            md = export_charlm(sd, table, args.out, dtype=args.dtype,
                               description=args.description, nonlinearity=args.nonlinearity)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    bi = ", bidirectional" if md["bidirectional"] == "true" else ""
    print(f"wrote {args.out}: {md['kind']} {md['cell']} {md['num_layers']} layer(s){bi}, "
          f"vocab {md['vocab_size']}, embedding {md['embedding_dim']}, hidden "
          f"{md['hidden_size']}, head {md['head']}, {args.dtype}"
          + (", concat pooling" if md.get("pooling") == "concat" else "")
          + (f", labels {md['labels']}{' (multi-label)' if args.multi_label else ''}"
             if args.kind == "classifier" else "")
          + (f" (max weight error {md['int8_max_weight_error']})" if args.dtype == "I8" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
