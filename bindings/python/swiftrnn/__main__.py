"""Command line: ``python -m swiftrnn {info,score,sample,tokenize} ...``.

    python -m swiftrnn info MODEL
    python -m swiftrnn score MODEL [TEXT ...]      # no TEXT: one text per line of stdin
    python -m swiftrnn sample MODEL --prime 'The island' --length 300 --scale 1.0 \\
        [--top-k K] [--top-p P] [--greedy] [--seed N] [--stream]
    python -m swiftrnn tokenize TEXT ...

``score`` prints ``probability<TAB>label<TAB>text`` per text (label ``positive`` when the
probability is >= 0.5, else ``negative``; blank stdin lines are skipped). Errors print
``error: ...`` on stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m swiftrnn``."""
    ap = argparse.ArgumentParser(prog="python -m swiftrnn",
                                 description="Run libswiftrnn models (Raschka et al., ch. 15).")
    ap.add_argument("--version", action="store_true", help="print the library version and exit")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")

    p = sub.add_parser("info", help="describe a model")
    p.add_argument("model")

    p = sub.add_parser("score", help="score reviews with a sentiment model")
    p.add_argument("model")
    p.add_argument("text", nargs="*", help="texts to score (default: lines of stdin)")
    p.add_argument("--threads", type=int, default=0, help="0: every core")

    p = sub.add_parser("sample", help="generate text with a character model")
    p.add_argument("model")
    p.add_argument("--prime", required=True)
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--scale", type=float, default=1.0, help="scale factor (1/temperature)")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--greedy", action="store_true")
    p.add_argument("--seed", type=int, default=None, help="default: random")
    p.add_argument("--stream", action="store_true", help="print characters as they come")

    p = sub.add_parser("tokenize", help="the book's tokenizer, one token per line")
    p.add_argument("text", nargs="+")
    return ap


def _run(args) -> int:
    """Run one parsed command; returns the exit status."""
    import swiftrnn

    if args.cmd == "info":
        with swiftrnn.load(args.model) as m:
            print(f"path: {m.path}")
            print(f"kind: {m.kind}")
            for k, v in m.info.items():
                print(f"{k}: {str(v).lower() if isinstance(v, bool) else v}")
        return 0
    if args.cmd == "score":
        texts = args.text
        if not texts:
            texts = [line.rstrip("\r\n") for line in sys.stdin]
            texts = [t for t in texts if t.strip()]
        with swiftrnn.load(args.model) as m:
            probs = m.score_batch(texts, threads=args.threads)
        for t, p in zip(texts, probs):
            print(f"{p:.6f}\t{'positive' if p >= 0.5 else 'negative'}\t{t}")
        return 0
    if args.cmd == "sample":
        kw = dict(length=args.length, scale_factor=args.scale, top_k=args.top_k,
                  top_p=args.top_p, greedy=args.greedy, seed=args.seed)
        with swiftrnn.load(args.model) as m:
            if args.stream:
                with m.stream(args.prime, **kw) as s:
                    for ch in s:
                        sys.stdout.write(ch)
                        sys.stdout.flush()
                sys.stdout.write("\n")
            else:
                print(m.sample(args.prime, **kw))
        return 0
    if args.cmd == "tokenize":
        for tok in swiftrnn.tokenize(" ".join(args.text)):
            print(tok)
        return 0
    raise AssertionError(args.cmd)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    ap = _parser()
    args = ap.parse_args(argv)
    try:
        if args.version:
            import swiftrnn
            print(f"libswiftrnn {swiftrnn.__version__} ({swiftrnn.library_path})")
            return 0
        if not args.cmd:
            ap.print_usage(sys.stderr)
            print("error: a command is required (info, score, sample, tokenize)", file=sys.stderr)
            return 1
        return _run(args)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError) as e:
        # SwiftRNNError subclasses land here or below
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001
        import swiftrnn
        if isinstance(e, swiftrnn.SwiftRNNError):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
