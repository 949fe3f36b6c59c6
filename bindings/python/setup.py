"""Build hook of the swiftrnn package: puts libswiftrnn.so inside it.

``pip install ./bindings/python`` (from a source checkout) runs the repository's ``make lib``
(Swift, release, the Swift runtime linked in) and copies the library to
``swiftrnn/lib/libswiftrnn.so`` in the wheel, so ``import swiftrnn`` needs no environment
variable. The wheel is tagged for the platform (``py3-none-linux_x86_64``): it holds native code
but no CPython extension, so any Python 3 on that platform can use it.

Environment variables (all optional):

* ``SWIFT``: the ``swift`` executable (default: ``swift`` on the PATH, then
  ``/opt/swift/usr/bin/swift``);
* ``SWIFTRNN_MAKE_ARGS``: extra arguments for ``make lib`` (e.g. ``PORTABLE=1``);
* ``SWIFTRNN_PREBUILT_LIBRARY``: bundle this libswiftrnn.so instead of building one (``make
  wheel`` uses it; so can a build from an sdist, which has no Swift sources).

All other metadata is in pyproject.toml.
"""

import os
import shlex
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py as _build_py

try:                                    # setuptools >= 70.1 has its own
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:                     # older setuptools: the wheel package's
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LIB_NAME = "libswiftrnn.so"
SWIFT_DEFAULT_DIRS = ["/opt/swift/usr/bin"]


class BuildError(SystemExit):
    """Stops the build with a message for the person running pip."""

    def __init__(self, message):
        super().__init__("\nswiftrnn: " + message + "\n")


def _in_checkout():
    """True when this folder is bindings/python of a libswiftrnn source checkout."""
    return all(os.path.isfile(os.path.join(REPO, f))
               for f in ("Package.swift", "Makefile", "include/swiftrnn.h"))


def _find_swift():
    """The swift executable: $SWIFT, then swift on the PATH, then /opt/swift/usr/bin/swift."""
    env = os.environ.get("SWIFT")
    if env:
        path = shutil.which(env)
        if not path:
            raise BuildError(f"SWIFT={env!r} is not an executable.")
        return path
    path = shutil.which("swift")
    if path:
        return path
    for d in SWIFT_DEFAULT_DIRS:
        cand = os.path.join(d, "swift")
        if os.access(cand, os.X_OK):
            return cand
    raise BuildError(
        "building libswiftrnn.so needs Swift 6 (https://www.swift.org/install/linux/), and no "
        "`swift` is on the PATH or in " + ", ".join(SWIFT_DEFAULT_DIRS) + ". Install it, or "
        "name it: SWIFT=/path/to/usr/bin/swift pip install ./bindings/python. (Or install a "
        "wheel that already holds the library: `make wheel` writes one to out/wheels/.)")


def _build_library():
    """Run the repository's `make lib`; -> the path of the built library (symlinks resolved)."""
    swift = _find_swift()
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(swift) + os.pathsep + env.get("PATH", "")
    cmd = ["make", "-C", REPO, "lib", f"SWIFT={swift}"]
    cmd += shlex.split(os.environ.get("SWIFTRNN_MAKE_ARGS", ""))
    print("swiftrnn: building libswiftrnn.so: " + " ".join(shlex.quote(c) for c in cmd),
          flush=True)
    try:
        r = subprocess.run(cmd, env=env)
    except FileNotFoundError:
        raise BuildError("`make` is not installed (apt-get install make).") from None
    if r.returncode != 0:
        raise BuildError(f"`make lib` failed (exit {r.returncode}); its output is above "
                         "(pip shows it with -v). It needs Swift 6 and libopenblas-dev.")
    built = os.path.realpath(os.path.join(REPO, "out", "lib", LIB_NAME))
    if not os.path.isfile(built):
        raise BuildError(f"`make lib` succeeded but {built} is missing.")
    return built


def _library_to_bundle():
    """The libswiftrnn.so to put in the package: prebuilt, built now, or shipped in the sdist."""
    pre = os.environ.get("SWIFTRNN_PREBUILT_LIBRARY")
    if pre:
        if not os.path.isfile(pre):
            raise BuildError(f"SWIFTRNN_PREBUILT_LIBRARY={pre!r}: no such file.")
        return os.path.realpath(pre)
    if _in_checkout():
        return _build_library()
    shipped = os.path.join(HERE, "swiftrnn", "lib", LIB_NAME)
    if os.path.isfile(shipped):
        return shipped
    raise BuildError(
        f"{HERE} is not inside a libswiftrnn source checkout (no {REPO}/Package.swift), so "
        "libswiftrnn.so cannot be built here. Install from the checkout (pip install "
        "./bindings/python), or set SWIFTRNN_PREBUILT_LIBRARY=/path/to/libswiftrnn.so.")


class build_py(_build_py):
    """Copies the Python files, then builds libswiftrnn.so into swiftrnn/lib/."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return                      # editable: the loader finds the checkout's out/lib
        src = _library_to_bundle()
        dst_dir = os.path.join(self.build_lib, "swiftrnn", "lib")
        os.makedirs(dst_dir, exist_ok=True)
        for old in os.listdir(dst_dir):  # a stale versioned copy from an earlier build
            if old.startswith("libswiftrnn.so"):
                os.remove(os.path.join(dst_dir, old))
        dst = os.path.join(dst_dir, LIB_NAME)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)
        print(f"swiftrnn: bundled {src} as {dst}", flush=True)


class BinaryDistribution(Distribution):
    """Native code inside: a platform wheel, installed to platlib."""

    def has_ext_modules(self):
        return True


class bdist_wheel(_bdist_wheel):
    """No CPython extension inside (the library is loaded with ctypes), so any Python 3 on the
    platform can use the wheel: py3-none-<platform> rather than cp3X-cp3X-<platform>."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


if sys.platform != "linux":
    sys.stderr.write("swiftrnn: warning: only Linux is supported\n")

setup(distclass=BinaryDistribution, cmdclass={"build_py": build_py, "bdist_wheel": bdist_wheel})
