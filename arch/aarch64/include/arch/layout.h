/* The fixed arm64 guest-physical layout, documented in one place. MMIO sits
 * below 2 GiB and RAM starts at 2 GiB, as on QEMU's virt machine and
 * Firecracker, so a 32-bit DMA zone and the devices never meet.
 *
 *   0x08000000  GICv3 distributor, 64 KiB
 *   0x08100000  GICv3 redistributors, 128 KiB per vCPU (ARM64_MAX_VCPUS of them)
 *   0x09100000  ns16550a UART (8250 registers, 1 byte apart), 4 KiB, SPI 1
 *   0x0a000000  virtio-mmio devices, 4 KiB apart, SPI 16 + slot
 *   0x80000000  RAM: the kernel at a 2 MiB boundary + text_offset, then the
 *               DTB in a 2 MiB block of its own, then the initrd
 *               (arch/boot.h); RAM ends below 2^40 (KVM's default IPA size)
 *
 * Interrupt numbers are GIC SPI numbers: the device tree's second cell, and
 * the GSI an irqfd or KVM_IRQ_LINE names (KVM routes GSI n to INTID 32 + n).
 */
#ifndef ARCH_LAYOUT_H
#define ARCH_LAYOUT_H

#include <stdint.h>

#define ARM64_GIC_DIST_BASE 0x08000000ULL
#define ARM64_GIC_DIST_SIZE 0x10000ULL
#define ARM64_GIC_REDIST_BASE 0x08100000ULL
#define ARM64_GIC_REDIST_STRIDE 0x20000ULL /* RD_base + SGI_base frames */
#define ARM64_MAX_VCPUS 128

#define ARM64_SERIAL_BASE 0x09100000ULL
#define ARM64_SERIAL_SIZE 0x1000ULL
#define ARM64_SERIAL_SPI 1
#define ARM64_SERIAL_CLOCK_HZ 1843200 /* the 8250's classic 1.8432 MHz */

#define ARM64_MMIO_BASE 0x0a000000ULL
#define ARM64_MMIO_SLOT_SIZE 0x1000ULL
#define ARM64_MMIO_SLOTS 32
#define ARM64_MMIO_FIRST_SPI 16

#define ARM64_RAM_BASE 0x80000000ULL
/* KVM's default VM type gives a 40-bit IPA space (KVM_CAP_ARM_VM_IPA_SIZE). */
#define ARM64_PHYS_LIMIT (1ULL << 40)
#define ARM64_RAM_MAX (ARM64_PHYS_LIMIT - ARM64_RAM_BASE)
#define ARM64_RAM_ALIGN 0x10000ULL

/* Bytes of redistributor space nr_vcpus need; 0 when nr_vcpus is 0 or
 * above ARM64_MAX_VCPUS. */
uint64_t arm64_gic_redist_size(unsigned nr_vcpus);

/* Fills [gpa, len] of RAM for mem_bytes: one range from ARM64_RAM_BASE.
 * Returns 1, 0 when mem_bytes is 0, -E2BIG past ARM64_RAM_MAX, or -EINVAL
 * when mem_bytes is not a multiple of 64 KiB: a memslot must be aligned to
 * the host's page size, which on arm64 may be 64 KiB. */
int arm64_ram_ranges(uint64_t mem_bytes, uint64_t ranges[1][2]);

/* Base and SPI of virtio-mmio slot i; -ENOSPC past ARM64_MMIO_SLOTS. */
int arm64_mmio_slot(unsigned slot, uint64_t *base, uint32_t *spi);

#endif
