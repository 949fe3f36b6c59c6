"""Generator state and sampling controls from Python (issue 15, items 1 and 4): feed equals
priming with the concatenated text, save_state/load_state (and pickling) give identical
continuations, bad states are refused, logits, and the controls are seed-deterministic and
equal in sample, stream and generator."""

from __future__ import annotations

import math
import os
import pickle
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
MODELS = os.path.join(REPO, "Tests", "SwiftRNNTests", "Fixtures", "models")
sys.path.insert(0, PYROOT)

import swiftrnn  # noqa: E402


@pytest.fixture(scope="module")
def lm():
    m = swiftrnn.load(os.path.join(MODELS, "charlm_small.safetensors"))
    yield m
    m.close()


@pytest.fixture(scope="module")
def other():
    m = swiftrnn.load(os.path.join(MODELS, "charlm_gru2.safetensors"))
    yield m
    m.close()


def take(g, n):
    return "".join(g.next() for _ in range(n))


CONTROLS = [
    {},
    dict(repetition_penalty=1.4, repetition_window=12),
    dict(min_p=0.08, top_k=10),
    dict(banned="e a", top_p=0.9),
    dict(stop=["the", "s a"], repetition_penalty=0.8, min_p=0.02, banned="\xe9"),
]


def test_feed_equals_priming_with_the_concatenation(lm):
    for seed in range(4):
        g = lm.generator("The ", seed=seed)
        g.feed("s")
        g.feed("")
        g.feed("ea")
        assert take(g, 80) == take(lm.generator("The sea", seed=seed), 80)
    # after drawing: feed continues as a prime of everything so far
    g = lm.generator("The ", greedy=True)
    drawn = take(g, 7)
    g.feed(" and ")
    assert take(g, 60) == take(lm.generator("The " + drawn + " and ", greedy=True), 60)


def test_feed_refuses_unknown_characters_and_changes_nothing(lm):
    g = lm.generator("The sea", seed=1)
    before = g.save_state()
    with pytest.raises(swiftrnn.InvalidArgumentError):
        g.feed("a\x01")
    assert g.save_state() == before


@pytest.mark.parametrize("controls", CONTROLS)
def test_save_load_gives_identical_continuations(lm, controls):
    g = lm.generator("The sea", seed=5, **controls)
    take(g, 13)
    state = g.save_state()
    assert isinstance(state, bytes) and state[:8] == b"SRNNSTAT"
    want = take(g, 100)
    h = lm.generator("T", seed=999, **controls)
    h.load_state(state)
    assert take(h, 100) == want
    h.load_state(bytearray(state))           # again: rewinds
    assert take(h, 100) == want
    # pickled state and pickled generator
    k = lm.generator("a", **controls)
    k.load_state(pickle.loads(pickle.dumps(state)))
    assert take(k, 100) == want
    g.load_state(state)
    p = pickle.loads(pickle.dumps(g))
    assert take(p, 100) == want
    assert take(g, 100) == want


def test_state_after_logits_restores(lm):
    g = lm.generator("The sea", seed=2)
    first = g.logits()
    state = g.save_state()
    want = take(g, 50)
    h = lm.generator("T", seed=2)
    h.load_state(state)
    assert h.logits() == first
    assert take(h, 50) == want


def test_bad_states_are_refused_and_change_nothing(lm, other):
    g = lm.generator("The sea", seed=3)
    state = g.save_state()
    want = take(lm.generator("The sea", seed=3), 40)
    for n in (0, 1, 8, 95, 96, 103, len(state) // 2, len(state) - 1):
        with pytest.raises(swiftrnn.FormatError):
            g.load_state(state[:n])
    for k in range(0, len(state), 5):
        bad = bytearray(state)
        bad[k] ^= 0x10
        with pytest.raises((swiftrnn.FormatError, swiftrnn.UnsupportedError,
                            swiftrnn.InvalidArgumentError)):
            g.load_state(bytes(bad))
    with pytest.raises(swiftrnn.FormatError):
        g.load_state(state + b"\0")
    with pytest.raises(swiftrnn.FormatError):
        g.load_state(b"not a state at all" * 10)
    o = other.generator("T")
    with pytest.raises(swiftrnn.InvalidArgumentError, match="another model"):
        o.load_state(state)
    with pytest.raises(swiftrnn.InvalidArgumentError, match="another model"):
        g.load_state(o.save_state())
    with pytest.raises(TypeError):
        g.load_state("a string")
    assert take(g, 40) == want


def test_characters(lm):
    chars = lm.characters
    assert len(chars) == lm.info["vocab_size"] and "\xe9" in chars
    assert [lm.encode(c)[0] for c in chars] == list(range(len(chars)))
    sent = swiftrnn.load(os.path.join(MODELS, "sentiment_lstm_uni.safetensors"))
    with pytest.raises(swiftrnn.WrongKindError):
        sent.characters
    # the logits' argmax is the greedy character
    g = lm.generator("The sea", greedy=True)
    logits = g.logits()
    assert g.next() == chars[logits.index(max(logits))]


def test_logits(lm):
    g = lm.generator("The sea", seed=4)
    logits = g.logits()
    assert len(logits) == lm.info["vocab_size"]
    assert all(math.isfinite(v) for v in logits)
    assert g.logits() == logits                  # reading twice changes nothing
    assert take(g, 30) == take(lm.generator("The sea", seed=4), 30)
    # -log softmax[c] is the log-likelihood's increment for c
    c = lm.encode("s")[0]
    mx = max(logits)
    nll = math.log(sum(math.exp(v - mx) for v in logits)) + mx - logits[c]
    n1, _ = lm.log_likelihood("The sea")
    n2, _ = lm.log_likelihood("The seas")
    assert abs((n2 - n1) - nll) < 1e-3
    # scaled: twice with scale_factor 2; greedy: unscaled
    assert lm.generator("The sea", scale_factor=2.0).logits() == [2 * v for v in logits]
    assert lm.generator("The sea", greedy=True).logits() == logits
    np = pytest.importorskip("numpy")
    arr = lm.generator("The sea").logits(numpy=True)
    assert arr.dtype == np.float32 and arr.tolist() == logits


@pytest.mark.parametrize("controls", CONTROLS)
def test_controls_are_deterministic_and_equal_everywhere(lm, controls):
    for seed in range(4):
        text, stop = lm.sample_ex("The sea", 200, seed=seed, **controls)
        assert lm.sample("The sea", 200, seed=seed, **controls) == text
        assert lm.sample_ex("The sea", 200, seed=seed, **controls) == (text, stop)
        assert "".join(lm.stream("The sea", 200, seed=seed, **controls)) == text
        if stop is not None:                      # iterating ends at the stop string
            assert "The sea" + "".join(lm.generator("The sea", seed=seed, **controls)) == text
        g = lm.generator("The sea", seed=seed, **controls)
        assert "The sea" + take(g, 200) == text
        assert g.stop_index == stop
        for ch in controls.get("banned", ""):
            assert ch not in text[len("The sea"):]
        if stop is not None:
            s = controls["stop"][stop]
            assert text.endswith(s)
            gen = text[len("The sea"):]
            ends = [gen.find(t) + len(t) for t in controls["stop"] if t in gen]
            assert min(ends) == len(gen)
            assert g.next() == ""                 # stopped until fed
            g.feed(" ")
            assert g.stop_index is None and g.next() != ""
        else:
            assert len(text) == len("The sea") + 200


def test_controls_change_the_text(lm):
    base = lm.sample("The sea", 200, greedy=True)
    assert lm.sample("The sea", 200, greedy=True, repetition_penalty=3.0) != base
    t = lm.sample("The sea", 200, greedy=True, banned=" e")
    assert " " not in t[7:] and "e" not in t[7:]
    text, stop = lm.sample_ex("The sea", 2000, seed=1, stop=" ")
    assert stop == 0 and text.endswith(" ") and " " not in text[7:-1]


@pytest.mark.parametrize("bad", [
    dict(repetition_penalty=0), dict(repetition_penalty=-1), dict(repetition_penalty=math.inf),
    dict(repetition_penalty=math.nan), dict(repetition_window=-1),
    dict(repetition_window=1 << 21), dict(repetition_window=1.5), dict(min_p=-0.1),
    dict(min_p=1.5), dict(min_p=math.nan), dict(min_p="x"), dict(stop=[""]),
    dict(stop=["a\0b"]), dict(stop=["x" * 257]), dict(stop=["a"] * 257),
    dict(banned="".join(chr(c) for c in range(1, 128)) + "\xe9"),
])
def test_invalid_controls_are_refused(lm, bad):
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.sample("The", 10, **bad)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.generator("The", **bad)
    with pytest.raises(swiftrnn.InvalidArgumentError):
        lm.stream("The", 10, **bad)


def test_closed_generator(lm):
    g = lm.generator("The")
    g.close()
    g.close()
    for call in (g.next, g.logits, g.save_state, lambda: g.feed("a"),
                 lambda: g.load_state(b"x")):
        with pytest.raises(swiftrnn.InvalidArgumentError, match="closed"):
            call()
    with pytest.raises(TypeError):
        pickle.dumps(g)
    with lm.generator("The") as g2:
        assert g2.next()
    s = lm.stream("The", 5)
    with pytest.raises(TypeError):
        pickle.dumps(s)
    s.close()
