/* The arm64 device tree: each blob is parsed back with libfdt and every node
 * and property is checked, values included, and nothing else may be there. */
#include <arch/boot.h>
#include <arch/fdt.h>
#include <arch/gic.h>
#include <arch/layout.h>
#include <arch/regs.h>
#include <core/gmem.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1ULL << 20)

static uint8_t blob[ARM64_FDT_MAX_SIZE];
static char err[256];
static uint64_t mpidrs[ARM64_MAX_VCPUS];
static struct arm64_fdt_device virtio[ARM64_FDT_MAX_DEVICES];
static struct arm64_fdt_config cfg;

/* 2 vCPUs, 512 MiB, two virtio-mmio slots, a command line and an initrd. */
static void init(void)
{
	memset(blob, 0xee, sizeof(blob));
	for (unsigned i = 0; i < ARM64_MAX_VCPUS; i++)
		mpidrs[i] = arm64_kvm_default_mpidr(i);
	for (unsigned i = 0; i < ARM64_FDT_MAX_DEVICES; i++) {
		cr_assert_eq(arm64_mmio_slot(i, &virtio[i].base, &virtio[i].spi), 0);
		virtio[i].size = ARM64_MMIO_SLOT_SIZE;
	}
	arm64_fdt_config_default(&cfg, 2, ARM64_RAM_BASE, 512 * MIB);
	cfg.mpidrs = mpidrs;
	cfg.nr_virtio = 2;
	cfg.virtio = virtio;
	cfg.cmdline = "console=ttyS0 mvmm.scenario=balloon";
	cfg.initrd_gpa = ARM64_RAM_BASE + 16 * MIB;
	cfg.initrd_len = 1234567;
}

TestSuite(aarch64_fdt, .init = init);

static void build(void)
{
	cr_assert_eq(arm64_fdt_build(&cfg, blob, sizeof(blob), err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(fdt_check_full(blob, fdt_totalsize(blob)), 0);
	cr_assert_leq(fdt_totalsize(blob), ARM64_FDT_MAX_SIZE);
}

static int node(const char *path)
{
	int off = fdt_path_offset(blob, path);
	cr_assert_geq(off, 0, "node %s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(blob, node(path), name, len);
	cr_assert(p, "%s has no %s", path, name);
	return p;
}

static void check_bytes(const char *path, const char *name, const void *want,
			int want_len)
{
	int len;
	const void *p = prop(path, name, &len);
	cr_assert_eq(len, want_len, "%s:%s is %d bytes, want %d", path, name, len,
		     want_len);
	cr_assert_eq(memcmp(p, want, (size_t)len), 0, "%s:%s differs", path, name);
}

static void check_str(const char *path, const char *name, const char *want)
{
	check_bytes(path, name, want, (int)strlen(want) + 1);
}

static void check_cells(const char *path, const char *name, const uint32_t *c,
			unsigned n)
{
	fdt32_t be[16];
	for (unsigned i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(c[i]);
	check_bytes(path, name, be, (int)(n * 4));
}

static void check_u32(const char *path, const char *name, uint32_t v)
{
	check_cells(path, name, &v, 1);
}

static void check_u64s(const char *path, const char *name, const uint64_t *v,
		       unsigned n)
{
	fdt64_t be[8];
	for (unsigned i = 0; i < n; i++)
		be[i] = cpu_to_fdt64(v[i]);
	check_bytes(path, name, be, (int)(n * 8));
}

static void check_empty(const char *path, const char *name)
{
	check_bytes(path, name, "", 0);
}

/* The node has exactly these properties (names, any order). */
static void check_prop_names(const char *path, const char *const *names)
{
	unsigned want = 0, have = 0;
	int off = node(path), p;

	while (names[want])
		want++;
	fdt_for_each_property_offset(p, blob, off) {
		const char *name;
		fdt_getprop_by_offset(blob, p, &name, NULL);
		unsigned i = 0;
		while (names[i] && strcmp(names[i], name))
			i++;
		cr_assert(names[i], "%s has an unexpected property %s", path, name);
		have++;
	}
	cr_assert_eq(have, want, "%s has %u properties, want %u", path, have, want);
}

/* The tree has exactly these nodes, in this order (depth first). */
static void check_nodes(const char *const *paths)
{
	char path[128];
	unsigned i = 0;
	int off = 0, depth = 0;

	/* fdt_next_node() leaves depth below 0 past the root's end. */
	while (off >= 0 && depth >= 0) {
		cr_assert_eq(fdt_get_path(blob, off, path, sizeof(path)), 0);
		cr_assert(paths[i], "unexpected extra node %s", path);
		cr_assert_str_eq(path, paths[i]);
		i++;
		off = fdt_next_node(blob, off, &depth);
	}
	cr_assert_null(paths[i], "node %s is missing", paths[i]);
}

Test(aarch64_fdt, every_node_of_the_machine_and_nothing_else)
{
	static const char *const nodes[] = {
		"/", "/memory@80000000", "/cpus", "/cpus/cpu@0", "/cpus/cpu@1",
		"/intc@8000000", "/timer", "/psci", "/uart@9100000",
		"/virtio_mmio@a000000", "/virtio_mmio@a001000", "/chosen",
		"/aliases", NULL,
	};
	build();
	check_nodes(nodes);
	cr_assert_eq(fdt_num_mem_rsv(blob), 0);
}

Test(aarch64_fdt, root)
{
	build();
	check_prop_names("/", (const char *const[]){ "compatible", "model",
		"#address-cells", "#size-cells", "interrupt-parent", NULL });
	check_str("/", "compatible", "linux,dummy-virt");
	check_str("/", "model", "mvmm");
	check_u32("/", "#address-cells", 2);
	check_u32("/", "#size-cells", 2);
	check_u32("/", "interrupt-parent", ARM64_FDT_PHANDLE_GIC);
}

Test(aarch64_fdt, memory)
{
	const uint64_t reg[2] = { ARM64_RAM_BASE, 512 * MIB };
	build();
	check_prop_names("/memory@80000000",
			 (const char *const[]){ "device_type", "reg", NULL });
	check_str("/memory@80000000", "device_type", "memory");
	check_u64s("/memory@80000000", "reg", reg, 2);
}

Test(aarch64_fdt, cpus_start_through_psci_with_their_mpidr)
{
	build();
	check_prop_names("/cpus", (const char *const[]){ "#address-cells",
		"#size-cells", NULL });
	check_u32("/cpus", "#address-cells", 2);
	check_u32("/cpus", "#size-cells", 0);
	for (unsigned i = 0; i < 2; i++) {
		char path[32];
		uint64_t reg = i;
		snprintf(path, sizeof(path), "/cpus/cpu@%u", i);
		check_prop_names(path, (const char *const[]){ "device_type",
			"compatible", "enable-method", "reg", NULL });
		check_str(path, "device_type", "cpu");
		check_str(path, "compatible", "arm,arm-v8");
		check_str(path, "enable-method", "psci");
		check_u64s(path, "reg", &reg, 1);
	}
}

Test(aarch64_fdt, cpu_reg_is_the_mpidr_affinity)
{
	/* vCPU 16: Aff1 = 1; an MPIDR with Aff3 and the U/MT bits set. */
	mpidrs[0] = arm64_kvm_default_mpidr(16);
	mpidrs[1] = 0x0000002a40010203ULL;
	build();
	uint64_t r0 = 0x100, r1 = 0x2a00010203ULL;
	check_u64s("/cpus/cpu@100", "reg", &r0, 1);
	check_u64s("/cpus/cpu@2a00010203", "reg", &r1, 1);
	cr_assert_eq(arm64_mpidr_to_cpu_reg(0xffffffffffffffffULL), 0xff00ffffffULL);
}

Test(aarch64_fdt, gicv3_distributor_and_redistributors)
{
	const uint64_t reg[4] = { ARM64_GIC_DIST_BASE, 0x10000,
				  ARM64_GIC_REDIST_BASE, 2 * 0x20000 };
	const char *path = "/intc@8000000";
	build();
	check_prop_names(path, (const char *const[]){ "compatible",
		"#interrupt-cells", "interrupt-controller", "#address-cells",
		"#size-cells", "ranges", "reg", "phandle", NULL });
	check_str(path, "compatible", "arm,gic-v3");
	check_u32(path, "#interrupt-cells", 3);
	check_empty(path, "interrupt-controller");
	check_u32(path, "#address-cells", 2);
	check_u32(path, "#size-cells", 2);
	check_empty(path, "ranges");
	check_u64s(path, "reg", reg, 4);
	check_u32(path, "phandle", ARM64_FDT_PHANDLE_GIC);
	cr_assert_eq(fdt_node_offset_by_phandle(blob, ARM64_FDT_PHANDLE_GIC),
		     node(path));
}

Test(aarch64_fdt, redistributor_region_grows_with_the_vcpus)
{
	arm64_fdt_config_default(&cfg, 5, ARM64_RAM_BASE, 512 * MIB);
	cfg.mpidrs = mpidrs;
	build();
	const uint64_t reg[4] = { ARM64_GIC_DIST_BASE, 0x10000,
				  ARM64_GIC_REDIST_BASE, 5 * 0x20000 };
	check_u64s("/intc@8000000", "reg", reg, 4);
	cr_assert_geq(fdt_path_offset(blob, "/cpus/cpu@4"), 0);
	cr_assert_lt(fdt_path_offset(blob, "/cpus/cpu@5"), 0);
}

Test(aarch64_fdt, architected_timer_has_four_level_ppis)
{
	const uint32_t irqs[12] = { 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4 };
	build();
	check_prop_names("/timer", (const char *const[]){ "compatible",
		"interrupts", "always-on", NULL });
	check_str("/timer", "compatible", "arm,armv8-timer");
	check_cells("/timer", "interrupts", irqs, 12);
	check_empty("/timer", "always-on");
}

Test(aarch64_fdt, psci_through_hvc)
{
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";
	build();
	check_prop_names("/psci", (const char *const[]){ "compatible", "method", NULL });
	check_bytes("/psci", "compatible", compat, sizeof(compat));
	check_str("/psci", "method", "hvc");
	cr_assert_eq(fdt_node_check_compatible(blob, node("/psci"), "arm,psci-0.2"), 0);
}

Test(aarch64_fdt, uart_is_an_ns16550a_on_an_edge_spi)
{
	const uint64_t reg[2] = { ARM64_SERIAL_BASE, 0x1000 };
	const uint32_t irq[3] = { 0, ARM64_SERIAL_SPI, 1 };
	const char *path = "/uart@9100000";
	build();
	check_prop_names(path, (const char *const[]){ "compatible", "reg",
		"clock-frequency", "interrupts", NULL });
	check_str(path, "compatible", "ns16550a");
	check_u64s(path, "reg", reg, 2);
	check_u32(path, "clock-frequency", 1843200);
	check_cells(path, "interrupts", irq, 3);
}

Test(aarch64_fdt, virtio_mmio_devices)
{
	build();
	for (unsigned i = 0; i < 2; i++) {
		char path[48];
		const uint64_t reg[2] = { 0x0a000000 + i * 0x1000ULL, 0x1000 };
		const uint32_t irq[3] = { 0, 16 + i, 1 };
		snprintf(path, sizeof(path), "/virtio_mmio@%llx",
			 (unsigned long long)reg[0]);
		check_prop_names(path, (const char *const[]){ "compatible", "reg",
			"interrupts", "dma-coherent", NULL });
		check_str(path, "compatible", "virtio,mmio");
		check_u64s(path, "reg", reg, 2);
		check_cells(path, "interrupts", irq, 3);
		check_empty(path, "dma-coherent");
	}
}

Test(aarch64_fdt, chosen_and_aliases)
{
	const uint64_t start = ARM64_RAM_BASE + 16 * MIB, end = start + 1234567;
	build();
	check_prop_names("/chosen", (const char *const[]){ "bootargs",
		"stdout-path", "linux,initrd-start", "linux,initrd-end", NULL });
	check_str("/chosen", "bootargs", "console=ttyS0 mvmm.scenario=balloon");
	check_str("/chosen", "stdout-path", "/uart@9100000");
	check_u64s("/chosen", "linux,initrd-start", &start, 1);
	check_u64s("/chosen", "linux,initrd-end", &end, 1);
	check_prop_names("/aliases", (const char *const[]){ "serial0", NULL });
	check_str("/aliases", "serial0", "/uart@9100000");
	/* The alias resolves to the UART node. */
	cr_assert_str_eq(fdt_get_alias(blob, "serial0"), "/uart@9100000");
}

Test(aarch64_fdt, no_initrd_no_cmdline_no_serial)
{
	static const char *const nodes[] = {
		"/", "/memory@80000000", "/cpus", "/cpus/cpu@0", "/intc@8000000",
		"/timer", "/psci", "/chosen", NULL,
	};
	arm64_fdt_config_default(&cfg, 1, ARM64_RAM_BASE, 64 * MIB);
	cfg.mpidrs = mpidrs;
	cfg.serial.size = 0;
	build();
	check_nodes(nodes);
	check_prop_names("/chosen", (const char *const[]){ "bootargs", NULL });
	check_str("/chosen", "bootargs", "");
}

Test(aarch64_fdt, largest_machine_fits_well_below_2mib)
{
	arm64_fdt_config_default(&cfg, ARM64_MAX_VCPUS, ARM64_RAM_BASE, 1ULL << 38);
	cfg.mpidrs = mpidrs;
	cfg.nr_virtio = ARM64_FDT_MAX_DEVICES;
	cfg.virtio = virtio;
	char cmdline[2048];
	memset(cmdline, 'x', sizeof(cmdline) - 1);
	cmdline[sizeof(cmdline) - 1] = 0;
	cfg.cmdline = cmdline;
	build();
	cr_assert_lt(fdt_totalsize(blob), 64 * 1024, "%u bytes", fdt_totalsize(blob));
	cr_assert_geq(fdt_path_offset(blob, "/cpus/cpu@70f"), 0, "vCPU 127: Aff1 7, Aff0 15");
	cr_assert_geq(fdt_path_offset(blob, "/virtio_mmio@a01f000"), 0);
}

static void expect_invalid(int code, const char *msg)
{
	cr_assert_eq(arm64_fdt_build(&cfg, blob, sizeof(blob), err, sizeof(err)),
		     code, "%s", err);
	cr_assert(strstr(err, msg), "'%s' lacks '%s'", err, msg);
}

Test(aarch64_fdt, rejects_bad_vcpu_counts)
{
	cfg.nr_vcpus = 0;
	expect_invalid(-EINVAL, "0 vCPUs");
	cfg.nr_vcpus = ARM64_MAX_VCPUS + 1;
	expect_invalid(-EINVAL, "vCPUs");
	cfg.nr_vcpus = 2;
	cfg.mpidrs = NULL;
	expect_invalid(-EINVAL, "MPIDR");
	cfg.mpidrs = mpidrs;
	cfg.nr_vcpus = 3; /* the default's region holds 2 */
	expect_invalid(-EINVAL, "too small for 3 vCPUs");
}

Test(aarch64_fdt, rejects_overlapping_or_empty_ranges)
{
	virtio[1].base = ARM64_GIC_DIST_BASE + 0x8000;
	expect_invalid(-EINVAL, "virtio-mmio at 0x8008000 overlaps GIC distributor");
	virtio[1].base = virtio[0].base + 0x800;
	expect_invalid(-EINVAL, "overlaps virtio-mmio at 0xa000000");
	virtio[1].base = ARM64_RAM_BASE + 0x1000;
	expect_invalid(-EINVAL, "overlaps RAM");
	virtio[1].base = 0x0a001000;
	virtio[1].size = 0;
	expect_invalid(-EINVAL, "is empty or wraps");
	virtio[1].size = 0x1000;
	cfg.serial.base = ARM64_GIC_REDIST_BASE + 2 * 0x20000 - 1;
	expect_invalid(-EINVAL, "serial");
}

Test(aarch64_fdt, rejects_bad_interrupts)
{
	virtio[1].spi = ARM64_GIC_NR_SPIS;
	expect_invalid(-EINVAL, "SPI 96");
	virtio[1].spi = virtio[0].spi;
	expect_invalid(-EINVAL, "share SPI 16");
	virtio[1].spi = ARM64_SERIAL_SPI;
	expect_invalid(-EINVAL, "SPI 1 is taken");
	virtio[1].spi = 17;
	cfg.serial.spi = ARM64_GIC_NR_SPIS + 5;
	expect_invalid(-EINVAL, "serial SPI 101");
}

Test(aarch64_fdt, rejects_too_many_devices_long_cmdline_stray_initrd)
{
	cfg.nr_virtio = ARM64_FDT_MAX_DEVICES + 1;
	expect_invalid(-EINVAL, "33 virtio devices");
	cfg.nr_virtio = 1;
	cfg.virtio = NULL;
	expect_invalid(-EINVAL, "virtio devices");
	cfg.virtio = virtio;
	char cmdline[2049];
	memset(cmdline, 'x', sizeof(cmdline) - 1);
	cmdline[sizeof(cmdline) - 1] = 0;
	cfg.cmdline = cmdline;
	expect_invalid(-E2BIG, "2048 bytes");
	cfg.cmdline = NULL;
	cfg.initrd_gpa = ARM64_RAM_BASE + 512 * MIB - 100;
	cfg.initrd_len = 101;
	expect_invalid(-EINVAL, "initrd");
	cfg.initrd_gpa = UINT64_MAX - 10;
	expect_invalid(-EINVAL, "initrd");
}

Test(aarch64_fdt, small_buffer_is_enospc)
{
	cr_assert_eq(arm64_fdt_build(&cfg, blob, 256, err, sizeof(err)), -ENOSPC);
	cr_assert(strstr(err, "does not fit in 256 bytes"), "%s", err);
}

Test(aarch64_fdt, write_into_guest_ram)
{
	const size_t len = 16 * MIB;
	uint8_t *ram = calloc(1, len);
	struct gmem mem;
	cr_assert(ram);
	cr_assert_eq(gmem_init_external(&mem, ARM64_RAM_BASE, ram, len), 0);
	cr_assert_eq(arm64_fdt_write(&mem, ARM64_RAM_BASE + 2 * MIB + 4, &cfg, err,
				     sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "8-byte"), "%s", err);
	cr_assert_eq(arm64_fdt_write(&mem, ARM64_RAM_BASE + len - MIB, &cfg, err,
				     sizeof(err)), -EFAULT);
	cr_assert_eq(arm64_fdt_write(&mem, ARM64_RAM_BASE + 2 * MIB, &cfg, err,
				     sizeof(err)), 0, "%s", err);
	const void *dtb = ram + 2 * MIB;
	cr_assert_eq(fdt_check_full(dtb, fdt_totalsize(dtb)), 0);
	cr_assert_geq(fdt_path_offset(dtb, "/virtio_mmio@a001000"), 0);
	gmem_destroy(&mem);
	free(ram);
}
