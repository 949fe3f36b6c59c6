"""How the bindings find libswiftrnn.so (swiftrnn/_lib.py), each case in a fresh interpreter.

The package is copied outside the checkout (so the checkout's out/lib is not a candidate) and
run with a cleaned environment: no SWIFTRNN_LIBRARY, no LD_LIBRARY_PATH unless the test sets it.
Needs a built library (out/lib, `make lib`) to copy; bindings/python/run_tests.sh checks that.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
BUILT = os.path.realpath(os.path.join(REPO, "out", "lib", "libswiftrnn.so"))
MODEL = os.path.join(REPO, "models", "sentiment-imdb.safetensors")
SCORE = ("import swiftrnn, sys; m = swiftrnn.load(sys.argv[1]); "
         "print(swiftrnn.library_path); print(m.score('A wonderful, moving film.'))")

pytestmark = pytest.mark.skipif(not os.path.isfile(BUILT), reason="run `make lib` first")


def clean_env(**extra):
    """os.environ without the variables that steer the loader, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWIFTRNN_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
    env.update(extra)
    return env


def copy_package(dest, with_lib=False):
    """bindings/python/swiftrnn -> dest/swiftrnn (no lib/ unless with_lib); -> dest."""
    shutil.copytree(os.path.join(PYROOT, "swiftrnn"), os.path.join(dest, "swiftrnn"),
                    ignore=shutil.ignore_patterns("lib", "__pycache__"))
    if with_lib:
        os.mkdir(os.path.join(dest, "swiftrnn", "lib"))
        shutil.copy(BUILT, os.path.join(dest, "swiftrnn", "lib", "libswiftrnn.so"))
    return str(dest)


def run(args, cwd, env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_package_lib_wins_without_env(tmp_path):
    site = copy_package(tmp_path / "site", with_lib=True)
    r = run(["-c", SCORE, MODEL], str(tmp_path), clean_env(PYTHONPATH=site))
    assert r.returncode == 0, r.stderr
    path, p = r.stdout.split()
    assert path == os.path.join(site, "swiftrnn", "lib", "libswiftrnn.so")
    assert 0.5 < float(p) <= 1.0


def test_system_linker_finds_installed_soname(tmp_path):
    """A `make install`-style libdir holding only libswiftrnn.so.0, on LD_LIBRARY_PATH."""
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    shutil.copy(BUILT, libdir / "libswiftrnn.so.0")
    site = copy_package(tmp_path / "site")
    r = run(["-c", SCORE, MODEL], str(tmp_path),
            clean_env(PYTHONPATH=site, LD_LIBRARY_PATH=str(libdir)))
    assert r.returncode == 0, r.stderr
    path, p = r.stdout.split()
    assert path == str(libdir / "libswiftrnn.so.0")      # the real file, through dladdr
    assert 0.5 < float(p) <= 1.0


def test_not_found_lists_only_real_attempts(tmp_path):
    import ctypes.util
    if ctypes.util.find_library("swiftrnn"):
        pytest.skip("a libswiftrnn is installed system-wide: the system linker finds it")
    site = copy_package(tmp_path / "site")
    code = ("import swiftrnn\nprint('imported', swiftrnn.library_path)\n"
            "try:\n    swiftrnn.tokenize('x')\nexcept swiftrnn.LibraryNotFoundError as e:\n"
            "    print('ERROR', e)\n")
    r = run(["-c", code], str(tmp_path), clean_env(PYTHONPATH=site))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported None\n")       # importing never needed the library
    msg = r.stdout.split("ERROR ", 1)[1]
    assert msg.startswith("cannot find libswiftrnn.so")
    tried = [line.strip() for line in msg.split("Tried:\n", 1)[1].splitlines() if line.strip()]
    pkg_lib = os.path.join(site, "swiftrnn", "lib", "libswiftrnn.so")
    assert tried == [
        f"{pkg_lib}: no such file",
        "ctypes.util.find_library('swiftrnn'): not found",
        "libswiftrnn.so.0 through the system linker (LD_LIBRARY_PATH, ld.so.cache, /lib, "
        "/usr/lib): libswiftrnn.so.0: cannot open shared object file: No such file or directory",
    ], msg
    # no meaningless places: outside a checkout, no out/lib or .build guesses
    assert "out/lib" not in msg and ".build" not in msg and "make lib" not in msg


def test_not_found_in_checkout_names_build_tree(tmp_path):
    """Inside a checkout (here a fake one), its out/lib and .build are tried, and named."""
    repo = tmp_path / "repo"
    (repo / "include").mkdir(parents=True)
    (repo / "Package.swift").write_text("// fake\n")
    (repo / "include" / "swiftrnn.h").write_text("/* fake */\n")
    site = copy_package(repo / "bindings" / "python")
    r = run(["-c", "import swiftrnn; swiftrnn.tokenize('x')"], str(tmp_path),
            clean_env(PYTHONPATH=site))
    assert r.returncode != 0 and "LibraryNotFoundError" in r.stderr
    assert f"{repo}/out/lib/libswiftrnn.so: no such file" in r.stderr
    assert f"{repo}/.build/release/libswiftrnn.so: no such file" in r.stderr
    assert f"make lib` in {repo}" in r.stderr


def test_swiftrnn_library_env_is_the_only_place(tmp_path):
    site = copy_package(tmp_path / "site", with_lib=True)
    bad = tmp_path / "nope.so"
    r = run(["-c", "import swiftrnn; swiftrnn.tokenize('x')"], str(tmp_path),
            clean_env(PYTHONPATH=site, SWIFTRNN_LIBRARY=str(bad)))
    assert r.returncode != 0
    assert f"SWIFTRNN_LIBRARY='{bad}'" in r.stderr and "swiftrnn/lib" not in r.stderr
    # a file that is not libswiftrnn: the reason names what is wrong
    r = run(["-c", "import swiftrnn; swiftrnn.tokenize('x')"], str(tmp_path),
            clean_env(PYTHONPATH=site, SWIFTRNN_LIBRARY=ctypes_libm()))
    assert r.returncode != 0 and "does not export swiftrnn_" in r.stderr, r.stderr


def ctypes_libm():
    import ctypes.util
    name = ctypes.util.find_library("m")
    if not name:
        pytest.skip("no libm to load")
    return name


def test_clis_work_without_library(tmp_path):
    """--help, --version and the exporter's argument parsing need no libswiftrnn.so."""
    site = copy_package(tmp_path / "site")
    env = clean_env(PYTHONPATH=site)
    r = run(["-m", "swiftrnn.export", "--help"], str(tmp_path), env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m swiftrnn.export")
    r = run(["-m", "swiftrnn.export", "--kind", "sentiment"], str(tmp_path), env)
    assert r.returncode == 2 and "required" in r.stderr and "LibraryNotFound" not in r.stderr
    r = run(["-m", "swiftrnn", "--help"], str(tmp_path), env)
    assert r.returncode == 0 and "usage:" in r.stdout.lower(), r.stderr
    r = run(["-m", "swiftrnn", "--version"], str(tmp_path), env)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+\n", r.stdout), r.stdout
    # ... while a command that needs it says so
    r = run(["-m", "swiftrnn", "tokenize", "x"], str(tmp_path), env)
    assert r.returncode == 1 and "error: cannot find libswiftrnn.so" in r.stderr


def test_one_version():
    """swiftrnn/_version.py is the package version; it is the version written in the header
    (the one place: the Makefile and the Swift code read it from there) and what the built
    library reports."""
    sys.path.insert(0, PYROOT)
    try:
        from swiftrnn._version import __version__
    finally:
        sys.path.remove(PYROOT)
    with open(os.path.join(REPO, "include", "swiftrnn.h"), encoding="utf-8") as f:
        m = re.search(r'^#define SWIFTRNN_VERSION_STRING "([^"]+)"', f.read(), re.M)
    assert m and m.group(1) == __version__
    r = run(["-c", "import swiftrnn, swiftrnn._lib as l; print(swiftrnn.__version__, l.version())"],
            REPO, clean_env(PYTHONPATH=PYROOT, SWIFTRNN_LIBRARY=BUILT))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [__version__, __version__]
