/* Boot MSRs and LAPIC LINT programming. */
#include <arch/lapic.h>
#include <arch/layout.h>
#include <arch/msr.h>

#include <criterion/criterion.h>
#include <string.h>

TestSuite(x86_cpu_state);

static const struct kvm_msr_entry *find(const struct kvm_msr_entry *e, unsigned n, uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].index == idx)
			return &e[i];
	return NULL;
}

Test(x86_cpu_state, boot_msrs_enable_write_back_mtrrs_and_fast_strings)
{
	struct kvm_msr_entry e[32];
	unsigned n = x86_boot_msrs(e, 32);
	const uint32_t want[] = {
		X86_MSR_IA32_SYSENTER_CS, X86_MSR_IA32_SYSENTER_ESP, X86_MSR_IA32_SYSENTER_EIP,
		X86_MSR_STAR, X86_MSR_LSTAR, X86_MSR_CSTAR, X86_MSR_SYSCALL_MASK,
		X86_MSR_KERNEL_GS_BASE,
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct kvm_msr_entry *m = find(e, n, want[i]);
		cr_assert_not_null(m, "MSR 0x%x", want[i]);
		cr_assert_eq(m->data, 0);
	}
	cr_assert_null(find(e, n, X86_MSR_IA32_TSC), "TSC left to KVM's sync");
	cr_assert_eq(find(e, n, 0x2ff)->data, 0x806, "MTRRdefType E | WB");
	cr_assert_eq(find(e, n, 0x1a0)->data & 1, 1, "fast strings");
}

Test(x86_cpu_state, boot_msrs_respect_max)
{
	struct kvm_msr_entry e[4];
	memset(e, 0xaa, sizeof(e));
	cr_assert_eq(x86_boot_msrs(e, 3), 3);
	cr_assert_eq(e[3].index, 0xaaaaaaaa, "nothing written past max");
	cr_assert_eq(x86_boot_msrs(e, 0), 0);
}

/* Delivery mode of an LVT register: bits 8-10 (Intel SDM vol. 3, 11.5.1). */
static unsigned delivery_mode(const struct kvm_lapic_state *l, unsigned reg)
{
	uint32_t v;
	memcpy(&v, &l->regs[reg], sizeof(v));
	return v >> 8 & 7;
}

Test(x86_cpu_state, lapic_lint0_extint_lint1_nmi_keeping_other_bits)
{
	struct kvm_lapic_state l;
	memset(&l, 0, sizeof(l));
	uint32_t lint0 = 0x10000 | 0x0400 | 0x31; /* masked, SMI mode, vector */
	memcpy(&l.regs[0x350], &lint0, 4);
	memcpy(&l.regs[0x360], &lint0, 4);
	x86_lapic_setup(&l);
	uint32_t v0, v1;
	memcpy(&v0, &l.regs[0x350], 4);
	memcpy(&v1, &l.regs[0x360], 4);
	cr_assert_eq(v0, 0x10000 | 7 << 8 | 0x31);
	cr_assert_eq(v1, 0x10000 | 4 << 8 | 0x31);
	cr_assert_eq(delivery_mode(&l, X86_APIC_LVT_LINT0), X86_APIC_DM_EXTINT);
	cr_assert_eq(delivery_mode(&l, X86_APIC_LVT_LINT1), X86_APIC_DM_NMI);
}
