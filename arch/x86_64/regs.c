/* The BSP's entry state: a small GDT, identity page tables for long mode, and
 * registers per boot.rst's 64-bit protocol or the PVH ABI. */
#include <arch/boot.h>
#include <arch/layout.h>
#include <arch/regs.h>

#include <asm/processor-flags.h>
#include <errno.h>
#include <string.h>

/* GDT descriptor flags: bits 0-7 access byte, 12-15 AVL/L/D/G. */
#define GDT_CODE64 0xa09b /* G, L, present, code exec/read accessed */
#define GDT_CODE32 0xc09b /* G, D */
#define GDT_DATA 0xc093   /* G, B, present, data read/write accessed */
#define GDT_TSS 0x008b    /* present, 32-bit busy TSS (VMX wants busy) */
#define TSS_LIMIT 0x67

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) |
	       ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) |
	       ((uint64_t)(base & 0xffffff) << 16) | (limit & 0xffff);
}

static struct kvm_segment gdt_to_segment(uint16_t sel, uint16_t flags,
					 uint32_t base, uint32_t limit)
{
	bool g = flags >> 15 & 1;
	return (struct kvm_segment){
		.base = base,
		.limit = g ? (limit << 12) | 0xfff : limit,
		.selector = sel,
		.type = flags & 0xf,
		.present = flags >> 7 & 1,
		.dpl = flags >> 5 & 3,
		.db = flags >> 14 & 1,
		.s = flags >> 4 & 1,
		.l = flags >> 13 & 1,
		.g = g,
		.avl = flags >> 12 & 1,
		.unusable = !(flags >> 7 & 1),
	};
}

/* PML4 -> one PDPT -> 4 PDs of 2 MiB pages: identity map of [0, 4 GiB). */
static int write_page_tables(const struct gmem *mem)
{
	uint64_t pml4[512] = { X86_PDPT_GPA | X86_PTE_PRESENT | X86_PTE_RW };
	uint64_t pdpt[512] = { 0 };
	uint64_t pd[512];
	int bad = 0;

	for (unsigned i = 0; i < 4; i++) {
		pdpt[i] = (X86_PD_GPA + i * 0x1000) | X86_PTE_PRESENT | X86_PTE_RW;
		for (unsigned j = 0; j < 512; j++)
			pd[j] = ((uint64_t)(i * 512 + j) << 21) | X86_PTE_PRESENT |
				X86_PTE_RW | X86_PTE_PS;
		bad |= gmem_write(mem, X86_PD_GPA + i * 0x1000, pd, sizeof(pd));
	}
	bad |= gmem_write(mem, X86_PDPT_GPA, pdpt, sizeof(pdpt));
	bad |= gmem_write(mem, X86_PML4_GPA, pml4, sizeof(pml4));
	return bad ? -EFAULT : 0;
}

/* PVH: 32-bit flat protected mode, paging off, EBX = start_info. */
static void enter_pvh(const struct x86_boot_info *bi, struct kvm_regs *regs,
		      struct kvm_sregs *sregs)
{
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;
	regs->rbx = bi->start_info_gpa;
}

/* 64-bit boot protocol: long mode on the identity map, RSI = zero page. */
static int enter_long_mode(const struct gmem *mem,
			   const struct x86_boot_info *bi,
			   struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	int ret = write_page_tables(mem);
	if (ret)
		return ret;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	sregs->cr3 = X86_PML4_GPA;
	sregs->cr4 = X86_CR4_PAE;
	sregs->efer = X86_EFER_LME | X86_EFER_LMA;
	regs->rsi = bi->boot_params_gpa;
	return 0;
}

int x86_setup_boot_regs(const struct gmem *mem, const struct x86_boot_info *bi,
			struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	uint16_t code = bi->pvh ? GDT_CODE32 : GDT_CODE64;
	uint64_t gdt[X86_GDT_ENTRIES] = {
		[X86_BOOT_CS / 8] = gdt_entry(code, 0, 0xfffff),
		[X86_BOOT_DS / 8] = gdt_entry(GDT_DATA, 0, 0xfffff),
		[X86_BOOT_TSS / 8] = gdt_entry(GDT_TSS, 0, TSS_LIMIT),
	};

	if (bi->entry_gpa > UINT32_MAX)
		return -EINVAL;
	if (gmem_write(mem, X86_GDT_GPA, gdt, sizeof(gdt)))
		return -EFAULT;

	struct kvm_segment cs = gdt_to_segment(X86_BOOT_CS, code, 0, 0xfffff);
	struct kvm_segment ds = gdt_to_segment(X86_BOOT_DS, GDT_DATA, 0, 0xfffff);
	sregs->cs = cs;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = ds;
	sregs->tr = gdt_to_segment(X86_BOOT_TSS, GDT_TSS, 0, TSS_LIMIT);
	sregs->gdt = (struct kvm_dtable){ .base = X86_GDT_GPA,
					  .limit = sizeof(gdt) - 1 };
	/* No IDT: interrupts stay off until the kernel installs its own. */
	sregs->idt = (struct kvm_dtable){ .base = 0, .limit = 0 };

	memset(regs, 0, sizeof(*regs));
	regs->rflags = X86_EFLAGS_FIXED; /* IF clear */
	regs->rip = bi->entry_gpa;
	regs->rsp = regs->rbp = X86_BOOT_STACK_GPA;

	if (bi->pvh) {
		enter_pvh(bi, regs, sregs);
		return 0;
	}
	return enter_long_mode(mem, bi, regs, sregs);
}
