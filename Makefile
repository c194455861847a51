# SPDX-License-Identifier: GPL-2.0-only
# ampguard: `make` builds ./ampguard, `make test` runs every test suite.

# One version for the binary and the package: debian/changelog's.
VERSION   := $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null || \
		 sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
PREFIX    ?= /usr/local
DESTDIR   ?=
SYSTEMDDIR ?= /etc/systemd/system
BUILD     := build

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PKGS      := libbpf libelf zlib json-c libmicrohttpd yaml-0.1 libpcap
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	     -Wdeclaration-after-statement \
	     -Iinclude -Iuser/lib -I$(BUILD) $(shell pkg-config --cflags $(PKGS)) \
	     -DAG_VERSION=\"$(VERSION)\"
LDLIBS    += $(shell pkg-config --libs $(PKGS)) -lpthread

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -Ibpf/lib -I/usr/include/$(MULTIARCH)

# The product's programs; the user objects depend on these skeletons only.
BPF_PROGS := ampguard_xdp ampguard_xdp_locked ampguard_tc
BPF_OBJS  := $(patsubst %,$(BUILD)/%.bpf.o,$(BPF_PROGS))
SKELS     := $(patsubst %,$(BUILD)/%.skel.h,$(BPF_PROGS))

# Programs only the benchmarks load (tests/bench/bpf/).
BENCH_PROGS := bench_gen bench_portfilter xdp_floor
BENCH_SKELS := $(patsubst %,$(BUILD)/bench/%.skel.h,$(BENCH_PROGS))
# The end-to-end suites attach the floor to a peer interface.
E2E_OBJS    := $(BUILD)/bench/xdp_floor.bpf.o

# The ampguard library (user/lib, in layers: scripts/check-layers.sh), shared
# with the tests; the verbs (user/cmd) on top of it.
LIB_SRCS  := $(wildcard user/lib/*.c)
LIB_OBJS  := $(patsubst user/lib/%.c,$(BUILD)/user/lib/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libampguard.a
CMD_SRCS  := $(wildcard user/cmd/*.c)
CMD_OBJS  := $(patsubst user/cmd/%.c,$(BUILD)/user/cmd/%.o,$(CMD_SRCS))

FUZZ_BINS := $(BUILD)/fuzz/fuzz_config $(BUILD)/fuzz/fuzz_refclass
TEST_BINS := $(FUZZ_BINS) $(BUILD)/tests/udpflood $(BUILD)/tests/test_xdp $(BUILD)/tests/test_track $(BUILD)/tests/test_ratelimit $(BUILD)/tests/test_lists_frags $(BUILD)/tests/udpgen $(BUILD)/tests/udpsink $(BUILD)/tests/udpecho \
	     $(BUILD)/tests/test_refclass $(BUILD)/tests/fuzz_datapath $(BUILD)/tests/test_load \
	     $(BUILD)/tests/test_options $(BUILD)/tests/test_upstream $(BUILD)/tests/test_pcapng
# The unit suites and the binary again under ASan and UBSan (make test runs
# both builds; make test-sanitize only these).
SAN_CFLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	      -fno-omit-frame-pointer
SAN_TESTS  := test_xdp test_track test_ratelimit test_lists_frags
SAN_BINS   := $(BUILD)/asan/ampguard $(patsubst %,$(BUILD)/asan/%,$(SAN_TESTS))

BENCH_BINS := $(BUILD)/tests/bench_micro $(BUILD)/tests/bench_live

.PHONY: all deps deb test-package test test-kernels test-sanitize test-faults fuzz fuzz-datapath demo bench bench-micro install install-systemd clean vm-selftest
.DELETE_ON_ERROR:
.SECONDARY:

all: ampguard

deps:
	bash scripts/install-deps.sh

$(BUILD) $(BUILD)/user/lib $(BUILD)/user/cmd $(BUILD)/tests $(BUILD)/bench:
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/lib/*.h include/*.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.bpf.o: tests/bench/bpf/%.bpf.c | $(BUILD)/bench
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.skel.h: $(BUILD)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

# BPF programs only the tests load.
$(BUILD)/tests/%.bpf.o: tests/unit/bpf/%.bpf.c | $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.skel.h: $(BUILD)/tests/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

$(BUILD)/tests/test_load: $(BUILD)/tests/rejected.skel.h

# The verbs' dispatcher, alone, against a test verb.
$(BUILD)/tests/test_options: user/cmd/options.c user/cmd/cmd.h
$(BUILD)/tests/test_options: CFLAGS += -Iuser/cmd

# The classifier for kernels without BPF atomics (before 5.12).
$(BUILD)/ampguard_xdp_locked.bpf.o: bpf/ampguard_xdp.bpf.c bpf/lib/*.h include/*.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -DAG_LOCKED_BUCKETS -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

$(BUILD)/user/lib/%.o: user/lib/%.c user/lib/*.h include/*.h $(SKELS) | $(BUILD)/user/lib
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/user/cmd/%.o: user/cmd/%.c user/cmd/*.h user/lib/*.h include/*.h | $(BUILD)/user/cmd
	$(CC) $(CFLAGS) -Iuser/cmd -c $< -o $@

$(LIB): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

ampguard: $(CMD_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/*.h $(LIB) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit -I$(BUILD)/tests $(LDFLAGS) $(filter %.c,$^) tests/unit/frames.c $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/tools/%.c tests/tools/*.h | $(BUILD)/tests
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@

# build/bench/ first: a tree built before the bench programs moved keeps stale skeletons in build/.
$(BUILD)/tests/bench_%: tests/bench/bench_%.c tests/unit/frames.c tests/unit/*.h $(LIB) \
		       $(BENCH_SKELS) | $(BUILD)/tests
	$(CC) -I$(BUILD)/bench $(CFLAGS) -Itests/unit $(LDFLAGS) $< tests/unit/frames.c $(LIB) $(LDLIBS) \
		-o $@

test: ampguard $(TEST_BINS) $(SAN_BINS) $(BUILD)/tests/srcset $(E2E_OBJS)
	bash tests/run.sh

# The kernel matrix: Debian's 5.10, 6.1 and 6.12 under qemu, each running the
# suites of tests/kernels/run.sh against this build (make deps fetches them).
test-kernels: ampguard $(TEST_BINS) $(BUILD)/tests/srcset $(E2E_OBJS)
	bash tests/kernels/run.sh

# The reference attack scenario, stopped live (installs what it needs).
demo: deps ampguard $(BUILD)/tests/udpflood
	bash scripts/demo.sh

$(BUILD)/asan/ampguard: $(CMD_SRCS) $(LIB_SRCS) user/*/*.h include/*.h $(SKELS)
	mkdir -p $(BUILD)/asan
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -Iuser/cmd $(CMD_SRCS) $(LIB_SRCS) $(LDLIBS) -o $@

$(BUILD)/asan/test_%: tests/unit/test_%.c tests/unit/*.h tests/unit/frames.c $(LIB_SRCS) $(SKELS)
	mkdir -p $(BUILD)/asan
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -Itests/unit $< tests/unit/frames.c $(LIB_SRCS) $(LDLIBS) -o $@

# Crash and fault recovery alone (make test runs it too): kill -9 at exact
# steps, pins removed by hand, tables past capacity, interfaces vanishing,
# fuzzed argv, valgrind.
test-faults: ampguard $(TEST_BINS) $(BUILD)/tests/srcset $(E2E_OBJS)
	bash tests/run.sh tests/e2e/test_faults.sh

test-sanitize: $(SAN_BINS)
	bash tests/run.sh $(patsubst %,$(BUILD)/asan/%,$(SAN_TESTS)) tests/sanitize_cli.sh

# The configuration loader under libFuzzer with ASan and UBSan, built from
# the same sources as the binary.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	       -Iinclude -Iuser/lib -I$(BUILD) $(shell pkg-config --cflags $(PKGS)) \
	       -DAG_VERSION=\"$(VERSION)\"

$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(LIB_SRCS) user/lib/*.h include/*.h $(SKELS)
	mkdir -p $(BUILD)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) tests/fuzz/fuzz_config.c $(LIB_SRCS) $(LDLIBS) -o $@

# The reference model of the classifier is linked into the two tests that use it.
REFCLASS_BINS := $(BUILD)/tests/test_refclass $(BUILD)/tests/fuzz_datapath $(BUILD)/tests/test_load
$(REFCLASS_BINS): tests/unit/refclass.c

$(BUILD)/fuzz/fuzz_refclass: tests/fuzz/fuzz_refclass.c tests/unit/refclass.c tests/unit/refclass.h include/*.h
	mkdir -p $(BUILD)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -Itests/unit $< -o $@

# Differential test of the XDP classifier against the reference model
# (make test runs 200k frames).
FUZZ_DATAPATH_FRAMES ?= 200000
fuzz-datapath: $(BUILD)/tests/fuzz_datapath
	$(BUILD)/tests/fuzz_datapath $(FUZZ_DATAPATH_FRAMES) $(SEED)

FUZZ_SECONDS ?= 300
fuzz: $(FUZZ_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

bench-micro: $(BUILD)/tests/bench_micro
	$(BUILD)/tests/bench_micro

# The VM harness (scripts/vm/run.sh) checked on Debian 11, 12 and 13's
# kernels under qemu: exit status, output, mounts, a clone under /tmp, a
# virtio_net NIC on a tap with native XDP, the timeout.
vm-selftest: $(BUILD)/bench/xdp_floor.bpf.o
	bash scripts/vm/selftest.sh

# Side-by-side throughput against the XDP floor, xdp-filter, nftables and
# iptables; writes docs/BENCHMARKS.md.
bench: ampguard $(BENCH_BINS)
	bash scripts/bench.sh

install: ampguard
	install -D -m 0755 ampguard $(DESTDIR)$(PREFIX)/sbin/ampguard
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/ampguard/README.md
	install -D -m 0644 docs/grafana/ampguard-dashboard.json \
		$(DESTDIR)$(PREFIX)/share/ampguard/grafana/ampguard-dashboard.json
	install -D -m 0644 man/ampguard.8 $(DESTDIR)$(PREFIX)/share/man/man8/ampguard.8
	install -D -m 0644 contrib/bash-completion/ampguard \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/ampguard

# The units name the binary by its installed path.
install-systemd:
	for u in contrib/systemd/*.service; do \
		mkdir -p $(DESTDIR)$(SYSTEMDDIR) && \
		sed 's|/usr/local|$(PREFIX)|g' $$u > $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u) && \
		chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u) || exit 1; \
	done

# The Debian package, built by dpkg-buildpackage (debian/), unsigned; the
# .deb, .dsc, source tarball, .buildinfo and .changes land in build/deb/.
# The package build starts with 'make clean'.
DEB_ARCH := $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB_OUT  := $(BUILD)/deb
deb:
	dpkg-buildpackage -us -uc
	mkdir -p $(DEB_OUT)
	for f in ../ampguard_$(VERSION).dsc ../ampguard_$(VERSION).tar.* \
		 ../ampguard_$(VERSION)_$(DEB_ARCH).* ../ampguard-dbgsym_$(VERSION)_$(DEB_ARCH).*; do \
		[ -e "$$f" ] && mv -f "$$f" $(DEB_OUT)/ || true; \
	done
	@echo "deb: $(DEB_OUT)/ampguard_$(VERSION)_$(DEB_ARCH).deb"

# Builds the package, lints it, installs it, checks what it put where and
# purges it again (root).
test-package:
	bash tests/package/run.sh

clean:
	rm -rf $(BUILD) ampguard
