/* The MP floating pointer and config table (MP spec 1.4, chapter 4), built
 * in a buffer and copied into the reserved EBDA. */
#include <arch/acpi.h>
#include <arch/layout.h>
#include <arch/mptable.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define APIC_VERSION 0x14   /* integrated APIC, what KVM reports */
#define IOAPIC_VERSION 0x11 /* KVM's IOAPIC */
#define CPU_SIGNATURE 0x600 /* family 6 */
#define CPU_FEATURES 0x201  /* FPU, APIC */

_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mpc_table) == 44, "MP config header");
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry");
_Static_assert(sizeof(struct mpc_bus) == 8 && sizeof(struct mpc_ioapic) == 8 &&
		       sizeof(struct mpc_intsrc) == 8, "MP 8-byte entries");

static uint8_t mp_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

static size_t config_size(unsigned nr_vcpus)
{
	return sizeof(struct mpc_table) + nr_vcpus * sizeof(struct mpc_cpu) +
	       sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (X86_MP_IOAPIC_PINS + 2) * sizeof(struct mpc_intsrc);
}

uint64_t x86_mptable_size(unsigned nr_vcpus)
{
	return sizeof(struct mpf_intel) + config_size(nr_vcpus);
}

/* The config table's entries, in the type order mpparse expects. */
struct mpc_entries {
	uint8_t *p;
	uint16_t count;
};

static void put_entry(struct mpc_entries *e, const void *entry, size_t len)
{
	memcpy(e->p, entry, len);
	e->p += len;
	e->count++;
}

static void put_cpus(struct mpc_entries *e, unsigned nr_vcpus)
{
	for (unsigned i = 0; i < nr_vcpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.cpufeature = CPU_SIGNATURE,
			.featureflag = CPU_FEATURES,
		};
		put_entry(e, &cpu, sizeof(cpu));
	}
}

static void put_bus_and_ioapic(struct mpc_entries *e, uint8_t ioapic_id)
{
	struct mpc_bus bus = { .type = MP_BUS, .busid = 0 };
	struct mpc_ioapic ioapic = {
		.type = MP_IOAPIC,
		.apicid = ioapic_id,
		.apicver = IOAPIC_VERSION,
		.flags = MP_IOAPIC_ENABLED,
		.apicaddr = (uint32_t)X86_IOAPIC_BASE,
	};
	memcpy(bus.bustype, "ISA   ", 6);
	put_entry(e, &bus, sizeof(bus));
	put_entry(e, &ioapic, sizeof(ioapic));
}

static void put_interrupts(struct mpc_entries *e, uint8_t ioapic_id)
{
	/* KVM's default routing sends GSI i to IOAPIC pin i. */
	for (unsigned irq = 0; irq < X86_MP_IOAPIC_PINS; irq++) {
		struct mpc_intsrc src = {
			.type = MP_INTSRC, .irqtype = MP_INT, .srcbus = 0,
			.srcbusirq = (uint8_t)irq, .dstapic = ioapic_id,
			.dstirq = (uint8_t)irq,
		};
		put_entry(e, &src, sizeof(src));
	}
	/* LINT0 ExtINT on the BSP, LINT1 NMI everywhere, as x86_lapic_setup(). */
	struct mpc_intsrc lint0 = {
		.type = MP_LINTSRC, .irqtype = MP_EXTINT, .dstapic = 0, .dstirq = 0,
	};
	struct mpc_intsrc lint1 = {
		.type = MP_LINTSRC, .irqtype = MP_NMI, .dstapic = MP_APIC_ALL,
		.dstirq = 1,
	};
	put_entry(e, &lint0, sizeof(lint0));
	put_entry(e, &lint1, sizeof(lint1));
}

/* Fills the config table header over buf[0..len) once the entries follow. */
static void seal_config(uint8_t *buf, size_t len, uint16_t count)
{
	struct mpc_table hdr = {
		.length = (uint16_t)len,
		.spec = MP_SPEC_REV,
		.oemcount = count,
		.lapic = (uint32_t)X86_LAPIC_BASE,
	};
	memcpy(hdr.signature, MPC_SIGNATURE, 4);
	memcpy(hdr.oem, "MVMM    ", 8);
	memcpy(hdr.productid, "MICROVM     ", 12);
	memcpy(buf, &hdr, sizeof(hdr));
	buf[offsetof(struct mpc_table, checksum)] = mp_checksum(buf, len);
}

static struct mpf_intel floating_pointer(uint64_t cfg_gpa)
{
	struct mpf_intel mpf = {
		.physptr = (uint32_t)cfg_gpa,
		.length = 1,
		.specification = MP_SPEC_REV,
	};
	memcpy(mpf.signature, MPF_SIGNATURE, 4);
	mpf.checksum = mp_checksum(&mpf, sizeof(mpf));
	return mpf;
}

int x86_mptable_write(const struct gmem *mem, unsigned nr_vcpus)
{
	if (nr_vcpus == 0 || nr_vcpus > X86_MAX_VCPUS)
		return -EINVAL;
	/* Inside the reserved [EBDA, 1 MiB), and below the ACPI tables. */
	if (X86_MPTABLE_GPA + x86_mptable_size(nr_vcpus) > X86_ACPI_RSDP_GPA)
		return -EINVAL;
	size_t len = config_size(nr_vcpus);
	uint64_t cfg_gpa = X86_MPTABLE_GPA + sizeof(struct mpf_intel);
	uint8_t *buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	struct mpc_entries e = { buf + sizeof(struct mpc_table), 0 };
	uint8_t ioapic_id = (uint8_t)nr_vcpus;

	put_cpus(&e, nr_vcpus);
	put_bus_and_ioapic(&e, ioapic_id);
	put_interrupts(&e, ioapic_id);
	seal_config(buf, len, e.count);
	struct mpf_intel mpf = floating_pointer(cfg_gpa);

	int ret = gmem_write(mem, cfg_gpa, buf, len);
	if (!ret)
		ret = gmem_write(mem, X86_MPTABLE_GPA, &mpf, sizeof(mpf));
	free(buf);
	return ret;
}
