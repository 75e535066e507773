/* The DSDT's virtio-mmio devices (LNRO0005), so that kernels without
 * command-line virtio-mmio devices find them through ACPI. Checked twice:
 * by decoding the AML here, and by ACPICA's own disassembler (iasl -d). */
#include <arch/acpi.h>
#include <arch/layout.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

TestSuite(x86_acpi_dsdt, .init = setup, .fini = teardown);

static uint64_t le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The DSDT through RSDP -> XSDT -> FADT.X_DSDT, as a guest finds it. */
static const uint8_t *dsdt_of(uint64_t rsdp, uint32_t *len)
{
	uint64_t xsdt = le(ram + rsdp + 24, 8);
	uint64_t fadt = le(ram + xsdt + 36, 8);
	cr_assert(memcmp(ram + fadt, "FACP", 4) == 0);
	uint64_t dsdt = le(ram + fadt + 140, 8);
	cr_assert(memcmp(ram + dsdt, "DSDT", 4) == 0);
	*len = (uint32_t)le(ram + dsdt + 4, 4);
	uint8_t sum = 0;
	for (uint32_t i = 0; i < *len; i++)
		sum += ram[dsdt + i];
	cr_assert_eq(sum, 0, "DSDT checksum");
	return ram + dsdt;
}

static const struct x86_acpi_virtio three[] = {
	{0xd0000000, 0x1000, 5},
	{0xd0001000, 0x1000, 6},
	{0xd0002000, 0x1000, 7},
};

/* Decodes a PkgLength at p (ACPI 6.4 section 20.2.4). */
static uint32_t pkg_len(const uint8_t *p, unsigned *bytes)
{
	unsigned follow = p[0] >> 6;
	*bytes = 1 + follow;
	if (!follow)
		return p[0] & 0x3f;
	uint32_t v = p[0] & 0x0f;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

Test(x86_acpi_dsdt, every_device_has_its_hid_window_and_interrupt)
{
	uint64_t rsdp;
	uint32_t len;
	cr_assert_eq(x86_acpi_write(&mem, 2, three, 3, &rsdp), 0);
	const uint8_t *d = dsdt_of(rsdp, &len);
	const uint8_t *end = d + len;

	/* Scope (\_SB) spans exactly to the table's end. */
	const uint8_t *p = memmem(d + 36, len - 36, "\x10", 1);
	while (p && !(p + 6 < end && memcmp(p + 1 + (p[1] >> 6) + 1, "\\_SB_", 5) == 0))
		p = memmem(p + 1, (size_t)(end - p - 1), "\x10", 1);
	cr_assert_not_null(p, "no Scope (\\_SB)");
	unsigned n;
	uint32_t scope = pkg_len(p + 1, &n);
	cr_assert_eq(p + 1 + scope, end, "the scope's PkgLength covers the devices");

	unsigned found = 0;
	for (const uint8_t *q = d; (q = memmem(q, (size_t)(end - q), "LNRO0005", 8)); q += 8) {
		/* _CRS follows: Memory32Fixed then the extended interrupt. */
		const uint8_t *crs = memmem(q, (size_t)(end - q), "_CRS", 4);
		cr_assert_not_null(crs);
		const uint8_t *m = memmem(crs, (size_t)(end - crs), "\x86\x09\x00\x01", 4);
		cr_assert_not_null(m, "Memory32Fixed, read-write");
		cr_assert_eq(le(m + 4, 4), three[found].base);
		cr_assert_eq(le(m + 8, 4), three[found].size);
		cr_assert_eq(m[12], 0x89, "extended interrupt descriptor");
		cr_assert_eq(m[15], 0x03, "consumer, edge, active high, exclusive");
		cr_assert_eq(m[16], 1);
		cr_assert_eq(le(m + 17, 4), three[found].gsi);
		cr_assert_eq(m[21], 0x79, "end tag");
		found++;
	}
	cr_assert_eq(found, 3);
}

Test(x86_acpi_dsdt, no_devices_means_no_system_bus_scope)
{
	uint64_t rsdp;
	uint32_t len;
	cr_assert_eq(x86_acpi_write(&mem, 1, NULL, 0, &rsdp), 0);
	const uint8_t *d = dsdt_of(rsdp, &len);
	cr_assert_null(memmem(d, len, "_SB_", 4));
	cr_assert_not_null(memmem(d, len, "_S5_", 4));
}

Test(x86_acpi_dsdt, too_many_devices_are_refused)
{
	struct x86_acpi_virtio v[X86_ACPI_MAX_VIRTIO + 1] = {0};
	uint64_t rsdp;
	cr_assert_eq(x86_acpi_write(&mem, 1, v, X86_ACPI_MAX_VIRTIO + 1, &rsdp), -EINVAL);
}

/* Writes the DSDT for nr devices to a file and disassembles it with iasl;
 * returns the disassembly (malloc'd). */
static char *iasl_disassemble(unsigned nr_vcpus, const struct x86_acpi_virtio *v,
			      unsigned nr)
{
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		cr_skip_test("iasl (acpica-tools) is not installed");
	uint64_t rsdp;
	uint32_t len;
	cr_assert_eq(x86_acpi_write(&mem, nr_vcpus, v, nr, &rsdp), 0);
	const uint8_t *d = dsdt_of(rsdp, &len);
	char dir[] = "/tmp/mvmm-dsdt-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[64], cmd[256];
	snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(d, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.aml >iasl.log 2>&1", dir);
	cr_assert_eq(system(cmd), 0, "iasl could not disassemble the DSDT");
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	char *text = calloc(1, 1 << 16);
	size_t got = fread(text, 1, (1 << 16) - 1, f);
	fclose(f);
	cr_assert_gt(got, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	return text;
}

Test(x86_acpi_dsdt, acpica_reads_the_devices_back)
{
	char *t = iasl_disassemble(2, three, 3);
	cr_assert_not_null(strstr(t, "Name (_S5, Package (0x04)"));
	cr_assert_not_null(strstr(t, "Scope (\\_SB)"));
	for (unsigned i = 0; i < 3; i++) {
		char want[160];
		snprintf(want, sizeof(want), "Device (VR%02X)", i);
		cr_assert_not_null(strstr(t, want), "%s", want);
		snprintf(want, sizeof(want), "0x%08X,         // Address Base", three[i].base);
		cr_assert_not_null(strstr(t, want), "%s", want);
		snprintf(want, sizeof(want), "0x%08X,\n", three[i].gsi);
		cr_assert_not_null(strstr(t, want), "%s", want);
	}
	cr_assert_not_null(strstr(t, "Name (_HID, \"LNRO0005\")"));
	cr_assert_not_null(strstr(t, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )"));
	free(t);
}

Test(x86_acpi_dsdt, the_largest_table_still_decodes)
{
	struct x86_acpi_virtio v[X86_ACPI_MAX_VIRTIO];
	for (unsigned i = 0; i < X86_ACPI_MAX_VIRTIO; i++)
		v[i] = (struct x86_acpi_virtio){0xd0000000 + i * 0x1000, 0x1000, 5 + i};
	char *t = iasl_disassemble(X86_MAX_VCPUS, v, X86_ACPI_MAX_VIRTIO);
	char last[32];
	snprintf(last, sizeof(last), "Device (VR%02X)", X86_ACPI_MAX_VIRTIO - 1);
	cr_assert_not_null(strstr(t, last));
	free(t);
}
