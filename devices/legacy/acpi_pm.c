#include <devices/acpi_pm.h>

#include <core/log.h>

#include <string.h>

void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *),
		  void (*reset)(void *), void *opaque)
{
	memset(pm, 0, sizeof(*pm));
	pm->poweroff = poweroff;
	pm->reset = reset;
	pm->opaque = opaque;
}

/* Sleep status reads 0: WAK_STS never sets, since S5 is the only sleep state
 * offered and the VMM ends the VM on it. */
static void acpi_pm_read(void *dev, uint64_t off, void *data, unsigned len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

static void acpi_pm_write(void *dev, uint64_t off, const void *data,
			  unsigned len)
{
	struct acpi_pm *pm = dev;
	uint8_t v;

	/* The FADT declares byte-wide registers; other widths are not ours. */
	if (len != 1)
		return;
	v = *(const uint8_t *)data;
	switch (off) {
	case ACPI_PM_SLEEP_CONTROL:
		if (!(v & ACPI_PM_SLP_EN))
			break;
		if (((v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT) !=
		    ACPI_PM_SLP_TYP_S5) {
			log_ratelimited(LOG_WARN,
					"acpi_pm: unsupported sleep control 0x%02x ignored",
					v);
			break;
		}
		if (pm->poweroff)
			pm->poweroff(pm->opaque);
		break;
	case ACPI_PM_RESET:
		if (v == ACPI_PM_RESET_VALUE && pm->reset)
			pm->reset(pm->opaque);
		break;
	default: /* sleep status: write-1-to-clear WAK_STS, which is never set */
		break;
	}
}

const struct bus_dev_ops acpi_pm_bus_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
};
