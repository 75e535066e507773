# mvmm: one build for the VMM, its tests, the guest artifacts and benchmarks.
# `make run` boots the demo VM; `make test` runs every test tier.

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
ARCH_INC := $(CORE_INC) -Iarch/x86_64/include
VMM_INC := $(CORE_INC) -Idevices/include -Iarch/x86_64/include -Ivmm
TEST_INC := $(VMM_INC) -Itests/unit

CORE_SRC := $(wildcard core/*.c)
DEV_SRC := $(wildcard devices/*.c devices/legacy/*.c devices/virtio/*.c devices/virtio/balloon/*.c)
ARCH_SRC := $(wildcard arch/x86_64/*.c)
VMM_SRC := $(filter-out vmm/main.c,$(wildcard vmm/*.c vmm/*/*.c))
UNIT_SRC := $(wildcard tests/unit/*_test.c tests/unit/fakes/*.c)
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

MVMM := $(BUILD)/mvmm
UNIT := $(BUILD)/unit_tests
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps run test layers unit unit-asan e2e attrib bench fuzz fuzz-smoke guest clean
.DEFAULT_GOAL := all

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
$(BUILD)/vmm/%.o: vmm/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(VMM_INC) -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(TEST_INC) -c $< -o $@

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

$(MVMM): $(call obj,vmm/main.c) $(ALL_LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS)

# ./mvmm at the top, as the README and configs use it.
mvmm: $(MVMM)
	@ln -sf $(MVMM) mvmm

$(UNIT): $(call obj,$(UNIT_SRC)) $(ALL_LIBS)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(call obj,$(UNIT_SRC)) $(ALL_LIBS) $(LIBS) -lcriterion

$(BUILD)/bench/%: tests/bench/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(TEST_INC) -o $@ $< $(ALL_LIBS) $(LIBS)

# Guest kernel and initramfs, cached outside the checkout by config hash.
guest: deps
	@bash guest/build.sh

unit: $(UNIT)
	$(UNIT) --jobs 2

unit-asan:
	$(MAKE) SAN=1 build-asan/unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/unit_tests --jobs 2

e2e: all guest
	@bash tests/e2e/run.sh

# Guest crashes attributed: the same workloads under mvmm and QEMU's microvm
# in the same test host (long: see docs/testing.md). ATTRIB_ARGS="-n 10 ...".
attrib: all guest
	@bash tests/attrib/run.sh $(ATTRIB_ARGS)

layers:
	@bash tests/layers.sh

test: deps
	$(MAKE) layers
	$(MAKE) all guest
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) e2e

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
	clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(DEV_INC) $(FUZZ_INC) -Itests/unit -o $@ $< $(CORE_SRC) $(DEV_SRC) $(FUZZ_SRC) -lz
# The snapshot target also checks the KVM state blobs (arch code, no KVM).
FUZZ_KVM_STATE := $(wildcard arch/x86_64/kvm_state_*.[ch] arch/x86_64/include/arch/kvm_state.h)
build-fuzz/snapshot_fuzz: FUZZ_INC := -Iarch/x86_64/include -Ivmm
build-fuzz/snapshot_fuzz: FUZZ_SRC := $(wildcard arch/x86_64/kvm_state_*.c vmm/snapshot/snapfile*.c)
build-fuzz/snapshot_fuzz: $(FUZZ_KVM_STATE) $(wildcard vmm/snapshot/*.[ch]) vmm/config/config.h
fuzz-smoke: fuzz
	@bash tests/fuzz/smoke.sh

clean:
	rm -rf build build-asan build-fuzz mvmm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
