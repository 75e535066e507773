/* The arm64 guest's device tree (bindings: Documentation/devicetree/bindings
 * arm/cpus.yaml, arm/psci.yaml, interrupt-controller/arm,gic-v3.yaml,
 * timer/arm,arch_timer.yaml, serial/8250.yaml, virtio/mmio.yaml). */
#include <arch/boot.h>
#include <arch/fdt.h>
#include <arch/gic.h>
#include <arch/layout.h>
#include <core/checked.h>
#include <core/err.h>

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

/* Linux's arm64 COMMAND_LINE_SIZE, the NUL included. */
#define ARM64_CMDLINE_MAX 2048

/* GIC interrupt specifier cells (arm,gic-v3.yaml). */
#define GIC_FDT_SPI 0
#define GIC_FDT_PPI 1
#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_LEVEL_HIGH 4

/* Sequential writes stop at the first libfdt error, which is kept. */
struct fdtw {
	void *fdt;
	int err;
};

static void w_begin(struct fdtw *w, const char *name)
{
	if (!w->err)
		w->err = fdt_begin_node(w->fdt, name);
}

static void w_end(struct fdtw *w)
{
	if (!w->err)
		w->err = fdt_end_node(w->fdt);
}

static void w_prop(struct fdtw *w, const char *name, const void *val, int len)
{
	if (!w->err)
		w->err = fdt_property(w->fdt, name, val, len);
}

static void w_str(struct fdtw *w, const char *name, const char *s)
{
	w_prop(w, name, s, (int)strlen(s) + 1);
}

static void w_u32(struct fdtw *w, const char *name, uint32_t v)
{
	if (!w->err)
		w->err = fdt_property_u32(w->fdt, name, v);
}

static void w_u64(struct fdtw *w, const char *name, uint64_t v)
{
	if (!w->err)
		w->err = fdt_property_u64(w->fdt, name, v);
}

/* Cells in big endian, as the blob stores them. */
static void w_cells(struct fdtw *w, const char *name, const uint32_t *c,
		    unsigned n)
{
	fdt32_t be[16];

	if (n > ARRAY_SIZE(be)) {
		w->err = w->err ? w->err : -FDT_ERR_INTERNAL;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(c[i]);
	w_prop(w, name, be, (int)(n * sizeof(be[0])));
}

/* A <base size> pair in 2 + 2 cells, the root's #address/#size-cells. */
static void w_reg(struct fdtw *w, const uint64_t *pairs, unsigned n)
{
	fdt64_t be[4];

	if (2 * n > ARRAY_SIZE(be)) {
		w->err = w->err ? w->err : -FDT_ERR_INTERNAL;
		return;
	}
	for (unsigned i = 0; i < 2 * n; i++)
		be[i] = cpu_to_fdt64(pairs[i]);
	w_prop(w, "reg", be, (int)(2 * n * sizeof(be[0])));
}

static void w_spi(struct fdtw *w, uint32_t spi)
{
	const uint32_t irq[3] = { GIC_FDT_SPI, spi, IRQ_TYPE_EDGE_RISING };
	w_cells(w, "interrupts", irq, 3);
}

uint64_t arm64_mpidr_to_cpu_reg(uint64_t mpidr)
{
	return mpidr & 0xff00ffffffULL;
}

void arm64_fdt_config_default(struct arm64_fdt_config *cfg, unsigned nr_vcpus,
			      uint64_t ram_gpa, uint64_t ram_len)
{
	*cfg = (struct arm64_fdt_config){
		.nr_vcpus = nr_vcpus,
		.ram_gpa = ram_gpa,
		.ram_len = ram_len,
		.gic_dist_base = ARM64_GIC_DIST_BASE,
		.gic_dist_size = ARM64_GIC_DIST_SIZE,
		.gic_redist_base = ARM64_GIC_REDIST_BASE,
		.gic_redist_size = arm64_gic_redist_size(nr_vcpus),
		.serial = { ARM64_SERIAL_BASE, ARM64_SERIAL_SIZE, ARM64_SERIAL_SPI },
		.serial_clock_hz = ARM64_SERIAL_CLOCK_HZ,
	};
}

/* Every MMIO range and RAM, for the overlap check. */
struct span {
	uint64_t base, size;
	const char *what;
};

static int check_spans(const struct span *s, unsigned n, char *err,
		       size_t errlen)
{
	for (unsigned i = 0; i < n; i++) {
		if (s[i].size == 0 || !range_ok(s[i].base, s[i].size))
			return err_set(err, errlen, -EINVAL,
				       "fdt: %s [0x%llx, +0x%llx) is empty or wraps",
				       s[i].what, (unsigned long long)s[i].base,
				       (unsigned long long)s[i].size);
		for (unsigned j = 0; j < i; j++)
			if (s[i].base < s[j].base + s[j].size &&
			    s[j].base < s[i].base + s[i].size)
				return err_set(err, errlen, -EINVAL,
					       "fdt: %s at 0x%llx overlaps %s at 0x%llx",
					       s[i].what, (unsigned long long)s[i].base,
					       s[j].what, (unsigned long long)s[j].base);
	}
	return 0;
}

static int check_config(const struct arm64_fdt_config *c, char *err,
			size_t errlen)
{
	struct span s[4 + ARM64_FDT_MAX_DEVICES];
	unsigned n = 0;

	if (c->nr_vcpus == 0 || c->nr_vcpus > ARM64_MAX_VCPUS || !c->mpidrs)
		return err_set(err, errlen, -EINVAL,
			       "fdt: %u vCPUs (1 to %u, each with its MPIDR)",
			       c->nr_vcpus, ARM64_MAX_VCPUS);
	if (c->gic_redist_size < arm64_gic_redist_size(c->nr_vcpus))
		return err_set(err, errlen, -EINVAL,
			       "fdt: GIC redistributor region of 0x%llx bytes is too small for %u vCPUs",
			       (unsigned long long)c->gic_redist_size, c->nr_vcpus);
	if (c->nr_virtio > ARM64_FDT_MAX_DEVICES || (c->nr_virtio && !c->virtio))
		return err_set(err, errlen, -EINVAL,
			       "fdt: %u virtio devices (at most %u)",
			       c->nr_virtio, ARM64_FDT_MAX_DEVICES);
	if (c->cmdline && strlen(c->cmdline) >= ARM64_CMDLINE_MAX)
		return err_set(err, errlen, -E2BIG,
			       "cmdline: %zu bytes, the arm64 kernel accepts at most %d",
			       strlen(c->cmdline), ARM64_CMDLINE_MAX - 1);
	if (c->initrd_len &&
	    !range_within(c->initrd_gpa, c->initrd_len, c->ram_gpa, c->ram_len))
		return err_set(err, errlen, -EINVAL,
			       "fdt: initrd [0x%llx, +%llu) is not in RAM",
			       (unsigned long long)c->initrd_gpa,
			       (unsigned long long)c->initrd_len);
	s[n++] = (struct span){ c->ram_gpa, c->ram_len, "RAM" };
	s[n++] = (struct span){ c->gic_dist_base, c->gic_dist_size, "GIC distributor" };
	s[n++] = (struct span){ c->gic_redist_base, c->gic_redist_size, "GIC redistributors" };
	if (c->serial.size)
		s[n++] = (struct span){ c->serial.base, c->serial.size, "serial" };
	for (unsigned i = 0; i < c->nr_virtio; i++)
		s[n++] = (struct span){ c->virtio[i].base, c->virtio[i].size, "virtio-mmio" };
	for (unsigned i = 0; i < c->nr_virtio; i++)
		if (c->virtio[i].spi >= ARM64_GIC_NR_SPIS ||
		    (c->serial.size && c->virtio[i].spi == c->serial.spi))
			return err_set(err, errlen, -EINVAL,
				       "fdt: virtio-mmio at 0x%llx: SPI %u is taken or not below %u",
				       (unsigned long long)c->virtio[i].base,
				       c->virtio[i].spi, ARM64_GIC_NR_SPIS);
	for (unsigned i = 0; i < c->nr_virtio; i++)
		for (unsigned j = 0; j < i; j++)
			if (c->virtio[i].spi == c->virtio[j].spi)
				return err_set(err, errlen, -EINVAL,
					       "fdt: two virtio-mmio devices share SPI %u",
					       c->virtio[i].spi);
	if (c->serial.size && c->serial.spi >= ARM64_GIC_NR_SPIS)
		return err_set(err, errlen, -EINVAL, "fdt: serial SPI %u is not below %u",
			       c->serial.spi, ARM64_GIC_NR_SPIS);
	return check_spans(s, n, err, errlen);
}

static void write_cpus(struct fdtw *w, const struct arm64_fdt_config *c)
{
	char name[32];

	w_begin(w, "cpus");
	/* Two cells: Aff3 in the first, Aff2..Aff0 in the second. */
	w_u32(w, "#address-cells", 2);
	w_u32(w, "#size-cells", 0);
	for (unsigned i = 0; i < c->nr_vcpus; i++) {
		uint64_t reg = arm64_mpidr_to_cpu_reg(c->mpidrs[i]);
		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)reg);
		w_begin(w, name);
		w_str(w, "device_type", "cpu");
		w_str(w, "compatible", "arm,arm-v8");
		w_str(w, "enable-method", "psci");
		w_u64(w, "reg", reg);
		w_end(w);
	}
	w_end(w);
}

static void write_gic_timer_psci(struct fdtw *w,
				 const struct arm64_fdt_config *c)
{
	static const char psci_compat[] = "arm,psci-1.0\0arm,psci-0.2";
	/* Secure, non-secure physical, virtual and hypervisor timer PPIs. */
	const uint32_t timer_irqs[12] = {
		GIC_FDT_PPI, ARM64_TIMER_PPI_SEC_PHYS, IRQ_TYPE_LEVEL_HIGH,
		GIC_FDT_PPI, ARM64_TIMER_PPI_PHYS, IRQ_TYPE_LEVEL_HIGH,
		GIC_FDT_PPI, ARM64_TIMER_PPI_VIRT, IRQ_TYPE_LEVEL_HIGH,
		GIC_FDT_PPI, ARM64_TIMER_PPI_HYP, IRQ_TYPE_LEVEL_HIGH,
	};
	const uint64_t gic_reg[4] = { c->gic_dist_base, c->gic_dist_size,
				      c->gic_redist_base, c->gic_redist_size };
	char name[32];

	snprintf(name, sizeof(name), "intc@%llx",
		 (unsigned long long)c->gic_dist_base);
	w_begin(w, name);
	w_str(w, "compatible", "arm,gic-v3");
	w_u32(w, "#interrupt-cells", 3);
	w_prop(w, "interrupt-controller", NULL, 0);
	/* Cells for an ITS child, should one be added; QEMU's virt does the same. */
	w_u32(w, "#address-cells", 2);
	w_u32(w, "#size-cells", 2);
	w_prop(w, "ranges", NULL, 0);
	w_reg(w, gic_reg, 2);
	w_u32(w, "phandle", ARM64_FDT_PHANDLE_GIC);
	w_end(w);

	w_begin(w, "timer");
	w_str(w, "compatible", "arm,armv8-timer");
	w_cells(w, "interrupts", timer_irqs, ARRAY_SIZE(timer_irqs));
	/* KVM's timer keeps counting in every guest power state. */
	w_prop(w, "always-on", NULL, 0);
	w_end(w);

	w_begin(w, "psci");
	w_prop(w, "compatible", psci_compat, sizeof(psci_compat));
	w_str(w, "method", "hvc");
	w_end(w);
}

static void write_devices(struct fdtw *w, const struct arm64_fdt_config *c,
			  const char *serial_path)
{
	char name[48];

	if (c->serial.size) {
		const uint64_t reg[2] = { c->serial.base, c->serial.size };
		w_begin(w, serial_path + 1);
		w_str(w, "compatible", "ns16550a");
		w_reg(w, reg, 1);
		w_u32(w, "clock-frequency", c->serial_clock_hz);
		w_spi(w, c->serial.spi);
		w_end(w);
	}
	for (unsigned i = 0; i < c->nr_virtio; i++) {
		const uint64_t reg[2] = { c->virtio[i].base, c->virtio[i].size };
		snprintf(name, sizeof(name), "virtio_mmio@%llx",
			 (unsigned long long)c->virtio[i].base);
		w_begin(w, name);
		w_str(w, "compatible", "virtio,mmio");
		w_reg(w, reg, 1);
		w_spi(w, c->virtio[i].spi);
		/* Guest memory is ordinary cacheable host memory to the device. */
		w_prop(w, "dma-coherent", NULL, 0);
		w_end(w);
	}
}

static void write_chosen(struct fdtw *w, const struct arm64_fdt_config *c,
			 const char *serial_path)
{
	w_begin(w, "chosen");
	w_str(w, "bootargs", c->cmdline ? c->cmdline : "");
	if (c->serial.size)
		w_str(w, "stdout-path", serial_path);
	if (c->initrd_len) {
		w_u64(w, "linux,initrd-start", c->initrd_gpa);
		w_u64(w, "linux,initrd-end", c->initrd_gpa + c->initrd_len);
	}
	w_end(w);
	if (c->serial.size) {
		/* serial0 makes the UART ttyS0 (of_serial takes the alias id). */
		w_begin(w, "aliases");
		w_str(w, "serial0", serial_path);
		w_end(w);
	}
}

int arm64_fdt_build(const struct arm64_fdt_config *cfg, void *buf,
		    size_t bufsize, char *err, size_t errlen)
{
	struct fdtw w = { .fdt = buf };
	char serial_path[32];
	int ret = check_config(cfg, err, errlen);

	if (ret)
		return ret;
	if (bufsize > ARM64_FDT_MAX_SIZE)
		bufsize = ARM64_FDT_MAX_SIZE;
	snprintf(serial_path, sizeof(serial_path), "/uart@%llx",
		 (unsigned long long)cfg->serial.base);
	const uint64_t mem_reg[2] = { cfg->ram_gpa, cfg->ram_len };
	char mem_name[32];
	snprintf(mem_name, sizeof(mem_name), "memory@%llx",
		 (unsigned long long)cfg->ram_gpa);

	w.err = fdt_create(buf, (int)bufsize);
	if (!w.err)
		w.err = fdt_finish_reservemap(buf);
	w_begin(&w, "");
	w_str(&w, "compatible", "linux,dummy-virt");
	w_str(&w, "model", "mvmm");
	w_u32(&w, "#address-cells", 2);
	w_u32(&w, "#size-cells", 2);
	w_u32(&w, "interrupt-parent", ARM64_FDT_PHANDLE_GIC);

	w_begin(&w, mem_name);
	w_str(&w, "device_type", "memory");
	w_reg(&w, mem_reg, 1);
	w_end(&w);
	write_cpus(&w, cfg);
	write_gic_timer_psci(&w, cfg);
	write_devices(&w, cfg, serial_path);
	write_chosen(&w, cfg, serial_path);
	w_end(&w);
	if (!w.err)
		w.err = fdt_finish(buf);
	if (w.err == -FDT_ERR_NOSPACE)
		return err_set(err, errlen, -ENOSPC,
			       "fdt: the device tree does not fit in %zu bytes",
			       bufsize);
	if (w.err)
		return err_set(err, errlen, -EINVAL, "fdt: libfdt: %s",
			       fdt_strerror(w.err));
	return 0;
}

int arm64_fdt_write(const struct gmem *mem, uint64_t dtb_gpa,
		    const struct arm64_fdt_config *cfg, char *err,
		    size_t errlen)
{
	void *dst;

	if (dtb_gpa % ARM64_FDT_ALIGN)
		return err_set(err, errlen, -EINVAL,
			       "fdt: 0x%llx is not 8-byte aligned",
			       (unsigned long long)dtb_gpa);
	dst = gmem_ptr(mem, dtb_gpa, ARM64_FDT_MAX_SIZE);
	if (!dst)
		return err_set(err, errlen, -EFAULT,
			       "fdt: [0x%llx, +2 MiB) is not guest RAM",
			       (unsigned long long)dtb_gpa);
	return arm64_fdt_build(cfg, dst, ARM64_FDT_MAX_SIZE, err, errlen);
}
