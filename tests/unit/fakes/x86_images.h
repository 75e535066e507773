/* Small crafted kernel images for the x86 loader tests: a bzImage with a real
 * setup header (Documentation/x86/boot.rst layout) and an ELF64 vmlinux with a
 * PVH note; tests corrupt their fields to drive each error path. Also guest
 * memory laid out by x86_ram_ranges(). */
#ifndef TESTS_FAKES_X86_IMAGES_H
#define TESTS_FAKES_X86_IMAGES_H

#include <core/gmem.h>

#include <asm/bootparam.h>
#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#define X86IMG_SETUP_SECTS 4
#define X86IMG_SETUP_BYTES ((X86IMG_SETUP_SECTS + 1) * 512)
#define X86IMG_PHDRS 2 /* PT_LOAD, PT_NOTE */
#define X86IMG_SEG_OFF 0x200

struct x86img {
	uint8_t *data;
	size_t len;
	char path[64]; /* after x86img_save() */
};

/* bzImage, protocol 2.15, XLF_KERNEL_64, pm_len bytes of a byte pattern. */
void x86img_bzimage(struct x86img *img, size_t pm_len, uint32_t init_size);
struct setup_header *x86img_hdr(struct x86img *img);

/* ELF64 with one PT_LOAD (filesz bytes of pattern, memsz in memory) at paddr
 * and a PT_NOTE holding "Xen" type 18 = entry, desc_size 4 or 8. */
void x86img_pvh_elf(struct x86img *img, uint64_t paddr, size_t filesz,
		    size_t memsz, uint64_t entry, unsigned desc_size);
Elf64_Ehdr *x86img_ehdr(struct x86img *img);
Elf64_Phdr *x86img_phdr(struct x86img *img, unsigned i);
Elf64_Nhdr *x86img_note(struct x86img *img);

/* The byte the images store at offset i of their payload. */
uint8_t x86img_pattern(size_t i);

/* Writes the image (or len bytes of data) to a temp file named in img->path. */
void x86img_save(struct x86img *img);
void x86img_save_bytes(struct x86img *img, const void *data, size_t len);
/* Unlinks the file and frees the data. */
void x86img_free(struct x86img *img);

/* Guest RAM of mem_bytes per x86_ram_ranges(); asserts on failure. */
void x86img_gmem(struct gmem *mem, uint64_t mem_bytes);

#endif
