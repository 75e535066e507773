#include "fakes/x86_images.h"

#include <arch/layout.h>
#include <arch/pvh.h>

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint8_t x86img_pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

struct setup_header *x86img_hdr(struct x86img *img)
{
	return (struct setup_header *)(img->data + 0x1f1);
}

void x86img_bzimage(struct x86img *img, size_t pm_len, uint32_t init_size)
{
	memset(img, 0, sizeof(*img));
	img->len = X86IMG_SETUP_BYTES + pm_len;
	img->data = calloc(1, img->len);
	cr_assert_not_null(img->data);
	for (size_t i = 0; i < pm_len; i++)
		img->data[X86IMG_SETUP_BYTES + i] = x86img_pattern(i);

	struct setup_header h = {
		.setup_sects = X86IMG_SETUP_SECTS,
		.syssize = (uint32_t)((pm_len + 15) / 16),
		.boot_flag = 0xaa55,
		/* a short jump over the header: 0xeb, offset to its end */
		.jump = 0xeb | (uint16_t)((0x1f1 + sizeof(h) - 0x202) << 8),
		.header = 0x53726448,
		.version = 0x020f,
		.loadflags = LOADED_HIGH,
		.code32_start = 0x100000,
		.initrd_addr_max = 0x7fffffff,
		.kernel_alignment = 0x200000,
		.relocatable_kernel = 1,
		.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
		.cmdline_size = 2047,
		.pref_address = 0x1000000,
		.init_size = init_size,
	};
	memcpy(img->data + 0x1f1, &h, sizeof(h));
}

Elf64_Ehdr *x86img_ehdr(struct x86img *img)
{
	return (Elf64_Ehdr *)img->data;
}

Elf64_Phdr *x86img_phdr(struct x86img *img, unsigned i)
{
	return (Elf64_Phdr *)(img->data + sizeof(Elf64_Ehdr)) + i;
}

Elf64_Nhdr *x86img_note(struct x86img *img)
{
	return (Elf64_Nhdr *)(img->data + sizeof(Elf64_Ehdr) +
			      X86IMG_PHDRS * sizeof(Elf64_Phdr));
}

void x86img_pvh_elf(struct x86img *img, uint64_t paddr, size_t filesz,
		    size_t memsz, uint64_t entry, unsigned desc_size)
{
	memset(img, 0, sizeof(*img));
	img->len = X86IMG_SEG_OFF + filesz;
	img->data = calloc(1, img->len);
	cr_assert_not_null(img->data);
	for (size_t i = 0; i < filesz; i++)
		img->data[X86IMG_SEG_OFF + i] = x86img_pattern(i);

	Elf64_Ehdr *eh = x86img_ehdr(img);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0xffffffff81000000ULL; /* the 64-bit entry, unused */
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = X86IMG_PHDRS;

	Elf64_Nhdr *nh = x86img_note(img);
	nh->n_namesz = 4;
	nh->n_descsz = desc_size;
	nh->n_type = XEN_ELFNOTE_PHYS32_ENTRY;
	uint8_t *name = (uint8_t *)(nh + 1);
	memcpy(name, "Xen", 4);
	memcpy(name + 4, &entry, desc_size <= 8 ? desc_size : 8);

	*x86img_phdr(img, 0) = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = X86IMG_SEG_OFF, .p_vaddr = paddr, .p_paddr = paddr,
		.p_filesz = filesz, .p_memsz = memsz, .p_align = 0x1000,
	};
	*x86img_phdr(img, 1) = (Elf64_Phdr){
		.p_type = PT_NOTE, .p_flags = PF_R,
		.p_offset = (uint8_t *)nh - img->data,
		.p_filesz = sizeof(*nh) + 4 + ((desc_size + 3) & ~3U),
		.p_align = 4,
	};
}

void x86img_save_bytes(struct x86img *img, const void *data, size_t len)
{
	strcpy(img->path, "/tmp/mvmm-x86img-XXXXXX");
	int fd = mkstemp(img->path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void x86img_save(struct x86img *img)
{
	x86img_save_bytes(img, img->data, img->len);
}

void x86img_free(struct x86img *img)
{
	if (img->path[0])
		unlink(img->path);
	free(img->data);
	memset(img, 0, sizeof(*img));
}

void x86img_gmem(struct gmem *mem, uint64_t mem_bytes)
{
	uint64_t ranges[2][2];
	unsigned n = x86_ram_ranges(mem_bytes, ranges);
	cr_assert_eq(gmem_init(mem, (const uint64_t(*)[2])ranges, n, NULL), 0);
}
