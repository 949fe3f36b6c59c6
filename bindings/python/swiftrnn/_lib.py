"""The raw ctypes layer of the libswiftrnn bindings: one declaration per function of
``include/swiftrnn.h``.

Nothing here is Pythonic: the functions take ctypes arguments and return the C status codes.
Use the ``swiftrnn`` package (``swiftrnn.load`` ...) instead, unless you need the C API itself.

The library is loaded on first use (the first function call, or reading ``lib`` /
``library_path``), not when the package is imported, so ``python -m swiftrnn --help`` and the
exporter work without it. Finding it, first match wins:

1. the environment variable ``SWIFTRNN_LIBRARY``: the path of ``libswiftrnn.so`` (if it is set,
   nothing else is tried);
2. the package's own ``lib/`` folder (``swiftrnn/lib/libswiftrnn.so``: ``pip install`` builds it
   and puts it there, and wheels carry it);
3. only when this package sits in a source checkout (``<repo>/bindings/python/swiftrnn``, next to
   ``Package.swift``): the checkout's ``out/lib/libswiftrnn.so`` (``make lib``) and
   ``.build/release/libswiftrnn.so`` (``swift build -c release``);
4. the system's dynamic linker: ``ctypes.util.find_library("swiftrnn")`` (ldconfig's cache,
   ``LD_LIBRARY_PATH``), then ``libswiftrnn.so.0`` by name (what ``make install`` puts in
   ``$PREFIX/lib``).

When none loads, :class:`LibraryNotFoundError` (an ImportError) is raised by the call that
needed the library; its message lists each place tried and why it failed. The loaded library's
major version must be :data:`EXPECTED_MAJOR`.

Thread safety: ctypes releases the GIL around every call, and the C library is thread-safe as
documented in the header (models are immutable; a generator belongs to one thread at a time;
``swiftrnn_last_error`` is per OS thread, so read it on the thread whose call failed).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import threading
from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_size_t, c_uint64, c_void_p)
from typing import List, Optional

__all__ = [
    "lib", "library_path", "load", "EXPECTED_MAJOR", "SONAME", "LibraryNotFoundError",
    "swiftrnn_model_p", "swiftrnn_generator_p",
    "swiftrnn_model_info", "swiftrnn_sample_params",
    "STATUS_NAMES", "KIND_NAMES", "CELL_NAMES", "PRECISION_NAMES",
    "SWIFTRNN_OK", "SWIFTRNN_ERR_INVALID_ARGUMENT", "SWIFTRNN_ERR_IO", "SWIFTRNN_ERR_FORMAT",
    "SWIFTRNN_ERR_UNSUPPORTED", "SWIFTRNN_ERR_WRONG_KIND", "SWIFTRNN_ERR_BUFFER_TOO_SMALL",
    "SWIFTRNN_ERR_OUT_OF_MEMORY", "SWIFTRNN_ERR_INTERNAL", "SWIFTRNN_ERR_NON_FINITE",
    "SWIFTRNN_ERR_CANCELLED", "swiftrnn_progress_fn", "swiftrnn_batch_params",
    "SWIFTRNN_KIND_SENTIMENT", "SWIFTRNN_KIND_CHARLM", "SWIFTRNN_KIND_WORDLM", "SWIFTRNN_KIND_CLASSIFIER",
    "SWIFTRNN_CELL_LSTM", "SWIFTRNN_CELL_GRU", "SWIFTRNN_CELL_RNN_TANH", "SWIFTRNN_CELL_RNN_RELU",
    "SWIFTRNN_CELL_JORDAN",
    "last_error", "status_string", "version",
]

#: The major version of the C API these bindings are written for (SWIFTRNN_VERSION_MAJOR).
EXPECTED_MAJOR = 0

# ---- enums ------------------------------------------------------------------------------------

SWIFTRNN_OK = 0
SWIFTRNN_ERR_INVALID_ARGUMENT = 1
SWIFTRNN_ERR_IO = 2
SWIFTRNN_ERR_FORMAT = 3
SWIFTRNN_ERR_UNSUPPORTED = 4
SWIFTRNN_ERR_WRONG_KIND = 5
SWIFTRNN_ERR_BUFFER_TOO_SMALL = 6
SWIFTRNN_ERR_OUT_OF_MEMORY = 7
SWIFTRNN_ERR_INTERNAL = 8
SWIFTRNN_ERR_NON_FINITE = 9
SWIFTRNN_ERR_CANCELLED = 10

STATUS_NAMES = {
    SWIFTRNN_OK: "SWIFTRNN_OK",
    SWIFTRNN_ERR_INVALID_ARGUMENT: "SWIFTRNN_ERR_INVALID_ARGUMENT",
    SWIFTRNN_ERR_IO: "SWIFTRNN_ERR_IO",
    SWIFTRNN_ERR_FORMAT: "SWIFTRNN_ERR_FORMAT",
    SWIFTRNN_ERR_UNSUPPORTED: "SWIFTRNN_ERR_UNSUPPORTED",
    SWIFTRNN_ERR_WRONG_KIND: "SWIFTRNN_ERR_WRONG_KIND",
    SWIFTRNN_ERR_BUFFER_TOO_SMALL: "SWIFTRNN_ERR_BUFFER_TOO_SMALL",
    SWIFTRNN_ERR_OUT_OF_MEMORY: "SWIFTRNN_ERR_OUT_OF_MEMORY",
    SWIFTRNN_ERR_INTERNAL: "SWIFTRNN_ERR_INTERNAL",
    SWIFTRNN_ERR_NON_FINITE: "SWIFTRNN_ERR_NON_FINITE",
    SWIFTRNN_ERR_CANCELLED: "SWIFTRNN_ERR_CANCELLED",
}

SWIFTRNN_KIND_SENTIMENT = 1
SWIFTRNN_KIND_CHARLM = 2
SWIFTRNN_KIND_WORDLM = 3
SWIFTRNN_KIND_CLASSIFIER = 4
KIND_NAMES = {SWIFTRNN_KIND_SENTIMENT: "sentiment", SWIFTRNN_KIND_CHARLM: "charlm",
              SWIFTRNN_KIND_WORDLM: "wordlm", SWIFTRNN_KIND_CLASSIFIER: "classifier"}

SWIFTRNN_CELL_LSTM = 1
SWIFTRNN_CELL_GRU = 2
SWIFTRNN_CELL_RNN_TANH = 3
SWIFTRNN_CELL_RNN_RELU = 4
SWIFTRNN_CELL_JORDAN = 5
CELL_NAMES = {SWIFTRNN_CELL_LSTM: "lstm", SWIFTRNN_CELL_GRU: "gru",
              SWIFTRNN_CELL_RNN_TANH: "rnn_tanh", SWIFTRNN_CELL_RNN_RELU: "rnn_relu",
              SWIFTRNN_CELL_JORDAN: "jordan"}

SWIFTRNN_PRECISION_F32 = 0
SWIFTRNN_PRECISION_F16 = 1
SWIFTRNN_PRECISION_BF16 = 2
SWIFTRNN_PRECISION_INT8 = 3
PRECISION_NAMES = {SWIFTRNN_PRECISION_F32: "f32", SWIFTRNN_PRECISION_F16: "f16",
                   SWIFTRNN_PRECISION_BF16: "bf16", SWIFTRNN_PRECISION_INT8: "int8"}

# C enums are ints on every ABI the library supports.
swiftrnn_status = c_int
swiftrnn_kind = c_int
swiftrnn_cell = c_int


# ---- structs and opaque handles ----------------------------------------------------------------

class swiftrnn_model_info(Structure):
    """``struct swiftrnn_model_info``; set ``struct_size = ctypes.sizeof(swiftrnn_model_info)``."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("kind", swiftrnn_kind),
        ("cell", swiftrnn_cell),
        ("vocab_size", c_int32),
        ("embedding_dim", c_int32),
        ("hidden_size", c_int32),
        ("num_layers", c_int32),
        ("bidirectional", c_int32),
        ("head_layers", c_int32),
        ("n_parameters", c_uint64),
        ("precision", c_int),
    ]


#: ``int (*swiftrnn_progress_fn)(void *user_data, size_t done, size_t total)``.
swiftrnn_progress_fn = ctypes.CFUNCTYPE(ctypes.c_int, c_void_p, c_size_t, c_size_t)


class swiftrnn_sample_params(Structure):
    """``struct swiftrnn_sample_params``; fill it with ``swiftrnn_sample_params_init``."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("scale_factor", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("greedy", c_int32),
        ("seed", c_uint64),
        ("n_threads", c_int32),
        ("progress", swiftrnn_progress_fn),
        ("progress_user_data", c_void_p),
        # sampling controls (experimental)
        ("stop_strings", POINTER(c_char_p)),
        ("n_stop_strings", c_size_t),
        ("repetition_penalty", c_float),
        ("repetition_window", c_int32),
        ("min_p", c_float),
        ("banned", c_char_p),
        ("banned_len", c_size_t),
    ]


class swiftrnn_batch_params(Structure):
    """``struct swiftrnn_batch_params``; fill it with ``swiftrnn_batch_params_init``."""
    _fields_ = [
        ("struct_size", c_size_t),
        ("n_threads", c_int32),
        ("progress", swiftrnn_progress_fn),
        ("progress_user_data", c_void_p),
    ]


class _swiftrnn_model(Structure):
    """Opaque ``struct swiftrnn_model``."""


class _swiftrnn_generator(Structure):
    """Opaque ``struct swiftrnn_generator``."""


swiftrnn_model_p = POINTER(_swiftrnn_model)
swiftrnn_generator_p = POINTER(_swiftrnn_generator)


# ---- the functions of the header -----------------------------------------------------------------

_P_SIZE = POINTER(c_size_t)

#: name -> (restype, argtypes) of every function of include/swiftrnn.h. Each becomes a module
#: attribute (``swiftrnn._lib.swiftrnn_encode`` ...) when the library is loaded.
_FUNCTIONS = {
    # Version
    "swiftrnn_version": (c_char_p, []),
    "swiftrnn_version_number": (c_int, []),
    # Errors
    "swiftrnn_status_string": (c_char_p, [swiftrnn_status]),
    "swiftrnn_last_error": (c_char_p, []),
    # Models
    "swiftrnn_model_load": (swiftrnn_status, [c_char_p, POINTER(swiftrnn_model_p)]),
    "swiftrnn_model_load_from_memory": (swiftrnn_status,
                                        [c_void_p, c_size_t, POINTER(swiftrnn_model_p)]),
    "swiftrnn_model_free": (None, [swiftrnn_model_p]),
    "swiftrnn_model_get_info": (swiftrnn_status,
                                [swiftrnn_model_p, POINTER(swiftrnn_model_info)]),
    "swiftrnn_model_describe": (c_char_p, [swiftrnn_model_p]),
    "swiftrnn_encode": (swiftrnn_status,
                        [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_int32), c_size_t,
                         _P_SIZE]),
    "swiftrnn_tokenize": (swiftrnn_status,
                          [c_char_p, c_size_t, POINTER(c_char), c_size_t, _P_SIZE]),
    # Sentiment
    "swiftrnn_score_sentiment": (swiftrnn_status,
                                 [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_float)]),
    "swiftrnn_score_sentiment_batch": (swiftrnn_status,
                                       [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t,
                                        c_int, POINTER(c_float)]),
    "swiftrnn_batch_params_init": (None, [POINTER(swiftrnn_batch_params)]),  # a macro in C
    "swiftrnn_batch_params_init_sized": (None, [POINTER(swiftrnn_batch_params), c_size_t]),
    "swiftrnn_score_sentiment_batch_ex": (swiftrnn_status,
                                          [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t,
                                           POINTER(swiftrnn_batch_params), POINTER(c_float)]),
    # Character language model
    "swiftrnn_sample_params_init": (None, [POINTER(swiftrnn_sample_params)]),  # a macro in C
    "swiftrnn_sample_params_init_sized": (None, [POINTER(swiftrnn_sample_params), c_size_t]),
    "swiftrnn_sample_text": (swiftrnn_status,
                             [swiftrnn_model_p, c_char_p, c_size_t, c_size_t,
                              POINTER(swiftrnn_sample_params), POINTER(c_char), c_size_t,
                              _P_SIZE]),
    "swiftrnn_generator_create": (swiftrnn_status,
                                  [swiftrnn_model_p, c_char_p, c_size_t,
                                   POINTER(swiftrnn_sample_params),
                                   POINTER(swiftrnn_generator_p)]),
    "swiftrnn_generator_next": (swiftrnn_status,
                                [swiftrnn_generator_p, POINTER(c_char), c_size_t, _P_SIZE]),
    "swiftrnn_generator_free": (None, [swiftrnn_generator_p]),
    # Experimental
    "swiftrnn_sample_text_ex": (swiftrnn_status,
                                [swiftrnn_model_p, c_char_p, c_size_t, c_size_t,
                                 POINTER(swiftrnn_sample_params), POINTER(c_char), c_size_t,
                                 _P_SIZE, POINTER(c_int32)]),
    "swiftrnn_model_character": (swiftrnn_status,
                                 [swiftrnn_model_p, c_int32, POINTER(c_char), c_size_t, _P_SIZE]),
    "swiftrnn_generator_feed": (swiftrnn_status, [swiftrnn_generator_p, c_char_p, c_size_t]),
    "swiftrnn_generator_stop_index": (swiftrnn_status, [swiftrnn_generator_p, POINTER(c_int32)]),
    "swiftrnn_generator_logits": (swiftrnn_status,
                                  [swiftrnn_generator_p, POINTER(c_float), c_size_t, _P_SIZE]),
    "swiftrnn_generator_save_state": (swiftrnn_status,
                                      [swiftrnn_generator_p, c_void_p, c_size_t, _P_SIZE]),
    "swiftrnn_generator_load_state": (swiftrnn_status, [swiftrnn_generator_p, c_void_p, c_size_t]),
    "swiftrnn_log_likelihood": (swiftrnn_status,
                                [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_double),
                                 _P_SIZE]),
    # Experimental: classifiers and features
    "swiftrnn_classify": (swiftrnn_status,
                          [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_float), c_size_t,
                           _P_SIZE]),
    "swiftrnn_classify_batch": (swiftrnn_status,
                                [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t, c_int,
                                 POINTER(c_float), c_size_t, _P_SIZE]),
    "swiftrnn_model_label": (swiftrnn_status,
                             [swiftrnn_model_p, c_int32, POINTER(c_char), c_size_t, _P_SIZE,
                              _P_SIZE]),
    "swiftrnn_model_multi_label": (swiftrnn_status, [swiftrnn_model_p, POINTER(c_int)]),
    "swiftrnn_embed": (swiftrnn_status,
                       [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_float), c_size_t,
                        _P_SIZE]),
    "swiftrnn_embed_batch": (swiftrnn_status,
                             [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t, c_int,
                              POINTER(c_float), c_size_t, _P_SIZE]),
    "swiftrnn_classify_batch_ex": (swiftrnn_status,
                                   [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t,
                                    POINTER(swiftrnn_batch_params), POINTER(c_float), c_size_t,
                                    _P_SIZE]),
    "swiftrnn_embed_batch_ex": (swiftrnn_status,
                                [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t,
                                 POINTER(swiftrnn_batch_params), POINTER(c_float), c_size_t,
                                 _P_SIZE]),
}


# ---- finding and loading the library -----------------------------------------------------------

class LibraryNotFoundError(ImportError):
    """libswiftrnn.so could not be found or loaded (the message lists where it looked and why
    each place failed)."""


#: The file name the system linker knows the library by (its SONAME; ``make install``).
SONAME = f"libswiftrnn.so.{EXPECTED_MAJOR}"

_HERE = os.path.dirname(os.path.abspath(__file__))
_loaded = None                 # the CDLL once loaded
_load_lock = threading.Lock()


def _checkout_root() -> Optional[str]:
    """The source checkout this package sits in (``<repo>/bindings/python/swiftrnn`` with
    ``<repo>/Package.swift`` and ``<repo>/include/swiftrnn.h``), or None (an installed package)."""
    python_dir = os.path.dirname(_HERE)
    bindings_dir = os.path.dirname(python_dir)
    repo = os.path.dirname(bindings_dir)
    if (os.path.basename(_HERE) == "swiftrnn" and os.path.basename(python_dir) == "python"
            and os.path.basename(bindings_dir) == "bindings"
            and os.path.isfile(os.path.join(repo, "Package.swift"))
            and os.path.isfile(os.path.join(repo, "include", "swiftrnn.h"))):
        return repo
    return None


def _file_candidates() -> List[str]:
    """The files tried after SWIFTRNN_LIBRARY: the package's lib/, then (only inside a source
    checkout) the checkout's build folders."""
    libdir = os.path.join(_HERE, "lib")
    out = sorted(glob.glob(os.path.join(libdir, "libswiftrnn.so*")), key=len)
    if not out:
        out = [os.path.join(libdir, "libswiftrnn.so")]
    repo = _checkout_root()
    if repo is not None:
        out.append(os.path.join(repo, "out", "lib", "libswiftrnn.so"))
        out.append(os.path.join(repo, ".build", "release", "libswiftrnn.so"))
    return out


class _DlInfo(Structure):
    _fields_ = [("dli_fname", c_char_p), ("dli_fbase", c_void_p),
                ("dli_sname", c_char_p), ("dli_saddr", c_void_p)]


def _file_of(cdll: ctypes.CDLL, fallback: str) -> str:
    """The file a library was loaded from (dladdr on one of its functions), or ``fallback``."""
    try:
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.argtypes = [c_void_p, POINTER(_DlInfo)]
        dladdr.restype = c_int
        info = _DlInfo()
        if dladdr(ctypes.cast(cdll.swiftrnn_version, c_void_p), ctypes.byref(info)) \
                and info.dli_fname:
            return os.path.abspath(os.fsdecode(info.dli_fname))
    except (AttributeError, OSError):
        pass
    return fallback


def _open(name: str) -> ctypes.CDLL:
    """dlopen ``name`` (a path, or a bare name for the system linker) and check that it is a
    libswiftrnn these bindings fit: OSError with the reason otherwise."""
    cdll = ctypes.CDLL(name)
    for fn_name, (restype, argtypes) in _FUNCTIONS.items():
        try:
            fn = getattr(cdll, fn_name)
        except AttributeError:
            raise OSError(f"does not export {fn_name}: not a libswiftrnn matching these "
                          "bindings") from None
        fn.restype = restype
        fn.argtypes = argtypes
    v = (cdll.swiftrnn_version() or b"").decode("ascii", "replace")
    try:
        major = int(v.split(".")[0])
    except ValueError:
        raise OSError(f"unparseable version {v!r}") from None
    if major != EXPECTED_MAJOR:
        raise OSError(f"is libswiftrnn {v}, but these bindings need major version "
                      f"{EXPECTED_MAJOR}")
    return cdll


def _find() -> "tuple[ctypes.CDLL, str]":
    """-> (CDLL, path of the file), or LibraryNotFoundError naming each place tried and why it
    failed."""
    env = os.environ.get("SWIFTRNN_LIBRARY")
    if env:
        try:
            cdll = _open(env)
        except OSError as e:
            raise LibraryNotFoundError(
                f"cannot load libswiftrnn from SWIFTRNN_LIBRARY={env!r}: {e} (unset it to "
                "search the usual places)") from None
        return cdll, _file_of(cdll, os.path.abspath(env))
    tried = []
    for path in _file_candidates():
        if not os.path.isfile(path):
            tried.append(f"{path}: no such file")
            continue
        try:
            cdll = _open(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        return cdll, _file_of(cdll, path)
    # The system linker: ldconfig's cache, LD_LIBRARY_PATH, the default folders.
    names = []
    found = ctypes.util.find_library("swiftrnn")
    if found:
        names.append((found, f"ctypes.util.find_library('swiftrnn') -> {found}"))
    else:
        tried.append("ctypes.util.find_library('swiftrnn'): not found")
    if found != SONAME:
        names.append((SONAME, f"{SONAME} through the system linker (LD_LIBRARY_PATH, "
                              "ld.so.cache, /lib, /usr/lib)"))
    for name, what in names:
        try:
            cdll = _open(name)
        except OSError as e:
            tried.append(f"{what}: {e}")
            continue
        return cdll, _file_of(cdll, name)
    repo = _checkout_root()
    how = (f"build it with `make lib` in {repo}" if repo is not None else
           "reinstall the package from a source checkout on a machine with Swift (`pip install "
           "./bindings/python` builds the library into the package), install a wheel that "
           "holds it, or `make install` it")
    raise LibraryNotFoundError(
        f"cannot find libswiftrnn.so: {how}; or set SWIFTRNN_LIBRARY to its path. Tried:\n  "
        + "\n  ".join(tried))


def load() -> str:
    """Load the library now if it is not loaded yet; -> the path of the loaded file.

    Raises :class:`LibraryNotFoundError` (listing each place tried) when no usable library is
    found. Every function of this module calls it implicitly; calling it early only moves the
    error. Thread-safe; the first success is kept for the life of the process.
    """
    global _loaded, lib, library_path
    if _loaded is None:
        with _load_lock:
            if _loaded is None:
                cdll, path = _find()
                g = globals()
                for fn_name in _FUNCTIONS:
                    g[fn_name] = getattr(cdll, fn_name)
                library_path = path
                lib = cdll
                _loaded = cdll
    return library_path


def __getattr__(name: str):
    """Lazy attributes: ``lib``, ``library_path`` and the header's functions load the library
    on first access (PEP 562)."""
    if name in ("lib", "library_path") or name in _FUNCTIONS:
        load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def version() -> str:
    """The loaded library's version string, e.g. ``"0.2.0"``."""
    load()
    return _loaded.swiftrnn_version().decode("ascii", "replace")


def status_string(status: int) -> str:
    """The library's fixed name of a status (``"SWIFTRNN_ERR_FORMAT"``)."""
    load()
    s = _loaded.swiftrnn_status_string(status)
    return s.decode("ascii", "replace") if s else "unknown status"


def last_error() -> str:
    """The calling (OS) thread's last error message from the library ("" if none)."""
    load()
    s = _loaded.swiftrnn_last_error()
    return s.decode("utf-8", "replace") if s else ""
