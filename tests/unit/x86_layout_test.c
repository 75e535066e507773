/* Guest RAM ranges around the 32-bit MMIO hole. */
#include <arch/layout.h>

#include <criterion/criterion.h>

TestSuite(x86_layout);

Test(x86_layout, small_guest_is_one_range_from_zero)
{
	uint64_t r[2][2];
	cr_assert_eq(x86_ram_ranges(256ULL << 20, r), 1);
	cr_assert_eq(r[0][0], 0);
	cr_assert_eq(r[0][1], 256ULL << 20);
}

Test(x86_layout, guest_of_exactly_the_hole_start_fits_below_it)
{
	uint64_t r[2][2];
	cr_assert_eq(x86_ram_ranges(X86_RAM_HOLE_START, r), 1);
	cr_assert_eq(r[0][1], X86_RAM_HOLE_START);
}

Test(x86_layout, large_guest_continues_at_4gib)
{
	uint64_t r[2][2];
	cr_assert_eq(x86_ram_ranges(X86_RAM_HOLE_START + 4096, r), 2);
	cr_assert_eq(r[0][1], X86_RAM_HOLE_START);
	cr_assert_eq(r[1][0], 1ULL << 32);
	cr_assert_eq(r[1][1], 4096);
}

Test(x86_layout, devices_and_apics_sit_inside_the_hole)
{
	cr_assert_geq(X86_MMIO_START, X86_RAM_HOLE_START);
	cr_assert_lt(X86_IOAPIC_BASE, 1ULL << 32);
	cr_assert_gt(X86_IOAPIC_BASE, X86_MMIO_START);
	cr_assert_gt(X86_LAPIC_BASE, X86_IOAPIC_BASE);
}

Test(x86_layout, zero_bytes_is_no_ranges)
{
	uint64_t r[2][2];
	cr_assert_eq(x86_ram_ranges(0, r), 0);
}
