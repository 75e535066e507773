/* ACPI hardware-reduced power management registers (ACPI 6.4 sections 4.8.3.7
 * and 4.8.3.6): the FADT's SLEEP_CONTROL_REG and SLEEP_STATUS_REG, plus a
 * RESET_REG, as three byte-wide I/O ports. Writing SLP_EN with SLP_TYP 5 (the
 * DSDT's \_S5) powers the machine off; writing the reset value resets it.
 * Threads: vCPU threads; the device has no mutable state. */
#ifndef DEVICES_ACPI_PM_H
#define DEVICES_ACPI_PM_H

#include <devices/bus.h>

#include <stdint.h>

/* Port I/O window; offsets: sleep control, sleep status, reset. The FADT
 * (arch/acpi.h) must point at the same ports. */
#define ACPI_PM_BASE 0x600
#define ACPI_PM_LEN 3
#define ACPI_PM_SLEEP_CONTROL 0
#define ACPI_PM_SLEEP_STATUS 1
#define ACPI_PM_RESET 2

/* SLEEP_CONTROL_REG fields (ACPI 6.4 table 4.21). */
#define ACPI_PM_SLP_TYP_SHIFT 2
#define ACPI_PM_SLP_TYP_MASK 0x1c
#define ACPI_PM_SLP_EN 0x20
#define ACPI_PM_SLP_TYP_S5 5
#define ACPI_PM_RESET_VALUE 0x01

struct acpi_pm {
	void (*poweroff)(void *opaque); /* on SLP_EN with SLP_TYP S5 */
	void (*reset)(void *opaque);    /* on ACPI_PM_RESET_VALUE at RESET */
	void *opaque;
};

extern const struct bus_dev_ops acpi_pm_bus_ops;
/* Either callback may be NULL (the request is then ignored). */
void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *),
		  void (*reset)(void *), void *opaque);

#endif
