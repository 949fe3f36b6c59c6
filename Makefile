SHELL := /bin/bash
# libswiftrnn -- see README.md.
#   make test      install what is missing, build, run every test (Swift, C, Python)
#   make demo      score reviews and sample text with the shipped models
#   make lib cli   release libswiftrnn.so (out/lib) and the swiftrnn CLI (out/bin)
#   make install PREFIX=/usr/local
#   make bench     benchmarks/RESULTS.md;  make fuzz FUZZ_SECONDS=N;  make check (sanitizers)

PREFIX     ?= /usr/local
OUT        := out
SWIFT      ?= swift
CC         ?= cc
PYTHON     ?= python3
VERSION    := 0.1.0
SOVERSION  := 0
# The SIMD kernels (Sources/SwiftRNN/Kernels/Vector.swift) are compiled for the building
# machine's vector width: AVX-512 or AVX2 when /proc/cpuinfo lists them. PORTABLE=1 builds for
# baseline x86-64 (a library to copy to older machines).
CPUFLAGS   := $(shell bash tools/cpuflags.sh)
ifeq ($(PORTABLE),1)
CPUFLAGS   :=
endif
RELEASE    := -c release -Xswiftc -static-stdlib $(if $(CPUFLAGS),-Xswiftc -target-cpu -Xswiftc $(CPUFLAGS))
LIBFLAGS   := -Xlinker --as-needed -Xlinker --version-script=$(CURDIR)/Sources/CSwiftRNN/exports.map -Xlinker -soname=libswiftrnn.so.$(SOVERSION)
LIB        := $(OUT)/lib/libswiftrnn.so.$(VERSION)
CFLAGS_EX  := -std=c99 -Wall -Wextra -Werror -pedantic -O2 -D_POSIX_C_SOURCE=200809L -Iinclude
LDFLAGS_EX := -L$(OUT)/lib -Wl,-rpath,$(CURDIR)/$(OUT)/lib -lswiftrnn -lm
FIXTURES   := Tests/SwiftRNNTests/Fixtures

.PHONY: all deps lib cli examples test test-swift test-c test-python demo install clean bench fuzz check

all: lib cli

# Debian's OpenBLAS; as root we install it, otherwise we say how.
deps:
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
	cp .build/release/libswiftrnn.so $(LIB).tmp && mv -f $(LIB).tmp $(LIB)  # rename: running programs keep their copy
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
	env -u OPENBLAS_CORETYPE $(SWIFT) test --filter 'KernelTests|LayerParityTests|GradientTests|ModelParityTests' 2>&1 | tail -n 3; exit $${PIPESTATUS[0]}

test-c: lib examples
	bash tests/c/run.sh

test-python: lib
	bash bindings/python/run_tests.sh

demo: lib cli examples
	bash tools/demo.sh

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
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
	bash tests/check.sh

clean:
	rm -rf .build .build-* $(OUT)
