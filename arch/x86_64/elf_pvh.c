/* ELF vmlinux through the Xen PVH entry (docs/misc/pvh.pandoc): PT_LOAD
 * segments go to p_paddr, entry is the XEN_ELFNOTE_PHYS32_ENTRY note, EBX
 * points at struct hvm_start_info. Everything read from the file is checked:
 * header sizes, segment bounds, note bounds, the entry's place. */
#include "loader.h"

#include <arch/layout.h>
#include <arch/pvh.h>
#include <core/checked.h>
#include <core/err.h>
#include <core/io.h>

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PHDRS 64
#define MAX_NOTE_BYTES 65536

bool x86_elf_probe(const struct x86_kernel *k)
{
	return k->head_len >= SELFMAG && !memcmp(k->head, ELFMAG, SELFMAG);
}

void x86_elf_pvh_parse(struct x86_kernel *k)
{
	k->pvh = true;
	k->cmdline_max = X86_PVH_CMDLINE_MAX;
	k->initrd_limit = k->low_ram_end; /* below the hole, so below 4 GiB */
}

/* Finds the PVH entry in one PT_NOTE segment's bytes; 0 if absent. */
static int find_pvh_note(const uint8_t *p, uint64_t len, uint64_t *entry)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		uint64_t name_pad = ALIGN_UP((uint64_t)nh.n_namesz, 4);
		uint64_t desc_pad = ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (name_pad > len - off || desc_pad > len - off - name_pad)
			return -ENOEXEC;
		const uint8_t *name = p + off, *desc = p + off + name_pad;
		off += name_pad + desc_pad;
		if (nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY || nh.n_namesz != 4 ||
		    memcmp(name, "Xen", 4))
			continue;
		/* Linux emits the address as a pointer-sized value. */
		if (nh.n_descsz == 4) {
			uint32_t v;
			memcpy(&v, desc, 4);
			*entry = v;
		} else if (nh.n_descsz == 8) {
			memcpy(entry, desc, 8);
		} else {
			return -ENOEXEC;
		}
		return 1;
	}
	return 0;
}

static int read_pvh_entry(const struct x86_kernel *k, const Elf64_Phdr *ph,
			  unsigned n, uint64_t *entry, char *err, size_t errlen)
{
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0)
			continue;
		if (ph[i].p_filesz > MAX_NOTE_BYTES ||
		    !range_within(ph[i].p_offset, ph[i].p_filesz, 0, k->file_size))
			return err_set(err, errlen, -ENOEXEC,
				       "kernel: ELF note segment %u out of bounds", i);
		uint8_t *buf = malloc(ph[i].p_filesz);
		if (!buf)
			return err_set(err, errlen, -ENOMEM, "kernel: out of memory");
		int ret = io_pread_full(k->fd, buf, ph[i].p_filesz, ph[i].p_offset);
		if (!ret)
			ret = find_pvh_note(buf, ph[i].p_filesz, entry);
		free(buf);
		if (ret < 0)
			return err_set(err, errlen, -ENOEXEC,
				       "kernel: malformed ELF note segment %u", i);
		if (ret == 1)
			return 0;
	}
	return err_set(err, errlen, -ENOEXEC,
		       "kernel: ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

static int check_ehdr(const struct x86_kernel *k, Elf64_Ehdr *eh, char *err,
		      size_t errlen)
{
	if (k->head_len < sizeof(*eh))
		return err_set(err, errlen, -ENOEXEC, "kernel: truncated ELF header");
	memcpy(eh, k->head, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64 ||
	    eh->e_type != ET_EXEC)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: ELF is not a 64-bit little-endian x86-64 executable");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > MAX_PHDRS ||
	    !range_within(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
			  0, k->file_size))
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: ELF program headers out of bounds");
	return 0;
}

static int load_segment(const struct gmem *mem, const struct x86_kernel *k,
			const Elf64_Phdr *ph, unsigned i, char *err,
			size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz ||
	    !range_within(ph->p_offset, ph->p_filesz, 0, k->file_size))
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: ELF segment %u out of file bounds", i);
	/* Below 1 MiB would overwrite the boot structures (arch/layout.h). */
	if (ph->p_memsz == 0 ||
	    !range_within(ph->p_paddr, ph->p_memsz, X86_HIGH_MEM_START,
			  k->low_ram_end - X86_HIGH_MEM_START))
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: ELF segment %u at 0x%llx+0x%llx lies outside low RAM [1 MiB, 0x%llx)",
			       i, (unsigned long long)ph->p_paddr,
			       (unsigned long long)ph->p_memsz,
			       (unsigned long long)k->low_ram_end);
	uint8_t *dst = gmem_ptr(mem, ph->p_paddr, ph->p_memsz);
	if (!dst)
		return err_set(err, errlen, -EFAULT,
			       "kernel: ELF segment %u is not guest RAM", i);
	int ret = io_pread_full(k->fd, dst, ph->p_filesz, ph->p_offset);
	if (ret)
		return err_set(err, errlen, ret, "kernel: cannot read ELF segment %u", i);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

int x86_elf_pvh_load(const struct gmem *mem, struct x86_kernel *k, char *err,
		     size_t errlen)
{
	Elf64_Phdr ph[MAX_PHDRS];
	Elf64_Ehdr eh;
	uint64_t entry = 0, start = UINT64_MAX, end = 0;
	int ret = check_ehdr(k, &eh, err, errlen);

	if (ret)
		return ret;
	if (io_pread_full(k->fd, ph, eh.e_phnum * sizeof(ph[0]), eh.e_phoff))
		return err_set(err, errlen, -EIO, "kernel: cannot read ELF program headers");
	ret = read_pvh_entry(k, ph, eh.e_phnum, &entry, err, errlen);
	if (ret)
		return ret;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		ret = load_segment(mem, k, &ph[i], i, err, errlen);
		if (ret)
			return ret;
		start = MIN(start, ph[i].p_paddr);
		end = MAX(end, ph[i].p_paddr + ph[i].p_memsz);
	}
	if (end == 0)
		return err_set(err, errlen, -ENOEXEC, "kernel: ELF has no PT_LOAD segment");
	if (entry < start || entry >= end)
		return err_set(err, errlen, -ENOEXEC,
			       "kernel: PVH entry 0x%llx outside the loaded kernel [0x%llx, 0x%llx)",
			       (unsigned long long)entry, (unsigned long long)start,
			       (unsigned long long)end);
	k->entry = entry;
	k->start = start;
	k->end = end;
	return 0;
}

int x86_pvh_write_start_info(const struct gmem *mem, uint64_t initrd_gpa,
			     uint64_t initrd_len, char *err, size_t errlen)
{
	struct x86_mem_entry map[X86_MEMMAP_MAX];
	struct hvm_memmap_table_entry mm[X86_MEMMAP_MAX];
	int n = x86_memmap(mem, map, X86_MEMMAP_MAX);

	if (n < 0)
		return err_set(err, errlen, n, "memory: cannot build the PVH memmap");
	_Static_assert(X86_PVH_MEMMAP_GPA + sizeof(mm) <= X86_ZERO_PAGE_GPA,
		       "PVH memmap overlaps the zero page");
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){
			.addr = map[i].addr, .size = map[i].size,
			.type = map[i].type, /* E820 and PVH types agree */
		};
	struct hvm_start_info si = {
		.magic = XEN_HVM_START_MAGIC_VALUE,
		.version = 1,
		.cmdline_paddr = X86_CMDLINE_GPA,
		.memmap_paddr = X86_PVH_MEMMAP_GPA,
		.memmap_entries = (uint32_t)n,
	};
	struct hvm_modlist_entry mod = { .paddr = initrd_gpa, .size = initrd_len };
	int bad = gmem_write(mem, X86_PVH_MEMMAP_GPA, mm, n * sizeof(mm[0]));
	if (initrd_len) {
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_MODLIST_GPA;
		bad |= gmem_write(mem, X86_PVH_MODLIST_GPA, &mod, sizeof(mod));
	}
	bad |= gmem_write(mem, X86_PVH_INFO_GPA, &si, sizeof(si));
	if (bad)
		return err_set(err, errlen, -EFAULT, "start_info: low memory is not guest RAM");
	return 0;
}
