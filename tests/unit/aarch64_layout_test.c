/* The arm64 memory map, the GICv3 set-up steps and the vCPU boot state:
 * everything the VMM will hand to KVM, checked as data. */
#include <arch/boot.h>
#include <arch/gic.h>
#include <arch/kvm_arm64.h>
#include <arch/layout.h>
#include <arch/regs.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#define MIB (1ULL << 20)

TestSuite(aarch64_layout);

Test(aarch64_layout, ram_is_one_range_from_2gib)
{
	uint64_t r[1][2];
	cr_assert_eq(arm64_ram_ranges(512 * MIB, r), 1);
	cr_assert_eq(r[0][0], 0x80000000ULL);
	cr_assert_eq(r[0][1], 512 * MIB);
	cr_assert_eq(arm64_ram_ranges(0, r), 0);
	cr_assert_eq(arm64_ram_ranges(ARM64_RAM_MAX, r), 1);
	cr_assert_eq(r[0][0] + r[0][1], 1ULL << 40, "RAM ends at the 40-bit IPA limit");
	cr_assert_eq(arm64_ram_ranges(ARM64_RAM_MAX + 0x10000, r), -E2BIG);
	cr_assert_eq(arm64_ram_ranges(MIB + 4096, r), -EINVAL);
	cr_assert_eq(arm64_ram_ranges(MIB + 0x10000, r), 1);
}

Test(aarch64_layout, mmio_regions_sit_below_ram_and_do_not_overlap)
{
	const uint64_t redist_end = ARM64_GIC_REDIST_BASE +
				    arm64_gic_redist_size(ARM64_MAX_VCPUS);
	uint64_t last, base;
	uint32_t spi;

	cr_assert_leq(ARM64_GIC_DIST_BASE + ARM64_GIC_DIST_SIZE, ARM64_GIC_REDIST_BASE);
	cr_assert_leq(redist_end, ARM64_SERIAL_BASE);
	cr_assert_leq(ARM64_SERIAL_BASE + ARM64_SERIAL_SIZE, ARM64_MMIO_BASE);
	cr_assert_eq(arm64_mmio_slot(ARM64_MMIO_SLOTS - 1, &last, &spi), 0);
	cr_assert_leq(last + ARM64_MMIO_SLOT_SIZE, ARM64_RAM_BASE);
	/* KVM wants the GIC frames 64 KiB aligned. */
	cr_assert_eq(ARM64_GIC_DIST_BASE % 0x10000, 0);
	cr_assert_eq(ARM64_GIC_REDIST_BASE % 0x10000, 0);
	cr_assert_eq(arm64_mmio_slot(ARM64_MMIO_SLOTS, &base, &spi), -ENOSPC);
}

Test(aarch64_layout, virtio_slots_and_their_spis)
{
	uint64_t base;
	uint32_t spi;
	cr_assert_eq(arm64_mmio_slot(0, &base, &spi), 0);
	cr_assert_eq(base, 0x0a000000ULL);
	cr_assert_eq(spi, 16);
	cr_assert_eq(arm64_mmio_slot(31, &base, &spi), 0);
	cr_assert_eq(base, 0x0a01f000ULL);
	cr_assert_eq(spi, 47);
	cr_assert_lt(spi, ARM64_GIC_NR_SPIS);
	cr_assert_neq(ARM64_SERIAL_SPI, 16);
}

Test(aarch64_layout, redistributor_region_is_128k_per_vcpu)
{
	cr_assert_eq(arm64_gic_redist_size(1), 0x20000);
	cr_assert_eq(arm64_gic_redist_size(2), 0x40000);
	cr_assert_eq(arm64_gic_redist_size(ARM64_MAX_VCPUS), 0x1000000);
	cr_assert_eq(arm64_gic_redist_size(0), 0);
	cr_assert_eq(arm64_gic_redist_size(ARM64_MAX_VCPUS + 1), 0);
}

Test(aarch64_layout, gic_setup_steps_in_kvm_order)
{
	struct arm64_dev_attr a[ARM64_GIC_SETUP_STEPS];
	cr_assert_eq(arm64_gic_setup_attrs(2, a), 4);
	cr_assert_eq(a[0].group, 3); /* KVM_DEV_ARM_VGIC_GRP_NR_IRQS */
	cr_assert_eq(a[0].value, 128);
	cr_assert_eq(a[0].value_len, 4);
	cr_assert_eq(a[1].group, 0); /* GRP_ADDR */
	cr_assert_eq(a[1].attr, 2);  /* KVM_VGIC_V3_ADDR_TYPE_DIST */
	cr_assert_eq(a[1].value, 0x08000000ULL);
	cr_assert_eq(a[1].value_len, 8);
	cr_assert_eq(a[2].group, 0);
	cr_assert_eq(a[2].attr, 3); /* KVM_VGIC_V3_ADDR_TYPE_REDIST */
	cr_assert_eq(a[2].value, 0x08100000ULL);
	cr_assert_eq(a[3].group, 4); /* GRP_CTRL */
	cr_assert_eq(a[3].attr, 0);  /* CTRL_INIT */
	cr_assert_eq(a[3].value_len, 0);
	cr_assert_eq(arm64_gic_setup_attrs(0, a), -EINVAL);
	cr_assert_eq(arm64_gic_setup_attrs(ARM64_MAX_VCPUS + 1, a), -EINVAL);
	/* NR_IRQS: a multiple of 32, at least 64, at most 1024. */
	cr_assert_eq(ARM64_GIC_NR_IRQS % 32, 0);
	cr_assert(ARM64_GIC_NR_IRQS >= 64 && ARM64_GIC_NR_IRQS <= 1024);
}

Test(aarch64_layout, core_register_ids_follow_the_documented_encoding)
{
	/* api.rst: 0x6030 0000 0010 <index into kvm_regs, in 32-bit words>. */
	cr_assert_eq(ARM64_KVM_REG_X(0), 0x6030000000100000ULL);
	cr_assert_eq(ARM64_KVM_REG_X(1), 0x6030000000100002ULL);
	cr_assert_eq(ARM64_KVM_REG_X(30), 0x603000000010003cULL);
	cr_assert_eq(ARM64_KVM_REG_PC, 0x6030000000100040ULL);
	cr_assert_eq(ARM64_KVM_REG_PSTATE, 0x6030000000100042ULL);
	/* MPIDR_EL1 = S3_0_C0_C0_5. */
	cr_assert_eq(ARM64_KVM_REG_MPIDR_EL1, 0x603000000013c005ULL);
}

Test(aarch64_layout, boot_vcpu_registers)
{
	const struct arm64_boot_info bi = { .entry_gpa = 0x80000000ULL,
					    .dtb_gpa = 0x81000000ULL };
	struct arm64_one_reg r[ARM64_BOOT_REGS];
	cr_assert_eq(arm64_boot_regs(&bi, r), 6);
	cr_assert_eq(r[0].id, ARM64_KVM_REG_PSTATE);
	cr_assert_eq(r[0].value, 0x3c5, "EL1h, DAIF masked");
	cr_assert_eq(r[1].id, ARM64_KVM_REG_PC);
	cr_assert_eq(r[1].value, 0x80000000ULL);
	cr_assert_eq(r[2].id, ARM64_KVM_REG_X(0));
	cr_assert_eq(r[2].value, 0x81000000ULL);
	for (unsigned i = 3; i < 6; i++) {
		cr_assert_eq(r[i].id, ARM64_KVM_REG_X(i - 2));
		cr_assert_eq(r[i].value, 0);
	}
}

Test(aarch64_layout, vcpu_features_psci_and_secondaries_off)
{
	uint32_t f[ARM64_KVM_VCPU_INIT_FEATURE_WORDS];
	memset(f, 0xff, sizeof(f));
	arm64_vcpu_features(0, f, ARM64_KVM_VCPU_INIT_FEATURE_WORDS);
	cr_assert_eq(f[0], 1U << 2, "PSCI 0.2, powered on");
	for (unsigned i = 1; i < ARM64_KVM_VCPU_INIT_FEATURE_WORDS; i++)
		cr_assert_eq(f[i], 0);
	arm64_vcpu_features(1, f, ARM64_KVM_VCPU_INIT_FEATURE_WORDS);
	cr_assert_eq(f[0], (1U << 2) | 1U, "PSCI 0.2, powered off");
	arm64_vcpu_features(5, f, 0); /* no words: nothing written */
}

Test(aarch64_layout, kvm_default_mpidr)
{
	cr_assert_eq(arm64_kvm_default_mpidr(0), 0x80000000ULL);
	cr_assert_eq(arm64_kvm_default_mpidr(15), 0x8000000fULL);
	cr_assert_eq(arm64_kvm_default_mpidr(16), 0x80000100ULL);
	cr_assert_eq(arm64_kvm_default_mpidr(0x1234), 0x80012304ULL);
}
