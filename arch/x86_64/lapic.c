/* LVT programming on a KVM_GET_LAPIC image, before KVM_SET_LAPIC. */
#include <arch/lapic.h>

#include <stdint.h>
#include <string.h>

#define DM_SHIFT 8 /* delivery mode, LVT bits 8-10 */
#define DM_MASK (7U << DM_SHIFT)

static void set_delivery_mode(struct kvm_lapic_state *lapic, unsigned reg,
			      unsigned mode)
{
	uint32_t v;
	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~DM_MASK) | mode << DM_SHIFT;
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

void x86_lapic_setup(struct kvm_lapic_state *lapic)
{
	set_delivery_mode(lapic, X86_APIC_LVT_LINT0, X86_APIC_DM_EXTINT);
	set_delivery_mode(lapic, X86_APIC_LVT_LINT1, X86_APIC_DM_NMI);
}
