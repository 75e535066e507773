#include "aml.h"

#include <string.h>

#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP */
#define AML_ROOT_CHAR '\\'

/* PkgLength is 1 to 4 bytes; a package reserves the most and closes up. */
#define AML_PKGLEN_MAX 4

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->overflow = false;
}

static void put(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void put8(struct aml *a, uint8_t v)
{
	put(a, &v, 1);
}

static void put_le(struct aml *a, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		put8(a, (uint8_t)(v >> (8 * i)));
}

static void put_nameseg(struct aml *a, const char *seg)
{
	/* A NameSeg is exactly four characters, '_' padded by the caller. */
	put(a, seg, 4);
}

/* The smallest encoding of an integer (20.2.3): Zero, One or a prefix. */
static void put_int(struct aml *a, uint64_t v)
{
	static const struct {
		uint64_t max;
		uint8_t prefix;
		unsigned bytes;
	} sizes[] = {
		{0xff, AML_BYTE_PREFIX, 1},
		{0xffff, AML_WORD_PREFIX, 2},
		{0xffffffff, AML_DWORD_PREFIX, 4},
		{UINT64_MAX, AML_QWORD_PREFIX, 8},
	};
	if (v <= 1) {
		put8(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	unsigned i = 0;
	while (v > sizes[i].max)
		i++;
	put8(a, sizes[i].prefix);
	put_le(a, v, sizes[i].bytes);
}

static size_t pkg_open(struct aml *a)
{
	size_t mark = a->len;
	for (unsigned i = 0; i < AML_PKGLEN_MAX; i++)
		put8(a, 0);
	return mark;
}

void aml_close(struct aml *a, size_t mark)
{
	if (a->overflow)
		return;
	size_t body = a->len - mark - AML_PKGLEN_MAX;
	/* PkgLength counts its own bytes: one byte holds 6 bits, each more
	 * byte 8 more above a 4-bit first nibble (20.2.4). */
	unsigned n = 1;
	while (n < AML_PKGLEN_MAX &&
	       body + n > (n == 1 ? 0x3fu : (1u << (4 + 8 * (n - 1))) - 1))
		n++;
	size_t total = body + n;
	if (n == AML_PKGLEN_MAX && total > 0x0fffffff) {
		a->overflow = true;
		return;
	}
	uint8_t *p = a->buf + mark;
	if (n == 1) {
		p[0] = (uint8_t)total;
	} else {
		p[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (unsigned i = 1; i < n; i++)
			p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(p + n, p + AML_PKGLEN_MAX, body);
	a->len -= AML_PKGLEN_MAX - n;
}

void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	put8(a, AML_NAME_OP);
	put_nameseg(a, name);
	put_int(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	put8(a, AML_NAME_OP);
	put_nameseg(a, name);
	put8(a, AML_STRING_PREFIX);
	put(a, s, strlen(s) + 1);
}

void aml_name_package(struct aml *a, const char *name, const uint64_t *v,
		      unsigned n)
{
	put8(a, AML_NAME_OP);
	put_nameseg(a, name);
	put8(a, AML_PACKAGE_OP);
	size_t mark = pkg_open(a);
	put8(a, (uint8_t)n); /* NumElements */
	for (unsigned i = 0; i < n; i++)
		put_int(a, v[i]);
	aml_close(a, mark);
}

size_t aml_scope_open(struct aml *a, const char *path)
{
	put8(a, AML_SCOPE_OP);
	size_t mark = pkg_open(a);
	if (path[0] == AML_ROOT_CHAR) {
		put8(a, AML_ROOT_CHAR);
		path++;
	}
	put_nameseg(a, path);
	return mark;
}

size_t aml_device_open(struct aml *a, const char *name)
{
	put8(a, AML_EXT_OP);
	put8(a, AML_DEVICE_OP);
	size_t mark = pkg_open(a);
	put_nameseg(a, name);
	return mark;
}

/* Resource descriptors (ACPI 6.4 section 6.4.3). */
#define RES_MEMORY32_FIXED 0x86
#define RES_EXT_IRQ 0x89
#define RES_END_TAG 0x79
#define RES_MEM_READ_WRITE 0x01
#define RES_IRQ_CONSUMER 0x01
#define RES_IRQ_EDGE 0x02

void aml_name_crs_mmio_irq(struct aml *a, uint32_t base, uint32_t len,
			   uint32_t gsi)
{
	put8(a, AML_NAME_OP);
	put_nameseg(a, "_CRS");
	put8(a, AML_BUFFER_OP);
	size_t mark = pkg_open(a);
	/* BufferSize, then the descriptors: 12 + 9 + 2 bytes. */
	put_int(a, 12 + 9 + 2);
	put8(a, RES_MEMORY32_FIXED);
	put_le(a, 9, 2);
	put8(a, RES_MEM_READ_WRITE);
	put_le(a, base, 4);
	put_le(a, len, 4);
	/* Edge, active high, exclusive: how mvmm signals (an irqfd pulse),
	 * and what Linux assumes for ISA IRQs on the command-line path. */
	put8(a, RES_EXT_IRQ);
	put_le(a, 6, 2);
	put8(a, RES_IRQ_CONSUMER | RES_IRQ_EDGE);
	put8(a, 1); /* one interrupt */
	put_le(a, gsi, 4);
	/* The end tag's checksum byte 0 means "treat as correct" (6.4.2.9). */
	put8(a, RES_END_TAG);
	put8(a, 0);
	aml_close(a, mark);
}
