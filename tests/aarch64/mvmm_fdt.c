/* mvmm-fdt: writes the device tree arch/aarch64 builds for a machine, to
 * read with `dtc -I dtb -O dts` or to boot by hand: the blob mvmm puts in
 * the guest for the same vCPUs, RAM and devices (MPIDRs as KVM assigns
 * them by default).
 * Usage: mvmm-fdt [-c vcpus] [-m mem_mib] [-v virtio_devices]
 *                 [-a cmdline] [-i initrd_bytes] OUT.dtb */
#include <arch/boot.h>
#include <arch/fdt.h>
#include <arch/layout.h>
#include <arch/regs.h>
#include <core/io.h>

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: mvmm-fdt [-c vcpus] [-m mem_mib] [-v virtio_devices] [-a cmdline] [-i initrd_bytes] OUT.dtb\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned cpus = 2, nr_virtio = 1;
	unsigned long long mem_mib = 512, initrd_len = 0;
	const char *cmdline = "console=ttyS0 earlycon";
	uint64_t mpidrs[ARM64_MAX_VCPUS];
	struct arm64_fdt_device virtio[ARM64_MMIO_SLOTS];
	struct arm64_fdt_config cfg;
	static uint8_t blob[ARM64_FDT_MAX_SIZE];
	char err[256];
	int opt;

	while ((opt = getopt(argc, argv, "c:m:v:a:i:")) != -1) {
		switch (opt) {
		case 'c': cpus = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': mem_mib = strtoull(optarg, NULL, 0); break;
		case 'v': nr_virtio = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'a': cmdline = optarg; break;
		case 'i': initrd_len = strtoull(optarg, NULL, 0); break;
		default: return usage();
		}
	}
	if (optind != argc - 1 || cpus == 0 || cpus > ARM64_MAX_VCPUS ||
	    nr_virtio > ARM64_MMIO_SLOTS)
		return usage();
	for (unsigned i = 0; i < cpus; i++)
		mpidrs[i] = arm64_kvm_default_mpidr(i);
	for (unsigned i = 0; i < nr_virtio; i++) {
		arm64_mmio_slot(i, &virtio[i].base, &virtio[i].spi);
		virtio[i].size = ARM64_MMIO_SLOT_SIZE;
	}
	arm64_fdt_config_default(&cfg, cpus, ARM64_RAM_BASE, mem_mib << 20);
	cfg.mpidrs = mpidrs;
	cfg.nr_virtio = nr_virtio;
	cfg.virtio = virtio;
	cfg.cmdline = cmdline;
	if (initrd_len) {
		/* Where arm64_boot_layout() puts it after a 32 MiB kernel. */
		struct arm64_image img = { .image_size = 32 << 20 };
		struct arm64_boot_info bi;
		if (arm64_boot_layout(&img, cfg.ram_gpa, cfg.ram_len, initrd_len,
				      &bi, err, sizeof(err))) {
			fprintf(stderr, "mvmm-fdt: %s\n", err);
			return 1;
		}
		cfg.initrd_gpa = bi.initrd_gpa;
		cfg.initrd_len = bi.initrd_len;
	}
	if (arm64_fdt_build(&cfg, blob, sizeof(blob), err, sizeof(err))) {
		fprintf(stderr, "mvmm-fdt: %s\n", err);
		return 1;
	}
	int fd = open(argv[optind], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || io_write_full(fd, blob, fdt_totalsize(blob)) || close(fd)) {
		fprintf(stderr, "mvmm-fdt: cannot write %s: %s\n", argv[optind],
			strerror(errno));
		return 1;
	}
	printf("mvmm-fdt: %u bytes, %u vCPUs, %llu MiB, %u virtio-mmio\n",
	       fdt_totalsize(blob), cpus, mem_mib, nr_virtio);
	return 0;
}
