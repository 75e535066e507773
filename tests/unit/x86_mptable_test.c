/* The MP table as Linux's mpparse reads it: floating pointer, checksums,
 * entries in type order, one processor per vCPU, IOAPIC and IRQ routing. */
#include "fakes/x86_images.h"

#include <arch/acpi.h>
#include <arch/layout.h>
#include <arch/mptable.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static struct gmem mem;

static void init(void)
{
	x86img_gmem(&mem, 64ULL << 20);
}

static void fini(void)
{
	gmem_destroy(&mem);
}

TestSuite(x86_mptable, .init = init, .fini = fini);

static uint8_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (len--)
		s += *b++;
	return s;
}

/* Parses the table and checks everything for nr vCPUs. */
static void check_table(unsigned nr)
{
	struct mpf_intel mpf;
	cr_assert_eq(gmem_read(&mem, X86_MPTABLE_GPA, &mpf, sizeof(mpf)), 0);
	cr_assert_eq(memcmp(mpf.signature, "_MP_", 4), 0);
	cr_assert_eq(sum(&mpf, sizeof(mpf)), 0, "floating pointer checksum");
	cr_assert_eq(mpf.length, 1);
	cr_assert_eq(mpf.specification, 4);
	cr_assert_eq(mpf.feature1, 0, "a config table follows");

	struct mpc_table hdr;
	cr_assert_eq(gmem_read(&mem, mpf.physptr, &hdr, sizeof(hdr)), 0);
	cr_assert_eq(memcmp(hdr.signature, "PCMP", 4), 0);
	const uint8_t *tab = gmem_ptr(&mem, mpf.physptr, hdr.length);
	cr_assert_not_null(tab);
	cr_assert_eq(sum(tab, hdr.length), 0, "config table checksum");
	cr_assert_eq(hdr.lapic, X86_LAPIC_BASE);
	cr_assert_leq(mpf.physptr + hdr.length, 0x100000, "inside reserved EBDA..1MiB");
	cr_assert_geq(mpf.physptr, 0x9fc00);

	unsigned cpus = 0, buses = 0, ioapics = 0, ints = 0, lints = 0, last_type = 0;
	bool irq_seen[X86_MP_IOAPIC_PINS] = { 0 };
	const uint8_t *p = tab + sizeof(hdr), *end = tab + hdr.length;
	for (unsigned i = 0; i < hdr.oemcount; i++) {
		cr_assert_lt(p, end);
		cr_assert_geq(*p, last_type, "entries sorted by type");
		last_type = *p;
		if (*p == MP_PROCESSOR) {
			struct mpc_cpu c;
			memcpy(&c, p, sizeof(c));
			cr_assert_eq(c.apicid, cpus);
			cr_assert(c.cpuflag & MP_CPU_ENABLED);
			cr_assert_eq(!!(c.cpuflag & MP_CPU_BSP), cpus == 0, "BSP is vCPU 0 only");
			cpus++;
			p += sizeof(c);
			continue;
		}
		if (*p == MP_BUS) {
			cr_assert_eq(memcmp(((const struct mpc_bus *)p)->bustype, "ISA   ", 6), 0);
			buses++;
		} else if (*p == MP_IOAPIC) {
			struct mpc_ioapic io;
			memcpy(&io, p, sizeof(io));
			cr_assert_eq(io.apicid, nr);
			cr_assert_eq(io.apicaddr, X86_IOAPIC_BASE);
			cr_assert(io.flags & MP_IOAPIC_ENABLED);
			ioapics++;
		} else if (*p == MP_INTSRC) {
			struct mpc_intsrc is;
			memcpy(&is, p, sizeof(is));
			cr_assert_eq(is.dstapic, nr, "routes to the IOAPIC");
			cr_assert_eq(is.dstirq, is.srcbusirq);
			cr_assert_lt(is.srcbusirq, X86_MP_IOAPIC_PINS);
			irq_seen[is.srcbusirq] = true;
			ints++;
		} else if (*p == MP_LINTSRC) {
			struct mpc_intsrc ls;
			memcpy(&ls, p, sizeof(ls));
			if (ls.dstirq == 0)
				cr_assert_eq(ls.irqtype, MP_EXTINT, "LINT0 ExtINT");
			else
				cr_assert_eq(ls.irqtype, MP_NMI, "LINT1 NMI");
			lints++;
		} else {
			cr_assert_fail("unknown entry type %u", *p);
		}
		p += 8;
	}
	cr_assert_eq(p, end, "length covers exactly the entries");
	cr_assert_eq(cpus, nr);
	cr_assert_eq(buses, 1);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(ints, X86_MP_IOAPIC_PINS);
	for (unsigned i = 0; i < X86_MP_IOAPIC_PINS; i++)
		cr_assert(irq_seen[i], "IRQ %u routed", i);
	cr_assert_eq(lints, 2);
	cr_assert_eq(x86_mptable_size(nr), sizeof(mpf) + hdr.length);
	cr_assert_leq(X86_MPTABLE_GPA + x86_mptable_size(nr), X86_ACPI_RSDP_GPA,
		      "below the ACPI tables");
}

Test(x86_mptable, one_vcpu_table_is_valid)
{
	cr_assert_eq(x86_mptable_write(&mem, 1), 0);
	check_table(1);
}

Test(x86_mptable, two_vcpu_table_lists_both_processors)
{
	cr_assert_eq(x86_mptable_write(&mem, 2), 0);
	check_table(2);
}

Test(x86_mptable, largest_table_still_fits_below_the_acpi_tables)
{
	cr_assert_eq(x86_mptable_write(&mem, X86_MAX_VCPUS), 0);
	check_table(X86_MAX_VCPUS);
}

Test(x86_mptable, rejects_zero_or_too_many_vcpus)
{
	cr_assert_eq(x86_mptable_write(&mem, 0), -EINVAL);
	cr_assert_eq(x86_mptable_write(&mem, X86_MAX_VCPUS + 1), -EINVAL);
}

Test(x86_mptable, fails_cleanly_without_low_memory)
{
	static uint8_t buf[1 << 16];
	struct gmem high;
	cr_assert_eq(gmem_init_external(&high, 0x200000, buf, sizeof(buf)), 0);
	cr_assert_eq(x86_mptable_write(&high, 1), -EFAULT);
}
