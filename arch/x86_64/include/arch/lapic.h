/* Local APIC boot programming (Intel SDM vol. 3, 11.5.1 LVT). */
#ifndef ARCH_LAPIC_H
#define ARCH_LAPIC_H

#include <linux/kvm.h>

#define X86_APIC_LVT_LINT0 0x350
#define X86_APIC_LVT_LINT1 0x360
#define X86_APIC_DM_NMI 4
#define X86_APIC_DM_EXTINT 7

/* Programs LINT0 as ExtINT (the PIC, virtual wire mode) and LINT1 as NMI;
 * other bits (mask, vector) are kept. */
void x86_lapic_setup(struct kvm_lapic_state *lapic);

#endif
