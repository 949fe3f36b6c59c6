"""Ctrl-C and progress callbacks stop long calls (issue 12): within 0.2 s, and the model
scores and samples correctly afterwards."""
import os
import signal
import threading
import time

import pytest

import swiftrnn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SENT = os.path.join(REPO, "models", "sentiment-imdb.safetensors")
LM = os.path.join(REPO, "models", "charlm-mysterious-island.safetensors")

pytestmark = pytest.mark.skipif(not (os.path.exists(SENT) and os.path.exists(LM)),
                                reason="shipped models missing")


def _interrupt_after(seconds, stamps):
    def go():
        time.sleep(seconds)
        stamps.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)
    t = threading.Thread(target=go)
    t.start()
    return t


def _reviews(n):
    words = ("the film was a wonderful surprise with great acting and a moving story but the "
             "ending dragged and some scenes felt long and dull yet i would watch it again").split()
    return [" ".join(words[(i * 7 + k) % len(words)] for k in range(120 + i % 200)) for i in range(n)]


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_stops_a_25000_review_batch_within_200_ms(threads):
    m = swiftrnn.load(SENT)
    texts = _reviews(25000)
    before = m.score_batch(texts[:50])
    stamps = []
    t = _interrupt_after(0.3, stamps)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        m.score_batch(texts, threads=threads)
    late = time.perf_counter() - stamps[0]
    t.join()
    assert time.perf_counter() - t0 < 5, "the batch ran to its end"
    assert late < 0.2, f"KeyboardInterrupt {late:.3f} s after Ctrl-C"
    assert m.score_batch(texts[:50]) == before


def test_ctrl_c_stops_a_million_character_sample_within_200_ms():
    lm = swiftrnn.load(LM)
    want = lm.sample("The island", length=200, seed=4)
    stamps = []
    t = _interrupt_after(0.3, stamps)
    with pytest.raises(KeyboardInterrupt):
        lm.sample("The island", length=10**6, seed=1)
    late = time.perf_counter() - stamps[0]
    t.join()
    assert late < 0.2, f"KeyboardInterrupt {late:.3f} s after Ctrl-C"
    assert lm.sample("The island", length=200, seed=4) == want


def test_progress_reports_and_cancels():
    m = swiftrnn.load(SENT)
    texts = _reviews(3000)
    seen = []
    assert m.score_batch(texts, progress=lambda d, t: seen.append((d, t)) and False) == m.score_batch(texts)
    assert seen and seen[-1] == (3000, 3000) and all(t == 3000 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(swiftrnn.CancelledError):
        m.score_batch(texts, progress=lambda d, t: True)
    lm = swiftrnn.load(LM)
    with pytest.raises(swiftrnn.CancelledError):
        lm.sample("The", length=100000, progress=lambda d, t: d >= 1000)
    with pytest.raises(ZeroDivisionError):   # an exception in the callback stops the call and surfaces
        lm.sample("The", length=100000, progress=lambda d, t: 1 / 0)


@pytest.mark.parametrize("call", ["classify_batch", "embed_batch"])
def test_classify_and_embed_batches_report_cancel_and_stop_on_ctrl_c(call):
    """The classifier batches (0.4.0) take progress like score_batch: rows unchanged by it, a
    True stops with CancelledError, Ctrl-C within 0.2 s; for a classifier and a sentiment model."""
    clf = os.path.join(REPO, "Tests", "SwiftRNNTests", "Fixtures", "models",
                       "classifier_lstm_bi_3class.safetensors")
    for path in (clf, SENT):
        m = swiftrnn.load(path)
        fn = getattr(m, call)
        texts = _reviews(2000)
        seen = []
        a = fn(texts, progress=lambda d, t: seen.append((d, t)) and False)
        b = fn(texts)
        assert [list(map(float, r)) for r in a] == [list(map(float, r)) for r in b]
        assert seen and seen[-1] == (2000, 2000)
        with pytest.raises(swiftrnn.CancelledError):
            fn(texts, progress=lambda d, t: d >= 100)
    m = swiftrnn.load(SENT)
    texts = _reviews(25000)
    stamps = []
    t = _interrupt_after(0.3, stamps)
    with pytest.raises(KeyboardInterrupt):
        getattr(m, call)(texts, threads=2)
    late = time.perf_counter() - stamps[0]
    t.join()
    assert late < 0.2, f"KeyboardInterrupt {late:.3f} s after Ctrl-C"
