/* Minimal ACPI tables for an x86 microVM with classic (not hardware-reduced)
 * ACPI: RSDP, XSDT, FADT, FACS, DSDT and MADT in the BIOS read-only area.
 * Classic mode matters: in hardware-reduced mode Linux drops the legacy PIC
 * and then maps no ISA IRQ, so the 8250 (IRQ 4) and virtio-mmio (IRQ 5..)
 * lose their interrupts. The FADT's PM1 event/control blocks let Linux power
 * off (SLP_TYP from the DSDT's \_S5 + SLP_EN) and RESET_REG resets; the MADT
 * lists the CPUs and the IO-APIC, which Linux then reads instead of the MP
 * table. Only guest memory is touched, through <core/gmem.h>; no KVM fd here.
 * Threads: called once by the VMM before vCPUs start. */
#ifndef ARCH_ACPI_H
#define ARCH_ACPI_H

#include <core/gmem.h>

#include <stdint.h>

/* The RSDP sits on a 16-byte boundary inside 0xE0000-0xFFFFF, where Linux's
 * legacy scan finds it; the loader also passes it in boot_params.acpi_rsdp_addr
 * and PVH start_info.rsdp_paddr. The other tables follow it; e820 reserves
 * 0x9fc00-0x100000, so they are never handed out as RAM. */
#define X86_ACPI_RSDP_GPA 0xe0000ULL
#define X86_ACPI_AREA_END 0x100000ULL

/* Port-I/O registers the FADT points at; <devices/acpi_pm.h> implements them
 * (its ACPI_PM_* constants must equal these; a unit test checks). */
#define X86_ACPI_PM_PORT_BASE 0x600
#define X86_ACPI_PM1A_EVT_PORT (X86_ACPI_PM_PORT_BASE + 0) /* status, enable */
#define X86_ACPI_PM1_EVT_LEN 4
#define X86_ACPI_PM1A_CNT_PORT (X86_ACPI_PM_PORT_BASE + 4)
#define X86_ACPI_PM1_CNT_LEN 2
#define X86_ACPI_RESET_PORT (X86_ACPI_PM_PORT_BASE + 6)
#define X86_ACPI_RESET_VALUE 0x01
/* SCI on ISA IRQ 9 as on PCs; nothing raises it (no fixed or GPE events are
 * offered), so GSI 9 must stay free of other devices. */
#define X86_ACPI_SCI_IRQ 9
/* The SLP_TYP the DSDT's \_S5 package gives for soft-off. */
#define X86_ACPI_S5_SLP_TYP 5

/* A virtio-mmio transport as the DSDT describes it (LNRO0005). */
struct x86_acpi_virtio {
	uint32_t base;
	uint32_t size;
	uint32_t gsi;
};
#define X86_ACPI_MAX_VIRTIO 16

/* Writes all tables for nr_vcpus CPUs (local APIC ids 0..nr_vcpus-1, the
 * IO-APIC takes id nr_vcpus) and the virtio-mmio devices, and returns the
 * RSDP's address. Guest RAM must cover X86_ACPI_RSDP_GPA..X86_ACPI_AREA_END.
 * 0, -EINVAL for a bad vCPU or device count, -EFAULT when the area is not
 * guest RAM. */
int x86_acpi_write(const struct gmem *mem, unsigned nr_vcpus,
		   const struct x86_acpi_virtio *virtio, unsigned nr_virtio,
		   uint64_t *rsdp_gpa_out);

#endif
