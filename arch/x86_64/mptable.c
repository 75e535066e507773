#include <arch/layout.h>
#include <arch/mptable.h>

#include <errno.h>
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

int x86_mptable_write(const struct gmem *mem, unsigned nr_vcpus)
{
	if (nr_vcpus == 0 || nr_vcpus > X86_MAX_VCPUS)
		return -EINVAL;
	size_t len = config_size(nr_vcpus);
	uint64_t cfg_gpa = X86_MPTABLE_GPA + sizeof(struct mpf_intel);
	/* It must stay inside the reserved [EBDA, 1 MiB) range. */
	if (cfg_gpa + len > X86_HIGH_MEM_START)
		return -EINVAL;
	uint8_t *buf = calloc(1, len), *p = buf;
	if (!buf)
		return -ENOMEM;
	uint8_t ioapic_id = (uint8_t)nr_vcpus;
	uint16_t count = 0;

	struct mpc_table *hdr = (struct mpc_table *)p;
	p += sizeof(*hdr);
	for (unsigned i = 0; i < nr_vcpus; i++, count++, p += sizeof(struct mpc_cpu))
		*(struct mpc_cpu *)p = (struct mpc_cpu){
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.cpufeature = CPU_SIGNATURE,
			.featureflag = CPU_FEATURES,
		};
	struct mpc_bus bus = { .type = MP_BUS, .busid = 0 };
	memcpy(bus.bustype, "ISA   ", 6);
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus), count++;
	*(struct mpc_ioapic *)p = (struct mpc_ioapic){
		.type = MP_IOAPIC,
		.apicid = ioapic_id,
		.apicver = IOAPIC_VERSION,
		.flags = MP_IOAPIC_ENABLED,
		.apicaddr = (uint32_t)X86_IOAPIC_BASE,
	};
	p += sizeof(struct mpc_ioapic), count++;
	/* KVM's default routing sends GSI i to IOAPIC pin i. */
	for (unsigned irq = 0; irq < X86_MP_IOAPIC_PINS; irq++, count++,
		      p += sizeof(struct mpc_intsrc))
		*(struct mpc_intsrc *)p = (struct mpc_intsrc){
			.type = MP_INTSRC, .irqtype = MP_INT, .srcbus = 0,
			.srcbusirq = (uint8_t)irq, .dstapic = ioapic_id,
			.dstirq = (uint8_t)irq,
		};
	*(struct mpc_intsrc *)p = (struct mpc_intsrc){
		.type = MP_LINTSRC, .irqtype = MP_EXTINT, .dstapic = 0, .dstirq = 0,
	};
	p += sizeof(struct mpc_intsrc), count++;
	*(struct mpc_intsrc *)p = (struct mpc_intsrc){
		.type = MP_LINTSRC, .irqtype = MP_NMI, .dstapic = MP_APIC_ALL,
		.dstirq = 1,
	};
	count++;

	memcpy(hdr->signature, MPC_SIGNATURE, 4);
	hdr->length = (uint16_t)len;
	hdr->spec = MP_SPEC_REV;
	memcpy(hdr->oem, "MVMM    ", 8);
	memcpy(hdr->productid, "MICROVM     ", 12);
	hdr->oemcount = count;
	hdr->lapic = (uint32_t)X86_LAPIC_BASE;
	hdr->checksum = mp_checksum(buf, len);

	struct mpf_intel mpf = {
		.physptr = (uint32_t)cfg_gpa,
		.length = 1,
		.specification = MP_SPEC_REV,
	};
	memcpy(mpf.signature, MPF_SIGNATURE, 4);
	mpf.checksum = mp_checksum(&mpf, sizeof(mpf));

	int ret = gmem_write(mem, cfg_gpa, buf, len);
	if (!ret)
		ret = gmem_write(mem, X86_MPTABLE_GPA, &mpf, sizeof(mpf));
	free(buf);
	return ret;
}
