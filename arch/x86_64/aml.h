/* A small AML writer for the DSDT (ACPI 6.4 chapter 20): names, integers,
 * strings, scopes, devices and resource templates, written into a caller's
 * buffer. Packages are opened and closed so that PkgLength, which precedes
 * its contents, is computed once they are known. Private to arch/x86_64. */
#ifndef ARCH_X86_64_AML_H
#define ARCH_X86_64_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow; /* a write did not fit: the image is unusable */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);

/* Name (NAME, value); name is one 4-character NameSeg. */
void aml_name_int(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
/* Name (NAME, Package () { ints... }). */
void aml_name_package(struct aml *a, const char *name, const uint64_t *v,
		      unsigned n);

/* Scope (path) { ... } and Device (NAME) { ... }: open returns the mark
 * that close needs. path is a root path such as "\\_SB_". */
size_t aml_scope_open(struct aml *a, const char *path);
size_t aml_device_open(struct aml *a, const char *name);
void aml_close(struct aml *a, size_t mark);

/* Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, base, len)
 * Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } }). */
void aml_name_crs_mmio_irq(struct aml *a, uint32_t base, uint32_t len,
			   uint32_t gsi);

#endif
