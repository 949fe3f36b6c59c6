"""One CLI voice (issue #11, point 4): the Swift ``swiftrnn`` tool (out/bin/swiftrnn, built by
``make cli``) and ``python -m swiftrnn`` take the same commands and flags and print the same
bytes with the same exit status.

Each case runs both with the same arguments and stdin and compares stdout byte for byte and the
exit status, which must also be the one expected: 0 success, 1 runtime error (then stderr is
exactly one line ``swiftrnn: error: ...`` without usage text), 2 usage error.

``make test`` builds the Swift CLI first (test-python depends on cli); run alone, the module
skips when out/bin/swiftrnn is missing.
"""

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
SWIFT_CLI = os.environ.get("SWIFTRNN_CLI", os.path.join(REPO, "out", "bin", "swiftrnn"))
LIB = os.environ.get("SWIFTRNN_LIBRARY", os.path.join(REPO, "out", "lib", "libswiftrnn.so"))
SENT = os.path.join("models", "sentiment-imdb.safetensors")
LM = os.path.join("models", "charlm-mysterious-island.safetensors")
FIX = os.path.join("Tests", "SwiftRNNTests", "Fixtures", "models")

if not os.access(SWIFT_CLI, os.X_OK):
    pytest.skip(f"{SWIFT_CLI} is missing: run `make cli` (make test does)", allow_module_level=True)


def env(**extra):
    e = dict(os.environ)
    e["SWIFTRNN_LIBRARY"] = LIB
    e["PYTHONPATH"] = PYROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.update(extra)
    return e


def run_swift(args, stdin=b""):
    return subprocess.run([SWIFT_CLI, *args], input=stdin, capture_output=True, cwd=REPO,
                          env=env(), timeout=300)


def run_python(args, stdin=b"", **extra):
    return subprocess.run([sys.executable, "-m", "swiftrnn", *args], input=stdin,
                          capture_output=True, cwd=REPO, env=env(**extra), timeout=300)


REVIEWS = ("This movie was a masterpiece: moving, funny and beautifully acted. I loved every "
           "minute of it.\n"
           "\n"
           "   \t\n"
           "A total waste of two hours.\r\n"
           "Caf\xe9 cr\xe8me, na\xefve :) <br /><br />great\n").encode("utf-8") + \
          b"broken \xff\xfe utf-8 \xf0\x9f\x98 here\n" + b"no newline at the end"
LONG = "A dull film, and the acting was awful in every single way; an utter waste of time " \
       "and money."

# (id, args, stdin, expected exit status)
CASES = [
    # inspect / info
    ("inspect-sentiment", ["inspect", SENT], b"", 0),
    ("inspect-charlm", ["inspect", LM], b"", 0),
    ("info-alias", ["info", SENT], b"", 0),
    ("inspect-option-first", ["inspect", "--", LM], b"", 0),
    *[(f"inspect-fixture-{f}", ["inspect", os.path.join(FIX, f)], b"", 0)
      for f in ("charlm_gru2.safetensors", "sentiment_lstm_uni.bf16.safetensors",
                "sentiment_rnn_tanh_uni.safetensors", "sentiment_keyword_trained.safetensors",
                "classifier_lstm_bi_3class.safetensors",
                "classifier_gru_multilabel_nobias.safetensors")],
    # score
    ("score-args", ["score", SENT, "A great film", "A dull film", LONG], b"", 0),
    ("score-threads-after-text", ["score", SENT, "A great film", "--threads", "2", "Dull."],
     b"", 0),
    ("score-threads-first", ["score", "--threads=2", SENT, "A great film", "Dull."], b"", 0),
    ("score-control-chars", ["score", SENT, "tab\there\nnewline"], b"", 0),
    ("score-stdin", ["score", SENT], REVIEWS, 0),
    ("score-stdin-dash", ["score", SENT, "-", "--threads", "1"], REVIEWS, 0),
    ("score-stdin-empty", ["score", SENT], b"", 0),
    ("score-empty-text", ["score", SENT, ""], b"", 0),
    ("score-dashdash", ["score", SENT, "--", "-not an option"], b"", 0),
    # classify (a classifier's labels; a sentiment model is the one label "positive")
    ("classify-3class", ["classify", os.path.join(FIX, "classifier_lstm_bi_3class.safetensors"),
                         "A great film", "boring plot", LONG], b"", 0),
    ("classify-k-all", ["classify", os.path.join(FIX, "classifier_lstm_bi_3class.safetensors"),
                        "--k", "0", "A great film", "--threads", "1"], b"", 0),
    ("classify-multilabel-threshold", ["classify", "--threshold=0.5", "--k", "3",
                                       os.path.join(FIX, "classifier_gru_multilabel_nobias.safetensors"),
                                       "-"], REVIEWS, 0),
    ("classify-threshold-none", ["classify", os.path.join(FIX, "classifier_lstm_bi_3class.safetensors"),
                                 "--threshold", "1", "a film"], b"", 0),
    ("classify-sentiment", ["classify", SENT, "A great film", "A dull film"], b"", 0),
    ("error-wrong-kind-classify", ["classify", LM, "A great film"], b"", 1),
    ("usage-classify-k", ["classify", SENT, "x", "--k", "-1"], b"", 2),
    ("usage-classify-threshold", ["classify", SENT, "x", "--threshold", "1.5"], b"", 2),
    # sample
    ("sample-defaults", ["sample", LM, "--length", "200"], b"", 0),
    ("sample-order-1", ["sample", LM, "--prime", "The sea", "--length", "150", "--scale", "2",
                        "--seed", "7"], b"", 0),
    ("sample-order-2", ["sample", "--seed", "7", "--scale=2", LM, "--length", "150",
                        "--prime", "The sea"], b"", 0),
    ("sample-stream", ["sample", LM, "--stream", "--seed", "7", "--length", "150", "--prime",
                       "The sea", "--scale", "2"], b"", 0),
    ("sample-topk-topp-threads", ["sample", LM, "--top-k", "5", "--top-p", "0.9", "--threads",
                                  "2", "--length", "300", "--seed", "18446744073709551615"],
     b"", 0),
    ("sample-greedy", ["sample", LM, "--greedy", "--length", "100"], b"", 0),
    ("sample-greedy-ignores-top-p", ["sample", LM, "--top-p", "0", "--greedy", "--length", "50"],
     b"", 0),
    ("sample-length-0", ["sample", LM, "--length", "0"], b"", 0),
    ("sample-fixture", ["sample", os.path.join(FIX, "charlm_small.safetensors"), "--prime", "The",
                        "--length", "100", "--seed", "3"], b"", 0),
    # sampling controls (issue 15)
    ("sample-stop", ["sample", LM, "--stop", "the", "--stop", "and", "--length", "400",
                     "--seed", "3"], b"", 0),
    ("sample-stop-stream", ["sample", LM, "--stream", "--stop=the", "--stop", "and",
                            "--length", "400", "--seed", "3"], b"", 0),
    ("sample-controls", ["sample", LM, "--repetition-penalty", "1.5", "--repetition-window",
                         "32", "--min-p", "0.05", "--banned", "aeiou", "--length", "200",
                         "--seed", "5"], b"", 0),
    ("sample-controls-greedy", ["sample", LM, "--greedy", "--repetition-penalty", "2",
                                "--banned", "e", "--length", "100"], b"", 0),
    ("error-banned-everything", ["sample", os.path.join(FIX, "charlm_small.safetensors"),
                                 "--prime", "The", "--banned",
                                 "".join(chr(c) for c in range(32, 127)) + "\n\xe9",
                                 "--length", "5"], b"", 1),
    ("usage-repetition-penalty", ["sample", LM, "--repetition-penalty", "0"], b"", 2),
    ("usage-repetition-window", ["sample", LM, "--repetition-window", "-1"], b"", 2),
    ("usage-min-p", ["sample", LM, "--min-p", "1.5"], b"", 2),
    ("usage-empty-stop", ["sample", LM, "--stop", ""], b"", 2),
    # tokenize
    ("tokenize-args", ["tokenize", "I <br/>loved", "it :)"], b"", 0),
    ("tokenize-stdin", ["tokenize"], b"Some <b>text</b> :)\nand a second line", 0),
    ("tokenize-dash", ["tokenize", "-"], b"Some <b>text</b> :)\nand a second line", 0),
    ("tokenize-stdin-bad-utf8", ["tokenize"], b"caf\xc3\xa9 \xff ok", 0),
    # version
    ("version", ["--version"], b"", 0),
    # runtime errors: exit 1, one line on stderr
    ("error-missing-file", ["inspect", "models/no-such-model.safetensors"], b"", 1),
    ("error-readme-as-model", ["inspect", "README.md"], b"", 1),
    ("error-readme-score", ["score", "README.md", "text"], b"", 1),
    ("error-wrong-kind-score", ["score", LM, "A great film"], b"", 1),
    ("error-wrong-kind-sample", ["sample", SENT, "--length", "5"], b"", 1),
    ("error-unknown-char", ["sample", LM, "--prime", "Z\xe9bra", "--length", "5"], b"", 1),
    ("error-empty-prime", ["sample", LM, "--prime", "", "--length", "5"], b"", 1),
    # usage errors: exit 2
    ("usage-length-negative", ["sample", LM, "--length", "-5"], b"", 2),
    ("usage-threads-negative", ["score", SENT, "text", "--threads", "-1"], b"", 2),
    ("usage-sample-threads-negative", ["sample", LM, "--threads", "-1"], b"", 2),
    ("usage-unknown-flag", ["score", SENT, "--bogus", "text"], b"", 2),
    ("usage-unknown-short-flag", ["sample", LM, "-x"], b"", 2),
    ("usage-missing-value", ["sample", LM, "--length"], b"", 2),
    ("usage-bad-number", ["sample", LM, "--length", "ten"], b"", 2),
    ("usage-bad-float", ["sample", LM, "--scale", "0x10"], b"", 2),
    ("usage-scale-zero", ["sample", LM, "--scale", "0"], b"", 2),
    ("usage-top-p", ["sample", LM, "--top-p", "1.5"], b"", 2),
    ("usage-negative-seed", ["sample", LM, "--seed", "-1"], b"", 2),
    ("usage-missing-model", ["inspect"], b"", 2),
    ("usage-extra-argument", ["inspect", SENT, "extra"], b"", 2),
    ("usage-unknown-command", ["frobnicate"], b"", 2),
    ("usage-no-command", [], b"", 2),
]


@pytest.mark.parametrize("args,stdin,status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_output(args, stdin, status):
    s = run_swift(args, stdin)
    p = run_python(args, stdin)
    assert s.returncode == status, f"swift: exit {s.returncode}, stderr {s.stderr!r}"
    assert p.returncode == status, f"python: exit {p.returncode}, stderr {p.stderr!r}"
    assert s.stdout == p.stdout
    if status == 0 and args != ["score", SENT]:          # all but the empty-stdin case print
        assert s.stdout
    for who, r in (("swift", s), ("python", p)):
        err = r.stderr.decode("utf-8", "replace")
        if status == 0:
            assert err == "", f"{who}: {err!r}"
        elif status == 1:
            assert r.stdout == b"", f"{who} printed before failing: {r.stdout!r}"
            assert re.fullmatch(r"swiftrnn: error: [^\n]+\n", err), f"{who}: {err!r}"
            assert "usage" not in err.lower(), f"{who}: {err!r}"
        else:
            assert r.stdout == b"" and err.strip(), f"{who}: {err!r}"


def test_runtime_errors_say_the_same():
    for args in (["inspect", "models/no-such-model.safetensors"], ["inspect", "README.md"],
                 ["score", LM, "x"], ["sample", LM, "--prime", "Zebra"]):
        assert run_swift(args).stderr == run_python(args).stderr


def test_negative_numbers_get_the_real_message():
    for args, msg in ((["sample", LM, "--length", "-5"], "length must be >= 0"),
                      (["score", SENT, "x", "--threads", "-1"], "threads must be >= 0"),
                      (["sample", LM, "--threads", "-1"], "threads must be >= 0")):
        for r in (run_swift(args), run_python(args)):
            err = r.stderr.decode()
            assert r.returncode == 2 and msg in err and "Missing value" not in err, err


def test_formats():
    out = run_swift(["score", SENT, "A great film", LONG, "--threads", "2"]).stdout.decode()
    lines = out.splitlines()
    assert len(lines) == 2
    for line in lines:
        prob, label, text = line.split("\t")
        assert re.fullmatch(r"[01]\.[0-9]{6}", prob)
        assert label == ("positive" if float(prob) >= 0.5 else "negative")
    assert lines[0].split("\t")[2] == "A great film"
    assert lines[1].split("\t")[2] == LONG[:67] + "..."
    # the stdin form scores the same texts the same way (blank lines skipped)
    stdin = run_swift(["score", SENT], ("A great film\n\n" + LONG + "\n").encode()).stdout
    assert stdin.decode() == out


def test_default_seed_is_zero_everywhere():
    want = run_swift(["sample", LM, "--length", "120", "--seed", "0"]).stdout
    assert run_swift(["sample", LM, "--length", "120"]).stdout == want
    assert run_python(["sample", LM, "--length", "120"]).stdout == want
    assert want.startswith(b"The island")   # the default prime, in both
    code = ("import swiftrnn, sys; m = swiftrnn.load(sys.argv[1]); "
            "sys.stdout.write(m.sample('The island', 120) + '\\n' + "
            "''.join(m.stream('The island', 120)) + '\\n')")
    r = subprocess.run([sys.executable, "-c", code, LM], capture_output=True, cwd=REPO,
                       env=env(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want + want
    assert run_swift(["sample", LM, "--length", "120", "--seed", "1"]).stdout != want


def test_tokenize_stdin_forms_agree():
    text = b"I <br/>loved it :)\n"
    want = run_swift(["tokenize", "I <br/>loved it :)"]).stdout
    assert want == b"i\nloved\nit\n:)\n"
    for run in (run_swift, run_python):
        assert run(["tokenize"], text).stdout == want
        assert run(["tokenize", "-"], text).stdout == want


def test_version_is_the_library_version():
    with open(os.path.join(REPO, "include", "swiftrnn.h"), encoding="utf-8") as f:
        want = re.search(r'#define\s+SWIFTRNN_VERSION_STRING\s+"([^"]+)"', f.read()).group(1)
    assert run_swift(["--version"]).stdout.decode().strip() == want
    assert run_python(["--version"]).stdout.decode().strip() == want


def test_help_and_version_without_the_native_library():
    bad = {"SWIFTRNN_LIBRARY": "/nonexistent/libswiftrnn.so"}
    probe = subprocess.run([sys.executable, "-c", "import swiftrnn"], capture_output=True,
                           cwd=REPO, env=env(**bad), timeout=120)
    if probe.returncode != 0:
        pytest.skip("`import swiftrnn` itself loads the library (the lazy loader is not in yet)")
    for args in (["--help"], ["--version"], ["score", "--help"], ["help", "sample"]):
        r = run_python(args, **bad)
        assert r.returncode == 0 and r.stdout, (args, r.stderr)
    r = run_python(["score", SENT, "x"], **bad)
    assert r.returncode == 1
    assert re.fullmatch(r"swiftrnn: error: [^\n]+\n", r.stderr.decode()), r.stderr


def test_help_exits_zero_in_both():
    for args in (["--help"], ["sample", "--help"], ["score", "-h"], ["help", "score"]):
        for run in (run_swift, run_python):
            r = run(args)
            assert r.returncode == 0 and b"--" in r.stdout and r.stderr == b"", (args, r)


def test_main_itself_never_loads_the_library_for_help(tmp_path):
    """__main__.py (and _version.py) alone, in a package without the bindings: --help, --version, help and usage
    errors work (it imports the native library only inside the commands)."""
    pkg = tmp_path / "swiftrnn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("__main__.py", "_version.py"):
        with open(os.path.join(PYROOT, "swiftrnn", name), encoding="utf-8") as f:
            (pkg / name).write_text(f.read())
    e = env(SWIFTRNN_LIBRARY="/nonexistent/libswiftrnn.so", PYTHONPATH=str(tmp_path))
    for args, status in ((["--help"], 0), (["--version"], 0), (["help", "score"], 0),
                         (["sample", "--help"], 0), (["sample", LM, "--length", "-5"], 2),
                         (["score", SENT, "--bogus"], 2)):
        r = subprocess.run([sys.executable, "-m", "swiftrnn", *args], capture_output=True,
                           cwd=REPO, env=e, timeout=120)
        assert r.returncode == status, (args, r.stderr)
