/* The BSP entry state: long mode for bzImage, flat 32-bit for PVH; the GDT
 * and page tables in guest memory agree with the registers. */
#include "fakes/x86_images.h"

#include <arch/boot.h>
#include <arch/layout.h>
#include <arch/regs.h>

#include <asm/processor-flags.h>
#include <criterion/criterion.h>
#include <string.h>

static struct gmem mem;
static struct kvm_regs regs;
static struct kvm_sregs sregs;

static void init(void)
{
	x86img_gmem(&mem, 256ULL << 20);
	memset(&regs, 0xcc, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	sregs.apic_base = 0xfee00900; /* KVM's, must survive */
}

static void fini(void)
{
	gmem_destroy(&mem);
}

TestSuite(x86_regs, .init = init, .fini = fini);

static const struct x86_boot_info bz = {
	.entry_gpa = 0x100200, .boot_params_gpa = X86_ZERO_PAGE_GPA,
};
static const struct x86_boot_info pvh = {
	.entry_gpa = 0x1000100, .pvh = true, .start_info_gpa = X86_PVH_INFO_GPA,
};

/* Decodes a GDT descriptor independently of the code under test. */
static void check_segment_matches_gdt(const struct kvm_segment *s)
{
	uint64_t d;
	cr_assert_eq(gmem_read(&mem, X86_GDT_GPA + s->selector, &d, 8), 0);
	uint32_t limit = (d & 0xffff) | (d >> 32 & 0xf0000);
	uint32_t base = (d >> 16 & 0xffffff) | (d >> 32 & 0xff000000);
	bool g = d >> 55 & 1;
	cr_assert_eq(s->base, base);
	cr_assert_eq(s->limit, g ? limit << 12 | 0xfff : limit);
	cr_assert_eq(s->type, d >> 40 & 0xf);
	cr_assert_eq(s->s, d >> 44 & 1);
	cr_assert_eq(s->present, d >> 47 & 1);
	cr_assert_eq(s->l, d >> 53 & 1);
	cr_assert_eq(s->db, d >> 54 & 1);
	cr_assert_eq(s->g, g);
}

Test(x86_regs, bzimage_enters_in_long_mode_with_rsi_at_zero_page)
{
	cr_assert_eq(x86_setup_boot_regs(&mem, &bz, &regs, &sregs), 0);
	cr_assert_eq(regs.rip, 0x100200);
	cr_assert_eq(regs.rsi, X86_ZERO_PAGE_GPA);
	cr_assert_eq(regs.rflags, 2, "interrupts must be off");
	cr_assert(sregs.cr0 & X86_CR0_PE);
	cr_assert(sregs.cr0 & X86_CR0_PG);
	cr_assert(sregs.cr4 & X86_CR4_PAE);
	cr_assert_eq(sregs.efer & (X86_EFER_LME | X86_EFER_LMA), X86_EFER_LME | X86_EFER_LMA);
	cr_assert_eq(sregs.cr3, X86_PML4_GPA);
	cr_assert_eq(sregs.cs.selector, 0x10);
	cr_assert_eq(sregs.cs.l, 1);
	cr_assert_eq(sregs.cs.db, 0);
	cr_assert_eq(sregs.ds.selector, 0x18);
	cr_assert_eq(sregs.ss.selector, 0x18);
	cr_assert_eq(sregs.apic_base, 0xfee00900);
	check_segment_matches_gdt(&sregs.cs);
	check_segment_matches_gdt(&sregs.ds);
	check_segment_matches_gdt(&sregs.tr);
	cr_assert_eq(sregs.gdt.base, X86_GDT_GPA);
}

Test(x86_regs, page_tables_identity_map_first_4gib_with_2mib_pages)
{
	cr_assert_eq(x86_setup_boot_regs(&mem, &bz, &regs, &sregs), 0);
	/* Walk like the MMU: for a few addresses, translate via the tables. */
	const uint64_t addrs[] = { 0, 0x100200, 0x7ffff000, 0xc0000000, 0xfee00000, 0xffffffff };
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		uint64_t va = addrs[i], e;
		cr_assert_eq(gmem_read(&mem, (sregs.cr3 & ~0xfffULL) + (va >> 39 & 511) * 8, &e, 8), 0);
		cr_assert(e & X86_PTE_PRESENT);
		cr_assert_eq(gmem_read(&mem, (e & ~0xfffULL) + (va >> 30 & 511) * 8, &e, 8), 0);
		cr_assert(e & X86_PTE_PRESENT);
		cr_assert_eq(gmem_read(&mem, (e & ~0xfffULL) + (va >> 21 & 511) * 8, &e, 8), 0);
		cr_assert(e & X86_PTE_PRESENT);
		cr_assert(e & X86_PTE_PS, "2 MiB page for 0x%llx", (unsigned long long)va);
		cr_assert_eq((e & ~0x1fffffULL) | (va & 0x1fffff), va);
	}
}

Test(x86_regs, pvh_enters_flat_32bit_with_paging_off)
{
	cr_assert_eq(x86_setup_boot_regs(&mem, &pvh, &regs, &sregs), 0);
	cr_assert_eq(regs.rip, 0x1000100);
	cr_assert_eq(regs.rbx, X86_PVH_INFO_GPA);
	cr_assert_eq(regs.rflags, 2);
	cr_assert(sregs.cr0 & X86_CR0_PE);
	cr_assert_not(sregs.cr0 & X86_CR0_PG);
	cr_assert_eq(sregs.cr4, 0);
	cr_assert_eq(sregs.efer, 0);
	cr_assert_eq(sregs.cs.l, 0);
	cr_assert_eq(sregs.cs.db, 1);
	cr_assert_eq(sregs.cs.base, 0);
	cr_assert_eq(sregs.cs.limit, 0xffffffff);
	cr_assert_eq(sregs.ds.limit, 0xffffffff);
	cr_assert_eq(sregs.tr.limit, 0x67);
	check_segment_matches_gdt(&sregs.cs);
	check_segment_matches_gdt(&sregs.es);
}

Test(x86_regs, entry_above_4gib_is_refused)
{
	struct x86_boot_info bad = bz;
	bad.entry_gpa = 1ULL << 32;
	cr_assert_lt(x86_setup_boot_regs(&mem, &bad, &regs, &sregs), 0);
}
