"""The raw ctypes layer of the libswiftrnn bindings: one declaration per function of
``include/swiftrnn.h``.

Nothing here is Pythonic: the functions take ctypes arguments and return the C status codes.
Use the ``swiftrnn`` package (``swiftrnn.load`` ...) instead, unless you need the C API itself.

Finding the library, first match wins:

1. the environment variable ``SWIFTRNN_LIBRARY``: the path of ``libswiftrnn.so`` (if it is set,
   nothing else is tried);
2. the package's own ``lib/`` folder (``swiftrnn/lib/libswiftrnn.so*``, for wheels that bundle
   it);
3. the build folders of a source checkout, found by walking up from this file:
   ``<repo>/out/lib/libswiftrnn.so`` (``make lib``) and ``<repo>/.build/release/libswiftrnn.so``
   (``swift build -c release``).

When none is found, importing raises :class:`LibraryNotFoundError` (an ImportError) listing
every place it looked. The loaded library's major version must be :data:`EXPECTED_MAJOR`.

Thread safety: ctypes releases the GIL around every call, and the C library is thread-safe as
documented in the header (models are immutable; a generator belongs to one thread at a time;
``swiftrnn_last_error`` is per OS thread, so read it on the thread whose call failed).
"""

from __future__ import annotations

import ctypes
import glob
import os
from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_size_t, c_uint64, c_void_p)
from typing import List

__all__ = [
    "lib", "library_path", "EXPECTED_MAJOR", "LibraryNotFoundError",
    "swiftrnn_model_p", "swiftrnn_generator_p",
    "swiftrnn_model_info", "swiftrnn_sample_params",
    "STATUS_NAMES", "KIND_NAMES", "CELL_NAMES",
    "SWIFTRNN_OK", "SWIFTRNN_ERR_INVALID_ARGUMENT", "SWIFTRNN_ERR_IO", "SWIFTRNN_ERR_FORMAT",
    "SWIFTRNN_ERR_UNSUPPORTED", "SWIFTRNN_ERR_WRONG_KIND", "SWIFTRNN_ERR_BUFFER_TOO_SMALL",
    "SWIFTRNN_ERR_OUT_OF_MEMORY", "SWIFTRNN_ERR_INTERNAL",
    "SWIFTRNN_KIND_SENTIMENT", "SWIFTRNN_KIND_CHARLM",
    "SWIFTRNN_CELL_LSTM", "SWIFTRNN_CELL_GRU", "SWIFTRNN_CELL_RNN_TANH", "SWIFTRNN_CELL_RNN_RELU",
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
}

SWIFTRNN_KIND_SENTIMENT = 1
SWIFTRNN_KIND_CHARLM = 2
KIND_NAMES = {SWIFTRNN_KIND_SENTIMENT: "sentiment", SWIFTRNN_KIND_CHARLM: "charlm"}

SWIFTRNN_CELL_LSTM = 1
SWIFTRNN_CELL_GRU = 2
SWIFTRNN_CELL_RNN_TANH = 3
SWIFTRNN_CELL_RNN_RELU = 4
CELL_NAMES = {SWIFTRNN_CELL_LSTM: "lstm", SWIFTRNN_CELL_GRU: "gru",
              SWIFTRNN_CELL_RNN_TANH: "rnn_tanh", SWIFTRNN_CELL_RNN_RELU: "rnn_relu"}

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
    ]


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
    ]


class _swiftrnn_model(Structure):
    """Opaque ``struct swiftrnn_model``."""


class _swiftrnn_generator(Structure):
    """Opaque ``struct swiftrnn_generator``."""


swiftrnn_model_p = POINTER(_swiftrnn_model)
swiftrnn_generator_p = POINTER(_swiftrnn_generator)


# ---- finding and loading the library -----------------------------------------------------------

class LibraryNotFoundError(ImportError):
    """libswiftrnn.so could not be found or loaded (the message lists where it looked)."""


def _candidates() -> List[str]:
    """The paths tried after SWIFTRNN_LIBRARY, in order."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "lib", "libswiftrnn.so*")), key=len)
    out = found or [os.path.join(here, "lib", "libswiftrnn.so*")]
    d = here
    while True:
        out.append(os.path.join(d, "out", "lib", "libswiftrnn.so"))
        out.append(os.path.join(d, ".build", "release", "libswiftrnn.so"))
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return out


def _load() -> "tuple[ctypes.CDLL, str]":
    """-> (CDLL, path), or LibraryNotFoundError listing every place tried."""
    env = os.environ.get("SWIFTRNN_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env), env
        except OSError as e:
            raise LibraryNotFoundError(
                f"cannot load libswiftrnn from SWIFTRNN_LIBRARY={env!r}: {e}") from None
    tried = []
    for path in _candidates():
        if "*" in path or not os.path.isfile(path):
            tried.append(f"  {path} (not found)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"  {path} ({e})")
    raise LibraryNotFoundError(
        "cannot find libswiftrnn.so. Build it with `make lib` (writes out/lib/libswiftrnn.so) "
        "or set SWIFTRNN_LIBRARY to its path. Looked in:\n  $SWIFTRNN_LIBRARY (not set)\n"
        + "\n".join(tried))


lib, library_path = _load()


def _declare(name: str, restype, argtypes) -> None:
    """Set restype and argtypes of one exported function."""
    try:
        fn = getattr(lib, name)
    except AttributeError:
        raise LibraryNotFoundError(f"{library_path} does not export {name}: not a libswiftrnn "
                                   "matching these bindings") from None
    fn.restype = restype
    fn.argtypes = argtypes


_P_SIZE = POINTER(c_size_t)

# Version
_declare("swiftrnn_version", c_char_p, [])
_declare("swiftrnn_version_number", c_int, [])
# Errors
_declare("swiftrnn_status_string", c_char_p, [swiftrnn_status])
_declare("swiftrnn_last_error", c_char_p, [])
# Models
_declare("swiftrnn_model_load", swiftrnn_status, [c_char_p, POINTER(swiftrnn_model_p)])
_declare("swiftrnn_model_load_from_memory", swiftrnn_status,
         [c_void_p, c_size_t, POINTER(swiftrnn_model_p)])
_declare("swiftrnn_model_free", None, [swiftrnn_model_p])
_declare("swiftrnn_model_get_info", swiftrnn_status,
         [swiftrnn_model_p, POINTER(swiftrnn_model_info)])
_declare("swiftrnn_model_describe", c_char_p, [swiftrnn_model_p])
_declare("swiftrnn_encode", swiftrnn_status,
         [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_int32), c_size_t, _P_SIZE])
_declare("swiftrnn_tokenize", swiftrnn_status,
         [c_char_p, c_size_t, POINTER(c_char), c_size_t, _P_SIZE])
# Sentiment
_declare("swiftrnn_score_sentiment", swiftrnn_status,
         [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_float)])
_declare("swiftrnn_score_sentiment_batch", swiftrnn_status,
         [swiftrnn_model_p, POINTER(c_char_p), _P_SIZE, c_size_t, c_int, POINTER(c_float)])
# Character language model
_declare("swiftrnn_sample_params_init", None, [POINTER(swiftrnn_sample_params)])
_declare("swiftrnn_sample_params_init_sized", None, [POINTER(swiftrnn_sample_params), c_size_t])
_declare("swiftrnn_sample_text", swiftrnn_status,
         [swiftrnn_model_p, c_char_p, c_size_t, c_size_t, POINTER(swiftrnn_sample_params),
          POINTER(c_char), c_size_t, _P_SIZE])
_declare("swiftrnn_generator_create", swiftrnn_status,
         [swiftrnn_model_p, c_char_p, c_size_t, POINTER(swiftrnn_sample_params),
          POINTER(swiftrnn_generator_p)])
_declare("swiftrnn_generator_next", swiftrnn_status,
         [swiftrnn_generator_p, POINTER(c_char), c_size_t, _P_SIZE])
_declare("swiftrnn_generator_free", None, [swiftrnn_generator_p])
_declare("swiftrnn_log_likelihood", swiftrnn_status,
         [swiftrnn_model_p, c_char_p, c_size_t, POINTER(c_double), _P_SIZE])

# Every function of the header, exposed as module attributes (swiftrnn._lib.swiftrnn_encode ...).
swiftrnn_version = lib.swiftrnn_version
swiftrnn_version_number = lib.swiftrnn_version_number
swiftrnn_status_string = lib.swiftrnn_status_string
swiftrnn_last_error = lib.swiftrnn_last_error
swiftrnn_model_load = lib.swiftrnn_model_load
swiftrnn_model_load_from_memory = lib.swiftrnn_model_load_from_memory
swiftrnn_model_free = lib.swiftrnn_model_free
swiftrnn_model_get_info = lib.swiftrnn_model_get_info
swiftrnn_model_describe = lib.swiftrnn_model_describe
swiftrnn_encode = lib.swiftrnn_encode
swiftrnn_tokenize = lib.swiftrnn_tokenize
swiftrnn_score_sentiment = lib.swiftrnn_score_sentiment
swiftrnn_score_sentiment_batch = lib.swiftrnn_score_sentiment_batch
swiftrnn_sample_params_init = lib.swiftrnn_sample_params_init   # a macro in the header
swiftrnn_sample_params_init_sized = lib.swiftrnn_sample_params_init_sized
swiftrnn_sample_text = lib.swiftrnn_sample_text
swiftrnn_generator_create = lib.swiftrnn_generator_create
swiftrnn_generator_next = lib.swiftrnn_generator_next
swiftrnn_generator_free = lib.swiftrnn_generator_free
swiftrnn_log_likelihood = lib.swiftrnn_log_likelihood


def version() -> str:
    """The loaded library's version string, e.g. ``"0.1.0"``."""
    return swiftrnn_version().decode("ascii", "replace")


def status_string(status: int) -> str:
    """The library's fixed name of a status (``"SWIFTRNN_ERR_FORMAT"``)."""
    s = swiftrnn_status_string(status)
    return s.decode("ascii", "replace") if s else "unknown status"


def last_error() -> str:
    """The calling (OS) thread's last error message from the library ("" if none)."""
    s = swiftrnn_last_error()
    return s.decode("utf-8", "replace") if s else ""


def _check_version() -> None:
    """LibraryNotFoundError unless the library's major version is EXPECTED_MAJOR."""
    v = version()
    try:
        major = int(v.split(".")[0])
    except ValueError:
        raise LibraryNotFoundError(f"{library_path}: unparseable version {v!r}") from None
    if major != EXPECTED_MAJOR:
        raise LibraryNotFoundError(
            f"{library_path} is libswiftrnn {v}, but these bindings need major version "
            f"{EXPECTED_MAJOR} (set SWIFTRNN_LIBRARY to a matching library)")


_check_version()
