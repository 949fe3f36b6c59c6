"""Command line: ``python -m swiftrnn {inspect,score,classify,sample,tokenize} ...``.

The same commands, flags, defaults and output (byte for byte) as the Swift ``swiftrnn`` tool
(Sources/SwiftRNNCLI), for users who have the wheel and no Swift; bindings/python/tests/test_cli_voice.py checks it::

    python -m swiftrnn inspect MODEL                    # alias: info
    python -m swiftrnn score MODEL [TEXT ...] [--threads N]
    python -m swiftrnn classify MODEL [TEXT ...] [--k 1] [--threshold 0] [--threads N]
    python -m swiftrnn sample MODEL [--prime 'The island'] [--length 500] [--scale 1]
        [--top-k 0] [--top-p 1] [--greedy] [--seed 0] [--threads 1] [--stream]
        [--stop TEXT ...] [--repetition-penalty 1] [--repetition-window 64] [--min-p 0]
        [--banned CHARS]
    python -m swiftrnn tokenize [TEXT ...]
    python -m swiftrnn --version

Options may come before or after the positional arguments; ``--name=value`` works too, an
option always takes the next argument as its value (so ``--length -5`` is read as -5 and
refused), and ``--`` ends the options.

``score`` prints ``PROBABILITY<TAB>LABEL<TAB>TEXT`` per text: the probability with 6 decimals,
``positive`` when it is >= 0.5 else ``negative``, and the text with control characters as spaces,
cut to its first 67 characters (code points) and ``...`` when longer than 70. With no TEXT, or
the single TEXT ``-``, it scores each line of stdin (``\\n``-separated, a ``\\r`` before it
dropped, lines of only whitespace skipped). ``tokenize`` joins its TEXTs with spaces; with no
TEXT, or ``-``, all of stdin is one text. Invalid UTF-8 becomes U+FFFD.

Exit status: 0 success; 1 a runtime error (a bad or missing model file, the wrong kind of model,
a character outside the model's table...), reported as one line ``swiftrnn: error: MESSAGE`` on
stderr; 2 a usage error (unknown option, missing or bad value), with a usage hint on stderr.

``--help`` and ``--version`` do not load the native library.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import sys
from typing import Dict, List, Optional

PROG = "python -m swiftrnn"
INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1
UINT64_MAX = 2 ** 64 - 1


class UsageError(Exception):
    """A bad command line: exit status 2."""

    def __init__(self, message: str, command: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.command = command


class RuntimeFailure(Exception):
    """A failure while running a command: one line ``swiftrnn: error: ...``, exit status 1."""


# ---- numbers (the same syntax and limits as the Swift CLI) --------------------------------------

_DECIMAL = re.compile(r"([+-]?)([0-9]+)")
_REAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _integer(s: str) -> int:
    """``[+-]?[0-9]+`` within the int64 range."""
    m = _DECIMAL.fullmatch(s)
    if not m or int(m.group(2)) > INT64_MAX:
        raise ValueError("not an integer")
    v = int(m.group(2))
    return -v if m.group(1) == "-" else v


def _seed(s: str) -> int:
    """An integer in 0 .. 2**64-1."""
    m = _DECIMAL.fullmatch(s)
    if not m or int(m.group(2)) > UINT64_MAX:
        raise ValueError("not an integer")
    v = int(m.group(2))
    if m.group(1) == "-" and v != 0:
        raise ValueError("seed must be >= 0")
    return v


def _real(s: str) -> float:
    """A decimal number, read as a double and rounded to the C float the library gets."""
    if not _REAL.fullmatch(s):
        raise ValueError("not a number")
    return ctypes.c_float(float(s)).value


# ---- commands and their options -----------------------------------------------------------------


COMMANDS: Dict[str, dict] = {
    "inspect": {
        "abstract": "Show a model's kind, config and tensors.",
        "positionals": [("model", False, "A model file (.safetensors).")],
        "options": {},
    },
    "score": {
        "abstract": "Score reviews with a sentiment model.",
        "positionals": [("model", False, "A sentiment model."),
                        ("texts", True, "Reviews (none or '-': one per line of stdin).")],
        "options": {"threads": ("threads", _integer, 0, "Threads (0: all cores; default 0).")},
        "discussion": "Prints PROBABILITY<TAB>LABEL<TAB>TEXT per review: the probability with 6 "
                      "decimals, positive when it is >= 0.5, the text with control characters as "
                      "spaces and cut to 67 characters + \"...\" when longer than 70. No TEXT, or "
                      "the single TEXT \"-\": one review per line of stdin (blank lines skipped).",
    },
    "classify": {
        "abstract": "Classify texts with a classifier or sentiment model.",
        "positionals": [("model", False, "A classifier or sentiment model."),
                        ("texts", True, "Texts (none or '-': one per line of stdin).")],
        "options": {
            "k": ("k", _integer, 1, "Labels to print per text (0: all; default 1)."),
            "threshold": ("threshold", _real, 0.0,
                          "Print only labels with at least this probability (default 0)."),
            "threads": ("threads", _integer, 0, "Threads (0: all cores; default 0)."),
        },
        "discussion": "Prints per text its most likely labels, most likely first (ties: label "
                      "order), as PROBABILITY<TAB>LABEL pairs, then the text as score echoes it: "
                      "PROBABILITY<TAB>LABEL[<TAB>PROBABILITY<TAB>LABEL ...]<TAB>TEXT. Only labels "
                      "whose probability is >= --threshold are printed, at most --k of them; a "
                      "text with none prints \"-\" in their place. A sentiment model has the one "
                      "label positive. No TEXT, or the single TEXT \"-\": one text per line of "
                      "stdin (blank lines skipped).",
    },
    "sample": {
        "abstract": "Generate text with a character model.",
        "positionals": [("model", False, "A charlm model.")],
        "options": {
            "prime": ("prime", str, "The island", "The text to start from. (default: The island)"),
            "length": ("length", _integer, 500, "Characters to generate (default 500)."),
            "scale": ("scale", _real, 1.0,
                      "Scale factor: logits x scale (temperature = 1/scale; default 1)."),
            "top-k": ("top-k", _integer, 0,
                      "Keep the k most likely characters (0: off, the default)."),
            "top-p": ("top-p", _real, 1.0, "Nucleus sampling threshold (1: off, the default)."),
            "greedy": (None, None, False, "Always take the most likely character."),
            "seed": ("seed", _seed, 0, "Random seed, 0 ... 2^64-1 (default 0)."),
            "threads": ("threads", _integer, 1, "1, or 2 to split each step with a helper thread "
                        "(0: 2 when there are 2+ cores; default 1); the text is the same."),
            "stream": (None, None, False, "Print each character as it comes."),
            "stop": ("stop", str, [], "End after the first generated text that completes this "
                     "string (repeatable; it is printed)."),
            "repetition-penalty": ("repetition-penalty", _real, 1.0,
                                   "Divide positive / multiply negative logits of characters "
                                   "seen in the window by this (1: off, the default)."),
            "repetition-window": ("repetition-window", _integer, 64,
                                  "The last N characters the penalty looks at (default 64)."),
            "min-p": ("min-p", _real, 0.0, "Drop characters below min-p x the most likely one's "
                      "probability (0: off, the default)."),
            "banned": ("banned", str, "", "Characters never generated (default none)."),
        },
    },
    "tokenize": {
        "abstract": "Print the book tokenizer's tokens of a text, one per line.",
        "positionals": [("text", True, "The text (none or '-': stdin).")],
        "options": {},
        "discussion": "Several TEXTs are joined with spaces. No TEXT, or the single TEXT \"-\": "
                      "all of stdin is one text.",
    },
}
ALIASES = {"info": "inspect"}
#: Options that may be given more than once (their value is the list of all).
REPEATABLE = {"stop"}
MAX_REPETITION_WINDOW = 1 << 20
MAX_STOP_STRINGS = 256
MAX_STOP_LENGTH = 256


def _usage(cmd: str) -> str:
    spec = COMMANDS[cmd]
    parts = [f"<{n}>" if not many else f"[<{n}> ...]" for n, many, _ in spec["positionals"]]
    for name, (metavar, _conv, _d, _h) in spec["options"].items():
        if name in REPEATABLE:
            parts.append(f"[--{name} <{metavar}> ...]")
        else:
            parts.append(f"[--{name} <{metavar}>]" if metavar else f"[--{name}]")
    return f"{PROG} {cmd} " + " ".join(parts)


def _help(cmd: Optional[str]) -> str:
    if cmd is None:
        lines = ["OVERVIEW: Run the LSTM/GRU/RNN models of libswiftrnn (the commands of the Swift "
                 "swiftrnn tool that need no Swift).", "",
                 f"USAGE: {PROG} <subcommand>", "", "OPTIONS:",
                 "  --version               Show the version.",
                 "  -h, --help              Show help information.", "", "SUBCOMMANDS:"]
        for name, spec in COMMANDS.items():
            alias = " (alias: info)" if name == "inspect" else ""
            lines.append(f"  {name:<22}  {spec['abstract']}{alias}")
        lines += ["", f"  See '{PROG} help <subcommand>' for detailed help."]
        return "\n".join(lines) + "\n"
    spec = COMMANDS[cmd]
    lines = [f"OVERVIEW: {spec['abstract']}", "", f"USAGE: {_usage(cmd)}", "", "ARGUMENTS:"]
    for name, _many, h in spec["positionals"]:
        lines.append(f"  <{name}>{' ' * max(1, 22 - len(name))}{h}")
    lines += ["", "OPTIONS:"]
    for name, (metavar, _conv, default, h) in spec["options"].items():
        left = f"--{name} <{metavar}>" if metavar else f"--{name}"
        lines.append(f"  {left:<22}  {h}")
    lines.append(f"  {'--version':<22}  Show the version.")
    lines.append(f"  {'-h, --help':<22}  Show help information.")
    if spec.get("discussion"):
        lines += ["", spec["discussion"]]
    return "\n".join(lines) + "\n"


def _parse(cmd: str, args: List[str]):
    """(positionals, options) of one command, as the Swift CLI reads them; UsageError."""
    spec = COMMANDS[cmd]
    options = spec["options"]
    pos: List[str] = []
    raw: Dict[str, str] = {}
    flags: Dict[str, bool] = {}
    i, only_positional = 0, False
    while i < len(args):
        a = args[i]
        i += 1
        if only_positional or a == "-" or not a.startswith("-"):
            pos.append(a)
        elif a == "--":
            only_positional = True
        elif a in ("-h", "--help"):
            _out(_help(cmd))
            raise SystemExit(0)
        elif a == "--version":
            _out(_version() + "\n")
            raise SystemExit(0)
        elif a.startswith("--") and a[2:].partition("=")[0] in options:
            name, eq, value = a[2:].partition("=")
            metavar = options[name][0]
            if metavar is None:
                if eq:
                    raise UsageError(f"Unknown option '{a}'", cmd)
                flags[name] = True
                continue
            if not eq:
                if i >= len(args):
                    raise UsageError(f"Missing value for '--{name} <{metavar}>'", cmd)
                value = args[i]
                i += 1
            if name in REPEATABLE:
                raw.setdefault(name, []).append(value)
            else:
                raw[name] = value
        else:
            raise UsageError(f"Unknown option '{a}'", cmd)

    values = {}
    for name, (metavar, conv, default, _h) in options.items():
        if metavar is None:
            values[name] = flags.get(name, False)
        elif name in raw and name in REPEATABLE:
            values[name] = [conv(x) for x in raw[name]]
        elif name in raw:
            try:
                values[name] = conv(raw[name])
            except ValueError as e:
                raise UsageError(f"The value '{raw[name]}' is invalid for '--{name} <{metavar}>': "
                                 f"{e}", cmd) from None
        else:
            values[name] = default

    want = spec["positionals"]
    fixed = [n for n, many, _ in want if not many]
    if len(pos) < len(fixed):
        raise UsageError(f"Missing expected argument '<{fixed[len(pos)]}>'", cmd)
    if not any(many for _, many, _ in want) and len(pos) > len(fixed):
        raise UsageError(f"Unexpected argument '{pos[len(fixed)]}'", cmd)
    return pos, values


def _validate(cmd: str, v: dict) -> None:
    """The range checks of the Swift CLI's validate(); UsageError."""
    def need(ok, message):
        if not ok:
            raise UsageError(message, cmd)
    if "threads" in v:
        need(v["threads"] >= 0, "threads must be >= 0")
        need(v["threads"] <= INT32_MAX, f"threads must be <= {INT32_MAX}")
    if cmd == "classify":
        need(v["k"] >= 0, "k must be >= 0")
        need(0 <= v["threshold"] <= 1, "threshold must be in [0, 1]")
    if cmd == "sample":
        need(v["length"] >= 0, "length must be >= 0")
        if not v["greedy"]:
            s = v["scale"]
            need(s == s and abs(s) != float("inf") and s > 0, "scale must be finite and > 0")
        need(v["top-k"] >= 0, "top-k must be >= 0")
        need(v["top-k"] <= INT32_MAX, f"top-k must be <= {INT32_MAX}")
        if not v["greedy"]:         # greedy ignores top-p (the library says so)
            need(0 < v["top-p"] <= 1, "top-p must be in (0, 1]")
        r = v["repetition-penalty"]
        need(r == r and abs(r) != float("inf") and r > 0, "repetition-penalty must be finite and > 0")
        need(0 <= v["repetition-window"] <= MAX_REPETITION_WINDOW,
             f"repetition-window must be in 0 ... {MAX_REPETITION_WINDOW}")
        need(0 <= v["min-p"] <= 1, "min-p must be in [0, 1]")
        need(len(v["stop"]) <= MAX_STOP_STRINGS, f"at most {MAX_STOP_STRINGS} stop strings")
        for t in v["stop"]:
            need(0 < len(t) <= MAX_STOP_LENGTH,
                 f"a stop string must have 1 ... {MAX_STOP_LENGTH} characters")


# ---- input and output ---------------------------------------------------------------------------

def _out(text: str) -> None:
    """Write UTF-8 to stdout whatever the locale."""
    sys.stdout.buffer.write(text.encode("utf-8", errors="replace"))


def _arg(s: str) -> str:
    """A command-line argument as the Swift CLI sees it (its bytes as UTF-8, invalid -> U+FFFD)."""
    return os.fsencode(s).decode("utf-8", errors="replace")


_CONTROL = {c: " " for c in list(range(0x20)) + [0x7F]}


def _one_line(s: str) -> str:
    return s.translate(_CONTROL)


def _echo(text: str) -> str:
    t = _one_line(text)
    return t[:67] + "..." if len(t) > 70 else t


def _stdin_bytes() -> bytes:
    """All of stdin (nothing when it is closed)."""
    return sys.stdin.buffer.read() if sys.stdin is not None else b""


def _stdin_lines() -> List[str]:
    data = _stdin_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    out = []
    for ln in lines:
        if ln.endswith(b"\r"):
            ln = ln[:-1]
        if ln.strip(b" \t\n\v\f\r"):
            out.append(ln.decode("utf-8", errors="replace"))
    return out


def _json_quote(s: str) -> str:
    """JSONWriter.quote of the Swift core."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _load(path: str, kind: Optional[str] = None):
    import swiftrnn
    try:
        m = swiftrnn.load(path)
    except swiftrnn.SwiftRNNError as e:
        raise RuntimeFailure(f"{path}: {e.message}") from None
    if kind is not None and m.kind != kind:
        m.close()
        raise RuntimeFailure(f"{path} is not a {kind} model")
    return m


# ---- the commands -------------------------------------------------------------------------------

def _inspect(pos, v) -> None:
    import json
    path = pos[0]
    with _load(path) as m:
        info, kind = m.info, m.kind
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n).decode("utf-8"))
        meta = header.get("__metadata__", {})
        vocab = json.loads(meta["vocab"])
    except (OSError, ValueError, KeyError) as e:
        raise RuntimeFailure(f"{path}: {e}") from None
    lines = [info["description"],
             f"kind:          {kind}",
             f"cell:          {info['cell']}",
             f"vocab_size:    {info['vocab_size']}",
             f"embedding_dim: {info['embedding_dim']}",
             f"hidden_size:   {info['hidden_size']}",
             f"num_layers:    {info['num_layers']}",
             f"bidirectional: {'true' if info['bidirectional'] else 'false'}",
             f"head:          {', '.join(meta['head'].split(','))}"]
    if info["cell"] == "jordan":
        lines.insert(6, f"output_size:   {meta.get('output_size')}")
    if kind == "classifier":
        labels = json.loads(meta["labels"])
        lines.append(f"labels:        {' '.join(_json_quote(t) for t in labels)}"
                     + (" (multi-label)" if meta.get("multi_label") == "true" else ""))
    if "description" in meta:
        lines.append(f"description:   {meta['description']}")
    if "trained_by" in meta:
        lines.append(f"trained_by:    {meta['trained_by']}")
    if "training_split" in meta:
        lines.append(f"split:         {meta['training_split']}")
    shown = " ".join(_json_quote(t) for t in vocab[:12])
    lines.append(f"vocab:         {shown}{' ...' if len(vocab) > 12 else ''}")
    lines.append("tensors:")
    for name, e in header.items():
        if name == "__metadata__":
            continue
        shape = "[" + ", ".join(str(d) for d in e["shape"]) + "]"
        lines.append(f"  {name:<28} {e['dtype']} {shape}")
    _out("\n".join(lines) + "\n")


def _score(pos, v) -> None:
    path, texts = pos[0], pos[1:]
    with _load(path, "sentiment") as m:
        if not texts or texts == ["-"]:
            texts = _stdin_lines()
        probs = m.score_batch(texts, threads=v["threads"])
    _out("".join(f"{p:.6f}\t{'positive' if p >= 0.5 else 'negative'}\t{_echo(t)}\n"
                 for t, p in zip(texts, probs)))


def _classify(pos, v) -> None:
    path, texts = pos[0], pos[1:]
    with _load(path, None) as m:
        if m.kind not in ("classifier", "sentiment"):
            raise RuntimeFailure(f"{path} is a {m.kind} model; classify needs a "
                                 "classifier or sentiment model")
        if not texts or texts == ["-"]:
            texts = _stdin_lines()
        labels = m.labels
        rows = m.classify_batch(texts, threads=v["threads"])
    n, lines = len(labels), []
    for t, row in zip(texts, rows):
        row = [float(p) for p in row]
        order = sorted(range(n), key=lambda j: (-row[j], j))
        kept = [j for j in order[: v["k"] or n] if row[j] >= v["threshold"]]
        pairs = "\t".join(f"{row[j]:.6f}\t{_echo(labels[j])}" for j in kept)
        lines.append(f"{pairs or '-'}\t{_echo(t)}\n")
    _out("".join(lines))


def _sample(pos, v) -> None:
    kw = dict(length=v["length"], scale_factor=v["scale"], top_k=v["top-k"], top_p=v["top-p"],
              greedy=v["greedy"], seed=v["seed"], stop=v["stop"],
              repetition_penalty=v["repetition-penalty"],
              repetition_window=v["repetition-window"], min_p=v["min-p"], banned=v["banned"])
    with _load(pos[0], "charlm") as m:
        if v["stream"] or v["length"] > 1 << 20:
            # the prime is checked here, before anything is printed
            with m.stream(v["prime"], **kw) as s:
                out = sys.stdout.buffer
                for ch in s:
                    out.write(ch.encode("utf-8"))
                    if v["stream"]:
                        out.flush()
            _out("\n")
        else:
            _out(m.sample(v["prime"], threads=v["threads"], **kw) + "\n")


def _tokenize(pos, v) -> None:
    import swiftrnn
    if not pos or pos == ["-"]:
        toks = swiftrnn.tokenize(_stdin_bytes())
    else:
        toks = swiftrnn.tokenize(" ".join(pos))
    _out("".join(t + "\n" for t in toks))


RUN = {"inspect": _inspect, "score": _score, "classify": _classify, "sample": _sample,
       "tokenize": _tokenize}


def _version() -> str:
    """The package's version (swiftrnn/_version.py, which a test keeps equal to the header's and
    the library's), without loading the native library: what the Swift CLI prints."""
    from ._version import __version__
    return __version__


def _fail(message: str) -> int:
    sys.stdout.flush()
    sys.stderr.write(f"swiftrnn: error: {_one_line(message)}\n")
    sys.stderr.flush()
    return 1


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = [_arg(a) for a in (sys.argv[1:] if argv is None else argv)]
    try:
        if not args:
            raise UsageError("a command is required (inspect, score, classify, sample, tokenize)")
        first = args[0]
        if first in ("-h", "--help"):
            _out(_help(None))
            return 0
        if first == "help":            # help [COMMAND]
            want = ALIASES.get(args[1], args[1]) if len(args) > 1 else None
            if want is not None and want not in COMMANDS:
                raise UsageError(f"Unknown subcommand '{args[1]}'")
            _out(_help(want))
            return 0
        if first == "--version":
            _out(_version() + "\n")
            return 0
        cmd = ALIASES.get(first, first)
        if cmd not in COMMANDS:
            if first.startswith("-") and first != "-":
                raise UsageError(f"Unknown option '{first}'")
            raise UsageError(f"Unexpected argument '{first}'")
        pos, values = _parse(cmd, args[1:])
        _validate(cmd, values)
    except UsageError as e:
        where = f" {e.command}" if e.command else ""
        usage = _usage(e.command) if e.command else f"{PROG} <subcommand>"
        sys.stderr.write(f"Error: {e.message}\nUsage: {usage}\n"
                         f"  See '{PROG}{where} --help' for more information.\n")
        return 2
    try:
        RUN[cmd](pos, values)
        sys.stdout.flush()
        return 0
    except RuntimeFailure as e:
        return _fail(str(e))
    except ImportError as e:           # no native library (swiftrnn.LibraryNotFoundError)
        return _fail(str(e))
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001
        import swiftrnn
        if isinstance(e, swiftrnn.SwiftRNNError):
            return _fail(e.message)
        if isinstance(e, OSError):
            return _fail(str(e))
        raise


if __name__ == "__main__":
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head` ends us quietly, as the Swift CLI
    sys.exit(main())
