"""Score review backlogs on a Dask cluster (the optional ``dask`` extra).

Install with ``pip install ./bindings/python[dask]`` (``dask[dataframe]``, ``distributed``,
``pyarrow``). From Python::

    from distributed import Client
    import swiftrnn.dask as sd

    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(...))
    scored = sd.score("reviews/*.parquet", "models/sentiment-imdb.safetensors",
                      text_column="review")          # a lazy Dask DataFrame
    scored.to_parquet("scored/")                     # or sd.score_files(...), below

or from the shell (``python -m swiftrnn.dask score --help``)::

    python -m swiftrnn.dask score --model models/sentiment-imdb.safetensors \\
        --input 'reviews/*.parquet' --text-column review --output scored/ --workers 2

What is added: a ``probability`` column (nullable ``Float64``: the probability that the review
is positive, exactly what :meth:`swiftrnn.Model.score_batch` returns for the same text) and a
``label`` column (nullable ``Int8``: 1 when ``probability >= threshold``, else 0). A row whose
text is not a ``str`` (null, NaN, a number, bytes in an object column ...) is *malformed*: it gets
a null probability and a null label and never fails the job. (Dask converts object columns of
mostly-strings to ``string`` by default, so a number inside such a column arrives as its text;
CSV fields are read as text; empty CSV fields are null.)

How the model reaches the workers: each partition task carries only the model's absolute path
and the SHA-256 of its bytes. Every worker *process* keeps a cache keyed by (path, SHA-256):
the first task that needs the model reads the file, checks the hash and loads it; every later
task in that process reuses it. The weights are never pickled into the task graph. A restarted
worker (the nanny starts a new process) loads it once again. The model file must therefore be
readable at the same path on every worker (a shared filesystem, or the same file copied to each
machine); a worker that finds a different file fails with :class:`ModelMismatchError`.
:data:`load_counts` is the per-process count of loads (read it on workers with
``client.run(swiftrnn.dask.load_counts)``).

Errors in the model itself (missing, corrupt, a character model) are raised by :func:`score` /
:func:`score_files` on the client, with the library's error, before anything is scheduled.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import os
import threading
from asyncio import TimeoutError as asyncio_TimeoutError
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import swiftrnn

try:
    import dask
    import dask.dataframe as dd
    import distributed  # noqa: F401 - imported now so that _fix_error_pickling comes after it
    import pandas as pd
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "swiftrnn.dask needs the dask extra: pip install './bindings/python[dask]' "
        f"(dask[dataframe], distributed, pyarrow): {_e}") from _e


def _reduce_error(e: "swiftrnn.SwiftRNNError"):
    return type(e), (e.status, e.message)


def _fix_error_pickling() -> None:
    """Importing dask/distributed runs ``tblib.pickling_support.install()``, which registers a
    copyreg reducer for every exception class already defined, swiftrnn's included; its
    unpickler calls ``cls.__new__(cls)``, which fails for :class:`swiftrnn.OutOfMemoryError`
    (``MemoryError.__new__(OutOfMemoryError) is not safe``). Register the plain
    ``cls(status, message)`` reducer again for swiftrnn's errors."""
    import copyreg
    for cls in {swiftrnn.SwiftRNNError, *swiftrnn._ERRORS.values()}:
        copyreg.pickle(cls, _reduce_error)


_fix_error_pickling()

__all__ = [
    "score", "score_files", "read_input", "model_fingerprint", "get_model", "load_counts",
    "preload", "score_pandas", "ModelMismatchError", "ScoreSummary",
    "PROBABILITY", "LABEL",
]

#: Default names of the added columns.
PROBABILITY = "probability"
LABEL = "label"

_PARQUET_EXT = (".parquet", ".pq", ".parq")
_CSV_EXT = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".tsv", ".tsv.gz")


class ModelMismatchError(RuntimeError):
    """A worker found a model file whose SHA-256 differs from the one the client hashed (the
    file changed, or the worker's copy at that path is a different model)."""


# ---- the per-process model cache ----------------------------------------------------------------

_cache: Dict[Tuple[str, str], "swiftrnn.Model"] = {}
_cache_lock = threading.Lock()
_load_counts: Dict[Tuple[str, str], int] = {}


def load_counts() -> Dict[str, int]:
    """How many times this process has loaded each model: ``{"PATH#SHA256[:12]": n}``. On a
    Dask cluster: ``client.run(swiftrnn.dask.load_counts)`` gives it per worker."""
    with _cache_lock:
        return {f"{p}#{h[:12]}": n for (p, h), n in _load_counts.items()}


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_fingerprint(model: Union[str, "os.PathLike[str]"]) -> Tuple[str, str]:
    """Check a model on this machine and return ``(absolute path, sha256)``.

    Loads it with :func:`swiftrnn.load`, so a missing, unreadable or corrupt file raises the
    library's error (:class:`swiftrnn.SwiftRNNIOError`, :class:`swiftrnn.FormatError` ...); a
    character model raises :class:`swiftrnn.WrongKindError`. The hash is of the bytes that were
    loaded."""
    path = os.path.abspath(os.fsdecode(model))
    with swiftrnn.load(path) as m:             # the library's error for a missing/corrupt file
        if m.kind != "sentiment":
            raise swiftrnn.WrongKindError(
                swiftrnn._lib.SWIFTRNN_ERR_WRONG_KIND,
                f"{path} is a {m.kind} model; scoring needs a sentiment model")
    return path, _sha256_file(path)


def get_model(path: str, sha256: str) -> "swiftrnn.Model":
    """The model at ``path`` with that SHA-256, loaded at most once per process (thread-safe).

    Reads the file, checks its hash (:class:`ModelMismatchError` if it differs) and loads those
    very bytes, so the model in memory is the one the client checked."""
    key = (path, sha256)
    m = _cache.get(key)
    if m is not None:
        return m
    with _cache_lock:
        m = _cache.get(key)
        if m is not None:
            return m
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise swiftrnn.SwiftRNNIOError(
                swiftrnn._lib.SWIFTRNN_ERR_IO,
                f"worker {_where()} cannot read the model {path}: {e}") from None
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise ModelMismatchError(
                f"worker {_where()}: {path} has SHA-256 {got[:16]}..., the client checked "
                f"{sha256[:16]}... (the file changed, or this machine has a different copy)")
        m = swiftrnn.load_bytes(data)
        m.path = path
        # Models at other hashes of the same path are stale: drop them.
        for k in [k for k in _cache if k[0] == path]:
            del _cache[k]
        _cache[key] = m
        _load_counts[key] = _load_counts.get(key, 0) + 1
        return m


def _where() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except Exception:  # noqa: BLE001 - not on a worker
        return f"pid {os.getpid()}"


def preload(path: str, sha256: str) -> str:
    """Load the model into this process's cache (what :func:`score_files` runs on every worker
    with ``client.run`` before scheduling partitions); returns the model's description."""
    return get_model(path, sha256).info["description"]


# ---- scoring one partition ----------------------------------------------------------------------

def _stop_if_worker_closes():
    """A ``score_batch`` progress callback that stops the batch (CancelledError) within a few
    milliseconds once the Dask worker running it starts to close (Ctrl-C on the client, a
    cluster shutdown), instead of finishing the partition first. None outside a worker."""
    try:
        from distributed import get_worker
        worker = get_worker()
    except Exception:  # noqa: BLE001 - not in a worker (a plain call, the synchronous scheduler)
        return None

    def stop(done, total):
        status = str(getattr(worker, "status", "")).rsplit(".", 1)[-1]
        return status in ("closing", "closed", "closing_gracefully", "failed")
    return stop


def score_pandas(df: "pd.DataFrame", path: str, sha256: str, text_column: str,
                 probability: str = PROBABILITY, label: Optional[str] = LABEL,
                 threshold: float = 0.5, threads: int = 1) -> "pd.DataFrame":
    """Score one pandas DataFrame (a partition): ``df`` plus the probability (``Float64``) and
    label (``Int8``) columns. Rows whose text is not a ``str`` get nulls. The model comes from
    :func:`get_model`. ``threads`` is passed to :meth:`swiftrnn.Model.score_batch` (1 by default:
    Dask already runs one task per worker thread)."""
    import numpy as np

    model = get_model(path, sha256)
    values = df[text_column].tolist()            # str, or None/NaN/pd.NA/other for bad rows
    ok = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    probs = np.zeros(len(values), dtype=np.float64)
    if ok.any():
        probs[ok] = model.score_batch([v for v, good in zip(values, ok) if good],
                                      threads=threads, progress=_stop_if_worker_closes())
    out = df.copy(deep=False)
    out[probability] = pd.arrays.FloatingArray(probs, ~ok)
    if label is not None:
        out[label] = pd.arrays.IntegerArray((probs >= threshold).astype(np.int8), ~ok)
    return out


def _meta(meta: "pd.DataFrame", probability: str, label: Optional[str]) -> "pd.DataFrame":
    m = meta.copy(deep=False)
    m[probability] = pd.Series([], dtype="Float64", index=m.index[:0])
    if label is not None:
        m[label] = pd.Series([], dtype="Int8", index=m.index[:0])
    return m


# ---- input --------------------------------------------------------------------------------------

def _kind_of(path: str) -> str:
    p = path.lower()
    if p.endswith(_PARQUET_EXT):
        return "parquet"
    if p.endswith(_CSV_EXT):
        return "csv"
    raise ValueError(f"cannot tell the format of {path!r}: name it *.parquet or *.csv, or pass "
                     "a Dask DataFrame")


def _expand(inputs: Sequence[str]) -> List[str]:
    files: List[str] = []
    for item in inputs:
        item = os.fspath(item)
        if "://" in item:                        # s3://, gcs:// ...: let dask/fsspec expand it
            files.append(item)
            continue
        if os.path.isdir(item):
            found = sorted(f for f in _glob.glob(os.path.join(item, "**", "*"), recursive=True)
                           if os.path.isfile(f) and not os.path.basename(f).startswith((".", "_"))
                           and f.lower().endswith(_PARQUET_EXT + _CSV_EXT))
        elif _glob.has_magic(item):
            found = sorted(f for f in _glob.glob(item, recursive=True) if os.path.isfile(f))
        else:
            found = [item] if os.path.exists(item) else []
        if not found:
            raise FileNotFoundError(f"no input files match {item!r}")
        files.extend(os.path.abspath(f) for f in found)
    return files


def read_input(inputs: Union[str, Sequence[str], "dd.DataFrame"], text_column: str,
               **read_kwargs: Any) -> "dd.DataFrame":
    """A Dask DataFrame from a Dask DataFrame (returned as is), or from paths, globs or folders
    of Parquet (``*.parquet``, ``*.pq``) and CSV (``*.csv[.gz]``, ``*.tsv``) files; both kinds
    may be mixed (they are concatenated, Parquet first). CSV files are read one partition per
    file (so quoted newlines inside reviews are safe) with the text column as text.
    ``read_kwargs`` go to ``dd.read_parquet`` / ``dd.read_csv``. The text column must exist."""
    if isinstance(inputs, dd.DataFrame):
        ddf = inputs
    else:
        if isinstance(inputs, (str, bytes, os.PathLike)):
            inputs = [os.fsdecode(inputs)]
        files = _expand(list(inputs))
        pq = [f for f in files if _kind_of(f) == "parquet"]
        csv = [f for f in files if _kind_of(f) == "csv"]
        parts = []
        if pq:
            parts.append(dd.read_parquet(pq, **read_kwargs))
        if csv:
            kw = dict(blocksize=None, dtype={text_column: "object"})
            if any(f.lower().endswith((".tsv", ".tsv.gz")) for f in csv):
                kw["sep"] = "\t"
            kw.update(read_kwargs)
            parts.append(dd.read_csv(csv, **kw))
        ddf = parts[0] if len(parts) == 1 else dd.concat(parts, ignore_index=True)
    if text_column not in ddf.columns:
        raise KeyError(f"no column {text_column!r} in the input (columns: {list(ddf.columns)})")
    return ddf


# ---- the public API -----------------------------------------------------------------------------

def score(data: Union[str, Sequence[str], "dd.DataFrame"], model: Union[str, os.PathLike],
          text_column: str = "review", *, probability: str = PROBABILITY,
          label: Optional[str] = LABEL, threshold: float = 0.5, threads: int = 1,
          **read_kwargs: Any) -> "dd.DataFrame":
    """Add sentiment scores to a Dask DataFrame, lazily.

    ``data``: a Dask DataFrame, or paths/globs/folders of Parquet or CSV files
    (:func:`read_input`). ``model``: the path of a sentiment model file; it is loaded here once
    to fail fast (the library's error for a missing or corrupt file,
    :class:`swiftrnn.WrongKindError` for a character model) and hashed; workers load it once per
    process (:func:`get_model`). Returns ``data`` with a ``probability`` column (``Float64``,
    null for malformed rows) and, unless ``label`` is None, a ``label`` column (``Int8``: 1 when
    ``probability >= threshold``). Nothing runs until you compute or write the result; with a
    ``distributed.Client`` active, it runs on that cluster."""
    path, sha = model_fingerprint(model)
    ddf = read_input(data, text_column, **read_kwargs)
    for name in (probability, label):
        if name is not None and name in ddf.columns:
            raise ValueError(f"the input already has a column {name!r}; choose another name")
    if not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an int >= 0, got {threads!r}")
    return ddf.map_partitions(score_pandas, path, sha, text_column, probability, label,
                              float(threshold), threads,
                              meta=_meta(ddf._meta, probability, label))


class ScoreSummary(dict):
    """What :func:`score_files` returns: ``rows``, ``malformed``, ``partitions``, ``seconds``,
    ``rows_per_second``, ``output``, ``model``, ``workers`` (a dict)."""


def _write_part(df: "pd.DataFrame", out_dir: str, index: int, schema_meta: "pd.DataFrame",
                probability: str) -> Tuple[int, int]:
    """Write one scored partition as ``part.NNNNN.parquet`` (atomically on local disks: a hidden
    temporary file renamed into place, so a task re-run after a worker death replaces, never
    duplicates) and return ``(rows, malformed)``."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(schema_meta, preserve_index=False)
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    name = f"part.{index:05d}.parquet"
    fs, root = fsspec.core.url_to_fs(out_dir)
    fs.makedirs(root, exist_ok=True)
    if isinstance(fs, LocalFileSystem):
        tmp = os.path.join(root, f".{name}.{uuid.uuid4().hex}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, os.path.join(root, name))
    else:                                       # object stores: one PUT is atomic
        with fs.open(f"{root.rstrip('/')}/{name}", "wb") as f:
            pq.write_table(table, f)
    return len(df), int(df[probability].isna().sum())


def score_files(inputs: Union[str, Sequence[str], "dd.DataFrame"], output: str,
                model: Union[str, os.PathLike], text_column: str = "review", *,
                client=None, probability: str = PROBABILITY, label: Optional[str] = LABEL,
                threshold: float = 0.5, threads: int = 1, overwrite: bool = False,
                progress: bool = False, preload_model: bool = True,
                **read_kwargs: Any) -> ScoreSummary:
    """Score ``inputs`` (as :func:`score`) and write ``output/part.NNNNN.parquet``, one file per
    partition, in input order; returns a :class:`ScoreSummary` (rows written and malformed rows
    counted from the partitions actually written).

    ``client``: a ``distributed.Client`` (default: the current one). The model is checked on the
    client first; with ``preload_model`` every worker then loads it (once) with ``client.run``,
    so a worker that cannot read it fails the job before any partition is scheduled. An output
    folder that already has Parquet files is an error unless ``overwrite`` (which empties it).
    ``progress`` shows Dask's progress bar on stderr."""
    from distributed import default_client, progress as dask_progress, wait

    client = client or default_client()
    path, sha = model_fingerprint(model)                     # fails fast, before anything else
    scored = score(inputs, path, text_column, probability=probability, label=label,
                   threshold=threshold, threads=threads, **read_kwargs)
    _prepare_output(output, overwrite)
    workers = {}
    if preload_model:
        workers = _preload_all(client, path, sha)
    t0 = time.perf_counter()
    parts = scored.to_delayed()
    meta = scored._meta
    write = dask.delayed(_write_part, pure=False)
    tasks = [write(p, output, i, meta, probability, dask_key_name=f"swiftrnn-write-{i}-"
                   f"{uuid.uuid4().hex[:8]}") for i, p in enumerate(parts)]
    futures = client.compute(tasks)
    if progress:
        import contextlib
        import sys
        with contextlib.redirect_stdout(sys.stderr):    # stdout stays for results
            dask_progress(futures)
    else:
        wait(futures)
    results = client.gather(futures)
    seconds = time.perf_counter() - t0
    rows = sum(r for r, _ in results)
    _cleanup_tmp(output)
    return ScoreSummary(rows=rows, malformed=sum(b for _, b in results), partitions=len(parts),
                        seconds=seconds, rows_per_second=rows / seconds if seconds > 0 else 0.0,
                        output=output, model=path, sha256=sha, workers=workers)


def _preload_all(client, path: str, sha: str) -> Dict[str, str]:
    """``preload`` on every worker; model errors are raised, a worker that dies meanwhile is
    skipped (its restarted process loads the model at its first task)."""
    from distributed.comm import CommClosedError

    out = {}
    for addr, r in client.run(preload, path, sha, on_error="return").items():
        if isinstance(r, (CommClosedError, asyncio_TimeoutError)):
            continue
        if isinstance(r, BaseException):
            raise r
        out[addr] = r
    return out


def _prepare_output(output: str, overwrite: bool) -> None:
    if "://" in output:
        return
    if os.path.isdir(output):
        old = [f for f in os.listdir(output) if f.endswith(".parquet")]
        if old and not overwrite:
            raise FileExistsError(f"{output} already has {len(old)} Parquet files; pass "
                                  "overwrite=True (--overwrite) or choose another folder")
        for f in old:
            os.remove(os.path.join(output, f))
    elif os.path.exists(output):
        raise FileExistsError(f"{output} exists and is not a folder")
    os.makedirs(output, exist_ok=True)


def _cleanup_tmp(output: str) -> None:
    """Remove temporaries left by tasks whose worker died mid-write (local folders only)."""
    if "://" in output or not os.path.isdir(output):
        return
    for f in os.listdir(output):
        if f.startswith(".part.") and f.endswith(".tmp"):
            try:
                os.remove(os.path.join(output, f))
            except OSError:
                pass


if __name__ == "__main__":  # pragma: no cover - `python -m swiftrnn.dask`
    # Run the CLI from the imported module, never from __main__: functions defined in __main__
    # would be pickled by value, and each task would then get a fresh, empty model cache.
    import sys
    from swiftrnn._dask_cli import main
    sys.exit(main())
