"""libswiftrnn Python bindings (ctypes).

libswiftrnn runs the two recurrent models of ch. 15 of Raschka et al., "Machine Learning with
PyTorch and Scikit-Learn": a review sentiment classifier and a character language model, from
safetensors files (docs/model-format.md; ``swiftrnn.export`` writes them from a PyTorch
``state_dict``)::

    import swiftrnn
    with swiftrnn.load("models/sentiment-imdb.safetensors") as m:
        print(m.score("A wonderful, moving film."))
    lm = swiftrnn.load("models/charlm.safetensors")
    print(lm.sample("The island", length=200, seed=1))
    for ch in lm.stream("The island", length=200, seed=1):
        print(ch, end="", flush=True)
    g = lm.generator("The island", seed=1, stop=["\n\n"], repetition_penalty=1.3)
    text = "".join(g)                  # until the stop string
    g.feed("\n\nThe engineer")         # as if the prime had it too
    state = g.save_state()             # bytes; g.load_state(state) restores exactly
    logits = g.logits()                # the next character's scaled logits

Generators (experimental): :meth:`Model.generator` returns a :class:`Generator` with ``next``,
``feed``, ``logits``, ``save_state``/``load_state`` and ``stop_index``; a :class:`Stream` has
the same methods while open. Sampling controls (``stop``, ``repetition_penalty``,
``repetition_window``, ``min_p``, ``banned``) are keyword arguments of ``sample``,
``sample_ex``, ``stream`` and ``generator`` (docs/c-api.md defines them).
``Model.characters`` is a character model's table, the order of ``logits()``.

Classifiers (experimental): a ``classifier`` model (``python -m swiftrnn.export --kind
classifier --labels labels.json [--multi-label]``) gives ``m.classify(text) -> {label:
probability}`` (softmax, or a sigmoid per label when ``m.multi_label``), ``m.labels``, and
``m.classify_batch(texts)``; ``m.embed(text)`` is the final hidden vector the head reads (also
for sentiment models, which classify as the one label ``"positive"``), ``m.embed_batch(texts)``
its rows. The batch forms return numpy arrays when numpy is installed, lists of lists otherwise,
and each row is exactly the single call's values.

Text arguments are ``str`` (encoded as UTF-8; lone surrogates become ``?``) or ``bytes``
(passed as is; invalid UTF-8 is replaced by U+FFFD in the library).

Thread safety: a :class:`Model` may be shared by any number of threads; the C model is
immutable and every method releases the GIL while the library works, so threads run in
parallel. A :class:`Stream` or :class:`Generator` must be used by one thread at a time.
Models pickle (as their file path, or their bytes when loaded with :func:`load_bytes`), so they
can be sent to ``multiprocessing`` workers.

Ownership: a :class:`Model` owns its C model, freed by :meth:`Model.close`, by leaving a
``with`` block, or when the object is garbage-collected. A :class:`Stream` owns its C generator
and keeps the C model alive until the stream is exhausted, closed or garbage-collected, so
closing a model never invalidates a stream (or a call running on another thread): the memory
is freed when the last user lets go.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_char_p, c_double, c_float, c_int, c_int32, c_size_t
from typing import Dict, Iterable, List, Optional, Tuple, Union

from . import _lib
from ._version import __version__

__all__ = [
    "__version__", "load", "load_bytes", "tokenize", "Model", "Stream", "Generator",
    "SwiftRNNError", "InvalidArgumentError", "SwiftRNNIOError", "FormatError",
    "UnsupportedError", "WrongKindError", "BufferTooSmallError", "OutOfMemoryError",
    "InternalError", "NonFiniteError", "CancelledError", "LibraryNotFoundError", "library_path",
]

#: Raised by the first call that needs libswiftrnn.so when none can be loaded (an ImportError).
LibraryNotFoundError = _lib.LibraryNotFoundError


def __getattr__(name: str):
    """``swiftrnn.library_path``: the path of the loaded libswiftrnn.so, loading it on first
    access; None when no library can be found (the first call that needs it then raises
    :class:`LibraryNotFoundError` saying where it looked). PEP 562."""
    if name == "library_path":
        try:
            return _lib.load()
        except _lib.LibraryNotFoundError:
            return None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Text = Union[str, bytes, bytearray, memoryview]

_UINT64_MAX = 2 ** 64 - 1
_INT32_MAX = 2 ** 31 - 1


# ---- errors -------------------------------------------------------------------------------------

class SwiftRNNError(Exception):
    """A call into libswiftrnn failed.

    ``status`` is the C ``swiftrnn_status`` (an int), ``status_name`` its name
    (``"SWIFTRNN_ERR_FORMAT"``) and ``message`` the library's message. Each status has its own
    subclass; ``SwiftRNNError(status, message)`` builds the generic form.
    """

    status = -1

    def __init__(self, status: int, message: str = ""):
        """``status``: a swiftrnn_status value; ``message``: what went wrong."""
        super().__init__(status, message)
        self.status = int(status)
        self.message = message

    @property
    def status_name(self) -> str:
        """The C name of the status, e.g. ``"SWIFTRNN_ERR_IO"``."""
        return _lib.STATUS_NAMES.get(self.status, "unknown status")

    def __str__(self) -> str:
        """``message [STATUS_NAME]``."""
        return f"{self.message} [{self.status_name}]" if self.message else self.status_name


class InvalidArgumentError(SwiftRNNError, ValueError):
    """SWIFTRNN_ERR_INVALID_ARGUMENT: a value out of range, an unknown character, a closed model
    (also a ValueError)."""
    status = _lib.SWIFTRNN_ERR_INVALID_ARGUMENT


class SwiftRNNIOError(SwiftRNNError):
    """SWIFTRNN_ERR_IO: a file that is missing or cannot be read."""
    status = _lib.SWIFTRNN_ERR_IO


class FormatError(SwiftRNNError):
    """SWIFTRNN_ERR_FORMAT: anything wrong inside a model file or buffer."""
    status = _lib.SWIFTRNN_ERR_FORMAT


class UnsupportedError(SwiftRNNError):
    """SWIFTRNN_ERR_UNSUPPORTED: a well-formed file of a newer format version or unknown dtype."""
    status = _lib.SWIFTRNN_ERR_UNSUPPORTED


class WrongKindError(SwiftRNNError, TypeError):
    """SWIFTRNN_ERR_WRONG_KIND: e.g. scoring with a character model (also a TypeError)."""
    status = _lib.SWIFTRNN_ERR_WRONG_KIND


class BufferTooSmallError(SwiftRNNError):
    """SWIFTRNN_ERR_BUFFER_TOO_SMALL (the bindings size buffers themselves; seeing it is a bug)."""
    status = _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL


class OutOfMemoryError(SwiftRNNError, MemoryError):
    """SWIFTRNN_ERR_OUT_OF_MEMORY (also a MemoryError)."""
    status = _lib.SWIFTRNN_ERR_OUT_OF_MEMORY


class InternalError(SwiftRNNError):
    """SWIFTRNN_ERR_INTERNAL: a bug in libswiftrnn; please report it with the message."""
    status = _lib.SWIFTRNN_ERR_INTERNAL


class NonFiniteError(SwiftRNNError, ArithmeticError):
    """SWIFTRNN_ERR_NON_FINITE: the model computed NaN or infinity on this input (its weights
    overflow float32); no result is returned with a NaN in it."""
    status = _lib.SWIFTRNN_ERR_NON_FINITE


class CancelledError(SwiftRNNError):
    """SWIFTRNN_ERR_CANCELLED: a ``progress`` callback returned True. (Ctrl-C during a long call
    raises KeyboardInterrupt instead.)"""
    status = _lib.SWIFTRNN_ERR_CANCELLED


_ERRORS = {cls.status: cls for cls in (
    InvalidArgumentError, SwiftRNNIOError, FormatError, UnsupportedError, WrongKindError,
    BufferTooSmallError, OutOfMemoryError, InternalError, NonFiniteError, CancelledError)}


def _error(status: int, context: str = "") -> SwiftRNNError:
    """The exception for a failed call: the status's subclass with this thread's last_error."""
    msg = _lib.last_error()
    if context:
        msg = f"{context}: {msg}" if msg else context
    return _ERRORS.get(status, SwiftRNNError)(status, msg)


def _check(status: int, context: str = "") -> None:
    """Raise the matching SwiftRNNError unless status is SWIFTRNN_OK."""
    if status != _lib.SWIFTRNN_OK:
        raise _error(status, context)


# ---- helpers ------------------------------------------------------------------------------------

class _Interruptible:
    """A progress callback for a long C call that makes Ctrl-C work during it.

    The C call runs with the GIL released; a SIGINT then only sets CPython's flag, and
    KeyboardInterrupt would arrive when the call returns (seconds later). The library calls the
    callback on the calling thread every ~2 ms; while the call runs on the main thread, a
    temporary SIGINT handler records the signal (the interpreter runs it as soon as the
    callback's Python code starts), and the callback then asks the library to stop, which it does
    within milliseconds (SWIFTRNN_ERR_CANCELLED). ``run`` then raises KeyboardInterrupt; the
    model stays usable. ``user`` (the caller's ``progress(done, total)``) may also return True
    to stop (CancelledError)."""

    def __init__(self, user=None):
        self.user = user
        self.interrupted = False
        self.error: Optional[BaseException] = None
        self.c_fn = _lib.swiftrnn_progress_fn(self._call)

    def _call(self, _data, done, total):
        try:
            if self.interrupted:
                return 1
            if self.user is not None and self.user(int(done), int(total)):
                return 1
            return 0
        except KeyboardInterrupt:
            self.interrupted = True
            return 1
        except BaseException as e:  # noqa: BLE001 - re-raised by run()
            self.error = e
            return 1

    def _on_sigint(self, signum, frame):
        self.interrupted = True

    def run(self, call):
        """call() -> status, with Ctrl-C and the user's callback able to stop it."""
        import signal
        import threading
        old = None
        # Only where Python owns SIGINT: on the main thread, and when the current handler is a
        # Python one (getsignal is None for a handler installed from C, which could not be put
        # back afterwards: then Ctrl-C keeps the host's behaviour).
        main = (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is not None)
        if main:
            try:
                old = signal.signal(signal.SIGINT, self._on_sigint)
            except ValueError:  # not the main interpreter
                main = False
        try:
            st = call()
        finally:
            if main:
                signal.signal(signal.SIGINT, old)
        if self.interrupted:
            raise KeyboardInterrupt
        if self.error is not None:
            raise self.error
        return st

def _to_bytes(text: Text, what: str = "text") -> bytes:
    """str -> UTF-8 (lone surrogates replaced); bytes-like -> bytes; else TypeError."""
    if isinstance(text, str):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:           # lone surrogates
            return text.encode("utf-8", errors="replace")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"{what} must be str or bytes, not {type(text).__name__}")


def _decode(b: bytes) -> str:
    """UTF-8 bytes from the library -> str (never raises)."""
    return b.decode("utf-8", errors="replace")


def tokenize(text: Text) -> List[str]:
    """The book's tokenizer (ch. 15): HTML tags removed, emoticons kept, lower-cased, split on
    non-word characters. No model needed. Thread-safe.

    >>> tokenize("<br />I loved it :)")
    ['i', 'loved', 'it', ':)']
    """
    data = _to_bytes(text)
    out_len = c_size_t(0)
    cap = 2 * len(data) + 16
    for _ in range(3):
        buf = ctypes.create_string_buffer(cap)
        st = _lib.swiftrnn_tokenize(data, len(data), buf, cap, byref(out_len))
        if st == _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
            cap = out_len.value + 1
            continue
        _check(st)
        toks = _decode(buf.raw[:out_len.value]).split("\n")
        if toks and toks[-1] == "":
            toks.pop()
        return toks
    raise BufferTooSmallError(_lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL,
                              "swiftrnn_tokenize kept asking for a larger buffer")


class _ModelHandle:
    """Owns one C ``swiftrnn_model *``; frees it when the last reference goes away.

    The :class:`Model` and each live :class:`Stream` (and each method call in progress, through
    a local variable) hold a reference, so the C model outlives every user of it.
    """

    __slots__ = ("ptr",)

    def __init__(self, ptr):
        """Take ownership of a ``swiftrnn_model *`` (may be NULL)."""
        self.ptr = ptr

    def __del__(self):
        """Free the C model (runs when the last holder lets go)."""
        ptr, self.ptr = self.ptr, None
        if ptr:
            try:
                _lib.swiftrnn_model_free(ptr)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass


def _sample_params(scale_factor, top_k, top_p, greedy, seed, threads=1, stop=None,
                   repetition_penalty=1.0, repetition_window=64, min_p=0.0,
                   banned="") -> "_lib.swiftrnn_sample_params":
    """A filled swiftrnn_sample_params; InvalidArgumentError for values ctypes cannot hold.
    The library validates the values themselves (one place, one set of messages)."""
    p = _base_params(scale_factor, top_k, top_p, greedy, seed, threads)
    if stop is None:
        stop = []
    elif isinstance(stop, (str, bytes)):
        stop = [stop]
    stops = [_to_bytes(t, "stop string") for t in stop]
    for k, t in enumerate(stops):
        if b"\0" in t:
            raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                       f"stop[{k}] contains a NUL character")
    arr = (c_char_p * max(1, len(stops)))(*stops)
    p.stop_strings = ctypes.cast(arr, ctypes.POINTER(c_char_p)) if stops else None
    p.n_stop_strings = len(stops)
    try:
        p.repetition_penalty = float(repetition_penalty)
        p.min_p = float(min_p)
    except (TypeError, ValueError):
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   "repetition_penalty and min_p must be numbers") from None
    if (not isinstance(repetition_window, int) or isinstance(repetition_window, bool)
            or not -_INT32_MAX - 1 <= repetition_window <= _INT32_MAX):
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   f"repetition_window must be an int, got {repetition_window!r}")
    p.repetition_window = repetition_window
    b = _to_bytes(banned or b"", "banned")
    p.banned = b if b else None
    p.banned_len = len(b)
    p._keepalive = (arr, stops, b)      # the C struct points into these
    return p


def _base_params(scale_factor, top_k, top_p, greedy, seed, threads=1) -> "_lib.swiftrnn_sample_params":
    """The fields of swiftrnn_sample_params before the sampling controls."""
    p = _lib.swiftrnn_sample_params()
    _lib.swiftrnn_sample_params_init(byref(p))
    p.struct_size = ctypes.sizeof(_lib.swiftrnn_sample_params)
    try:
        p.scale_factor = float(scale_factor)
        p.top_p = float(top_p)
    except (TypeError, ValueError):
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   "scale_factor and top_p must be numbers") from None
    if not isinstance(top_k, int) or not 0 <= top_k <= _INT32_MAX:
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   f"top_k must be an int in 0..{_INT32_MAX}, got {top_k!r}")
    p.top_k = top_k
    p.greedy = 1 if greedy else 0
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little")
    if not isinstance(seed, int) or not 0 <= seed <= _UINT64_MAX:
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   f"seed must be None or an int in 0..2**64-1, got {seed!r}")
    p.seed = seed
    if not isinstance(threads, int) or isinstance(threads, bool) or not 0 <= threads <= _INT32_MAX:
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   f"threads must be an int in 0..{_INT32_MAX}, got {threads!r}")
    p.n_threads = threads
    return p


_MAX_SAMPLE = 1 << 32


def _check_length(length) -> int:
    """A number of characters to generate: an int in 0 .. 2**32 (``sample`` allocates the
    worst-case buffer up front; for longer texts use ``stream``)."""
    if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= _MAX_SAMPLE:
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   f"length must be an int in 0..{_MAX_SAMPLE}, got {length!r}")
    return length


# ---- models -------------------------------------------------------------------------------------

class Model:
    """A loaded libswiftrnn model: a sentiment classifier or a character language model.

    Create one with :func:`load` or :func:`load_bytes`. Attributes:

    * ``kind``: ``"sentiment"`` or ``"charlm"``;
    * ``info``: a dict with ``cell`` (``"lstm"``, ``"gru"``, ``"rnn_tanh"``, ``"rnn_relu"``),
      ``vocab_size``, ``embedding_dim``, ``hidden_size``, ``num_layers``, ``bidirectional``
      (bool), ``head_layers``, ``n_parameters`` and ``description`` (the library's one-line
      summary);
    * ``path``: the file it was loaded from (None for :func:`load_bytes`).

    Thread safety: every method may be called from any number of threads at once (the C model is
    immutable; the GIL is released during the work). The only mutable state is whether the model
    is closed; closing it while other threads are in a call is safe (the C model is freed when
    the last call returns), later calls raise ``InvalidArgumentError("model is closed")`` (also a ``ValueError``).

    Ownership: the Model owns the C model and frees it on :meth:`close`, at the end of a
    ``with`` block or when garbage-collected. Streams keep it alive until they finish.

    Pickling: a Model pickles as its path (reloaded with :func:`load`) or, when loaded from
    memory, as its bytes, so it can be passed to ``multiprocessing`` workers.
    """

    def __init__(self, _handle: _ModelHandle, path: Optional[str] = None,
                 data: Optional[bytes] = None):
        """Internal: use :func:`load` or :func:`load_bytes`."""
        self._h: Optional[_ModelHandle] = _handle
        self.path = path
        self._data = data
        info = _lib.swiftrnn_model_info()
        info.struct_size = ctypes.sizeof(_lib.swiftrnn_model_info)
        _check(_lib.swiftrnn_model_get_info(_handle.ptr, byref(info)))
        desc = _lib.swiftrnn_model_describe(_handle.ptr)
        self.kind: str = _lib.KIND_NAMES.get(info.kind, f"unknown({info.kind})")
        self.info = {
            "cell": _lib.CELL_NAMES.get(info.cell, f"unknown({info.cell})"),
            "vocab_size": int(info.vocab_size),
            "embedding_dim": int(info.embedding_dim),
            "hidden_size": int(info.hidden_size),
            "num_layers": int(info.num_layers),
            "bidirectional": bool(info.bidirectional),
            "head_layers": int(info.head_layers),
            "n_parameters": int(info.n_parameters),
            "precision": _lib.PRECISION_NAMES.get(info.precision, f"unknown({info.precision})"),
            "description": _decode(desc) if desc else "",
        }

    # -- lifetime --

    def _handle(self) -> _ModelHandle:
        """The live handle (the caller keeps it in a local for the call), or ValueError."""
        h = self._h
        if h is None:
            raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT, "model is closed")
        return h

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._h is None

    def close(self) -> None:
        """Release the C model (idempotent). Streams and calls in progress on other threads keep
        it alive until they finish; afterwards every method raises ``ValueError``."""
        self._h = None

    def __enter__(self) -> "Model":
        """``with swiftrnn.load(path) as m:`` closes the model at the end of the block."""
        return self

    def __exit__(self, *exc) -> None:
        """Close the model."""
        self.close()

    def __del__(self):
        """Garbage collection closes the model (frees the C model unless a stream or a call
        in progress still holds it)."""
        self._h = None

    def __reduce__(self):
        """Pickle as ``load(path)``, or ``load_bytes(data)`` for a model loaded from memory."""
        if self.path is not None:
            return (load, (self.path,))
        return (load_bytes, (self._data,))

    def __repr__(self) -> str:
        """``<swiftrnn.Model KIND from SOURCE: description>``."""
        state = "closed" if self._h is None else self.info["description"]
        src = self.path if self.path is not None else f"<{len(self._data or b'')} bytes>"
        return f"<swiftrnn.Model {self.kind} from {src}: {state}>"

    # -- both kinds --

    def encode(self, text: Text) -> List[int]:
        """The indices the model sees for ``text``: the book's tokenizer + vocabulary
        (``<unk>`` = 1) for a sentiment model; characters through the table for a character
        model (an unknown character raises :class:`InvalidArgumentError` naming it).
        Thread-safe."""
        h = self._handle()
        data = _to_bytes(text)
        count = c_size_t(0)
        cap = len(data) + 1
        for _ in range(3):
            ids = (c_int32 * cap)()
            st = _lib.swiftrnn_encode(h.ptr, data, len(data), ids, cap, byref(count))
            if st == _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
                cap = count.value + 1
                continue
            _check(st)
            return list(ids[:count.value])
        raise BufferTooSmallError(_lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL,
                                  "swiftrnn_encode kept asking for a larger buffer")

    # -- sentiment --

    def score(self, text: Text) -> float:
        """The probability (in [0, 1]) that ``text`` is a positive review. A text without tokens
        is scored as ``[<pad>]``. :class:`WrongKindError` for a character model. Thread-safe."""
        h = self._handle()
        data = _to_bytes(text)
        p = c_float()
        _check(_lib.swiftrnn_score_sentiment(h.ptr, data, len(data), byref(p)))
        return p.value

    def score_batch(self, texts: Iterable[Text], threads: int = 0,
                    progress=None) -> List[float]:
        """Score many texts in one call, in parallel inside the library (``threads`` = 0: every
        core; otherwise at most that many). Element ``i`` equals ``score(texts[i])`` exactly.
        Ctrl-C stops it within milliseconds (KeyboardInterrupt). ``progress(done, total)``, if
        given, is called about every 2 ms with the reviews scored; returning True stops the
        batch with :class:`CancelledError`. Thread-safe."""
        h, n, ptrs, lens, blobs = self._batch_args(texts, threads, "score_batch takes a list of texts, not one text (use score)")
        out = (c_float * max(n, 1))()
        watch = _Interruptible(progress)
        bp = _lib.swiftrnn_batch_params()
        _lib.swiftrnn_batch_params_init(byref(bp))
        bp.n_threads = threads
        bp.progress = watch.c_fn
        _check(watch.run(lambda: _lib.swiftrnn_score_sentiment_batch_ex(h.ptr, ptrs, lens, n,
                                                                         byref(bp), out)))
        return [float(x) for x in out[:n]]

    # -- classifiers and features (experimental) --

    @property
    def labels(self) -> List[str]:
        """The label names of a classifier, in the order of :meth:`classify`'s probabilities
        (``swiftrnn_model_label``); a sentiment model has the one label ``"positive"``.
        :class:`WrongKindError` for a character model. Experimental."""
        h = self._handle()
        labels = self.__dict__.get("_labels")
        if labels is None:
            n = c_size_t(0)
            count = c_size_t(0)
            st = _lib.swiftrnn_model_label(h.ptr, -1, None, 0, byref(n), byref(count))
            if st != _lib.SWIFTRNN_ERR_INVALID_ARGUMENT:
                _check(st)
            labels = []
            for k in range(count.value):
                st = _lib.swiftrnn_model_label(h.ptr, k, None, 0, byref(n), None)
                if st != _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
                    _check(st)
                buf = ctypes.create_string_buffer(n.value + 1)
                _check(_lib.swiftrnn_model_label(h.ptr, k, buf, len(buf), byref(n), None))
                labels.append(_decode(buf.raw[:n.value]))
            self._labels = labels
        return list(labels)

    @property
    def multi_label(self) -> bool:
        """True when each label has its own sigmoid (multi-label; a sentiment model), False for
        a softmax over the labels. Experimental."""
        h = self._handle()
        v = c_int(0)
        _check(_lib.swiftrnn_model_multi_label(h.ptr, byref(v)))
        return bool(v.value)

    def classify(self, text: Text) -> Dict[str, float]:
        """``{label: probability}`` for ``text``, in label order: a softmax over the labels
        (single-label) or a sigmoid per label (multi-label). A sentiment model gives
        ``{"positive": score(text)}``. :class:`WrongKindError` for a character model;
        :class:`NonFiniteError` when the weights overflow. Thread-safe. Experimental."""
        labels = self.labels
        h = self._handle()
        data = _to_bytes(text)
        out = (c_float * len(labels))()
        n = c_size_t(0)
        _check(_lib.swiftrnn_classify(h.ptr, data, len(data), out, len(labels), byref(n)))
        return {lab: float(out[k]) for k, lab in enumerate(labels)}

    def classify_batch(self, texts: Iterable[Text], threads: int = 0, progress=None):
        """:meth:`classify` of many texts in one call: one row of probabilities per text, in
        label order (each row exactly ``classify(texts[i])``'s values). A numpy array
        ``[len(texts), len(labels)]`` when numpy is installed, else a list of lists.
        Ctrl-C and ``progress`` as in :meth:`score_batch`. Experimental."""
        return self._rows("swiftrnn_classify_batch_ex", texts, threads, len(self.labels), progress)

    def embed(self, text: Text):
        """The feature vector of ``text``, what the head reads: the final hidden state (``D *
        hidden_size`` floats; bidirectional: forward then backward), with concat pooling
        followed by the max and the mean of the outputs (``3 * D * hidden_size``). A list of floats.
        For sentiment and classifier models; :class:`WrongKindError` for a character model.
        Thread-safe. Experimental."""
        h = self._handle()
        data = _to_bytes(text)
        width = self._feature_width()
        out = (c_float * width)()
        n = c_size_t(0)
        _check(_lib.swiftrnn_embed(h.ptr, data, len(data), out, width, byref(n)))
        return [float(x) for x in out[:n.value]]

    def embed_batch(self, texts: Iterable[Text], threads: int = 0, progress=None):
        """:meth:`embed` of many texts: a numpy array ``[len(texts), features]`` when numpy is
        installed, else a list of lists; row ``i`` is exactly ``embed(texts[i])``. Ctrl-C and
        ``progress`` as in :meth:`score_batch`. Experimental."""
        if self.kind == "charlm":
            h = self._handle()
            n = c_size_t(0)
            _check(_lib.swiftrnn_embed(h.ptr, b"", 0, None, 0, byref(n)))
        return self._rows("swiftrnn_embed_batch_ex", texts, threads, self._feature_width(), progress)

    def _feature_width(self) -> int:
        width = self.__dict__.get("_features")
        if width is None:
            h = self._handle()
            n = c_size_t(0)
            st = _lib.swiftrnn_embed(h.ptr, b"", 0, None, 0, byref(n))
            if st != _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
                _check(st)
            width = self._features = n.value
        return width

    def _batch_args(self, texts, threads, one_text_message: str):
        """The checked arguments of a batch call: handle, count, text pointers, lengths, and the
        bytes the pointers point into (the caller keeps them alive across the call)."""
        if isinstance(texts, (str, bytes, bytearray)):
            raise TypeError(one_text_message)
        h = self._handle()
        blobs = [_to_bytes(t, "texts[i]") for t in texts]
        if not isinstance(threads, int) or not 0 <= threads <= _INT32_MAX:
            raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                       f"threads must be an int >= 0, got {threads!r}")
        n = len(blobs)
        ptrs = (c_char_p * max(n, 1))(*blobs)
        lens = (c_size_t * max(n, 1))(*[len(b) for b in blobs])
        return h, n, ptrs, lens, blobs

    def _rows(self, fn: str, texts, threads: int, width: int, progress=None):
        h, n, ptrs, lens, blobs = self._batch_args(texts, threads, f"{fn[9:-3]} takes a list of texts, not one text")
        out = (c_float * max(n * width, 1))()
        got = c_size_t(0)
        watch = _Interruptible(progress)
        bp = _lib.swiftrnn_batch_params()
        _lib.swiftrnn_batch_params_init(byref(bp))
        bp.n_threads = threads
        bp.progress = watch.c_fn
        _check(watch.run(lambda: getattr(_lib, fn)(h.ptr, ptrs, lens, n, byref(bp), out, n * width,
                                                    byref(got))))
        flat = [float(x) for x in out[:n * width]]
        rows = [flat[i * width:(i + 1) * width] for i in range(n)]
        try:
            import numpy
        except ImportError:
            return rows
        return numpy.array(rows, dtype=numpy.float32).reshape(n, width)

    # -- character language model --

    def sample(self, prime: Text, length: int = 500, scale_factor: float = 1.0, top_k: int = 0,
               top_p: float = 1.0, greedy: bool = False, seed: Optional[int] = 0,
               threads: int = 1, progress=None, **controls) -> str:
        """Generate ``length`` characters after ``prime``, as the book's ``sample()``; returns
        prime + the generated text.

        ``scale_factor`` multiplies the logits (temperature = 1/scale_factor); ``top_k`` keeps
        the k most likely characters (0: off); ``top_p`` keeps the smallest set reaching that
        probability (1.0: off); ``greedy`` always takes the argmax. The same (model, prime,
        parameters, ``seed``) gives the same text; ``seed`` is 0 unless given (as in the C API's
        ``swiftrnn_sample_params_init`` and both command lines), and ``seed=None`` draws a random
        seed from ``os.urandom``. ``threads=2`` splits every step with a helper thread (faster for
        hidden sizes >= 128 on 2+ cores; 0: 2 when there are 2+ cores); the text is the same for
        any value. A prime that is empty or has a character outside the table raises
        :class:`InvalidArgumentError`; a sentiment model :class:`WrongKindError`. Ctrl-C stops a
        long generation within milliseconds (KeyboardInterrupt); ``progress(done, length)`` is
        called about every 2 ms and may return True to stop (:class:`CancelledError`).

        Sampling controls (keyword arguments, experimental; see :meth:`sample_ex`): ``stop``
        (a string or a list of them: generation ends after the first one completed, which stays
        in the text), ``repetition_penalty`` (CTRL-style, 1.0: off) over the last
        ``repetition_window`` characters (64), ``min_p`` (0.0: off) and ``banned`` (a string of
        characters never drawn). The same values give the same text in :meth:`stream` and
        :meth:`generator`. Invalid values raise :class:`InvalidArgumentError`.
        Thread-safe.
        """
        return self.sample_ex(prime, length, scale_factor, top_k, top_p, greedy, seed, threads,
                              progress, **controls)[0]

    def sample_ex(self, prime: Text, length: int = 500, scale_factor: float = 1.0,
                  top_k: int = 0, top_p: float = 1.0, greedy: bool = False,
                  seed: Optional[int] = 0, threads: int = 1, progress=None, *,
                  stop=None, repetition_penalty: float = 1.0, repetition_window: int = 64,
                  min_p: float = 0.0, banned: Text = "") -> Tuple[str, Optional[int]]:
        """As :meth:`sample`, returning ``(text, stop_index)``: the index in ``stop`` of the
        stop string that ended generation, or None when ``length`` characters were generated
        (``swiftrnn_sample_text_ex``). Experimental."""
        h = self._handle()
        data = _to_bytes(prime, "prime")
        length = _check_length(length)
        params = _sample_params(scale_factor, top_k, top_p, greedy, seed, threads, stop,
                                repetition_penalty, repetition_window, min_p, banned)
        watch = _Interruptible(progress)
        params.progress = watch.c_fn
        out_len = c_size_t(0)
        stop_index = c_int32(-1)
        cap = len(data) + 4 * length + 1
        for _ in range(3):
            buf = ctypes.create_string_buffer(cap)
            st = watch.run(lambda: _lib.swiftrnn_sample_text_ex(h.ptr, data, len(data), length,
                                                                 byref(params), buf, cap,
                                                                 byref(out_len),
                                                                 byref(stop_index)))
            if st == _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
                cap = out_len.value + 1
                continue
            _check(st)
            k = stop_index.value
            return _decode(buf.raw[:out_len.value]), (k if k >= 0 else None)
        raise BufferTooSmallError(_lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL,
                                  "swiftrnn_sample_text kept asking for a larger buffer")

    def stream(self, prime: Text, length: int = 500, scale_factor: float = 1.0,
               top_k: int = 0, top_p: float = 1.0, greedy: bool = False,
               seed: Optional[int] = 0, **controls) -> "Stream":
        """Like :meth:`sample`, one character at a time: an iterator that yields the prime first,
        then each of the ``length`` generated characters, so that ``"".join(m.stream(...))`` ==
        ``m.sample(...)`` with the same arguments and seed (0 unless given). Errors in the prime are raised here,
        not at the first ``next``. The returned :class:`Stream` owns a C generator (freed when
        exhausted, closed or garbage-collected) and must be used by one thread at a time.
        ``controls``: the sampling controls of :meth:`sample`; a stop string ends the
        iteration after its last character. The Stream has the methods of :class:`Generator`
        (``feed``, ``logits``, ``save_state``, ``load_state``)."""
        length = _check_length(length)
        kw = dict(scale_factor=scale_factor, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed,
                  **controls)
        h, gen, data = self._create_generator(prime, kw)
        return Stream(self, h, gen, data, kw, _decode(data), length)

    def generator(self, prime: Text, scale_factor: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0, greedy: bool = False, seed: Optional[int] = 0,
                  **controls) -> "Generator":
        """A :class:`Generator` warmed on ``prime``: draw with :meth:`Generator.next`, feed
        more text with :meth:`Generator.feed`, read the next distribution with
        :meth:`Generator.logits`, snapshot with :meth:`Generator.save_state`. The parameters
        are those of :meth:`sample` (controls included); the characters drawn equal what
        :meth:`sample` appends with the same arguments. Experimental."""
        kw = dict(scale_factor=scale_factor, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed,
                  **controls)
        h, gen, data = self._create_generator(prime, kw)
        return Generator(self, h, gen, data, kw)

    def _create_generator(self, prime: Text, kw: dict):
        h = self._handle()
        data = _to_bytes(prime, "prime")
        if kw.get("seed", 0) is None:
            kw["seed"] = int.from_bytes(os.urandom(8), "little")
        params = _sample_params(**kw)
        gen = _lib.swiftrnn_generator_p()
        _check(_lib.swiftrnn_generator_create(h.ptr, data, len(data), byref(params), byref(gen)))
        return h, gen, data

    @property
    def characters(self) -> List[str]:
        """A character model's table, in the order of :meth:`encode`'s ids and of
        :meth:`Generator.logits` (``swiftrnn_model_character``); :class:`WrongKindError` for a
        sentiment model. Experimental."""
        h = self._handle()
        chars = self.__dict__.get("_characters")
        if chars is None:
            buf = ctypes.create_string_buffer(8)
            n = c_size_t(0)
            chars = []
            for k in range(self.info["vocab_size"]):
                _check(_lib.swiftrnn_model_character(h.ptr, k, buf, len(buf), byref(n)))
                chars.append(_decode(buf.raw[:n.value]))
            self._characters = chars
        return list(chars)

    def log_likelihood(self, text: Text) -> Tuple[float, int]:
        """How well the character model predicts ``text``: ``(nats, predicted)``, the negative
        log-likelihood in nats of characters 2..n, each predicted from all before it, and
        ``predicted`` = n - 1. Bits per character = ``nats / predicted / math.log(2)``. A text of
        fewer than 2 characters gives ``(0.0, 0)``; an unknown character raises
        :class:`InvalidArgumentError`. Thread-safe."""
        h = self._handle()
        data = _to_bytes(text)
        nats = c_double()
        predicted = c_size_t()
        _check(_lib.swiftrnn_log_likelihood(h.ptr, data, len(data), byref(nats),
                                            byref(predicted)))
        return nats.value, predicted.value


def _restore_generator(model: "Model", prime: bytes, kw: dict, state: bytes) -> "Generator":
    """Unpickles a :class:`Generator`: a new one from the same model and parameters, then its
    saved state."""
    g = model.generator(prime, **kw)
    g.load_state(state)
    return g


class Generator:
    """A streaming generator (see :meth:`Model.generator`), a C ``swiftrnn_generator``.

    :meth:`next` draws one character (``""`` once a stop string ended generation, until the
    next :meth:`feed`); iterating yields characters until a stop string (forever without one).
    :meth:`feed` advances the state over more text exactly as a longer prime would have;
    :meth:`logits` gives the next character's scaled logits; :meth:`save_state` /
    :meth:`load_state` snapshot and restore everything that decides the next characters (the
    random state included) as bytes, which pickle. A Generator pickles too (its model, prime,
    parameters and state). Use from one thread at a time. Experimental.
    """

    def __init__(self, model: "Model", handle: _ModelHandle, gen, prime: bytes, kw: dict):
        """Internal: use :meth:`Model.generator`."""
        self._model: Optional[Model] = model
        self._model_h: Optional[_ModelHandle] = handle
        self._gen = gen
        self._prime_bytes = prime
        self._kw = kw
        self._buf = ctypes.create_string_buffer(8)
        self._out_len = c_size_t(0)

    def _ptr(self):
        if not self._gen:
            raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT, "generator is closed")
        return self._gen

    def next(self) -> str:
        """The next character; ``""`` when a stop string ended generation (see
        :attr:`stop_index`)."""
        _check(_lib.swiftrnn_generator_next(self._ptr(), self._buf, len(self._buf),
                                            byref(self._out_len)))
        return _decode(self._buf.raw[:self._out_len.value])

    def __iter__(self):
        """Characters until a stop string ends generation."""
        while True:
            ch = self.next()
            if not ch:
                return
            yield ch

    def feed(self, text: Text) -> None:
        """Advance the state over ``text`` as a longer prime would have: ``feed("ab")`` then
        ``feed("c")`` equals creating with ``prime + "abc"``. Lets generation go on after a
        stop string. A character outside the model's table raises
        :class:`InvalidArgumentError` and changes nothing."""
        data = _to_bytes(text)
        _check(_lib.swiftrnn_generator_feed(self._ptr(), data, len(data)))

    @property
    def stop_index(self) -> Optional[int]:
        """The index in ``stop`` of the stop string that ended generation, or None."""
        k = c_int32(-1)
        _check(_lib.swiftrnn_generator_stop_index(self._ptr(), byref(k)))
        return k.value if k.value >= 0 else None

    def logits(self, numpy: bool = False):
        """The next character's logits times ``scale_factor`` (unscaled when greedy), one per
        character of the model's table (in the order of :meth:`Model.encode`'s ids), before
        the repetition penalty, bans, top-k, top-p and min-p. Does not change what is drawn
        next. A list of floats, or a float32 numpy array with ``numpy=True``."""
        n = c_size_t(0)
        st = _lib.swiftrnn_generator_logits(self._ptr(), None, 0, byref(n))
        if st != _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
            _check(st)
        out = (c_float * n.value)()
        _check(_lib.swiftrnn_generator_logits(self._ptr(), out, n.value, byref(n)))
        if numpy:
            import numpy as np  # optional dependency
            return np.frombuffer(bytes(out), dtype=np.float32).copy()
        return list(out)

    def save_state(self) -> bytes:
        """Everything that decides the next characters, as bytes (docs/c-api.md, "Generator
        state"): load them into a generator of the same model with :meth:`load_state`."""
        n = c_size_t(0)
        st = _lib.swiftrnn_generator_save_state(self._ptr(), None, 0, byref(n))
        if st != _lib.SWIFTRNN_ERR_BUFFER_TOO_SMALL:
            _check(st)
        buf = ctypes.create_string_buffer(n.value)
        _check(_lib.swiftrnn_generator_save_state(self._ptr(), buf, n.value, byref(n)))
        return buf.raw[:n.value]

    def load_state(self, state: Union[bytes, bytearray, memoryview]) -> None:
        """Restore a state from :meth:`save_state`: the generator then draws exactly what the
        saved one would have. :class:`FormatError` for truncated or corrupted bytes,
        :class:`InvalidArgumentError` for a state of another model; the generator is then
        unchanged."""
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise TypeError(f"state must be bytes, not {type(state).__name__}")
        data = bytes(state)
        buf = ctypes.create_string_buffer(data, max(1, len(data)))
        _check(_lib.swiftrnn_generator_load_state(self._ptr(), buf, len(data)))

    def __reduce__(self):
        """Pickles as (model, prime, parameters, saved state)."""
        if self._model is None:
            raise TypeError("cannot pickle a closed generator")
        return (_restore_generator, (self._model, self._prime_bytes, dict(self._kw),
                                     self.save_state()))

    def close(self) -> None:
        """Free the C generator (idempotent)."""
        gen, self._gen = self._gen, None
        if gen:
            _lib.swiftrnn_generator_free(gen)
        self._model_h = None          # after the generator: the model must outlive it
        self._model = None

    def __enter__(self):
        """``with m.generator(...) as g:`` frees the generator at the end of the block."""
        return self

    def __exit__(self, *exc) -> None:
        """Free the generator."""
        self.close()

    def __del__(self):
        """Garbage collection frees the generator."""
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class Stream(Generator):
    """An iterator over generated characters (see :meth:`Model.stream`).

    Owns a C ``swiftrnn_generator``, freed when the iterator is exhausted, on :meth:`close`, at
    the end of a ``with`` block or when garbage-collected; it keeps the model's C memory alive
    meanwhile. A stop string ends the iteration after its last character. It has the methods
    of :class:`Generator` while it is open. Use from one thread at a time.
    """

    def __init__(self, model: "Model", handle: _ModelHandle, gen, prime_bytes: bytes, kw: dict,
                 prime: str, length: int):
        """Internal: use :meth:`Model.stream`."""
        super().__init__(model, handle, gen, prime_bytes, kw)
        self._prime: Optional[str] = prime
        self._left = length

    def __iter__(self) -> "Stream":
        """A Stream is its own iterator."""
        return self

    def __next__(self) -> str:
        """The prime (first call), then the next generated character; StopIteration after
        ``length`` characters or a stop string (the generator is then freed). A library error
        frees the generator and is raised."""
        if self._prime is not None:
            p, self._prime = self._prime, None
            return p
        if self._left <= 0 or not self._gen:
            self.close()
            raise StopIteration
        st = _lib.swiftrnn_generator_next(self._gen, self._buf, len(self._buf),
                                          byref(self._out_len))
        if st != _lib.SWIFTRNN_OK:
            err = _error(st)
            self.close()
            raise err
        self._left -= 1
        ch = _decode(self._buf.raw[:self._out_len.value])
        if not ch:                    # a stop string ended generation
            self.close()
            raise StopIteration
        if self._left <= 0:
            self.close()
        return ch

    def __reduce__(self):
        """A Stream does not pickle (its Generator state does: :meth:`save_state`)."""
        raise TypeError("a Stream cannot be pickled; pickle save_state() or use Model.generator")

    def close(self) -> None:
        """Free the C generator (idempotent); iteration then stops."""
        self._prime = None
        self._left = 0
        super().close()


def load(path: Union[str, bytes, "os.PathLike[str]"]) -> Model:
    """Load a model file (docs/model-format.md). Raises :class:`SwiftRNNIOError` (missing or
    unreadable), :class:`FormatError` (bad content) or :class:`UnsupportedError` (newer format
    or dtype). The returned :class:`Model` owns the C model. Thread-safe."""
    fs = os.fsencode(path)
    if b"\0" in fs:
        raise InvalidArgumentError(_lib.SWIFTRNN_ERR_INVALID_ARGUMENT,
                                   f"path contains a NUL byte: {path!r}")
    ptr = _lib.swiftrnn_model_p()
    _check(_lib.swiftrnn_model_load(fs, byref(ptr)))
    p = os.path.abspath(os.fsdecode(fs))
    return Model(_ModelHandle(ptr), path=p)


def load_bytes(data: Union[bytes, bytearray, memoryview]) -> Model:
    """Load a model from the bytes of a model file. The Model keeps a copy of ``data`` (so that
    it can be pickled). Raises :class:`FormatError` / :class:`UnsupportedError` as
    :func:`load`; empty data is a format error. Thread-safe."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    ptr = _lib.swiftrnn_model_p()
    _check(_lib.swiftrnn_model_load_from_memory(data, len(data), byref(ptr)))
    return Model(_ModelHandle(ptr), data=data)
