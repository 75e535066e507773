/* ACPI fixed power-management registers for classic (not hardware-reduced)
 * ACPI (ACPI 6.4 sections 4.8.3.1-4.8.3.3, 4.8.3.6): the PM1a event block
 * (16-bit status + 16-bit enable) and the 16-bit PM1a control register, plus
 * a byte-wide RESET_REG. Writing SLP_EN with SLP_TYP 5 (the DSDT's \_S5) to
 * PM1 control powers the machine off; writing the reset value resets it.
 * No event source exists: status reads 0 and no SCI is ever raised; enable
 * bits are plain storage so ACPICA sees its writes stick. SCI_EN reads 1
 * (always in ACPI mode, the FADT has no SMI_CMD).
 * Threads: vCPU threads; the enable register is a C11 atomic, no lock. */
#ifndef DEVICES_ACPI_PM_H
#define DEVICES_ACPI_PM_H

#include <devices/bus.h>

#include <stdint.h>

/* Port I/O window 0x600-0x606, clear of the 8250 (0x3f8), i8042 (0x60/0x64),
 * PIT/PIC/ELCR and PCI config ports. The FADT (arch/acpi.h) must point at
 * the same ports. Offsets: */
#define ACPI_PM_BASE 0x600
#define ACPI_PM_LEN 7
#define ACPI_PM_PM1_STS 0 /* 16-bit, write-1-to-clear */
#define ACPI_PM_PM1_EN 2  /* 16-bit */
#define ACPI_PM_PM1_CNT 4 /* 16-bit */
#define ACPI_PM_PM1_LEN 6 /* the three PM1 registers: 1, 2, 4-byte access */
#define ACPI_PM_RESET 6   /* 8-bit, byte access only */

/* PM1 control fields (ACPI 6.4 table 4.16). */
#define ACPI_PM_SCI_EN 0x0001
#define ACPI_PM_SLP_TYP_SHIFT 10
#define ACPI_PM_SLP_TYP_MASK 0x1c00
#define ACPI_PM_SLP_EN 0x2000
#define ACPI_PM_SLP_TYP_S5 5
#define ACPI_PM_RESET_VALUE 0x01

struct acpi_pm {
	void (*poweroff)(void *opaque); /* on SLP_EN with SLP_TYP S5 */
	void (*reset)(void *opaque);    /* on ACPI_PM_RESET_VALUE at RESET */
	void *opaque;
	_Atomic uint16_t pm1_en;
};

extern const struct bus_dev_ops acpi_pm_bus_ops;
/* Either callback may be NULL (the request is then ignored). */
void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *),
		  void (*reset)(void *), void *opaque);

#endif
