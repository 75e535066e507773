/* ACPI tables for classic (PC-style, not hardware-reduced) ACPI; layouts from
 * the ACPI 6.4 spec, sections 5.2.5 (RSDP), 5.2.6 (header), 5.2.8 (XSDT),
 * 5.2.9 (FADT), 5.2.10 (FACS), 5.2.12 (MADT), 5.2.3.2 (Generic Address
 * Structure). */
#include "aml.h"

#include <arch/acpi.h>
#include <arch/layout.h>

#include <core/checked.h>

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define ACPI_OEM_ID "MVMM  "
#define ACPI_OEM_TABLE_ID "MVMMVM  "
#define ACPI_CREATOR_ID "MVMM"

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the ACPI 1.0 part: the first 20 bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");
_Static_assert(sizeof(struct acpi_header) == 36, "header size");
_Static_assert(offsetof(struct acpi_fadt, pm1a_evt_blk) == 56, "FADT PM1a");
_Static_assert(offsetof(struct acpi_fadt, pm1_evt_len) == 88, "FADT lengths");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, x_pm1a_evt_blk) == 148, "FADT X_PM1a");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 size");

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_facs) == 64, "FACS size");
#define ACPI_FACS_ALIGN 64 /* the spec wants a 64-byte aligned FACS */

/* FADT Flags and IA-PC boot architecture flags (ACPI 6.4 tables 5.10, 5.11). */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* set: no fixed power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* set: no fixed sleep button */
#define FADT_F_FIX_RTC (1u << 6)    /* set: no RTC wake status bit */
#define FADT_F_RESET_REG_SUP (1u << 10)
/* Latencies above these limits say C2/C3 are not supported (5.2.9). */
#define FADT_P_LVL2_LAT_NONE 101
#define FADT_P_LVL3_LAT_NONE 1001
#define FADT_BOOT_8042 (1u << 1) /* the i8042 reset line at 0x60/0x64 */
#define FADT_BOOT_VGA_NOT_PRESENT (1u << 2)
#define FADT_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, ioapic_id, reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define MADT_PCAT_COMPAT 1u /* the (in-kernel) 8259 pair exists */
#define MADT_LAPIC_ENABLED 1u
#define MADT_TYPE_LAPIC 0
#define MADT_TYPE_IOAPIC 1
#define MADT_TYPE_LAPIC_NMI 4
#define MADT_ALL_PROCESSORS 0xff

/* The DSDT: Name (_S5, Package () { 5, 0, 0, 0 }) at the root, then one
 * Device per virtio-mmio transport under \_SB, so that a kernel without
 * command-line virtio-mmio devices binds them through ACPI (Linux's
 * virtio_mmio driver matches _HID "LNRO0005"). A device takes at most 64
 * bytes of AML; the scope and _S5 fit in 64 more. */
#define ACPI_DSDT_MAX_AML (64 + X86_ACPI_MAX_VIRTIO * 64)

#define ACPI_MADT_MAX_BYTES                                                  \
	(sizeof(struct acpi_madt) +                                          \
	 X86_MAX_VCPUS * sizeof(struct madt_lapic) +                          \
	 sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi))
#define ACPI_IMAGE_MAX 4096
/* Each table's start is aligned up, wasting at most its alignment. */
_Static_assert(4 * 16 + ACPI_FACS_ALIGN + sizeof(struct acpi_rsdp) +
		       sizeof(struct acpi_header) + 2 * sizeof(uint64_t) +
		       sizeof(struct acpi_facs) + sizeof(struct acpi_fadt) +
		       sizeof(struct acpi_header) + ACPI_DSDT_MAX_AML +
		       ACPI_MADT_MAX_BYTES <=
	       ACPI_IMAGE_MAX, "ACPI image buffer too small");
_Static_assert(X86_ACPI_RSDP_GPA + ACPI_IMAGE_MAX <= X86_ACPI_AREA_END,
	       "ACPI tables must stay in the BIOS area");

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static void acpi_header_fill(struct acpi_header *h, const char sig[4],
			     uint32_t length, uint8_t revision)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Sets the checksum of the table at img[off] whose header is already filled. */
static void acpi_table_seal(uint8_t *img, size_t off)
{
	struct acpi_header h;
	memcpy(&h, img + off, sizeof(h));
	img[off + offsetof(struct acpi_header, checksum)] = 0;
	img[off + offsetof(struct acpi_header, checksum)] =
		acpi_checksum(img + off, h.length);
}

static struct acpi_gas acpi_io_gas(uint16_t port, uint8_t bytes,
				   uint8_t access_size)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = (uint8_t)(8 * bytes),
		.access_size = access_size,
		.address = port,
	};
}

/* No checksum: the OS writes to the FACS (waking vector, global lock). */
static size_t acpi_put_facs(uint8_t *img, size_t off)
{
	struct acpi_facs f;
	memset(&f, 0, sizeof(f));
	memcpy(f.signature, "FACS", 4);
	f.length = sizeof(f);
	f.version = 2;
	memcpy(img + off, &f, sizeof(f));
	return sizeof(f);
}

static size_t acpi_put_fadt(uint8_t *img, size_t off, uint64_t facs_gpa,
			    uint64_t dsdt_gpa)
{
	struct acpi_fadt f;
	memset(&f, 0, sizeof(f));
	acpi_header_fill(&f.h, "FACP", sizeof(f), 6);
	/* X_ pointers only, FIRMWARE_CTRL and DSDT 0: the spec wants the 32-bit
	 * DSDT 0 then, and with both FACS pointers Linux installs it twice. */
	f.x_firmware_ctrl = facs_gpa;
	f.x_dsdt = dsdt_gpa;
	f.sci_int = X86_ACPI_SCI_IRQ;
	/* SMI_CMD 0: the machine is always in ACPI mode (SCI_EN reads 1). */
	f.smi_cmd = 0;
	/* PM1a blocks only: no PM1b/PM2, no PM timer (kvm-clock and the TSC
	 * serve), no GPE blocks. Legacy fields and X_ GAS agree, since ACPICA
	 * warns on a mismatch. */
	f.pm1a_evt_blk = X86_ACPI_PM1A_EVT_PORT;
	f.pm1a_cnt_blk = X86_ACPI_PM1A_CNT_PORT;
	f.pm1_evt_len = X86_ACPI_PM1_EVT_LEN;
	f.pm1_cnt_len = X86_ACPI_PM1_CNT_LEN;
	f.x_pm1a_evt_blk = acpi_io_gas(X86_ACPI_PM1A_EVT_PORT,
				       X86_ACPI_PM1_EVT_LEN, ACPI_GAS_ACCESS_WORD);
	f.x_pm1a_cnt_blk = acpi_io_gas(X86_ACPI_PM1A_CNT_PORT,
				       X86_ACPI_PM1_CNT_LEN, ACPI_GAS_ACCESS_WORD);
	f.p_lvl2_lat = FADT_P_LVL2_LAT_NONE;
	f.p_lvl3_lat = FADT_P_LVL3_LAT_NONE;
	f.flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
		  FADT_F_SLP_BUTTON | FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP;
	f.iapc_boot_arch = FADT_BOOT_8042 | FADT_BOOT_VGA_NOT_PRESENT |
			   FADT_BOOT_CMOS_RTC_NOT_PRESENT;
	f.reset_reg = acpi_io_gas(X86_ACPI_RESET_PORT, 1, ACPI_GAS_ACCESS_BYTE);
	f.reset_value = X86_ACPI_RESET_VALUE;
	memcpy(img + off, &f, sizeof(f));
	acpi_table_seal(img, off);
	return sizeof(f);
}

static void acpi_dsdt_body(struct aml *a, const struct x86_acpi_virtio *virtio,
			   unsigned nr_virtio)
{
	static const uint64_t s5[] = {X86_ACPI_S5_SLP_TYP, 0, 0, 0};
	aml_name_package(a, "_S5_", s5, ARRAY_SIZE(s5));
	if (!nr_virtio)
		return;
	size_t sb = aml_scope_open(a, "\\_SB_");
	for (unsigned i = 0; i < nr_virtio; i++) {
		char name[12];
		snprintf(name, sizeof(name), "VR%02X", i);
		size_t dev = aml_device_open(a, name);
		aml_name_string(a, "_HID", "LNRO0005");
		aml_name_int(a, "_UID", i);
		aml_name_crs_mmio_irq(a, virtio[i].base, virtio[i].size,
				      virtio[i].gsi);
		aml_close(a, dev);
	}
	aml_close(a, sb);
}

static size_t acpi_put_dsdt(uint8_t *img, size_t off,
			    const struct x86_acpi_virtio *virtio,
			    unsigned nr_virtio)
{
	struct acpi_header h;
	struct aml a;
	aml_init(&a, img + off + sizeof(h), ACPI_DSDT_MAX_AML);
	acpi_dsdt_body(&a, virtio, nr_virtio);
	/* The bound above holds for every valid device count. */
	assert(!a.overflow);
	uint32_t len = (uint32_t)(sizeof(h) + a.len);
	/* Revision 2: AML integers are 64-bit. */
	acpi_header_fill(&h, "DSDT", len, 2);
	memcpy(img + off, &h, sizeof(h));
	acpi_table_seal(img, off);
	return len;
}

static size_t acpi_put_madt(uint8_t *img, size_t off, unsigned nr_vcpus)
{
	size_t p = off + sizeof(struct acpi_madt);
	struct acpi_madt m;

	for (unsigned i = 0; i < nr_vcpus; i++) {
		struct madt_lapic l = {
			.type = MADT_TYPE_LAPIC,
			.length = sizeof(l),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = MADT_LAPIC_ENABLED,
		};
		memcpy(img + p, &l, sizeof(l));
		p += sizeof(l);
	}
	struct madt_ioapic io = {
		.type = MADT_TYPE_IOAPIC,
		.length = sizeof(io),
		.ioapic_id = (uint8_t)nr_vcpus,
		.address = (uint32_t)X86_IOAPIC_BASE,
		.gsi_base = 0,
	};
	memcpy(img + p, &io, sizeof(io));
	p += sizeof(io);
	/* No interrupt source override: ISA IRQ n is GSI n, as in KVM's default
	 * routing (the PIT raises GSI 0 = pin 0) and in the MP table. A PC-style
	 * IRQ0->GSI2 override would be false unless the VMM reroutes GSI 0. */
	/* NMI on every CPU's LINT1, matching the LVT the VMM programs. */
	struct madt_lapic_nmi nmi = {
		.type = MADT_TYPE_LAPIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = MADT_ALL_PROCESSORS,
		.flags = 0,
		.lint = 1,
	};
	memcpy(img + p, &nmi, sizeof(nmi));
	p += sizeof(nmi);

	memset(&m, 0, sizeof(m));
	acpi_header_fill(&m.h, "APIC", (uint32_t)(p - off), 5);
	m.lapic_address = (uint32_t)X86_LAPIC_BASE;
	m.flags = MADT_PCAT_COMPAT;
	memcpy(img + off, &m, sizeof(m));
	acpi_table_seal(img, off);
	return p - off;
}

static size_t acpi_put_xsdt(uint8_t *img, size_t off, const uint64_t *tables,
			    unsigned n)
{
	struct acpi_header h;
	uint32_t len = sizeof(h) + n * sizeof(uint64_t);
	acpi_header_fill(&h, "XSDT", len, 1);
	memcpy(img + off, &h, sizeof(h));
	/* Entries are unaligned 64-bit addresses: copy byte-wise. */
	memcpy(img + off + sizeof(h), tables, n * sizeof(uint64_t));
	acpi_table_seal(img, off);
	return len;
}

static void acpi_put_rsdp(uint8_t *img, size_t off, uint64_t xsdt_gpa)
{
	struct acpi_rsdp r;
	memset(&r, 0, sizeof(r));
	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.revision = 2; /* ACPI 2.0+: XSDT, no RSDT */
	r.length = sizeof(r);
	r.xsdt_address = xsdt_gpa;
	memcpy(img + off, &r, sizeof(r));
	img[off + offsetof(struct acpi_rsdp, checksum)] = acpi_checksum(img + off, 20);
	img[off + offsetof(struct acpi_rsdp, extended_checksum)] =
		acpi_checksum(img + off, sizeof(r));
}

int x86_acpi_write(const struct gmem *mem, unsigned nr_vcpus,
		   const struct x86_acpi_virtio *virtio, unsigned nr_virtio,
		   uint64_t *rsdp_gpa_out)
{
	static const uint64_t base = X86_ACPI_RSDP_GPA;
	uint8_t img[ACPI_IMAGE_MAX];
	uint64_t tables[2];
	size_t xsdt_off, facs_off, fadt_off, dsdt_off, madt_off, end;
	int ret;

	if (nr_vcpus == 0 || nr_vcpus > X86_MAX_VCPUS ||
	    nr_virtio > X86_ACPI_MAX_VIRTIO)
		return -EINVAL;
	memset(img, 0, sizeof(img));

	/* Fixed order, each table 16-byte aligned (the FACS 64); the XSDT has
	 * two entries, the FACS is reached through the FADT only. */
	xsdt_off = ALIGN_UP(sizeof(struct acpi_rsdp), 16);
	facs_off = ALIGN_UP(xsdt_off + sizeof(struct acpi_header) +
				    sizeof(tables), ACPI_FACS_ALIGN);
	fadt_off = ALIGN_UP(facs_off + acpi_put_facs(img, facs_off), 16);
	dsdt_off = ALIGN_UP(fadt_off + sizeof(struct acpi_fadt), 16);
	madt_off = ALIGN_UP(dsdt_off + acpi_put_dsdt(img, dsdt_off, virtio,
						       nr_virtio), 16);
	acpi_put_fadt(img, fadt_off, base + facs_off, base + dsdt_off);
	end = madt_off + acpi_put_madt(img, madt_off, nr_vcpus);

	tables[0] = base + fadt_off;
	tables[1] = base + madt_off;
	acpi_put_xsdt(img, xsdt_off, tables, 2);
	acpi_put_rsdp(img, 0, base + xsdt_off);

	ret = gmem_write(mem, base, img, end);
	if (ret)
		return ret;
	if (rsdp_gpa_out)
		*rsdp_gpa_out = base;
	return 0;
}
