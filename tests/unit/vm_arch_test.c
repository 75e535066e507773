/* The x86_64 machine behind vm_arch.h, as vm.c sees it: the platform's
 * fixed parts, virtio slots that stay inside the hole and on IOAPIC pins,
 * and RAM ranges bounded by the caller's array. */
#include "vm/vcpu_x86_64.h"
#include "vm/vm.h"
#include "vm/vm_arch.h"

#include <arch/layout.h>
#include <devices/serial.h>

#include <criterion/criterion.h>
#include <errno.h>

TestSuite(vm_arch_x86_64);

Test(vm_arch_x86_64, platform_is_com1_i8042_and_acpi_in_port_space)
{
	const struct vm_arch_platform *p = &vm_arch_platform;
	cr_assert_str_eq(p->name, "x86_64");
	cr_assert(p->uart_on_pio);
	cr_assert_eq(p->uart_base, 0x3f8);
	cr_assert_eq(p->uart_gsi, 4);
	cr_assert(p->has_i8042);
	cr_assert(p->has_acpi_pm);
	cr_assert(p->virtio_on_cmdline_without_acpi);
	cr_assert_eq(p->vcpu_ops, &vcpu_x86_ops);
}

Test(vm_arch_x86_64, virtio_slots_are_4k_apart_from_the_mmio_start)
{
	uint64_t base;
	unsigned gsi;
	cr_assert_eq(vm_arch_virtio_slot(0, &base, &gsi), 0);
	cr_assert_eq(base, X86_MMIO_START);
	cr_assert_eq(gsi, 5);
	cr_assert_eq(vm_arch_virtio_slot(3, &base, &gsi), 0);
	cr_assert_eq(base, X86_MMIO_START + 3 * X86_MMIO_SLOT_SIZE);
	cr_assert_eq(gsi, 8);
}

Test(vm_arch_x86_64, every_slot_has_an_ioapic_pin_and_misses_the_apics)
{
	uint64_t base;
	unsigned gsi, i;
	for (i = 0; vm_arch_virtio_slot(i, &base, &gsi) == 0; i++) {
		cr_assert_lt(gsi, 24, "slot %u: GSI %u past the IOAPIC", i, gsi);
		cr_assert_neq(gsi, vm_arch_platform.uart_gsi);
		cr_assert_lt(base + X86_MMIO_SLOT_SIZE, X86_IOAPIC_BASE);
	}
	cr_assert_geq(i, VM_MAX_VIRTIO);
	cr_assert_eq(vm_arch_virtio_slot(i, &base, &gsi), -ENOSPC);
}

Test(vm_arch_x86_64, ram_ranges_split_at_the_hole)
{
	uint64_t r[GMEM_MAX_REGIONS][2];
	cr_assert_eq(vm_arch_ram_ranges(512ULL << 20, r, GMEM_MAX_REGIONS), 1);
	cr_assert_eq(r[0][0], 0);
	cr_assert_eq(r[0][1], 512ULL << 20);
	cr_assert_eq(vm_arch_ram_ranges(4ULL << 30, r, GMEM_MAX_REGIONS), 2);
	cr_assert_eq(r[1][0], X86_4GIB);
	cr_assert_eq(r[0][1] + r[1][1], 4ULL << 30);
}

Test(vm_arch_x86_64, ram_ranges_refuse_a_too_small_array)
{
	uint64_t r[1][2];
	cr_assert_eq(vm_arch_ram_ranges(4ULL << 30, r, 1), -E2BIG);
}
