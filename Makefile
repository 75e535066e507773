# mvmm: one build for the VMM, its tests, the guest artifacts and benchmarks.
# `make run` boots the demo VM; `make test` runs every test tier.

# ARCH=aarch64 cross-builds mvmm and its libraries for arm64 into
# build-aarch64/. Only `make ARCH=...` picks it: an ARCH exported for kernel
# builds does not.
ifneq ($(origin ARCH),command line)
ARCH := x86_64
endif
ifeq ($(ARCH),aarch64)
CROSS_COMPILE ?= aarch64-linux-gnu-
CC := $(CROSS_COMPILE)gcc
BUILD ?= build-aarch64
else ifneq ($(ARCH),x86_64)
$(error ARCH=$(ARCH): mvmm builds for x86_64 (default) or aarch64)
endif
AR := $(CROSS_COMPILE)ar

CC ?= gcc
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-asan
OPT := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT := -O2
endif

CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS := $(OPT) $(EXTRA_LDFLAGS)
LIBS := -luring -ljansson -lmicrohttpd -lseccomp -lfdt -lpthread -lz

# The dependency rule (docs/architecture.md): core sees only itself; devices
# and arch see core and themselves; only vmm/ sees everything. The include
# paths enforce it, and tests/layers.sh checks the includes themselves.
CORE_INC := -Icore/include
DEV_INC := $(CORE_INC) -Idevices/include
# vmm/ sees the one arch it is built for: <arch/machine.h> and the rest come
# from arch/$(ARCH)/include, and of vmm/'s files named for an arch
# (*_x86_64.c, *_aarch64.c) only that arch's are built.
OTHER_ARCH := $(if $(filter aarch64,$(ARCH)),x86_64,aarch64)
ARCH_INC := $(CORE_INC) -Iarch/$(ARCH)/include
VMM_INC := $(CORE_INC) -Idevices/include -Iarch/$(ARCH)/include -Ivmm
TEST_INC := $(VMM_INC) -Itests/unit

CORE_SRC := $(wildcard core/*.c)
DEV_SRC := $(wildcard devices/*.c devices/legacy/*.c devices/virtio/*.c devices/virtio/balloon/*.c)
ARCH_SRC := $(wildcard arch/$(ARCH)/*.c)
VMM_SRC := $(filter-out vmm/main.c vmm/jailer/main.c vmm/static/% %_$(OTHER_ARCH).c,$(wildcard vmm/*.c vmm/*/*.c))
UNIT_SRC := $(wildcard tests/unit/*_test.c tests/unit/fakes/*.c)

# arch/aarch64 is portable C apart from kvm_uapi_check.c (arm64 UAPI headers),
# so its unit tests (tests/unit/aarch64_*_test.c) run in the x86 unit binary
# too. They see arch/aarch64's headers instead of arch/x86_64's.
A64_INC := $(CORE_INC) -Iarch/aarch64/include
A64_SRC := $(wildcard arch/aarch64/*.c)
A64_PORTABLE_SRC := $(filter-out arch/aarch64/kvm_uapi_check.c,$(A64_SRC))
ifeq ($(ARCH),aarch64)
# libfdt-dev is amd64 only here (not co-installable); its headers serve both
# and libfdt1:arm64 brings the library, without the unversioned .so link.
LIBS := $(subst -lfdt,-l:libfdt.so.1,$(LIBS))
endif
BENCH_SRC := $(wildcard tests/bench/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

# Short build lines; V=1 shows the commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @echo "  $(1) $(2)"
endif

CORE_LIB := $(BUILD)/libcore.a
DEV_LIB := $(BUILD)/libdevices.a
ARCH_LIB := $(BUILD)/libarch.a
VMM_LIB := $(BUILD)/libvmm.a
ALL_LIBS := $(VMM_LIB) $(DEV_LIB) $(ARCH_LIB) $(CORE_LIB)
A64_LIB := $(BUILD)/libarch_aarch64.a

MVMM := $(BUILD)/mvmm
UNIT := $(BUILD)/unit_tests
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps run test layers unit unit-asan e2e attrib bench fuzz fuzz-smoke guest clean
.PHONY: aarch64 guest-arm64 e2e-arm64
ifeq ($(ARCH),aarch64)
.DEFAULT_GOAL := aarch64
else
.DEFAULT_GOAL := all
endif

all: $(MVMM) mvmm $(UNIT) $(BENCHES)

deps:
	@bash .ci/deps.sh

$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(CORE_INC) -c $< -o $@
$(BUILD)/devices/%.o: devices/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(DEV_INC) -c $< -o $@
$(BUILD)/arch/%.o: arch/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(ARCH_INC) -c $< -o $@
$(BUILD)/arch/aarch64/%.o: arch/aarch64/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(A64_INC) -c $< -o $@
$(BUILD)/vmm/%.o: vmm/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(VMM_INC) -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(TEST_INC) -c $< -o $@
$(BUILD)/tests/unit/aarch64_%.o: tests/unit/aarch64_%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(A64_INC) -Itests/unit -c $< -o $@
$(BUILD)/tests/aarch64/%.o: tests/aarch64/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(A64_INC) -Idevices/include -c $< -o $@

$(CORE_LIB): $(call obj,$(CORE_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^
$(DEV_LIB): $(call obj,$(DEV_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^
$(ARCH_LIB): $(call obj,$(ARCH_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^
$(VMM_LIB): $(call obj,$(VMM_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^
$(A64_LIB): $(call obj,$(A64_PORTABLE_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@; $(AR) rcs $@ $^

# STATIC=1 (the default, except with SAN=1 and for ARCH=aarch64, whose
# multiarch libfdt has no static archive): mvmm is a static PIE, with
# libmicrohttpd's GnuTLS references stubbed (vmm/static/gnutls_absent.c).
# Measured in docs/performance.md ("Footprint"): the shared libraries cost
# ~3 MiB of RSS per VMM, most of it GnuTLS's, which mvmm never calls.
# STATIC=0 links the shared libraries as before.
STATIC ?= $(if $(filter 1,$(SAN))$(filter aarch64,$(ARCH)),0,1)
ifeq ($(STATIC),1)
MVMM_LDFLAGS := -static-pie
MVMM_OBJS := $(call obj,vmm/main.c vmm/static/gnutls_absent.c)
else
MVMM_LDFLAGS :=
MVMM_OBJS := $(call obj,vmm/main.c)
endif

$(MVMM): $(MVMM_OBJS) $(ALL_LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(MVMM_LDFLAGS) -o $@ $(MVMM_OBJS) $(ALL_LIBS) $(LIBS)

# ./mvmm at the top, as the README and configs use it.
mvmm: $(MVMM)
	@ln -sf $(MVMM) mvmm

$(UNIT): $(call obj,$(UNIT_SRC)) $(ALL_LIBS) $(A64_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(call obj,$(UNIT_SRC)) $(ALL_LIBS) $(A64_LIB) $(LIBS) -lcriterion

$(BUILD)/bench/%: tests/bench/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(TEST_INC) -o $@ $< $(ALL_LIBS) $(LIBS)

# Confinement (docs/security.md). The SIGSYS handler names syscalls from a
# table generated from the compiler's own <sys/syscall.h>.
SYSCALL_NAMES := $(BUILD)/gen/syscall_names.h
$(SYSCALL_NAMES):
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q)echo '#include <sys/syscall.h>' | $(CC) -E -dM - | \
		sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$$/[\2] = "\1",/p' >$@.tmp
	$(Q)mv $@.tmp $@
$(BUILD)/vmm/confine/seccomp_sigsys.o: $(SYSCALL_NAMES)
$(BUILD)/vmm/confine/seccomp_sigsys.o: VMM_INC += -I$(BUILD)/gen

# The jailer needs only libc: its objects come from libvmm.a.
JAILER := $(BUILD)/mvmm-jailer
JAIL_PROBE := $(BUILD)/tests/jail_probe
all: $(JAILER) $(JAIL_PROBE)
$(JAILER): $(call obj,vmm/jailer/main.c) $(VMM_LIB) $(CORE_LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(VMM_LIB) $(CORE_LIB)
# A dynamically linked stand-in for mvmm that reports what it sees in the
# jail; dynamic on purpose, so the jailer's library placement is tested.
$(JAIL_PROBE): tests/confine/jail_probe.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $<

.PHONY: jailer-test
# Needs root: builds real jails under a temporary base directory.
jailer-test: $(JAILER) $(JAIL_PROBE)
	@bash tests/confine/jailer_test.sh

# Guest kernel and initramfs, cached outside the checkout by config hash.
guest: deps
	@bash guest/build.sh
guest-arm64: deps
	@bash guest/build.sh --arch arm64

# The arm64 side (`make ARCH=aarch64`): mvmm and mvmm-jailer; mvmm-fdt, which
# writes the device tree arch/aarch64 makes for a given machine (`make
# build/mvmm-fdt` builds it for this host, to read with dtc); and mvmm-api, a
# static API client for the arm64 test host, which cannot run curl.
ifeq ($(ARCH),aarch64)
aarch64: $(MVMM) $(JAILER) $(BUILD)/mvmm-fdt $(BUILD)/mvmm-api
else
aarch64:
	$(MAKE) ARCH=aarch64
endif
$(BUILD)/mvmm-api: $(call obj,tests/aarch64/mvmm_api.c)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -static -o $@ $^
FDT_TOOL_LIBS := $(if $(filter aarch64,$(ARCH)),$(ARCH_LIB),$(A64_LIB)) $(CORE_LIB)
$(BUILD)/mvmm-fdt: $(call obj,tests/aarch64/mvmm_fdt.c) $(FDT_TOOL_LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(filter %fdt %fdt.so.1,$(LIBS))

# process_test.c runs the mvmm binary beside the test binary.
unit: $(UNIT) $(MVMM)
	@bash tests/unit/run.sh $(UNIT) --jobs 2

unit-asan:
	$(MAKE) SAN=1 build-asan/unit_tests build-asan/mvmm
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/unit/lsan.supp \
		UBSAN_OPTIONS=print_stacktrace=1 bash tests/unit/run.sh build-asan/unit_tests --jobs 2

e2e: all guest
	@bash tests/e2e/run.sh

# Guest crashes attributed: the same workloads under mvmm and QEMU's microvm
# in the same test host (long: see docs/testing.md). ATTRIB_ARGS="-n 10 ...".
attrib: all guest
	@bash tests/attrib/run.sh $(ATTRIB_ARGS)

# The arm64 tier (tests/e2e-arm64): every scenario in one boot of the arm64
# test host. MVMM_SKIP_ARM64=1 (no arm64 packages, .ci/deps.sh) skips it.
e2e-arm64: deps
ifeq ($(MVMM_SKIP_ARM64),1)
	@echo "e2e-arm64: skipped (MVMM_SKIP_ARM64=1)"
else
	$(MAKE) ARCH=aarch64
	$(MAKE) guest-arm64
	@sh tests/e2e-arm64/run.sh
endif

layers:
	@bash tests/layers.sh

# Each step timed (tests/timed.sh): the log shows where the minutes go.
# Builds use every CPU (the ASan build: 89 s serial, 47 s with two).
TEST_JOBS ?= $(shell nproc)
test: deps
	@bash tests/timed.sh layers $(MAKE) layers
	@bash tests/timed.sh build $(MAKE) -j$(TEST_JOBS) all guest
	@bash tests/timed.sh unit $(MAKE) unit
	@bash tests/timed.sh unit-asan $(MAKE) -j$(TEST_JOBS) unit-asan
	@bash tests/timed.sh jailer-test $(MAKE) jailer-test
	@bash tests/timed.sh e2e $(MAKE) e2e
	@bash tests/timed.sh e2e-arm64 $(MAKE) e2e-arm64

run: deps
	$(MAKE) all guest
	@bash tests/testhost/run-demo.sh configs/demo.json

bench: deps
	$(MAKE) all guest
	@bash tests/bench/run.sh

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/*_fuzz.c))
fuzz: $(FUZZ_TARGETS)
build-fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(DEV_SRC) $(wildcard tests/unit/fakes/*.[ch])
	@mkdir -p build-fuzz
	clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(DEV_INC) $(FUZZ_INC) -Itests/unit -o $@ $< $(CORE_SRC) $(DEV_SRC) $(FUZZ_SRC) -lz $(FUZZ_LIBS)
# The snapshot target also checks the KVM state blobs (arch code, no KVM).
FUZZ_KVM_STATE := $(wildcard arch/x86_64/kvm_state_*.[ch] arch/x86_64/include/arch/kvm_state.h)
build-fuzz/snapshot_fuzz: FUZZ_INC := -Iarch/x86_64/include -Ivmm
build-fuzz/snapshot_fuzz: FUZZ_SRC := $(wildcard arch/x86_64/kvm_state_*.c vmm/snapshot/snapfile*.c)
build-fuzz/snapshot_fuzz: $(FUZZ_KVM_STATE) $(wildcard vmm/snapshot/*.[ch]) vmm/config/config.h
# The control plane: requests through the API layer (all of vmm/ and arch/,
# no KVM needed) and config files.
build-fuzz/api_fuzz: FUZZ_INC := -Iarch/x86_64/include -Ivmm -I$(BUILD)/gen
build-fuzz/api_fuzz: FUZZ_SRC := $(ARCH_SRC) $(VMM_SRC)
build-fuzz/api_fuzz: FUZZ_LIBS := $(LIBS)
build-fuzz/api_fuzz: $(SYSCALL_NAMES) $(ARCH_SRC) $(VMM_SRC) $(wildcard vmm/*.h vmm/*/*.h arch/x86_64/*.h arch/x86_64/include/arch/*.h)
build-fuzz/config_fuzz: FUZZ_INC := -Ivmm
build-fuzz/config_fuzz: FUZZ_SRC := $(wildcard vmm/config/*.c) vmm/confine/confine.c
build-fuzz/config_fuzz: FUZZ_LIBS := -ljansson
build-fuzz/config_fuzz: $(wildcard vmm/config/*.[ch])
fuzz-smoke: fuzz
	@bash tests/fuzz/smoke.sh

clean:
	rm -rf build build-asan build-fuzz build-aarch64 mvmm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
