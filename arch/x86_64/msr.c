#include <arch/msr.h>

#include <stdint.h>
#include <string.h>

static const struct {
	uint32_t index;
	uint64_t data;
} boot_msrs[] = {
	/* No IA32_TSC: writing it per vCPU at different moments leaves the
	 * TSCs unsynchronized; KVM keeps vCPUs created together in sync. */
	{ X86_MSR_IA32_SYSENTER_CS, 0 },
	{ X86_MSR_IA32_SYSENTER_ESP, 0 },
	{ X86_MSR_IA32_SYSENTER_EIP, 0 },
	{ X86_MSR_STAR, 0 },
	{ X86_MSR_CSTAR, 0 },
	{ X86_MSR_KERNEL_GS_BASE, 0 },
	{ X86_MSR_SYSCALL_MASK, 0 },
	{ X86_MSR_LSTAR, 0 },
	{ X86_MSR_IA32_MISC_ENABLE, X86_MISC_ENABLE_FAST_STRING },
	/* Without this all memory is uncached for a guest that reads MTRRs. */
	{ X86_MSR_MTRR_DEF_TYPE, X86_MTRR_DEF_TYPE_E | X86_MTRR_TYPE_WB },
};

unsigned x86_boot_msrs(struct kvm_msr_entry *entries, unsigned max)
{
	unsigned n = 0;

	for (; n < max && n < sizeof(boot_msrs) / sizeof(boot_msrs[0]); n++) {
		memset(&entries[n], 0, sizeof(entries[n]));
		entries[n].index = boot_msrs[n].index;
		entries[n].data = boot_msrs[n].data;
	}
	return n;
}
