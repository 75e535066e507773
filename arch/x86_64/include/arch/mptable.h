/* MP table so the guest finds every vCPU and the IOAPIC without ACPI.
 * Layouts from the Intel MultiProcessor Specification 1.4, chapter 4 (no
 * UAPI header carries them). */
#ifndef ARCH_MPTABLE_H
#define ARCH_MPTABLE_H

#include <core/gmem.h>

#include <stdint.h>

#define MPF_SIGNATURE "_MP_"
#define MPC_SIGNATURE "PCMP"
#define MP_SPEC_REV 4 /* 1.4 */

enum mp_entry_type { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum mp_irq_type { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define MP_CPU_ENABLED 1
#define MP_CPU_BSP 2
#define MP_IOAPIC_ENABLED 1
#define MP_APIC_ALL 0xff

struct mpf_intel { /* floating pointer, 16 bytes */
	char signature[4];
	uint32_t physptr; /* config table */
	uint8_t length;   /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature1; /* 0: a config table is present */
	uint8_t feature2; /* bit 7 IMCR present; 0 = virtual wire mode */
	uint8_t feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_table { /* config table header, 44 bytes */
	char signature[4];
	uint16_t length; /* base table incl. header */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount; /* entry count */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature; /* signature: stepping, model, family */
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* also the layout of local interrupt entries */
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag; /* 0: polarity and trigger conform to the bus */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

#define X86_MP_IOAPIC_PINS 24

/* Writes the floating pointer at X86_MPTABLE_GPA and the config table right
 * after it: nr_vcpus processors (APIC ids 0..n-1, vCPU 0 the BSP), an ISA bus,
 * one IOAPIC (id nr_vcpus) at X86_IOAPIC_BASE, ISA IRQ i -> IOAPIC pin i for
 * 0-23, LINT0 ExtINT and LINT1 NMI. 0, -EINVAL (vCPU count, or a table that
 * would reach the ACPI tables at X86_ACPI_RSDP_GPA), -ENOMEM or -EFAULT. */
int x86_mptable_write(const struct gmem *mem, unsigned nr_vcpus);
/* Bytes x86_mptable_write() uses for nr_vcpus. */
uint64_t x86_mptable_size(unsigned nr_vcpus);

#endif
