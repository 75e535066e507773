/* Per-vCPU CPUID edits on a fake KVM_GET_SUPPORTED_CPUID result, and the
 * fetch from KVM (its KVM round trip skipped where /dev/kvm cannot be used). */
#include <arch/cpuid.h>
#include <arch/layout.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_ENT 32

static struct kvm_cpuid2 *cpuid;

static void add(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2){
		.function = fn, .index = idx, .eax = a, .ebx = b, .ecx = c, .edx = d,
	};
}

/* Roughly what KVM reports on a host with 8 cores / 16 threads. */
static void fake_supported(bool amd)
{
	cpuid = calloc(1, sizeof(*cpuid) + MAX_ENT * sizeof(cpuid->entries[0]));
	cr_assert_not_null(cpuid);
	if (amd)
		add(0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65); /* AuthenticAMD */
	else
		add(0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	add(1, 0, 0x906ea, 0x07100800, 0x7ffafbff, 0xbfebfbff);
	add(4, 0, 0x1c004121, 0, 0, 0); /* L1d, shared by 2 threads, 8 cores */
	add(4, 1, 0x1c004122, 0, 0, 0); /* L1i */
	add(4, 2, 0x1c004143, 0, 0, 0); /* L2 */
	add(4, 3, 0x1c03c163, 0, 0, 0); /* L3, shared by 16 */
	add(4, 4, 0, 0, 0, 0);
	add(6, 0, 0x77, 0x2, 0x9, 0);
	add(0xb, 0, 1, 2, 0x100, 7);
	add(0xb, 1, 4, 16, 0x201, 7);
	add(0xb, 2, 0, 0, 2, 7);
	add(0x40000000, 0, 0x40000001, 0, 0, 0);
	add(0x40000001, 0, 0x1ff, 0, 0, 0);
	add(0x80000008, 0, 0x3030, 0, 0x700f, 0);
	add(0x8000001e, 0, 9, 0x105, 0, 0);
}

static void fini(void)
{
	free(cpuid);
}

TestSuite(x86_cpuid, .fini = fini);

static struct kvm_cpuid_entry2 *get(uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == fn && cpuid->entries[i].index == idx)
			return &cpuid->entries[i];
	cr_assert_fail("leaf 0x%x.%u missing", fn, idx);
	return NULL;
}

Test(x86_cpuid, each_vcpu_gets_its_own_initial_apic_id)
{
	for (unsigned id = 0; id < 3; id++) {
		fake_supported(false);
		cr_assert_eq(x86_cpuid_setup(cpuid, id, 3), 0);
		cr_assert_eq(get(1, 0)->ebx >> 24, id);
		cr_assert_eq(get(1, 0)->ebx & 0xff00, 0x0800, "CLFLUSH size kept");
		for (uint32_t sub = 0; sub < 3; sub++)
			cr_assert_eq(get(0xb, sub)->edx, id, "x2APIC id subleaf %u", sub);
		free(cpuid);
		cpuid = NULL;
	}
}

Test(x86_cpuid, hypervisor_bit_and_kvm_signature_are_present)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 1), 0);
	cr_assert(get(1, 0)->ecx & (1U << 31));
	struct kvm_cpuid_entry2 *e = get(0x40000000, 0);
	char sig[13] = { 0 };
	memcpy(sig, &e->ebx, 4);
	memcpy(sig + 4, &e->ecx, 4);
	memcpy(sig + 8, &e->edx, 4);
	cr_assert_str_eq(sig, "KVMKVMKVM");
	cr_assert_geq(e->eax, 0x40000001);
}

Test(x86_cpuid, extended_topology_is_one_thread_per_core)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 1, 2), 0);
	struct kvm_cpuid_entry2 *smt = get(0xb, 0), *core = get(0xb, 1), *end = get(0xb, 2);
	cr_assert_eq(smt->ecx >> 8 & 0xff, 1, "SMT level");
	cr_assert_eq(smt->ebx & 0xffff, 1);
	cr_assert_eq(smt->eax & 0x1f, 0);
	cr_assert_eq(core->ecx >> 8 & 0xff, 2, "core level");
	cr_assert_eq(core->ebx & 0xffff, 2);
	cr_assert_eq(core->eax & 0x1f, 1, "1 bit of core id for 2 vCPUs");
	cr_assert_eq(end->ecx >> 8 & 0xff, 0, "list ends");
	cr_assert_eq(end->ebx, 0);
}

Test(x86_cpuid, leaf1_and_leaf4_count_the_vcpus)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 4), 0);
	cr_assert_eq(get(1, 0)->ebx >> 16 & 0xff, 4);
	cr_assert(get(1, 0)->edx & (1U << 28), "HTT with several vCPUs");
	const uint32_t orig[4] = { 0x1c004121, 0x1c004122, 0x1c004143, 0x1c03c163 };
	for (uint32_t sub = 0; sub < 4; sub++) {
		uint32_t eax = get(4, sub)->eax;
		cr_assert_eq(eax >> 26, 3, "cores - 1 at subleaf %u", sub);
		unsigned level = eax >> 5 & 7;
		cr_assert_eq(eax >> 14 & 0xfff, level == 3 ? 3 : 0, "sharing at L%u", level);
		cr_assert_eq(eax & 0x3fff, orig[sub] & 0x3fff, "cache type/level kept");
	}
	cr_assert_eq(get(4, 4)->eax, 0, "terminator untouched");
}

Test(x86_cpuid, single_vcpu_has_no_htt)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 1), 0);
	cr_assert_not(get(1, 0)->edx & (1U << 28));
	cr_assert_eq(get(1, 0)->ebx >> 16 & 0xff, 1);
}

Test(x86_cpuid, leaf6_keeps_only_arat)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 1), 0);
	cr_assert_eq(get(6, 0)->eax, X86_CPUID_ARAT);
	cr_assert_eq(get(6, 0)->ecx, 0);
}

Test(x86_cpuid, amd_core_count_and_extended_apic_id)
{
	fake_supported(true);
	cr_assert_eq(x86_cpuid_setup(cpuid, 2, 3), 0);
	struct kvm_cpuid_entry2 *e = get(0x80000008, 0);
	cr_assert_eq(e->ecx & 0xff, 2, "NC = cores - 1");
	cr_assert_eq(e->ecx >> 12 & 0xf, 2, "2 bits of APIC id for cores");
	cr_assert_eq(get(0x8000001e, 0)->eax, 2);
	cr_assert_eq(get(0x8000001e, 0)->ebx & 0xff, 2);
	cr_assert_eq(get(0x8000001e, 0)->ebx >> 8 & 0xff, 0, "1 thread per core");
}

Test(x86_cpuid, intel_leaf_0x80000008_ecx_is_left_alone)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 3), 0);
	cr_assert_eq(get(0x80000008, 0)->ecx, 0x700f);
}

Test(x86_cpuid, incomplete_extended_topology_is_marked_invalid)
{
	fake_supported(false);
	cpuid->nent = 0;
	add(0xb, 0, 1, 2, 0x100, 7);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 2), 0);
	cr_assert_eq(get(0xb, 0)->ebx, 0);
	cr_assert_eq(get(0xb, 0)->ecx >> 8 & 0xff, 0);
}

Test(x86_cpuid, rejects_bad_vcpu_numbers)
{
	fake_supported(false);
	cr_assert_eq(x86_cpuid_setup(cpuid, 2, 2), -EINVAL);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, 0), -EINVAL);
	cr_assert_eq(x86_cpuid_setup(cpuid, 0, X86_MAX_VCPUS + 1), -EINVAL);
	cr_assert_eq(x86_cpuid_setup(cpuid, X86_MAX_VCPUS - 1, X86_MAX_VCPUS), 0);
	cr_assert_eq(get(1, 0)->ebx >> 24, X86_MAX_VCPUS - 1);
}

Test(x86_cpuid, fetch_refuses_other_requests_and_a_null_out)
{
	static struct kvm_cpuid2 stale;
	struct kvm_cpuid2 *c = &stale;
	cr_assert_eq(x86_cpuid_fetch(0, KVM_SET_CPUID2, &c), -EINVAL);
	cr_assert_null(c, "out cleared on failure");
	cr_assert_eq(x86_cpuid_fetch(0, KVM_GET_SUPPORTED_CPUID, NULL), -EINVAL);
}

Test(x86_cpuid, fetch_returns_the_ioctl_error)
{
	struct kvm_cpuid2 *c;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(x86_cpuid_fetch(fd, KVM_GET_SUPPORTED_CPUID, &c), -ENOTTY);
	cr_assert_null(c);
	close(fd);
	cr_assert_eq(x86_cpuid_fetch(-1, KVM_GET_CPUID2, &c), -EBADF);
	cr_assert_null(c);
}

/* Both requests through real KVM: the supported list, set on a vCPU, reads
 * back whole through KVM_GET_CPUID2. */
Test(x86_cpuid, fetch_reads_supported_and_vcpu_lists_from_kvm)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("/dev/kvm cannot be opened: %s", strerror(errno));
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0, "KVM_CREATE_VM: %s", strerror(errno));
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	cr_assert_geq(vcpu, 0, "KVM_CREATE_VCPU: %s", strerror(errno));

	struct kvm_cpuid2 *sup, *got;
	cr_assert_eq(x86_cpuid_fetch(kvm, KVM_GET_SUPPORTED_CPUID, &sup), 0);
	cr_assert_gt(sup->nent, 0);
	cr_assert_leq(sup->nent, X86_CPUID_MAX_ENTRIES);
	cr_assert_eq(sup->entries[0].function, 0, "leaf 0 comes first");
	cr_assert_eq(ioctl(vcpu, KVM_SET_CPUID2, sup), 0, "KVM_SET_CPUID2: %s",
		     strerror(errno));
	cr_assert_eq(x86_cpuid_fetch(vcpu, KVM_GET_CPUID2, &got), 0);
	cr_assert_eq(got->nent, sup->nent);
	for (uint32_t i = 0; i < got->nent; i++)
		cr_assert_eq(got->entries[i].function, sup->entries[i].function,
			     "entry %u", i);
	free(got);
	free(sup);
	close(vcpu);
	close(vm);
	close(kvm);
}
