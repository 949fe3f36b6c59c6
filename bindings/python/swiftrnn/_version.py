"""The package's version: the one place it is written (pyproject.toml and setup.py read it).

It is the libswiftrnn release these bindings ship with (the Makefile's VERSION); the loaded
library's own version is ``swiftrnn._lib.version()``.
"""

__version__ = "0.8.0"
