/* ACPI: the tables arch/x86_64/acpi.c writes (parsed here from the spec's
 * offsets, not the writer's structs) and the acpi_pm sleep/reset device. */
#include <arch/acpi.h>
#include <arch/layout.h>
#include <devices/acpi_pm.h>
#include <devices/bus.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GUEST_BYTES (1ULL << 20)

static struct gmem mem;
static uint8_t *ram;

static void setup(void)
{
	ram = calloc(1, GUEST_BYTES);
	cr_assert_not_null(ram);
	cr_assert_eq(gmem_init_external(&mem, 0, ram, GUEST_BYTES), 0);
}

static void teardown(void)
{
	gmem_destroy(&mem);
	free(ram);
}

TestSuite(x86_acpi, .init = setup, .fini = teardown);

static uint8_t rd8(uint64_t gpa)
{
	cr_assert_lt(gpa, GUEST_BYTES);
	return ram[gpa];
}

static uint64_t rd(uint64_t gpa, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)rd8(gpa + i) << (8 * i);
	return v;
}

static uint8_t sum(uint64_t gpa, uint64_t len)
{
	uint8_t s = 0;
	for (uint64_t i = 0; i < len; i++)
		s += rd8(gpa + i);
	return s;
}

static bool sig_is(uint64_t gpa, const char *sig)
{
	return memcmp(ram + gpa, sig, strlen(sig)) == 0;
}

static uint64_t write_tables(unsigned nr_vcpus)
{
	uint64_t rsdp = 0;
	cr_assert_eq(x86_acpi_write(&mem, nr_vcpus, NULL, 0, &rsdp), 0);
	return rsdp;
}

/* Linux's legacy search: "RSD PTR " on a 16-byte boundary in the BIOS area. */
static uint64_t scan_rsdp(void)
{
	uint64_t found = 0;
	unsigned hits = 0;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		if (sig_is(a, "RSD PTR ")) {
			found = a;
			hits++;
		}
	}
	cr_assert_eq(hits, 1, "RSDP copies found: %u", hits);
	return found;
}

static uint64_t xsdt_of(uint64_t rsdp)
{
	return rd(rsdp + 24, 8);
}

/* The XSDT entry whose table has signature sig, or 0. */
static uint64_t find_table(const char *sig)
{
	uint64_t xsdt = xsdt_of(scan_rsdp());
	uint32_t len = (uint32_t)rd(xsdt + 4, 4);
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t = rd(xsdt + off, 8);
		if (sig_is(t, sig))
			return t;
	}
	return 0;
}

static void assert_table_ok(uint64_t gpa, const char *sig)
{
	cr_assert(sig_is(gpa, sig), "no %s at 0x%llx", sig,
		  (unsigned long long)gpa);
	uint32_t len = (uint32_t)rd(gpa + 4, 4);
	cr_assert_geq(len, 36);
	cr_assert_eq(sum(gpa, len), 0, "%s checksum", sig);
	/* Inside the e820-reserved BIOS area, clear of the MP table. */
	cr_assert_geq(gpa, 0xe0000);
	cr_assert_leq(gpa + len, 0x100000);
}

Test(x86_acpi, rsdp_is_found_by_legacy_scan_with_both_checksums)
{
	uint64_t rsdp = write_tables(1);
	cr_assert_eq(scan_rsdp(), rsdp);
	cr_assert_eq(rsdp, X86_ACPI_RSDP_GPA);
	cr_assert_eq(rsdp % 16, 0);
	cr_assert_eq(rd8(rsdp + 15), 2, "revision");
	cr_assert_eq(rd(rsdp + 20, 4), 36, "length");
	cr_assert_eq(sum(rsdp, 20), 0, "ACPI 1.0 checksum");
	cr_assert_eq(sum(rsdp, 36), 0, "extended checksum");
	cr_assert_neq(xsdt_of(rsdp), 0);
}

Test(x86_acpi, every_table_checksums_to_zero)
{
	write_tables(4);
	uint64_t xsdt = xsdt_of(scan_rsdp());
	assert_table_ok(xsdt, "XSDT");
	uint32_t len = (uint32_t)rd(xsdt + 4, 4);
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t = rd(xsdt + off, 8);
		assert_table_ok(t, (const char *)ram + t);
	}
	assert_table_ok(rd(find_table("FACP") + 140, 8), "DSDT");
}

Test(x86_acpi, xsdt_lists_fadt_and_madt)
{
	write_tables(2);
	uint64_t xsdt = xsdt_of(scan_rsdp());
	cr_assert_eq(rd(xsdt + 4, 4), 36 + 2 * 8);
	cr_assert_neq(find_table("FACP"), 0);
	cr_assert_neq(find_table("APIC"), 0);
}

static void assert_io_gas(uint64_t gas, unsigned port, unsigned bits)
{
	cr_assert_eq(rd8(gas), 1, "SystemIO space");
	cr_assert_eq(rd8(gas + 1), bits, "bit width");
	cr_assert_eq(rd8(gas + 2), 0, "bit offset");
	cr_assert_eq(rd(gas + 4, 8), port);
}

static bool gas_is_zero(uint64_t gas)
{
	return rd(gas, 4) == 0 && rd(gas + 4, 8) == 0;
}

Test(x86_acpi, fadt_is_not_hardware_reduced)
{
	write_tables(1);
	uint64_t f = find_table("FACP");
	cr_assert_eq(rd(f + 4, 4), 276, "revision 6 length");
	cr_assert_eq(rd8(f + 8), 6, "revision");
	uint32_t flags = (uint32_t)rd(f + 112, 4);
	cr_assert_eq(flags & (1u << 20), 0, "HW_REDUCED_ACPI must be clear");
	cr_assert(flags & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(rd(f + 46, 2), 9, "SCI_INT");
	cr_assert_eq(rd(f + 48, 4), 0, "SMI_CMD: always in ACPI mode");
	uint16_t boot = (uint16_t)rd(f + 109, 2);
	cr_assert(boot & (1u << 1), "8042 present");
	cr_assert(boot & (1u << 2), "VGA not present");
	cr_assert(boot & (1u << 5), "CMOS RTC not present");
	/* The hardware-reduced sleep registers are unused. */
	cr_assert(gas_is_zero(f + 244));
	cr_assert(gas_is_zero(f + 256));
	/* X_DSDT only: the spec wants the 32-bit DSDT field 0 then. */
	cr_assert_eq(rd(f + 40, 4), 0);
	cr_assert(sig_is(rd(f + 140, 8), "DSDT"));
}

Test(x86_acpi, fadt_pm1_blocks_and_reset_register_are_the_devices_ports)
{
	write_tables(1);
	uint64_t f = find_table("FACP");
	/* Legacy 32-bit fields and X_ GAS agree (ACPICA warns otherwise). */
	cr_assert_eq(rd(f + 56, 4), ACPI_PM_BASE + ACPI_PM_PM1_STS, "PM1a_EVT_BLK");
	cr_assert_eq(rd(f + 64, 4), ACPI_PM_BASE + ACPI_PM_PM1_CNT, "PM1a_CNT_BLK");
	cr_assert_eq(rd8(f + 88), 4, "PM1_EVT_LEN");
	cr_assert_eq(rd8(f + 89), 2, "PM1_CNT_LEN");
	assert_io_gas(f + 148, ACPI_PM_BASE + ACPI_PM_PM1_STS, 32);
	assert_io_gas(f + 172, ACPI_PM_BASE + ACPI_PM_PM1_CNT, 16);
	/* The enable register follows status, half the event block in. */
	cr_assert_eq(ACPI_PM_PM1_EN - ACPI_PM_PM1_STS, rd8(f + 88) / 2);
	/* No PM1b, PM2, PM timer or GPE blocks, in either form. */
	const unsigned legacy32[] = {60, 68, 72, 76, 80, 84};
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(rd(f + legacy32[i], 4), 0, "offset %u", legacy32[i]);
	for (unsigned off = 90; off <= 94; off++)
		cr_assert_eq(rd8(f + off), 0, "length at offset %u", off);
	const unsigned x_gas[] = {160, 184, 196, 208, 220, 232};
	for (unsigned i = 0; i < 6; i++)
		cr_assert(gas_is_zero(f + x_gas[i]), "X_ GAS at %u", x_gas[i]);
	/* RESET_REG: one byte, byte access. */
	assert_io_gas(f + 116, ACPI_PM_BASE + ACPI_PM_RESET, 8);
	cr_assert_eq(rd8(f + 119), 1, "byte access");
	cr_assert_eq(rd8(f + 128), ACPI_PM_RESET_VALUE);
}

Test(x86_acpi, facs_is_referenced_by_x_firmware_ctrl)
{
	write_tables(2);
	uint64_t f = find_table("FACP");
	uint64_t facs = rd(f + 132, 8);
	cr_assert_neq(facs, 0, "X_FIRMWARE_CTRL");
	/* One pointer only: Linux would install the FACS once per pointer. */
	cr_assert_eq(rd(f + 36, 4), 0, "FIRMWARE_CTRL");
	cr_assert_eq(facs % 64, 0, "64-byte aligned");
	cr_assert(sig_is(facs, "FACS"));
	cr_assert_eq(rd(facs + 4, 4), 64, "length");
	cr_assert_eq(rd8(facs + 32), 2, "version");
	cr_assert_eq(rd(facs + 12, 4), 0, "no waking vector");
	cr_assert_eq(rd(facs + 16, 4), 0, "global lock free");
	cr_assert_geq(facs, 0xe0000);
	cr_assert_leq(facs + 64, 0x100000);
	cr_assert_eq(find_table("FACS"), 0, "reached through the FADT only");
}

/* Every table, the FACS included, has its own bytes. */
Test(x86_acpi, tables_do_not_overlap)
{
	uint64_t rsdp = write_tables(X86_MAX_VCPUS);
	uint64_t f = find_table("FACP");
	uint64_t start[6] = {rsdp, xsdt_of(rsdp), f, rd(f + 132, 8),
			     rd(f + 140, 8), find_table("APIC")};
	uint64_t len[6] = {36};
	for (unsigned i = 1; i < 6; i++)
		len[i] = rd(start[i] + 4, 4);
	for (unsigned i = 0; i < 6; i++)
		for (unsigned j = i + 1; j < 6; j++)
			cr_assert(start[i] + len[i] <= start[j] ||
					  start[j] + len[j] <= start[i],
				  "tables %u and %u overlap", i, j);
}

struct madt_seen {
	unsigned lapics, ioapics, nmis, others;
	uint8_t lapic_ids[256];
	uint8_t ioapic_id;
	uint32_t ioapic_addr, ioapic_gsi_base;
	uint8_t nmi_uid, nmi_lint;
};

static struct madt_seen parse_madt(void)
{
	struct madt_seen s;
	memset(&s, 0, sizeof(s));
	uint64_t m = find_table("APIC");
	cr_assert_neq(m, 0);
	uint32_t len = (uint32_t)rd(m + 4, 4);
	cr_assert_eq(rd(m + 36, 4), X86_LAPIC_BASE);
	uint32_t off = 44;
	while (off < len) {
		uint8_t type = rd8(m + off), elen = rd8(m + off + 1);
		cr_assert_geq(elen, 2);
		cr_assert_leq(off + elen, len, "entry overruns the MADT");
		switch (type) {
		case 0:
			cr_assert_eq(elen, 8);
			cr_assert_eq(rd8(m + off + 2), rd8(m + off + 3),
				     "processor uid = apic id");
			cr_assert_eq(rd(m + off + 4, 4) & 1, 1, "enabled");
			s.lapic_ids[s.lapics++] = rd8(m + off + 3);
			break;
		case 1:
			cr_assert_eq(elen, 12);
			s.ioapics++;
			s.ioapic_id = rd8(m + off + 2);
			s.ioapic_addr = (uint32_t)rd(m + off + 4, 4);
			s.ioapic_gsi_base = (uint32_t)rd(m + off + 8, 4);
			break;
		case 4:
			cr_assert_eq(elen, 6);
			s.nmis++;
			s.nmi_uid = rd8(m + off + 2);
			s.nmi_lint = rd8(m + off + 5);
			break;
		default:
			s.others++;
		}
		off += elen;
	}
	cr_assert_eq(off, len, "entries fill the table exactly");
	return s;
}

static void assert_madt_for(unsigned n)
{
	write_tables(n);
	struct madt_seen s = parse_madt();
	cr_assert_eq(s.lapics, n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(s.lapic_ids[i], i);
	cr_assert_eq(s.ioapics, 1);
	cr_assert_eq(s.ioapic_id, n, "IOAPIC id follows the CPUs");
	cr_assert_eq(s.ioapic_addr, X86_IOAPIC_BASE);
	cr_assert_eq(s.ioapic_gsi_base, 0);
	cr_assert_eq(s.nmis, 1);
	cr_assert_eq(s.nmi_uid, 0xff, "NMI entry for all processors");
	cr_assert_eq(s.nmi_lint, 1, "NMI on LINT1");
	cr_assert_eq(s.others, 0);
}

Test(x86_acpi, madt_lists_one_cpu)
{
	assert_madt_for(1);
}

Test(x86_acpi, madt_lists_four_cpus)
{
	assert_madt_for(4);
}

Test(x86_acpi, madt_fits_the_largest_vcpu_count)
{
	assert_madt_for(X86_MAX_VCPUS);
	assert_table_ok(find_table("APIC"), "APIC");
}

Test(x86_acpi, rejects_bad_vcpu_counts)
{
	uint64_t rsdp = 0;
	cr_assert_eq(x86_acpi_write(&mem, 0, NULL, 0, &rsdp), -EINVAL);
	cr_assert_eq(x86_acpi_write(&mem, X86_MAX_VCPUS + 1, NULL, 0, &rsdp), -EINVAL);
	cr_assert_eq(rsdp, 0);
}

Test(x86_acpi, fails_when_the_bios_area_is_not_ram)
{
	struct gmem small;
	uint64_t rsdp = 0;
	cr_assert_eq(gmem_init_external(&small, 0, ram, 0xe0000), 0);
	cr_assert_eq(x86_acpi_write(&small, 1, NULL, 0, &rsdp), -EFAULT);
	cr_assert_eq(rsdp, 0);
	gmem_destroy(&small);
}

/* Decodes an AML integer constant (ACPI 6.4 section 20.2.3) at *p. */
static uint64_t aml_integer(uint64_t *p, uint64_t end)
{
	uint8_t op = rd8((*p)++);
	unsigned bytes;
	switch (op) {
	case 0x00: return 0;             /* ZeroOp */
	case 0x01: return 1;             /* OneOp */
	case 0xff: return ~0ULL;         /* OnesOp */
	case 0x0a: bytes = 1; break;     /* BytePrefix */
	case 0x0b: bytes = 2; break;     /* WordPrefix */
	case 0x0c: bytes = 4; break;     /* DWordPrefix */
	case 0x0e: bytes = 8; break;     /* QWordPrefix */
	default: cr_assert_fail("not an integer: 0x%02x", op);
	}
	cr_assert_leq(*p + bytes, end);
	uint64_t v = rd(*p, bytes);
	*p += bytes;
	return v;
}

/* Finds Name(_S5, Package(){...}) in the DSDT and returns its elements. */
static unsigned parse_s5(uint64_t elems[8])
{
	uint64_t d = rd(find_table("FACP") + 140, 8);
	uint64_t end = d + rd(d + 4, 4), p;
	for (p = d + 36; p + 5 <= end; p++)
		if (rd8(p) == 0x08 && sig_is(p + 1, "_S5_"))
			break;
	cr_assert_leq(p + 5, end, "no Name(_S5_) in the DSDT");
	p += 5;
	cr_assert_eq(rd8(p++), 0x12, "PackageOp");
	uint64_t pkg_start = p;
	uint8_t lead = rd8(p++);
	uint64_t pkg_len = lead & 0x3f;
	unsigned follow = lead >> 6;
	if (follow) {
		pkg_len = lead & 0x0f;
		for (unsigned i = 0; i < follow; i++)
			pkg_len |= (uint64_t)rd8(p++) << (4 + 8 * i);
	}
	uint64_t pkg_end = pkg_start + pkg_len;
	cr_assert_leq(pkg_end, end, "package overruns the DSDT");
	unsigned n = rd8(p++);
	cr_assert_leq(n, 8);
	for (unsigned i = 0; i < n; i++)
		elems[i] = aml_integer(&p, pkg_end);
	cr_assert_eq(p, pkg_end, "PkgLength matches the elements");
	return n;
}

Test(x86_acpi, dsdt_has_a_parseable_s5_package)
{
	uint64_t e[8];
	write_tables(1);
	unsigned n = parse_s5(e);
	cr_assert_eq(n, 4);
	cr_assert_eq(e[0], ACPI_PM_SLP_TYP_S5, "SLP_TYPa");
	cr_assert_eq(e[1], 0);
}

static unsigned poweroffs, resets;
static void count_poweroff(void *opaque)
{
	(void)opaque;
	poweroffs++;
}
static void count_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static struct bus pm_bus;
static struct acpi_pm bus_pm;

static void pm_bus_setup(void)
{
	acpi_pm_init(&bus_pm, count_poweroff, count_reset, NULL);
	bus_init(&pm_bus);
	cr_assert_eq(bus_insert(&pm_bus, ACPI_PM_BASE, ACPI_PM_LEN,
				&acpi_pm_bus_ops, &bus_pm), 0);
	poweroffs = resets = 0;
}

/* The width ACPICA's acpi_hw_get_access_bit_width() picks for a register
 * GAS with bit offset 0 and a power-of-two width: that width, I/O capped
 * at 32 bits. */
static unsigned acpica_access_bytes(unsigned bit_width)
{
	return (bit_width > 32 ? 32 : bit_width) / 8;
}

static uint32_t bus_rd(uint64_t port, unsigned bytes)
{
	uint32_t v = 0;
	cr_assert(bus_read(&pm_bus, port, &v, bytes), "port 0x%llx unclaimed",
		  (unsigned long long)port);
	return v;
}

static void bus_wr(uint64_t port, uint32_t v, unsigned bytes)
{
	cr_assert(bus_write(&pm_bus, port, &v, bytes), "port 0x%llx unclaimed",
		  (unsigned long long)port);
}

/* What Linux's acpi_hw_legacy_sleep(S5) does, from the tables alone. */
Test(x86_acpi, linux_s5_sequence_from_the_tables_powers_off)
{
	uint64_t e[8];

	write_tables(1);
	parse_s5(e);
	uint64_t f = find_table("FACP");
	pm_bus_setup();

	/* ACPICA splits PM1_EVT into status and enable halves. */
	unsigned half_bits = rd8(f + 148 + 1) / 2;
	unsigned evt_bytes = acpica_access_bytes(half_bits);
	uint64_t sts = rd(f + 148 + 4, 8), en = sts + half_bits / 8;
	uint64_t cnt = rd(f + 172 + 4, 8);
	unsigned cnt_bytes = acpica_access_bytes(rd8(f + 172 + 1));
	cr_assert_eq(evt_bytes, 2);
	cr_assert_eq(cnt_bytes, 2);

	/* acpi_hw_get_mode() is skipped with SMI_CMD 0, but SCI_EN says so too. */
	cr_assert(bus_rd(cnt, cnt_bytes) & 1, "SCI_EN");
	/* Fixed events disabled, then all status cleared, WAK_STS too. */
	bus_wr(en, 0, evt_bytes);
	bus_wr(sts, 0xffff, evt_bytes);
	bus_wr(sts, 0x8000, evt_bytes);
	cr_assert_eq(poweroffs, 0);

	uint32_t ctl = bus_rd(cnt, cnt_bytes);
	ctl &= ~(0x1c00u | 0x2000u);
	ctl |= (uint32_t)(e[0] << 10) & 0x1c00;
	bus_wr(cnt, ctl, cnt_bytes); /* write 1: SLP_TYP alone */
	cr_assert_eq(poweroffs, 0);
	bus_wr(cnt, ctl | 0x2000, cnt_bytes); /* write 2: with SLP_EN */
	cr_assert_eq(poweroffs, 1);
	/* The retry ACPICA makes when S5 did not happen: SLP_EN, SLP_TYP 0. */
	bus_wr(cnt, 0x2000, cnt_bytes);
	cr_assert_eq(poweroffs, 1);
	cr_assert_eq(resets, 0);
}

/* acpi_reset(): the reset value, byte-wide, to RESET_REG. */
Test(x86_acpi, reset_register_from_the_tables_resets)
{
	write_tables(1);
	uint64_t f = find_table("FACP");
	pm_bus_setup();
	bus_wr(rd(f + 116 + 4, 8), rd8(f + 128), rd8(f + 117) / 8);
	cr_assert_eq(resets, 1);
	cr_assert_eq(poweroffs, 0);
}

/* ACPICA enables a fixed event (the global lock's GBL_EN) and reads it
 * back; the bit must stick or it reports the hardware as unresponsive. */
Test(x86_acpi, pm1_enable_from_the_tables_reads_back)
{
	write_tables(1);
	uint64_t f = find_table("FACP");
	pm_bus_setup();
	uint64_t en = rd(f + 148 + 4, 8) + rd8(f + 88) / 2;
	bus_wr(en, 0x0020, 2);
	cr_assert_eq(bus_rd(en, 2), 0x0020);
}

/* --- the device alone --- */

static struct acpi_pm pm;

static void pm_setup(void)
{
	poweroffs = resets = 0;
	acpi_pm_init(&pm, count_poweroff, count_reset, NULL);
}

TestSuite(acpi_pm, .init = pm_setup);

static void pm_write(uint64_t off, uint32_t v, unsigned len)
{
	acpi_pm_bus_ops.write(&pm, off, &v, len);
}

static uint32_t pm_read(uint64_t off, unsigned len)
{
	uint32_t v = 0xa5a5a5a5;
	acpi_pm_bus_ops.read(&pm, off, &v, len);
	if (len >= 4)
		return v;
	/* Bytes past len stay untouched. */
	cr_assert_eq(v >> (8 * len), 0xa5a5a5a5u >> (8 * len));
	return v & ((1u << (8 * len)) - 1);
}

#define S5_CNT (ACPI_PM_SLP_EN | (ACPI_PM_SLP_TYP_S5 << ACPI_PM_SLP_TYP_SHIFT))

Test(acpi_pm, powers_off_on_a_16_bit_slp_en_with_s5)
{
	pm_write(ACPI_PM_PM1_CNT, S5_CNT | ACPI_PM_SCI_EN, 2);
	cr_assert_eq(poweroffs, 1);
	cr_assert_eq(resets, 0);
}

Test(acpi_pm, powers_off_on_byte_and_dword_writes_covering_slp_en)
{
	/* SLP_TYP and SLP_EN live in the control register's high byte. */
	pm_write(ACPI_PM_PM1_CNT + 1, S5_CNT >> 8, 1);
	cr_assert_eq(poweroffs, 1);
	/* A dword at the enable register reaches control in its upper half. */
	pm_write(ACPI_PM_PM1_EN, (uint32_t)S5_CNT << 16, 4);
	cr_assert_eq(poweroffs, 2);
	/* The low byte alone cannot carry SLP_EN. */
	pm_write(ACPI_PM_PM1_CNT, 0xff, 1);
	cr_assert_eq(poweroffs, 2);
}

Test(acpi_pm, ignores_s5_without_slp_en)
{
	pm_write(ACPI_PM_PM1_CNT, ACPI_PM_SLP_TYP_S5 << ACPI_PM_SLP_TYP_SHIFT, 2);
	cr_assert_eq(poweroffs, 0);
}

Test(acpi_pm, ignores_other_sleep_types)
{
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_PM_SLP_TYP_S5)
			continue;
		pm_write(ACPI_PM_PM1_CNT,
			 ACPI_PM_SLP_EN | (typ << ACPI_PM_SLP_TYP_SHIFT), 2);
	}
	cr_assert_eq(poweroffs, 0);
	cr_assert_eq(resets, 0);
}

Test(acpi_pm, ignores_s5_written_to_other_registers)
{
	pm_write(ACPI_PM_PM1_STS, S5_CNT, 2);
	pm_write(ACPI_PM_PM1_EN, S5_CNT, 2);
	pm_write(ACPI_PM_PM1_STS, S5_CNT, 4); /* status + enable */
	pm_write(ACPI_PM_RESET, S5_CNT >> 8, 1);
	cr_assert_eq(poweroffs, 0);
	cr_assert_eq(resets, 0);
}

Test(acpi_pm, ignores_bad_widths_and_straddling_writes)
{
	uint64_t wide = S5_CNT;
	acpi_pm_bus_ops.write(&pm, ACPI_PM_PM1_CNT, &wide, 8);
	pm_write(ACPI_PM_PM1_CNT, S5_CNT, 3);
	/* Running past control into the reset register. */
	pm_write(ACPI_PM_PM1_CNT, S5_CNT | (ACPI_PM_RESET_VALUE << 16), 4);
	pm_write(ACPI_PM_PM1_CNT + 1, (S5_CNT >> 8) | (ACPI_PM_RESET_VALUE << 8), 2);
	/* The reset register is byte-wide. */
	pm_write(ACPI_PM_RESET, ACPI_PM_RESET_VALUE, 2);
	pm_write(ACPI_PM_RESET, ACPI_PM_RESET_VALUE, 4);
	cr_assert_eq(poweroffs, 0);
	cr_assert_eq(resets, 0);
}

Test(acpi_pm, resets_only_on_the_reset_value)
{
	for (unsigned v = 0; v < 256; v++)
		if (v != ACPI_PM_RESET_VALUE)
			pm_write(ACPI_PM_RESET, v, 1);
	cr_assert_eq(resets, 0);
	pm_write(ACPI_PM_RESET, ACPI_PM_RESET_VALUE, 1);
	cr_assert_eq(resets, 1);
	cr_assert_eq(poweroffs, 0);
}

Test(acpi_pm, control_reads_sci_en_at_any_width)
{
	pm_write(ACPI_PM_PM1_CNT, 0, 2); /* SCI_EN cannot be cleared */
	cr_assert_eq(pm_read(ACPI_PM_PM1_CNT, 2), ACPI_PM_SCI_EN);
	cr_assert_eq(pm_read(ACPI_PM_PM1_CNT, 1), ACPI_PM_SCI_EN);
	cr_assert_eq(pm_read(ACPI_PM_PM1_CNT + 1, 1), 0);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 4), (uint32_t)ACPI_PM_SCI_EN << 16);
}

Test(acpi_pm, status_reads_zero_and_ones_do_not_set_it)
{
	pm_write(ACPI_PM_PM1_STS, 0xffff, 2);
	cr_assert_eq(pm_read(ACPI_PM_PM1_STS, 2), 0);
	pm_write(ACPI_PM_PM1_STS + 1, 0xff, 1);
	cr_assert_eq(pm_read(ACPI_PM_PM1_STS + 1, 1), 0);
}

Test(acpi_pm, enable_stores_what_was_written_bytewise)
{
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 2), 0, "reset value");
	pm_write(ACPI_PM_PM1_EN, 0x0121, 2);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 2), 0x0121);
	pm_write(ACPI_PM_PM1_EN + 1, 0xf0, 1);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 2), 0xf021);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 1), 0x21);
	/* A dword from status covers enable in its upper half. */
	pm_write(ACPI_PM_PM1_STS, 0x5a5affff, 4);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 2), 0x5a5a);
	cr_assert_eq(pm_read(ACPI_PM_PM1_STS, 4), 0x5a5a0000);
	/* Writes elsewhere leave it alone; init clears it. */
	pm_write(ACPI_PM_PM1_CNT, 0xffff & ~ACPI_PM_SLP_EN, 2);
	pm_write(ACPI_PM_RESET, 0x00, 1);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 2), 0x5a5a);
	acpi_pm_init(&pm, count_poweroff, count_reset, NULL);
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 2), 0);
}

Test(acpi_pm, bad_reads_return_zero)
{
	pm_write(ACPI_PM_PM1_EN, 0xffff, 2);
	cr_assert_eq(pm_read(ACPI_PM_RESET, 1), 0);
	cr_assert_eq(pm_read(ACPI_PM_RESET, 2), 0);
	cr_assert_eq(pm_read(ACPI_PM_PM1_CNT, 4), 0, "runs past the block");
	cr_assert_eq(pm_read(ACPI_PM_PM1_EN, 3), 0, "odd width");
}

Test(acpi_pm, tolerates_missing_callbacks)
{
	acpi_pm_init(&pm, NULL, NULL, NULL);
	pm_write(ACPI_PM_PM1_CNT, S5_CNT, 2);
	pm_write(ACPI_PM_RESET, ACPI_PM_RESET_VALUE, 1);
	cr_assert_eq(poweroffs + resets, 0);
}

Test(acpi_pm, ports_match_the_fadt_constants)
{
	cr_assert_eq(ACPI_PM_BASE + ACPI_PM_PM1_STS, X86_ACPI_PM1A_EVT_PORT);
	cr_assert_eq(ACPI_PM_PM1_EN - ACPI_PM_PM1_STS, X86_ACPI_PM1_EVT_LEN / 2);
	cr_assert_eq(ACPI_PM_BASE + ACPI_PM_PM1_CNT, X86_ACPI_PM1A_CNT_PORT);
	cr_assert_eq(ACPI_PM_BASE + ACPI_PM_RESET, X86_ACPI_RESET_PORT);
	cr_assert_eq(ACPI_PM_PM1_LEN, X86_ACPI_PM1_EVT_LEN + X86_ACPI_PM1_CNT_LEN);
	cr_assert_eq(ACPI_PM_RESET_VALUE, X86_ACPI_RESET_VALUE);
	cr_assert_eq(ACPI_PM_SLP_TYP_S5, X86_ACPI_S5_SLP_TYP);
	/* Clear of the 8250 at 0x3f8-0x3ff and the PCI config ports. */
	cr_assert(ACPI_PM_BASE >= 0x400 && ACPI_PM_BASE + ACPI_PM_LEN <= 0xcf8);
}
