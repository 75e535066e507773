/* Private to snapfile*.c: the on-disk layout (see snapfile.h) and its
 * little-endian accessors. */
#ifndef VMM_SNAPFILE_PRIV_H
#define VMM_SNAPFILE_PRIV_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SNAPFILE_MAGIC "MVMMSNAP" /* 8 bytes, no terminator on disk */

enum {
	SNAPFILE_HDR_BYTES = 32,
	SNAPFILE_HDR_VERSION = 8, SNAPFILE_HDR_ARCH = 12, SNAPFILE_HDR_PAYLOAD = 16, SNAPFILE_HDR_CRC = 24,
	SNAPFILE_HDR_SECTIONS = 28,
	SNAPFILE_SEC_HDR_BYTES = 16, /* u32 tag, u32 instance, u64 len */
};

static inline void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

#endif
