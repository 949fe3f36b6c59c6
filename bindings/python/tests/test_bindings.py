"""Tests of the swiftrnn Python bindings (ctypes) against libswiftrnn.so.

The library is found as the bindings find it (SWIFTRNN_LIBRARY, the package's lib/, the
checkout's out/lib, the system linker); bindings/python/run_tests.sh sets SWIFTRNN_LIBRARY to
out/lib. The
PyTorch round-trip tests at the end are skipped when torch is not importable.
"""

from __future__ import annotations

import ctypes
import json
import math
import multiprocessing
import operator
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
FIXTURES = os.path.join(REPO, "Tests", "SwiftRNNTests", "Fixtures")
MODELS = os.path.join(FIXTURES, "models")
HEADER = os.path.join(REPO, "include", "swiftrnn.h")
sys.path.insert(0, PYROOT)

import swiftrnn  # noqa: E402
from swiftrnn import _lib  # noqa: E402

SENTIMENT_MODELS = ["sentiment_lstm_bi", "sentiment_lstm_uni", "sentiment_lstm_uni.f16",
                    "sentiment_lstm_uni.bf16", "sentiment_gru_bi", "sentiment_rnn_tanh_uni"]
CHARLM_MODELS = ["charlm_small", "charlm_gru2", "charlm_jordan"]


def model_path(name):
    return os.path.join(MODELS, name + ".safetensors")


def expected(name):
    with open(os.path.join(MODELS, name + ".expected.json"), encoding="utf-8") as f:
        return json.load(f)


def sub_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PYROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                  else "")
    env["SWIFTRNN_LIBRARY"] = swiftrnn.library_path
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "swiftrnn", *args], input=stdin,
                          capture_output=True, text=True, encoding="utf-8", env=sub_env(),
                          timeout=120)


@pytest.fixture(scope="module")
def senti():
    m = swiftrnn.load(model_path("sentiment_lstm_bi"))
    yield m
    m.close()


@pytest.fixture(scope="module")
def lm():
    m = swiftrnn.load(model_path("charlm_small"))
    yield m
    m.close()


# ---------------------------------------------------------------------------------------------
# the raw layer
# ---------------------------------------------------------------------------------------------

def header_functions():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    return sorted(set(re.findall(r"SWIFTRNN_API\s+[^;]*?\b(swiftrnn_\w+)\s*\(", text)))


def test_every_header_function_is_declared():
    names = header_functions()
    assert len(names) == 36, names
    for name in names:
        fn = getattr(_lib, name)
        assert fn.argtypes is not None, name
        assert getattr(_lib.lib, name) is fn


def test_version():
    assert swiftrnn.__version__ == _lib.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", swiftrnn.__version__)
    major, minor, patch = map(int, swiftrnn.__version__.split("."))
    assert major == _lib.EXPECTED_MAJOR
    assert _lib.swiftrnn_version_number() == major * 10000 + minor * 100 + patch
    m = re.search(r'#define SWIFTRNN_VERSION_STRING "([^"]+)"', open(HEADER).read())
    assert m and m.group(1) == swiftrnn.__version__


def test_status_strings_match_library():
    for status, name in _lib.STATUS_NAMES.items():
        assert _lib.status_string(status) == name
    assert _lib.status_string(99) == "unknown status"


def test_struct_layout_sizes():
    P = ctypes.sizeof(ctypes.c_size_t)
    assert ctypes.sizeof(_lib.swiftrnn_model_info) == (56 if P == 8 else 48)
    assert ctypes.sizeof(_lib.swiftrnn_sample_params) == (104 if P == 8 else 64)
    assert ctypes.sizeof(_lib.swiftrnn_batch_params) == (32 if P == 8 else 16)
    assert [f[0] for f in _lib.swiftrnn_model_info._fields_] == [
        "struct_size", "kind", "cell", "vocab_size", "embedding_dim", "hidden_size",
        "num_layers", "bidirectional", "head_layers", "n_parameters", "precision"]
    assert [f[0] for f in _lib.swiftrnn_sample_params._fields_] == [
        "struct_size", "scale_factor", "top_k", "top_p", "greedy", "seed", "n_threads", "progress",
        "progress_user_data", "stop_strings", "n_stop_strings", "repetition_penalty",
        "repetition_window", "min_p", "banned", "banned_len"]
    assert [f[0] for f in _lib.swiftrnn_batch_params._fields_] == [
        "struct_size", "n_threads", "progress", "progress_user_data"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_struct_layout_matches_c(tmp_path):
    src = tmp_path / "layout.c"
    src.write_text(
        '#include <stdio.h>\n#include <stddef.h>\n#include "swiftrnn.h"\n'
        "#define O(t, f) printf(#t \" \" #f \" %zu\\n\", offsetof(t, f))\n"
        "int main(void) {\n"
        '  printf("info %zu\\nparams %zu\\n", sizeof(swiftrnn_model_info),'
        " sizeof(swiftrnn_sample_params));\n"
        "  O(swiftrnn_model_info, kind); O(swiftrnn_model_info, cell);"
        " O(swiftrnn_model_info, vocab_size); O(swiftrnn_model_info, head_layers);"
        " O(swiftrnn_model_info, n_parameters);\n"
        "  O(swiftrnn_sample_params, scale_factor); O(swiftrnn_sample_params, top_k);"
        " O(swiftrnn_sample_params, top_p); O(swiftrnn_sample_params, greedy);"
        " O(swiftrnn_sample_params, seed); O(swiftrnn_sample_params, n_threads);"
        " O(swiftrnn_sample_params, progress); O(swiftrnn_sample_params, progress_user_data);\n"
        "  O(swiftrnn_sample_params, stop_strings); O(swiftrnn_sample_params, n_stop_strings);"
        " O(swiftrnn_sample_params, repetition_penalty);"
        " O(swiftrnn_sample_params, repetition_window); O(swiftrnn_sample_params, min_p);"
        " O(swiftrnn_sample_params, banned); O(swiftrnn_sample_params, banned_len);\n"
        '  printf("batch %zu\\n", sizeof(swiftrnn_batch_params));'
        " O(swiftrnn_batch_params, n_threads); O(swiftrnn_batch_params, progress);"
        " O(swiftrnn_batch_params, progress_user_data);\n  return 0;\n}\n")
    exe = tmp_path / "layout"
    r = subprocess.run(["cc", "-std=c99", "-I", os.path.dirname(HEADER), str(src), "-o",
                        str(exe)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot compile: " + r.stderr[:200])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = dict(line.rsplit(" ", 1) for line in out.strip().splitlines())
    assert int(got["info"]) == ctypes.sizeof(_lib.swiftrnn_model_info)
    assert int(got["params"]) == ctypes.sizeof(_lib.swiftrnn_sample_params)
    assert int(got["batch"]) == ctypes.sizeof(_lib.swiftrnn_batch_params)
    for key, value in got.items():
        if " " in key:
            struct, field = key.split()
            assert getattr(getattr(_lib, struct), field).offset == int(value), key


def test_sample_params_init_defaults():
    p = _lib.swiftrnn_sample_params()
    _lib.swiftrnn_sample_params_init(ctypes.byref(p))
    assert p.struct_size == ctypes.sizeof(p)
    assert (p.scale_factor, p.top_k, p.top_p, p.greedy, p.seed, p.n_threads) == (1.0, 0, 1.0, 0, 0, 1)
    assert (p.n_stop_strings, p.repetition_penalty, p.repetition_window, p.min_p, p.banned_len) == \
        (0, 1.0, 64, 0.0, 0)
    assert not p.stop_strings and p.banned is None


def test_raw_null_arguments_are_invalid_argument():
    out = _lib.swiftrnn_model_p()
    assert _lib.swiftrnn_model_load(None, ctypes.byref(out)) == _lib.SWIFTRNN_ERR_INVALID_ARGUMENT
    assert not out
    assert "" != _lib.last_error()
    p = ctypes.c_float()
    assert _lib.swiftrnn_score_sentiment(None, b"x", 1, ctypes.byref(p)) == \
        _lib.SWIFTRNN_ERR_INVALID_ARGUMENT
    assert _lib.swiftrnn_model_describe(None) is None
    _lib.swiftrnn_model_free(None)
    _lib.swiftrnn_generator_free(None)


# Finding the library (package lib/, system linker, the error message, no library at all):
# tests/test_loader.py. Building and installing the package: tests/test_package.py.


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------

def test_missing_file_is_io_error(tmp_path):
    with pytest.raises(swiftrnn.SwiftRNNIOError) as ei:
        swiftrnn.load(tmp_path / "missing.safetensors")
    e = ei.value
    assert e.status == _lib.SWIFTRNN_ERR_IO and e.status_name == "SWIFTRNN_ERR_IO"
    assert "missing.safetensors" in str(e)
    assert isinstance(e, swiftrnn.SwiftRNNError)


def test_garbage_is_format_error(tmp_path):
    junk = os.urandom(64) + b"not a model" * 20
    with pytest.raises(swiftrnn.FormatError) as ei:
        swiftrnn.load_bytes(junk)
    assert ei.value.status == 3 and ei.value.status_name == "SWIFTRNN_ERR_FORMAT"
    p = tmp_path / "junk.safetensors"
    p.write_bytes(junk)
    with pytest.raises(swiftrnn.FormatError):
        swiftrnn.load(p)
    with pytest.raises(swiftrnn.FormatError):
        swiftrnn.load_bytes(b"")
    truncated = open(model_path("charlm_small"), "rb").read()[:-10]
    with pytest.raises(swiftrnn.FormatError):
        swiftrnn.load_bytes(truncated)
    with pytest.raises(TypeError):
        swiftrnn.load_bytes("a str")


def test_newer_format_is_unsupported():
    blob = open(model_path("charlm_small"), "rb").read()
    n = int.from_bytes(blob[:8], "little")
    header = blob[8:8 + n].replace(b'"format_version":"1"', b'"format_version":"9"')
    assert header != blob[8:8 + n], "fixture header layout changed"
    with pytest.raises(swiftrnn.UnsupportedError) as ei:
        swiftrnn.load_bytes(blob[:8] + header + blob[8 + n:])
    assert ei.value.status == 4


def test_wrong_kind(senti, lm):
    with pytest.raises(swiftrnn.WrongKindError) as ei:
        lm.score("The sea")
    assert ei.value.status == 5
    with pytest.raises(swiftrnn.WrongKindError):
        lm.score_batch(["The sea"])
    with pytest.raises(swiftrnn.WrongKindError):
        senti.sample("a", 5, seed=1)
    with pytest.raises(swiftrnn.WrongKindError):
        senti.stream("a", 5, seed=1)
    with pytest.raises(swiftrnn.WrongKindError):
        senti.log_likelihood("a good film")


def test_unknown_prime_character_is_named(lm):
    with pytest.raises(swiftrnn.InvalidArgumentError) as ei:
        lm.sample("The Zebra", 10, seed=1)
    assert "'Z'" in str(ei.value) and ei.value.status == 1
    assert ei.value.status_name == "SWIFTRNN_ERR_INVALID_ARGUMENT"
    assert isinstance(ei.value, ValueError)
    with pytest.raises(swiftrnn.InvalidArgumentError, match="Z"):
        lm.stream("The Zebra", 10, seed=1)
    with pytest.raises(swiftrnn.InvalidArgumentError, match="€"):
        lm.log_likelihood("The €")
    with pytest.raises(swiftrnn.InvalidArgumentError, match="Z"):
        lm.encode("Zed")
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("", 10, seed=1)


def test_bad_python_arguments(lm, senti):
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", -1)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", 5, seed=-1)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", 5, seed=2 ** 64)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", 5, top_k=-1)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", 5, scale_factor=0.0, seed=1)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", 5, scale_factor=float("nan"), seed=1)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        senti.score_batch(["a"], threads=-1)
    with pytest.raises(TypeError):
        senti.score(42)
    with pytest.raises(TypeError):
        swiftrnn.tokenize(None)


def test_closed_model():
    m = swiftrnn.load(model_path("charlm_small"))
    s = swiftrnn.load(model_path("sentiment_lstm_bi"))
    m.close()
    s.close()
    m.close()                                      # idempotent
    assert m.closed and s.closed
    for call in (lambda: m.sample("The", 5, seed=1), lambda: m.stream("The", 5),
                 lambda: m.log_likelihood("The"), lambda: m.encode("The"),
                 lambda: s.score("good"), lambda: s.score_batch(["good"])):
        with pytest.raises(ValueError, match="model is closed"):
            call()
    assert "closed" in repr(m)


def test_context_manager():
    with swiftrnn.load(model_path("sentiment_lstm_bi")) as m:
        assert 0.0 <= m.score("fine") <= 1.0
    assert m.closed


def test_error_classes():
    e = swiftrnn.SwiftRNNError(3, "bad header")
    assert e.status == 3 and e.status_name == "SWIFTRNN_ERR_FORMAT" and "bad header" in str(e)
    assert swiftrnn.SwiftRNNError(42, "x").status_name == "unknown status"
    classes = [swiftrnn.InvalidArgumentError, swiftrnn.SwiftRNNIOError, swiftrnn.FormatError,
               swiftrnn.UnsupportedError, swiftrnn.WrongKindError, swiftrnn.BufferTooSmallError,
               swiftrnn.OutOfMemoryError, swiftrnn.InternalError]
    for status, cls in enumerate(classes, start=1):
        assert issubclass(cls, swiftrnn.SwiftRNNError) and cls.status == status
        err = cls(status, "msg")
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls and back.status == status and back.message == "msg"
        assert err.status_name == _lib.STATUS_NAMES[status]


# ---------------------------------------------------------------------------------------------
# parity with the PyTorch fixtures
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SENTIMENT_MODELS)
def test_sentiment_parity(name):
    exp = expected(name)
    with swiftrnn.load(model_path(name)) as m:
        assert m.kind == "sentiment"
        for text, ids, prob in zip(exp["texts"], exp["token_ids"], exp["probabilities"]):
            assert m.encode(text) == ids, text
            assert m.score(text) == pytest.approx(prob, abs=1e-5), text
        batch = m.score_batch(exp["texts"])
        assert batch == [m.score(t) for t in exp["texts"]]
        assert m.score_batch(exp["texts"], threads=1) == batch
        assert m.score_batch(exp["texts"], threads=3) == batch
        assert m.score_batch(t.encode("utf-8") for t in exp["texts"]) == batch
        assert m.score_batch([]) == []


def test_sentiment_info(senti):
    info = senti.info
    assert senti.kind == "sentiment"
    assert info["cell"] == "lstm" and info["bidirectional"] is True
    assert info["embedding_dim"] == 8 and info["hidden_size"] == 6 and info["num_layers"] == 1
    assert info["head_layers"] == 2
    V = info["vocab_size"]
    # embedding + 2 directions x LSTM + fc1 (12->5) + fc2 (5->1)
    n = V * 8 + 2 * (4 * 6 * 8 + 4 * 6 * 6 + 2 * 4 * 6) + (12 * 5 + 5) + (5 + 1)
    assert info["n_parameters"] == n
    assert info["description"].startswith("sentiment")
    assert set(info) == {"cell", "vocab_size", "embedding_dim", "hidden_size", "num_layers",
                         "bidirectional", "head_layers", "n_parameters", "description", "precision"}
    assert info["precision"] == "f32"
    for name, want in [("sentiment_lstm_uni.f16", "f16"), ("sentiment_lstm_uni.bf16", "bf16")]:
        assert swiftrnn.load(model_path(name)).info["precision"] == want


@pytest.mark.parametrize("name", CHARLM_MODELS)
def test_charlm_parity(name):
    exp = expected(name)
    with swiftrnn.load(model_path(name)) as m:
        assert m.kind == "charlm"
        assert m.info["vocab_size"] == len(exp["chars"])
        assert m.encode(exp["text"]) == exp["ids"]
        nats, predicted = m.log_likelihood(exp["text"])
        assert predicted == exp["predicted"]
        assert nats == pytest.approx(exp["nats"], rel=1e-3)
        # greedy generation of one character after text[:t+1] is the argmax of logits[t]
        for t in (0, 5, 17, 30, len(exp["text"]) - 1):
            logits = exp["logits"][t]
            want = exp["chars"][max(range(len(logits)), key=logits.__getitem__)]
            got = m.sample(exp["text"][:t + 1], 1, greedy=True)
            assert got == exp["text"][:t + 1] + want, t


def test_log_likelihood_short_texts(lm):
    assert lm.log_likelihood("") == (0.0, 0)
    assert lm.log_likelihood("T") == (0.0, 0)
    nats, n = lm.log_likelihood("Th")
    assert n == 1 and nats >= 0


def test_load_bytes_matches_load(senti):
    with open(model_path("sentiment_lstm_bi"), "rb") as f:
        data = f.read()
    m = swiftrnn.load_bytes(bytearray(data))
    assert m.path is None and m.info == senti.info
    for t in ("great", "awful film", ""):
        assert m.score(t) == senti.score(t)


def test_tokenize_fixture():
    with open(os.path.join(FIXTURES, "tokenizer.json"), encoding="utf-8") as f:
        cases = json.load(f)
    assert cases
    for case in cases:
        assert swiftrnn.tokenize(case["text"]) == case["tokens"], case["text"]
        assert swiftrnn.tokenize(case["text"].encode("utf-8")) == case["tokens"]


def test_text_edge_cases(senti, lm):
    # a lone surrogate cannot be UTF-8: it is replaced, never an exception
    assert 0.0 <= senti.score("good \ud800 film") <= 1.0
    assert swiftrnn.tokenize("bad\ud800film") == swiftrnn.tokenize("bad?film")
    # invalid UTF-8 bytes become U+FFFD in the library
    assert 0.0 <= senti.score(b"good \xff\xfe film") <= 1.0
    # NUL bytes are text like any other
    assert swiftrnn.tokenize("a\0b") == swiftrnn.tokenize("a b")
    # non-ASCII characters of the table
    assert lm.encode("café") == lm.encode("caf") + [lm.encode("é")[0]]
    long_text = "great movie " * 5000
    assert 0.0 <= senti.score(long_text) <= 1.0
    assert len(senti.encode(long_text)) == 10000


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------

def test_sample_deterministic_with_seed(lm):
    a = lm.sample("The sea", 200, seed=7)
    b = lm.sample("The sea", 200, seed=7)
    assert a == b
    assert a.startswith("The sea") and len(a) == len("The sea") + 200
    assert lm.sample(b"The sea", 200, seed=7) == a


def test_sample_threads_give_the_same_text():
    """Two threads split each step of the shipped model (hidden 512): the same text."""
    shipped = os.path.join(REPO, "models", "charlm-mysterious-island.safetensors")
    if not os.path.exists(shipped):
        pytest.skip("no shipped model")
    with swiftrnn.load(shipped) as m:
        one = m.sample("The island", 300, scale_factor=1.0, seed=5)
        assert m.sample("The island", 300, scale_factor=1.0, seed=5, threads=2) == one
        assert m.sample("The island", 300, scale_factor=1.0, seed=5, threads=0) == one
        with pytest.raises(swiftrnn.InvalidArgumentError):
            m.sample("The island", 10, threads=-1)


def test_different_seeds_differ(lm):
    outs = {lm.sample("The sea", 100, seed=s) for s in range(5)}
    assert len(outs) == 5
    assert lm.sample("The", 100) == lm.sample("The", 100, seed=0)  # the default seed is 0
    assert "".join(lm.stream("The", 100)) == lm.sample("The", 100, seed=0)
    assert lm.sample("The", 100, seed=None) != lm.sample("The", 100, seed=None)  # None: random


def test_sample_length_zero_returns_prime(lm):
    assert lm.sample("The sea", 0, seed=1) == "The sea"
    assert list(lm.stream("The sea", 0, seed=1)) == ["The sea"]


@pytest.mark.parametrize("kw", [
    {},
    {"scale_factor": 2.0},
    {"scale_factor": 0.5, "top_k": 5},
    {"top_p": 0.8},
    {"greedy": True},
    {"top_k": 3, "top_p": 0.9, "scale_factor": 1.5},
])
def test_stream_equals_sample(lm, kw):
    for seed in (1, 2, 2 ** 64 - 1):
        want = lm.sample("We were", 150, seed=seed, **kw)
        parts = list(lm.stream("We were", 150, seed=seed, **kw))
        assert parts[0] == "We were"
        assert len(parts) == 151 and all(len(p) == 1 for p in parts[1:])
        assert "".join(parts) == want


def test_greedy_equals_top_k_1(lm):
    g = lm.sample("The sea was", 200, greedy=True, seed=1)
    assert g == lm.sample("The sea was", 200, greedy=True, seed=99)
    for seed in (1, 2, 3):
        assert lm.sample("The sea was", 200, top_k=1, seed=seed) == g


def test_sample_long_needs_no_retry_and_buffer_retry_works(lm):
    out = lm.sample("é", 3000, seed=3)     # 'é' is 2 bytes in UTF-8
    assert len(out) == 3001


def test_stream_lifetime(lm):
    m = swiftrnn.load(model_path("charlm_small"))
    want = m.sample("The", 50, seed=5)
    s = m.stream("The", 50, seed=5)
    first = next(s) + next(s)
    m.close()                                   # the stream keeps the C model alive
    rest = "".join(s)
    assert first + rest == want
    with pytest.raises(StopIteration):
        next(s)
    s2 = lm.stream("The", 50, seed=5)
    with s2:
        assert next(s2) == "The"
    assert list(s2) == []                       # closed: iteration ends
    s3 = lm.stream("The", 50, seed=5)
    next(s3)
    del s3                                      # freed by the garbage collector


@pytest.fixture(scope="module")
def wide_lm(tmp_path_factory):
    """A tiny random charlm whose table has 1- to 4-byte UTF-8 characters (stdlib export)."""
    import random
    from swiftrnn.export import export_charlm
    rnd = random.Random(0)
    chars = ["a", "b", " ", "\u00e9", "\u20ac", "\U0001F600"]
    V, E, H = len(chars), 4, 5

    def t(*shape):
        return (list(shape), [rnd.uniform(-1.5, 1.5) for _ in range(math.prod(shape))])

    sd = {"embedding.weight": t(V, E), "rnn.weight_ih_l0": t(4 * H, E),
          "rnn.weight_hh_l0": t(4 * H, H), "rnn.bias_ih_l0": t(4 * H),
          "rnn.bias_hh_l0": t(4 * H), "fc.weight": t(V, H), "fc.bias": t(V)}
    path = tmp_path_factory.mktemp("wide") / "wide.safetensors"
    export_charlm(sd, chars, str(path))
    m = swiftrnn.load(path)
    yield m
    m.close()


def test_multibyte_characters(wide_lm):
    prime = "a\u20ac\U0001F600"
    for seed in range(6):
        out = wide_lm.sample(prime, 300, seed=seed)
        assert out.startswith(prime) and len(out) == len(prime) + 300
        assert "".join(wide_lm.stream(prime, 300, seed=seed)) == out
        assert wide_lm.encode(out) == [wide_lm.encode(ch)[0] for ch in out]
        nats, n = wide_lm.log_likelihood(out)
        assert n == len(out) - 1 and nats > 0
    assert any(ord(ch) > 0xFFFF for s in range(6) for ch in wide_lm.sample("a", 300, seed=s))


def _raw_sample(m, prime, n, seed, cap):
    p = _lib.swiftrnn_sample_params()
    _lib.swiftrnn_sample_params_init(ctypes.byref(p))
    p.seed = seed
    buf = ctypes.create_string_buffer(b"\xaa" * 512, 512)
    out_len = ctypes.c_size_t(0)
    pb = prime.encode("utf-8")
    st = _lib.swiftrnn_sample_text(m._h.ptr, pb, len(pb), n, ctypes.byref(p), buf, cap,
                                   ctypes.byref(out_len))
    return st, out_len.value, buf.raw


def test_raw_sample_text_two_call_protocol(wide_lm):
    """The bindings' protocol works: a too-small buffer gives BUFFER_TOO_SMALL with a size that
    is enough (>= the text) for the second call."""
    want = wide_lm.sample("ab", 40, seed=9).encode("utf-8")
    for cap in (0, 1, 10, len(want) // 2, len(want) - 1, len(want)):
        st, needed, _ = _raw_sample(wide_lm, "ab", 40, 9, cap)
        assert st == _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL, cap
        assert needed >= len(want)
        st, n, raw = _raw_sample(wide_lm, "ab", 40, 9, needed + 1)
        assert st == _lib.SWIFTRNN_OK and raw[:n] == want and raw[n] == 0


def test_raw_sample_text_buffer_too_small_contract(wide_lm):
    """The header's contract: a too-small buffer is never written; the size reported is exact
    once the text was generated (capacity >= prime + n_chars + 1), an upper bound otherwise."""
    want = wide_lm.sample("ab", 40, seed=9).encode("utf-8")
    st, needed, raw = _raw_sample(wide_lm, "ab", 40, 9, len(want))
    assert st == _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL
    assert needed == len(want)
    assert raw == b"\xaa" * 512
    st, needed, raw = _raw_sample(wide_lm, "ab", 40, 9, 1)
    assert st == _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL
    assert needed >= len(want)
    assert raw == b"\xaa" * 512


def test_raw_batch_null_text_with_zero_length(senti):
    texts = (ctypes.c_char_p * 2)(None, b"good")
    lens = (ctypes.c_size_t * 2)(0, 4)
    out = (ctypes.c_float * 2)()
    st = _lib.swiftrnn_score_sentiment_batch(senti._h.ptr, texts, lens, 2, 1, out)
    assert st == _lib.SWIFTRNN_OK, _lib.last_error()
    assert list(out) == [senti.score(""), senti.score("good")]


# ---------------------------------------------------------------------------------------------
# threads and processes
# ---------------------------------------------------------------------------------------------

def _workload(senti, lm, i):
    texts = [f"review {i}: a great film", "awful, boring", "", "Wonderful acting :)"] * 3
    return (
        [senti.score(t) for t in texts],
        senti.score_batch(texts, threads=2),
        senti.encode(texts[0]),
        lm.sample("The sea", 120, seed=i),
        "".join(lm.stream("We were", 60, seed=i, top_k=4)),
        lm.log_likelihood("The sea was deep"),
    )


def test_threads_share_one_model(senti, lm):
    sequential = [_workload(senti, lm, i) for i in range(8)]
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def run(i):
        try:
            barrier.wait()
            for _ in range(3):
                r = _workload(senti, lm, i)
                assert results[i] is None or results[i] == r
                results[i] = r
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    assert results == sequential


def test_pickle_round_trip(senti, lm):
    m2 = pickle.loads(pickle.dumps(senti))
    assert m2.path == senti.path and m2.info == senti.info
    assert m2.score("a great film") == senti.score("a great film")
    with open(model_path("charlm_small"), "rb") as f:
        mb = swiftrnn.load_bytes(f.read())
    mb2 = pickle.loads(pickle.dumps(mb))
    assert mb2.path is None
    assert mb2.sample("The", 40, seed=1) == lm.sample("The", 40, seed=1)


def test_multiprocessing_spawn_pool(senti, lm):
    texts = ["a great film", "awful, boring", "Wonderful acting :)"]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        scores = pool.map(operator.methodcaller("score_batch", texts), [senti, senti])
        samples = pool.map(operator.methodcaller("sample", "The sea", 80, seed=4), [lm, lm])
    assert scores == [senti.score_batch(texts)] * 2
    assert samples == [lm.sample("The sea", 80, seed=4)] * 2


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------

def test_cli_info():
    r = run_cli("info", model_path("sentiment_gru_bi"))
    assert r.returncode == 0, r.stderr
    fields = dict(ln.split(":", 1) for ln in r.stdout.splitlines()[1:] if not ln.startswith(" "))
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields["kind"] == "sentiment" and fields["cell"] == "gru"
    assert fields["bidirectional"] == "true"


def test_cli_score_args_and_stdin(senti):
    r = run_cli("score", model_path("sentiment_lstm_bi"), "A great movie", "Terrible film")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    p, label, text = lines[0].split("\t")
    assert text == "A great movie"
    assert float(p) == pytest.approx(senti.score("A great movie"), abs=1e-6)
    assert label == ("positive" if float(p) >= 0.5 else "negative")
    r = run_cli("score", model_path("sentiment_lstm_bi"), stdin="good film\n\nbad, café\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split("\t")[2] for ln in lines] == ["good film", "bad, café"]
    assert float(lines[1].split("\t")[0]) == pytest.approx(senti.score("bad, café"), abs=1e-6)


def test_cli_sample(lm):
    r = run_cli("sample", model_path("charlm_small"), "--prime", "The sea", "--length", "300",
                "--scale", "1.0", "--seed", "1")
    assert r.returncode == 0, r.stderr
    want = lm.sample("The sea", 300, scale_factor=1.0, seed=1)
    assert r.stdout == want + "\n"
    r = run_cli("sample", model_path("charlm_small"), "--prime", "The sea", "--length", "50",
                "--top-k", "3", "--top-p", "0.9", "--seed", "2", "--stream")
    assert r.returncode == 0, r.stderr
    assert r.stdout == lm.sample("The sea", 50, top_k=3, top_p=0.9, seed=2) + "\n"
    r = run_cli("sample", model_path("charlm_small"), "--prime", "The", "--length", "40",
                "--greedy")
    assert r.stdout == lm.sample("The", 40, greedy=True) + "\n"


def test_cli_tokenize():
    r = run_cli("tokenize", "<br />I loved it :-)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["i", "loved", "it", ":)"]


def test_cli_errors(tmp_path):
    r = run_cli("info", str(tmp_path / "missing.safetensors"))
    assert r.returncode == 1 and r.stderr.startswith("swiftrnn: error: ")
    r = run_cli("sample", model_path("charlm_small"), "--prime", "Zed", "--length", "5")
    assert r.returncode == 1 and "error: " in r.stderr and "'Z'" in r.stderr
    r = run_cli("score", model_path("charlm_small"), "text")
    assert r.returncode == 1 and r.stderr.startswith("swiftrnn: error: ")
    r = run_cli()
    assert r.returncode == 2


# ---------------------------------------------------------------------------------------------
# PyTorch round trip: the book's models with random weights -> export -> the bindings
# ---------------------------------------------------------------------------------------------

CORPUS = [
    "This movie was great! I loved the acting and the story. :)",
    "Terrible film. The plot made no sense and the acting was wooden :(",
    "<br /><br />A wonderful, moving film with a great cast.",
    "Worst movie ever... I want my 2 hours back!!!",
    "I really enjoyed it; the music was beautiful ;-)",
    "Boring, boring, boring. Fell asleep halfway through =(",
]
QUERIES = CORPUS + [
    "great great great",
    "an unseen xylophone word",
    "?!...",                     # no tokens: scored as [<pad>]
    "The acting was bad, the story was bad, everything was bad.",
    "Loved it",
]


def _export(torch, model, kind, table, tmp_path, name):
    pt = tmp_path / f"{name}.pt"
    torch.save(model.state_dict(), pt)
    tab = tmp_path / f"{name}.json"
    tab.write_text(json.dumps(table), encoding="utf-8")
    out = tmp_path / f"{name}.safetensors"
    flag = "--vocab" if kind == "sentiment" else "--chars"
    r = subprocess.run([sys.executable, "-m", "swiftrnn.export", "--kind", kind, "--state-dict",
                        str(pt), flag, str(tab), "--out", str(out)],
                       capture_output=True, text=True, env=sub_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return swiftrnn.load(out)


def _torch_reference():
    """tools/torch_reference.py: the book's PyTorch models (import torch, or skip, first)."""
    tools = os.path.join(REPO, "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import torch_reference
    return torch_reference


def _book_vocab(texts):
    from collections import Counter
    counts = Counter()
    for t in texts:
        counts.update(swiftrnn.tokenize(t))
    ordered = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)   # stable
    return ["<pad>", "<unk>"] + [tok for tok, _ in ordered]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_torch_round_trip_sentiment(tmp_path, cell):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    ref = _torch_reference()
    torch.manual_seed(1234)

    vocab = _book_vocab(CORPUS)
    model = ref.SentimentRNN(len(vocab), 8, 6, 5, rnn_cls=nn.LSTM if cell == "lstm" else nn.GRU,
                             bidirectional=True)
    with torch.no_grad():                       # spread the outputs away from 0.5
        for name, p in model.named_parameters():
            if not name.startswith("embedding"):
                p.mul_(2.5)
    model.eval()
    m = _export(torch, model, "sentiment", vocab, tmp_path, f"senti_{cell}")
    assert m.info["cell"] == cell and m.info["bidirectional"] is True

    index = {t: i for i, t in enumerate(vocab)}
    seqs = []
    for q in QUERIES:
        ids = [index.get(t, 1) for t in swiftrnn.tokenize(q)]
        assert m.encode(q) == ids
        seqs.append(ids or [0])
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    padded = nn.utils.rnn.pad_sequence([torch.tensor(s, dtype=torch.int64) for s in seqs],
                                       batch_first=True)
    with torch.no_grad():
        want = model(padded, lengths)[:, 0].tolist()
    got = m.score_batch(QUERIES)
    assert got == pytest.approx(want, abs=1e-5)
    assert max(want) - min(want) > 0.01          # the test is not vacuous
    assert [m.score(q) for q in QUERIES] == got


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_torch_round_trip_charlm(tmp_path, cell):
    torch = pytest.importorskip("torch")
    ref = _torch_reference()
    torch.manual_seed(4321)
    text = ("THE MYSTERIOUS ISLAND. Are we rising again? No. On the contrary. "
            "I can see the island and the ocean: café, naïve!\nWe were home.")
    chars = sorted(set(text))

    # the book's char model (or its one-layer GRU variant), whole sequences in one call
    model = (ref.CharRNN(len(chars), 8, 12) if cell == "lstm"
             else ref.CharGRU(len(chars), 8, 12, num_layers=1))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    model.eval()
    m = _export(torch, model, "charlm", chars, tmp_path, f"charlm_{cell}")
    assert m.kind == "charlm" and m.info["cell"] == cell

    ids = [chars.index(c) for c in text]
    assert m.encode(text) == ids
    x = torch.tensor([ids], dtype=torch.int64)
    with torch.no_grad():
        logits = model.forward_sequence(x)[0][0].double()
    want = torch.nn.functional.cross_entropy(logits[:-1], x[0, 1:], reduction="sum").item()
    nats, predicted = m.log_likelihood(text)
    assert predicted == len(text) - 1
    assert nats == pytest.approx(want, rel=1e-4)

    # greedy generation, the book's way: warm on prime[:-1], feed the last char, take argmax
    prime = "The island"
    seq = [chars.index(c) for c in prime]
    with torch.no_grad():
        for _ in range(20):
            nxt = int(model.forward_sequence(torch.tensor([seq]))[0][0, -1].argmax())
            seq.append(nxt)
    want_text = "".join(chars[i] for i in seq)
    assert m.sample(prime, 20, greedy=True) == want_text
