/* The vCPU's CPUID: the list KVM supports, edited per vCPU for topology,
 * the hypervisor leaves and what cannot be emulated. */
#include <arch/cpuid.h>
#include <arch/layout.h>
#include <core/checked.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>

/* Leaf 0xb/0x1f level types (ECX[15:8]). */
#define LEVEL_INVALID 0
#define LEVEL_SMT 1
#define LEVEL_CORE 2

/* "KVMKVMKVM\0\0\0" as EBX, ECX, EDX. */
#define KVM_SIG_EBX 0x4b4d564bU
#define KVM_SIG_ECX 0x564b4d56U
#define KVM_SIG_EDX 0x0000004dU

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn,
				     uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static bool vendor_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = find(c, 0, 0);
	/* "AuthenticAMD" or "HygonGenuine": EBX = "Auth" / "Hygo". */
	return e && (e->ebx == 0x68747541U || e->ebx == 0x6f677948U);
}

/* SMT level (1 thread) then core level (all vCPUs); a host list without
 * both subleaves is marked invalid so Linux falls back to leaves 1 and 4. */
static void set_ext_topology(struct kvm_cpuid2 *c, uint32_t fn,
			     unsigned apic_id, unsigned nr, unsigned core_shift)
{
	bool usable = find(c, fn, 0) && find(c, fn, 1);

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function != fn)
			continue;
		uint32_t sub = e->index;
		e->edx = apic_id;
		if (usable && sub == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = LEVEL_SMT << 8 | sub;
		} else if (usable && sub == 1) {
			e->eax = core_shift;
			e->ebx = nr;
			e->ecx = LEVEL_CORE << 8 | sub;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = LEVEL_INVALID << 8 | (sub & 0xff);
		}
	}
}

int x86_cpuid_setup(struct kvm_cpuid2 *cpuid, unsigned vcpu_id,
		    unsigned nr_vcpus)
{
	if (nr_vcpus == 0 || nr_vcpus > X86_MAX_VCPUS || vcpu_id >= nr_vcpus)
		return -EINVAL;
	unsigned shift = 0;
	while ((1U << shift) < nr_vcpus)
		shift++;
	unsigned ids = 1U << shift; /* addressable ids in the package */
	bool amd = vendor_amd(cpuid);

	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | vcpu_id << 24 |
				 MIN(ids, 255U) << 16;
			if (nr_vcpus > 1)
				e->edx |= X86_CPUID_HTT;
			else
				e->edx &= ~X86_CPUID_HTT;
			e->ecx |= X86_CPUID_HYPERVISOR;
			break;
		case 4:
			if ((e->eax & 0x1f) == 0) /* no cache at this subleaf */
				break;
			e->eax &= 0x3fff;
			e->eax |= MIN(ids - 1, 63U) << 26;
			/* L3 is shared by the package, L1/L2 per core. */
			if ((e->eax >> 5 & 7) >= 3)
				e->eax |= MIN(ids - 1, 0xfffU) << 14;
			break;
		case 6:
			/* Thermal/power management cannot be emulated. */
			e->eax &= X86_CPUID_ARAT;
			e->ebx = e->ecx = e->edx = 0;
			break;
		case X86_CPUID_KVM_SIGNATURE:
			e->eax = MAX(e->eax, X86_CPUID_KVM_SIGNATURE + 1);
			e->ebx = KVM_SIG_EBX;
			e->ecx = KVM_SIG_ECX;
			e->edx = KVM_SIG_EDX;
			break;
		case 0x80000008:
			if (amd)
				e->ecx = (e->ecx & ~0xf0ffU) | shift << 12 |
					 (nr_vcpus - 1);
			break;
		case 0x8000001e:
			e->eax = vcpu_id;               /* extended APIC id */
			e->ebx = vcpu_id & 0xff;        /* core id, 1 thread/core */
			e->ecx = 0;                     /* node 0 of 1 */
			e->edx = 0;
			break;
		}
	}
	set_ext_topology(cpuid, 0xb, vcpu_id, nr_vcpus, shift);
	set_ext_topology(cpuid, 0x1f, vcpu_id, nr_vcpus, shift);
	return 0;
}

/* A first guess that fits most hosts' lists in one call. */
#define FETCH_FIRST_ENTRIES 128

int x86_cpuid_fetch(int fd, unsigned long request, struct kvm_cpuid2 **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (request != KVM_GET_SUPPORTED_CPUID && request != KVM_GET_CPUID2)
		return -EINVAL;
	for (uint32_t nent = FETCH_FIRST_ENTRIES; nent <= X86_CPUID_MAX_ENTRIES;
	     nent *= 2) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(fd, request, c) == 0) {
			*out = c;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return -e;
	}
	return -E2BIG;
}
