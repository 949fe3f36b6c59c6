"""The Python package with its library (issue 11): built from a clean copy of the repository,
installed into fresh venvs, used from a folder outside the repository with no environment
variable.

Slow: one test builds libswiftrnn.so from source (no .build), `make wheel` builds it again
(baseline x86-64), and pip fetches setuptools for its isolated builds. SWIFTRNN_TEST_PACKAGE=0
skips this file. The copy holds the working tree's files that git tracks or would track, so
uncommitted edits are tested too.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PYROOT))
MODEL = os.path.join(REPO, "models", "sentiment-imdb.safetensors")
SCORE = ("import swiftrnn; m = swiftrnn.load('sentiment-imdb.safetensors'); "
         "print(swiftrnn.library_path); print(m.score('A wonderful, moving film.')); "
         "print(m.score('Dull, lifeless and far too long.'))")

pytestmark = pytest.mark.skipif(os.environ.get("SWIFTRNN_TEST_PACKAGE", "1") == "0",
                                reason="SWIFTRNN_TEST_PACKAGE=0")


def clean_env(path=None, **extra):
    """os.environ without the variables that steer the loader or Python's path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWIFTRNN_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH", "SWIFT",
                        "SWIFTRNN_PREBUILT_LIBRARY", "SWIFTRNN_MAKE_ARGS")}
    if path is not None:
        env["PATH"] = path
    env.update(extra)
    return env


def path_without_swift():
    """PATH minus every folder holding a `swift` (and /opt/swift/...)."""
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not os.path.exists(os.path.join(d, "swift")) and "/opt/swift" not in d]
    return os.pathsep.join(keep)


def run(cmd, cwd, env, timeout=1200):
    r = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True,
                       timeout=timeout)
    return r


def make_venv(where):
    r = run([sys.executable, "-m", "venv", str(where)], os.path.dirname(str(where)),
            clean_env())
    assert r.returncode == 0, r.stderr
    return os.path.join(str(where), "bin", "python")


def copy_worktree(dest):
    """The repository's source files (what git tracks or would track, as they are on disk;
    no .build, out/ or other ignored files) -> dest."""
    r = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
                        "--exclude-standard"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("not a git checkout: cannot make a clean copy")
    for rel in sorted(set(r.stdout.decode().split("\0")) - {""}):
        src = os.path.join(REPO, rel)
        if not os.path.lexists(src):          # deleted in the working tree
            continue
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


def check_scores(out, venv_dir):
    path, pos, neg = out.split("\n")[:3]
    assert path.startswith(str(venv_dir)) and path.endswith("/swiftrnn/lib/libswiftrnn.so"), out
    assert float(pos) > 0.5 > float(neg), out


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory):
    dest = tmp_path_factory.mktemp("clean") / "swiftrnn-src"
    copy_worktree(str(dest))
    assert not os.path.exists(dest / ".build") and not os.path.exists(dest / "out")
    return dest


def test_build_without_swift_says_what_to_do(clean_copy, tmp_path):
    py = make_venv(tmp_path / "venv")
    bogus = str(tmp_path / "no-such" / "swift")
    r = run([py, "-m", "pip", "install", str(clean_copy / "bindings" / "python")], tmp_path,
            clean_env(SWIFT=bogus), timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert f"SWIFT={bogus!r} is not an executable" in out, out
    shutil.rmtree(clean_copy / "bindings" / "python" / "build", ignore_errors=True)


def test_pip_install_from_clean_copy(clean_copy, tmp_path):
    """(a) pip install ./bindings/python from a clean copy builds the library from source into
    the package; import + score from another folder with no environment variable."""
    venv = tmp_path / "venv"
    py = make_venv(venv)
    t0 = time.monotonic()
    r = run([py, "-m", "pip", "install", "-q", str(clean_copy / "bindings" / "python")],
            tmp_path, clean_env())
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"\npip install from a clean copy (builds libswiftrnn.so from source): {took:.0f} s")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(MODEL, elsewhere)
    r = run([py, "-c", SCORE], elsewhere, clean_env())
    assert r.returncode == 0, r.stderr
    check_scores(r.stdout, venv)


def test_wheel_installs_without_swift_or_repo(clean_copy, tmp_path):
    """(b) make wheel, then the wheel alone (copy deleted, no swift on the PATH) in a fresh
    venv."""
    env = clean_env()
    if not shutil.which("swift", path=env.get("PATH")):
        env["PATH"] = "/opt/swift/usr/bin" + os.pathsep + env.get("PATH", "")
    r = run(["make", "-C", str(clean_copy), "wheel", f"PYTHON={sys.executable}"], tmp_path, env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = glob.glob(str(clean_copy / "out" / "wheels" / "*.whl"))
    assert len(wheels) == 1, wheels
    name = os.path.basename(wheels[0])
    assert name.startswith("swiftrnn-") and name.endswith("_x86_64.whl") and "-py3-none-" in name
    with zipfile.ZipFile(wheels[0]) as z:
        names = z.namelist()
        assert "swiftrnn/lib/libswiftrnn.so" in names, names
        wheel_meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert "Root-Is-Purelib: false" in wheel_meta
    work = tmp_path / "w"
    work.mkdir()
    shutil.copy(wheels[0], work)
    shutil.copy(MODEL, work)
    shutil.rmtree(clean_copy)                       # no repository any more
    no_swift = path_without_swift()
    assert shutil.which("swift", path=no_swift) is None
    venv = tmp_path / "venv"
    py = make_venv(venv)
    r = run([py, "-m", "pip", "install", "-q", "--no-index", str(work / name)], work,
            clean_env(path=no_swift))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([py, "-c", SCORE], work, clean_env(path=no_swift))
    assert r.returncode == 0, r.stderr
    check_scores(r.stdout, venv)
    r = run([py, "-m", "swiftrnn", "score", "sentiment-imdb.safetensors", "A great film"], work,
            clean_env(path=no_swift))
    assert r.returncode == 0 and r.stdout.endswith("positive\tA great film\n"), r.stderr
