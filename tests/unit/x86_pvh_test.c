/* ELF vmlinux loading through the PVH entry: segments, the note, start_info,
 * its memmap and module list, and the ELF checks. */
#include "fakes/x86_images.h"

#include <arch/boot.h>
#include <arch/layout.h>
#include <arch/pvh.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#define MIB (1ULL << 20)
#define PADDR (16 * MIB)
#define FILESZ 6000
#define MEMSZ 20000
#define ENTRY (PADDR + 0x100)

static struct gmem mem;
static struct x86img kernel, initrd;
static struct x86_boot_info bi;
static char err[256];

static void fini(void)
{
	gmem_destroy(&mem);
	x86img_free(&kernel);
	x86img_free(&initrd);
}

TestSuite(x86_pvh, .fini = fini);

static int load(uint64_t mem_bytes, const char *initrd_path, const char *cmdline)
{
	x86img_gmem(&mem, mem_bytes);
	x86img_save(&kernel);
	err[0] = 0;
	return x86_load_kernel(&mem, kernel.path, initrd_path, cmdline, &bi,
			       err, sizeof(err));
}

static struct hvm_start_info start_info(void)
{
	struct hvm_start_info si;
	cr_assert_eq(gmem_read(&mem, bi.start_info_gpa, &si, sizeof(si)), 0);
	return si;
}

Test(x86_pvh, loads_segment_at_paddr_and_enters_at_the_note)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_gmem(&mem, 256 * MIB);
	memset(gmem_ptr(&mem, PADDR, MEMSZ), 0xee, MEMSZ); /* bss must be cleared */
	x86img_save(&kernel);
	cr_assert_eq(x86_load_kernel(&mem, kernel.path, NULL, "pvh=1", &bi, err,
				     sizeof(err)), 0, "%s", err);
	cr_assert(bi.pvh);
	cr_assert_eq(bi.entry_gpa, ENTRY);
	cr_assert_eq(bi.start_info_gpa, X86_PVH_INFO_GPA);
	cr_assert_eq(bi.kernel_start_gpa, PADDR);
	cr_assert_eq(bi.kernel_end_gpa, PADDR + MEMSZ);
	const uint8_t *p = gmem_ptr(&mem, PADDR, MEMSZ);
	for (size_t i = 0; i < FILESZ; i++)
		cr_assert_eq(p[i], x86img_pattern(i), "byte %zu", i);
	for (size_t i = FILESZ; i < MEMSZ; i++)
		cr_assert_eq(p[i], 0, "bss byte %zu", i);
}

Test(x86_pvh, accepts_a_4_byte_entry_note)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY + 4, 4);
	cr_assert_eq(load(256 * MIB, NULL, NULL), 0, "%s", err);
	cr_assert_eq(bi.entry_gpa, ENTRY + 4);
}

Test(x86_pvh, start_info_has_magic_cmdline_and_memmap)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	cr_assert_eq(load(256 * MIB, NULL, "console=ttyS0"), 0, "%s", err);
	struct hvm_start_info si = start_info();
	cr_assert_eq(si.magic, XEN_HVM_START_MAGIC_VALUE);
	cr_assert_eq(si.version, 1);
	cr_assert_eq(si.nr_modules, 0);
	cr_assert_eq(si.modlist_paddr, 0);
	cr_assert_str_eq((const char *)gmem_ptr(&mem, si.cmdline_paddr, 14), "console=ttyS0");
	cr_assert_eq(si.memmap_entries, 3);
	struct hvm_memmap_table_entry mm[3];
	cr_assert_eq(gmem_read(&mem, si.memmap_paddr, mm, sizeof(mm)), 0);
	cr_assert_eq(mm[0].addr, 0);
	cr_assert_eq(mm[0].size, 0x9fc00);
	cr_assert_eq(mm[0].type, XEN_HVM_MEMMAP_TYPE_RAM);
	cr_assert_eq(mm[1].addr, 0x9fc00);
	cr_assert_eq(mm[1].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
	cr_assert_eq(mm[2].addr, 0x100000);
	cr_assert_eq(mm[2].size, 256 * MIB - 0x100000);
	cr_assert_eq(mm[2].type, XEN_HVM_MEMMAP_TYPE_RAM);
}

Test(x86_pvh, memmap_above_4gib_has_the_high_region)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	cr_assert_eq(load(4ULL << 30, NULL, NULL), 0, "%s", err);
	struct hvm_start_info si = start_info();
	cr_assert_eq(si.memmap_entries, 4);
	struct hvm_memmap_table_entry mm[4];
	cr_assert_eq(gmem_read(&mem, si.memmap_paddr, mm, sizeof(mm)), 0);
	cr_assert_eq(mm[2].size, X86_RAM_HOLE_START - 0x100000);
	cr_assert_eq(mm[3].addr, 1ULL << 32);
	cr_assert_eq(mm[3].size, (4ULL << 30) - X86_RAM_HOLE_START);
}

Test(x86_pvh, initrd_is_passed_as_module)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_save_bytes(&initrd, "0707010000", 10);
	cr_assert_eq(load(256 * MIB, initrd.path, NULL), 0, "%s", err);
	struct hvm_start_info si = start_info();
	cr_assert_eq(si.nr_modules, 1);
	struct hvm_modlist_entry mod;
	cr_assert_eq(gmem_read(&mem, si.modlist_paddr, &mod, sizeof(mod)), 0);
	cr_assert_eq(mod.paddr, 256 * MIB - 4096);
	cr_assert_eq(mod.size, 10);
	cr_assert_eq(mod.paddr, bi.initrd_gpa);
	cr_assert_eq(memcmp(gmem_ptr(&mem, mod.paddr, 10), "0707010000", 10), 0);
}

Test(x86_pvh, elf_without_pvh_note_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_note(&kernel)->n_type = 17;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "no PVH entry note"), "%s", err);
}

Test(x86_pvh, note_with_oversized_desc_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_note(&kernel)->n_descsz = 0xfffffff0;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "malformed ELF note"), "%s", err);
}

Test(x86_pvh, segment_beyond_ram_is_rejected)
{
	x86img_pvh_elf(&kernel, 250 * MIB, FILESZ, 8 * MIB, 250 * MIB + 16, 8);
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "outside low RAM"), "%s", err);
}

Test(x86_pvh, segment_below_1mib_is_rejected)
{
	x86img_pvh_elf(&kernel, 0x8000, FILESZ, MEMSZ, 0x8010, 8);
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "outside low RAM"), "%s", err);
}

Test(x86_pvh, segment_whose_paddr_wraps_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_phdr(&kernel, 0)->p_paddr = UINT64_MAX - 100;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
}

Test(x86_pvh, filesz_larger_than_memsz_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_phdr(&kernel, 0)->p_memsz = FILESZ - 1;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "out of file bounds"), "%s", err);
}

Test(x86_pvh, segment_past_end_of_file_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	kernel.len -= 1;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "out of file bounds"), "%s", err);
}

Test(x86_pvh, program_headers_past_end_of_file_are_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_ehdr(&kernel)->e_phoff = kernel.len - 8;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "program headers out of bounds"), "%s", err);
}

Test(x86_pvh, entry_outside_loaded_segments_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, PADDR + MEMSZ, 8);
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "PVH entry 0x"), "%s", err);
}

Test(x86_pvh, elf32_is_rejected)
{
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_ehdr(&kernel)->e_ident[EI_CLASS] = ELFCLASS32;
	cr_assert_eq(load(256 * MIB, NULL, NULL), -ENOEXEC);
	cr_assert(strstr(err, "not a 64-bit"), "%s", err);
}

Test(x86_pvh, cmdline_max_is_the_pvh_limit)
{
	size_t max = 0;
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	x86img_save(&kernel);
	cr_assert_eq(x86_kernel_cmdline_max(kernel.path, &max, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(max, X86_PVH_CMDLINE_MAX);
}

Test(x86_pvh, cmdline_beyond_linux_limit_is_rejected)
{
	char line[X86_PVH_CMDLINE_MAX + 2];
	memset(line, 'z', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	x86img_pvh_elf(&kernel, PADDR, FILESZ, MEMSZ, ENTRY, 8);
	cr_assert_eq(load(256 * MIB, NULL, line), -E2BIG);
	cr_assert(strstr(err, "cmdline:"), "%s", err);
}
