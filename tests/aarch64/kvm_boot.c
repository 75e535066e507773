/* mvmm-a64-boot: boots an arm64 Image on KVM with nothing but what
 * arch/aarch64 computes (placement, device tree, GIC steps, vCPU features
 * and boot registers) and devices/'s 8250 on the MMIO bus. It proves those
 * outputs against real KVM until vmm/ runs arm64 guests; it is not mvmm:
 * no virtio, no API, no config, exits on the first unexpected exit.
 * Usage: mvmm-a64-boot [-c vcpus] [-m mem_mib] [-a cmdline] [-t timeout_s]
 *                      Image [initrd]
 * Exit status: 0 on PSCI SYSTEM_OFF or RESET, 1 on an error, 124 on timeout. */
#include <arch/boot.h>
#include <arch/fdt.h>
#include <arch/gic.h>
#include <arch/kvm_arm64.h>
#include <arch/layout.h>
#include <arch/regs.h>
#include <core/checked.h>
#include <core/gmem.h>
#include <devices/bus.h>
#include <devices/serial.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct machine {
	int vm;
	struct bus mmio;
	struct serial uart;
	int uart_efd;
	atomic_int status; /* -1 while running */
};

struct vcpu {
	struct machine *m;
	int fd;
	struct kvm_run *run;
	unsigned index;
};

static int fail(const char *what)
{
	fprintf(stderr, "mvmm-a64-boot: %s: %s\n", what, strerror(errno));
	return 1;
}

static void uart_write(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
}

static int uart_fire(void *opaque)
{
	uint64_t one = 1;
	return write(*(int *)opaque, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static void finish(struct machine *m, int status)
{
	int running = -1;
	atomic_compare_exchange_strong(&m->status, &running, status);
}

static void *vcpu_loop(void *arg)
{
	struct vcpu *v = arg;
	struct kvm_run *run = v->run;

	while (atomic_load(&v->m->status) < 0) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "mvmm-a64-boot: vCPU %u: KVM_RUN: %s\n",
				v->index, strerror(errno));
			finish(v->m, 1);
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO:
			if (run->mmio.is_write)
				bus_write(&v->m->mmio, run->mmio.phys_addr,
					  run->mmio.data, run->mmio.len);
			else
				bus_read(&v->m->mmio, run->mmio.phys_addr,
					 run->mmio.data, run->mmio.len);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			fprintf(stderr, "\nmvmm-a64-boot: vCPU %u: PSCI system event %u (%s)\n",
				v->index, run->system_event.type,
				run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? "SYSTEM_OFF" :
				run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "SYSTEM_RESET" : "other");
			finish(v->m, run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ||
					     run->system_event.type == KVM_SYSTEM_EVENT_RESET ? 0 : 1);
			break;
		default:
			fprintf(stderr, "mvmm-a64-boot: vCPU %u: unexpected exit %u\n",
				v->index, run->exit_reason);
			finish(v->m, 1);
		}
	}
	return NULL;
}

static int set_reg(int fd, uint64_t id, uint64_t value)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&value };
	return ioctl(fd, KVM_SET_ONE_REG, &r);
}

static int get_reg(int fd, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)value };
	return ioctl(fd, KVM_GET_ONE_REG, &r);
}

/* Runs steps [from, to) of the GIC's set-up on its device fd. */
static int gic_steps(int gic, unsigned nr_vcpus, int from, int to)
{
	struct arm64_dev_attr steps[ARM64_GIC_SETUP_STEPS];
	int n = arm64_gic_setup_attrs(nr_vcpus, steps);

	if (n < to)
		return -1;
	for (int i = from; i < to; i++) {
		uint32_t v32 = (uint32_t)steps[i].value;
		uint64_t v64 = steps[i].value;
		struct kvm_device_attr a = {
			.group = steps[i].group,
			.attr = steps[i].attr,
			.addr = steps[i].value_len == 4 ? (uint64_t)(uintptr_t)&v32 :
				steps[i].value_len == 8 ? (uint64_t)(uintptr_t)&v64 : 0,
		};
		if (ioctl(gic, KVM_SET_DEVICE_ATTR, &a) < 0) {
			fprintf(stderr, "mvmm-a64-boot: GIC step %d (group %u attr %llu): %s\n",
				i, a.group, (unsigned long long)a.attr, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned nr_vcpus = 1, timeout_s = 120;
	unsigned long long mem_mib = 256;
	const char *cmdline = "console=ttyS0 earlycon panic=-1";
	struct machine m = { .status = -1, .uart_efd = -1 };
	struct vcpu vcpus[ARM64_MAX_VCPUS];
	uint64_t mpidrs[ARM64_MAX_VCPUS];
	pthread_t threads[ARM64_MAX_VCPUS];
	struct arm64_boot_info bi;
	struct arm64_one_reg regs[ARM64_BOOT_REGS];
	struct arm64_fdt_config cfg;
	struct gmem mem;
	char err[256];
	int opt;

	while ((opt = getopt(argc, argv, "c:m:a:t:")) != -1) {
		switch (opt) {
		case 'c': nr_vcpus = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': mem_mib = strtoull(optarg, NULL, 0); break;
		case 'a': cmdline = optarg; break;
		case 't': timeout_s = (unsigned)strtoul(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (optind >= argc || argc - optind > 2 || nr_vcpus == 0 ||
	    nr_vcpus > ARM64_MAX_VCPUS)
		goto usage;

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	m.vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (m.vm < 0)
		return fail("KVM_CREATE_VM");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);

	uint64_t ram_len = mem_mib << 20;
	void *hva = mmap(NULL, ram_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		return fail("mmap guest RAM");
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = ARM64_RAM_BASE,
		.memory_size = ram_len, .userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	if (gmem_init_external(&mem, ARM64_RAM_BASE, hva, ram_len) ||
	    ioctl(m.vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return fail("guest RAM");
	if (arm64_load_kernel(&mem, ARM64_RAM_BASE, argv[optind],
			      argc - optind == 2 ? argv[optind + 1] : NULL, &bi,
			      err, sizeof(err))) {
		fprintf(stderr, "mvmm-a64-boot: %s\n", err);
		return 1;
	}

	/* The GIC exists before the vCPUs; CTRL_INIT waits for every vCPU, and
	 * KVM_IRQFD for CTRL_INIT (-EAGAIN before: kvm_arch_intc_initialized). */
	struct kvm_create_device gic = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	if (ioctl(m.vm, KVM_CREATE_DEVICE, &gic) < 0 ||
	    gic_steps((int)gic.fd, nr_vcpus, 0, ARM64_GIC_SETUP_STEPS - 1) < 0)
		return fail("GICv3");
	struct kvm_vcpu_init init;
	if (ioctl(m.vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return fail("KVM_ARM_PREFERRED_TARGET");
	for (unsigned i = 0; i < nr_vcpus; i++) {
		struct kvm_vcpu_init vi = { .target = init.target };
		vcpus[i] = (struct vcpu){ .m = &m, .index = i };
		vcpus[i].fd = ioctl(m.vm, KVM_CREATE_VCPU, i);
		if (vcpus[i].fd < 0)
			return fail("KVM_CREATE_VCPU");
		arm64_vcpu_features(i, vi.features, ARRAY_SIZE(vi.features));
		if (ioctl(vcpus[i].fd, KVM_ARM_VCPU_INIT, &vi) < 0)
			return fail("KVM_ARM_VCPU_INIT");
		if (get_reg(vcpus[i].fd, ARM64_KVM_REG_MPIDR_EL1, &mpidrs[i]) < 0)
			return fail("KVM_GET_ONE_REG MPIDR_EL1");
		vcpus[i].run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
				    MAP_SHARED, vcpus[i].fd, 0);
		if (vcpus[i].run == MAP_FAILED)
			return fail("mmap kvm_run");
	}
	if (gic_steps((int)gic.fd, nr_vcpus, ARM64_GIC_SETUP_STEPS - 1,
		      ARM64_GIC_SETUP_STEPS) < 0)
		return fail("GICv3 CTRL_INIT");
	m.uart_efd = eventfd(0, EFD_CLOEXEC);
	struct kvm_irqfd irqfd = { .fd = (uint32_t)m.uart_efd, .gsi = ARM64_SERIAL_SPI };
	if (m.uart_efd < 0 || ioctl(m.vm, KVM_IRQFD, &irqfd) < 0)
		return fail("UART irqfd");

	serial_init(&m.uart, (struct irq_trigger){ uart_fire, &m.uart_efd },
		    (struct serial_out){ uart_write, NULL });
	bus_init(&m.mmio);
	if (bus_insert(&m.mmio, ARM64_SERIAL_BASE, SERIAL_PORT_LEN,
		       &serial_bus_ops, &m.uart))
		return fail("bus_insert UART");

	arm64_fdt_config_default(&cfg, nr_vcpus, ARM64_RAM_BASE, ram_len);
	cfg.mpidrs = mpidrs;
	cfg.cmdline = cmdline;
	cfg.initrd_gpa = bi.initrd_gpa;
	cfg.initrd_len = bi.initrd_len;
	if (arm64_fdt_write(&mem, bi.dtb_gpa, &cfg, err, sizeof(err))) {
		fprintf(stderr, "mvmm-a64-boot: %s\n", err);
		return 1;
	}
	unsigned n = arm64_boot_regs(&bi, regs);
	for (unsigned i = 0; i < n; i++)
		if (set_reg(vcpus[0].fd, regs[i].id, regs[i].value) < 0)
			return fail("KVM_SET_ONE_REG");
	fprintf(stderr, "mvmm-a64-boot: %u vCPU(s) MPIDR0 0x%llx, %llu MiB, kernel 0x%llx-0x%llx, DTB 0x%llx, initrd 0x%llx+%llu\n",
		nr_vcpus, (unsigned long long)mpidrs[0], mem_mib,
		(unsigned long long)bi.kernel_start_gpa,
		(unsigned long long)bi.kernel_end_gpa,
		(unsigned long long)bi.dtb_gpa, (unsigned long long)bi.initrd_gpa,
		(unsigned long long)bi.initrd_len);

	for (unsigned i = 0; i < nr_vcpus; i++)
		if (pthread_create(&threads[i], NULL, vcpu_loop, &vcpus[i]))
			return fail("pthread_create");
	/* vCPUs still in KVM_RUN end with the process. */
	for (unsigned t = 0; t < timeout_s * 10 && atomic_load(&m.status) < 0; t++)
		nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
	int status = atomic_load(&m.status);
	if (status < 0) {
		fprintf(stderr, "mvmm-a64-boot: timed out after %u s\n", timeout_s);
		status = 124;
	}
	fflush(stdout);
	_exit(status);

usage:
	fprintf(stderr, "usage: mvmm-a64-boot [-c vcpus] [-m mem_mib] [-a cmdline] [-t timeout_s] Image [initrd]\n");
	return 2;
}
