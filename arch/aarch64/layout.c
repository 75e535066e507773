/* The arm64 guest-physical layout's arithmetic (constants in arch/layout.h). */
#include <arch/layout.h>

#include <errno.h>

uint64_t arm64_gic_redist_size(unsigned nr_vcpus)
{
	if (nr_vcpus == 0 || nr_vcpus > ARM64_MAX_VCPUS)
		return 0;
	return (uint64_t)nr_vcpus * ARM64_GIC_REDIST_STRIDE;
}

int arm64_ram_ranges(uint64_t mem_bytes, uint64_t ranges[1][2])
{
	if (mem_bytes == 0)
		return 0;
	if (mem_bytes > ARM64_RAM_MAX)
		return -E2BIG;
	if (mem_bytes % ARM64_RAM_ALIGN)
		return -EINVAL;
	ranges[0][0] = ARM64_RAM_BASE;
	ranges[0][1] = mem_bytes;
	return 1;
}

int arm64_mmio_slot(unsigned slot, uint64_t *base, uint32_t *spi)
{
	if (slot >= ARM64_MMIO_SLOTS)
		return -ENOSPC;
	*base = ARM64_MMIO_BASE + slot * ARM64_MMIO_SLOT_SIZE;
	*spi = ARM64_MMIO_FIRST_SPI + slot;
	return 0;
}
