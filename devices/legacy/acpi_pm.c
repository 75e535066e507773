#include <devices/acpi_pm.h>

#include <core/log.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *),
		  void (*reset)(void *), void *opaque)
{
	memset(pm, 0, sizeof(*pm));
	pm->poweroff = poweroff;
	pm->reset = reset;
	pm->opaque = opaque;
	atomic_init(&pm->pm1_en, 0);
}

/* ACPICA uses the register width (16 bits) but any 1, 2 or 4-byte access
 * inside the PM1 block is valid port I/O; the reset register is one byte. */
static bool acpi_pm_access_ok(uint64_t off, unsigned len)
{
	if (off == ACPI_PM_RESET)
		return len == 1;
	return (len == 1 || len == 2 || len == 4) && off < ACPI_PM_PM1_LEN &&
	       len <= ACPI_PM_PM1_LEN - off;
}

/* The bytes of a 16-bit register at reg that an access covers: the mask of
 * those bytes, and the written value spread over them. */
static uint16_t acpi_pm_reg_mask(uint64_t off, unsigned len, uint64_t reg,
				 const uint8_t *bytes, uint16_t *val)
{
	uint16_t mask = 0;
	*val = 0;
	for (unsigned i = 0; i < 2; i++) {
		if (reg + i < off || reg + i >= off + len)
			continue;
		mask |= (uint16_t)(0xff << (8 * i));
		*val |= (uint16_t)(bytes[reg + i - off] << (8 * i));
	}
	return mask;
}

static void acpi_pm_read(void *dev, uint64_t off, void *data, unsigned len)
{
	struct acpi_pm *pm = dev;
	uint16_t en = atomic_load(&pm->pm1_en);
	/* PM1 status 0 (no events), enable as stored, control SCI_EN only. */
	const uint8_t regs[ACPI_PM_LEN] = {
		[ACPI_PM_PM1_EN] = (uint8_t)en,
		[ACPI_PM_PM1_EN + 1] = (uint8_t)(en >> 8),
		[ACPI_PM_PM1_CNT] = ACPI_PM_SCI_EN,
	};

	memset(data, 0, len);
	if (acpi_pm_access_ok(off, len))
		memcpy(data, regs + off, len);
}

static void acpi_pm_write_cnt(struct acpi_pm *pm, uint16_t v, uint16_t mask)
{
	unsigned typ = (v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT;

	/* SLP_TYP and SLP_EN share the high byte, so mask covers both or none. */
	if (!(mask & v & ACPI_PM_SLP_EN))
		return;
	if (typ != ACPI_PM_SLP_TYP_S5) {
		log_ratelimited(LOG_WARN,
				"acpi_pm: sleep type %u unsupported, ignored", typ);
		return;
	}
	if (pm->poweroff)
		pm->poweroff(pm->opaque);
}

static void acpi_pm_write(void *dev, uint64_t off, const void *data,
			  unsigned len)
{
	struct acpi_pm *pm = dev;
	uint8_t bytes[4];
	uint16_t v, mask, old;

	if (!acpi_pm_access_ok(off, len)) {
		log_ratelimited(LOG_WARN,
				"acpi_pm: %u-byte write at offset %llu ignored",
				len, (unsigned long long)off);
		return;
	}
	memcpy(bytes, data, len);
	if (off == ACPI_PM_RESET) {
		if (bytes[0] == ACPI_PM_RESET_VALUE && pm->reset)
			pm->reset(pm->opaque);
		return;
	}
	/* PM1 status: write-1-to-clear of bits that never set; nothing to do. */
	mask = acpi_pm_reg_mask(off, len, ACPI_PM_PM1_EN, bytes, &v);
	if (mask) {
		old = atomic_load(&pm->pm1_en);
		while (!atomic_compare_exchange_weak(&pm->pm1_en, &old,
						     (uint16_t)((old & ~mask) |
								(v & mask))))
			;
	}
	mask = acpi_pm_reg_mask(off, len, ACPI_PM_PM1_CNT, bytes, &v);
	if (mask)
		acpi_pm_write_cnt(pm, v, mask);
}

const struct bus_dev_ops acpi_pm_bus_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
};
