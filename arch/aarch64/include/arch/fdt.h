/* The device tree the arm64 guest boots with, written with libfdt's
 * sequential-write API. It describes exactly the machine the VMM builds:
 * RAM, the vCPUs (started through PSCI), the GICv3, the architected timer,
 * the ns16550a UART and each virtio-mmio device, and /chosen (bootargs,
 * console, initrd). Pure: the caller fills struct arm64_fdt_config from the
 * VM it made; nothing here knows KVM.
 * Threads: called once by the VMM before vCPUs start. */
#ifndef ARCH_FDT_H
#define ARCH_FDT_H

#include <core/gmem.h>

#include <stddef.h>
#include <stdint.h>

/* The GIC's phandle: every interrupt in the tree names it. */
#define ARM64_FDT_PHANDLE_GIC 1

#define ARM64_FDT_MAX_DEVICES 32

struct arm64_fdt_device {
	uint64_t base, size;
	uint32_t spi; /* GIC SPI number (INTID - 32) */
};

struct arm64_fdt_config {
	unsigned nr_vcpus;
	const uint64_t *mpidrs; /* nr_vcpus MPIDR_EL1 values, as KVM reports them */
	uint64_t ram_gpa, ram_len;
	uint64_t gic_dist_base, gic_dist_size;
	uint64_t gic_redist_base, gic_redist_size; /* one region, all vCPUs */
	struct arm64_fdt_device serial;            /* size 0: no UART */
	uint32_t serial_clock_hz;
	unsigned nr_virtio;
	const struct arm64_fdt_device *virtio; /* nr_virtio virtio-mmio devices */
	const char *cmdline;                   /* NULL = empty */
	uint64_t initrd_gpa, initrd_len;       /* len 0: no initrd */
};

/* A config for the fixed layout of arch/layout.h: the GIC for nr_vcpus
 * vCPUs, the UART, RAM [ram_gpa, +ram_len); no virtio devices, no initrd, no
 * command line. The caller fills mpidrs and the rest. */
void arm64_fdt_config_default(struct arm64_fdt_config *cfg, unsigned nr_vcpus,
			      uint64_t ram_gpa, uint64_t ram_len);

/* Writes the blob into buf (bufsize bytes; ARM64_FDT_MAX_SIZE is always
 * enough). 0, -EINVAL for a config that describes no valid machine, or
 * -ENOSPC; with a message in err. */
int arm64_fdt_build(const struct arm64_fdt_config *cfg, void *buf,
		    size_t bufsize, char *err, size_t errlen);

/* Builds the blob straight into guest RAM at dtb_gpa (8-byte aligned, with
 * ARM64_FDT_MAX_SIZE bytes of RAM: the block arm64_boot_layout() set aside). */
int arm64_fdt_write(const struct gmem *mem, uint64_t dtb_gpa,
		    const struct arm64_fdt_config *cfg, char *err,
		    size_t errlen);

/* The cpu node's reg for an MPIDR_EL1: its affinity fields Aff3..Aff0 (bits
 * 39:32 and 23:0), as the arm,cpus binding asks. */
uint64_t arm64_mpidr_to_cpu_reg(uint64_t mpidr);

#endif
