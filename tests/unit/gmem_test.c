/* core/gmem.c: guest RAM regions as mapped. Out of core dumps (VmFlags
 * "dd" in /proc/self/smaps); each region's host address congruent to its
 * guest address modulo 2 MiB (1 GiB for regions that large), the
 * reservation's slack given back, and the THP advice the options ask. */
#include <core/gmem.h>

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

TestSuite(gmem);

/* The VmFlags line of the mapping that starts at hva, into flags. */
static bool vm_flags_of(const void *hva, char *flags, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		uintptr_t start, end;
		/* Mapping lines start "start-end perms ..."; others "Key:". */
		if (!strchr(line, ':') ||
		    (strchr(line, '-') && strchr(line, '-') < strchr(line, ':'))) {
			if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &start, &end) != 2)
				continue;
			in = start == (uintptr_t)hva;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t n = strlen(line + 8);
			n = n < len - 1 ? n : len - 1;
			memcpy(flags, line + 8, n);
			flags[n] = 0;
			fclose(f);
			return true;
		}
	}
	fclose(f);
	return false;
}

static void check_no_dump(enum gmem_backend backend)
{
	static const uint64_t ranges[1][2] = {{0, 4 << 20}};
	struct gmem_opts opts = {.backend = backend};
	struct gmem mem;
	char flags[256];
	cr_assert_eq(gmem_init(&mem, ranges, 1, &opts), 0);
	cr_assert(vm_flags_of(mem.regions[0].hva, flags, sizeof(flags)),
		  "no smaps entry for guest RAM");
	cr_assert(strstr(flags, " dd"), "guest RAM is dumped: VmFlags:%s",
		  flags);
	gmem_destroy(&mem);
}

Test(gmem, anonymous_guest_ram_is_left_out_of_core_dumps)
{
	check_no_dump(GMEM_ANON_PRIVATE);
}

Test(gmem, memfd_guest_ram_is_left_out_of_core_dumps)
{
	check_no_dump(GMEM_MEMFD_SHARED);
}

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

Test(gmem, alignment_is_2m_below_1g_and_1g_from_there)
{
	cr_assert_eq(gmem_map_align(4096), GMEM_ALIGN_2M);
	cr_assert_eq(gmem_map_align(256 * MIB), GMEM_ALIGN_2M);
	cr_assert_eq(gmem_map_align(GIB - 4096), GMEM_ALIGN_2M);
	cr_assert_eq(gmem_map_align(GIB), GMEM_ALIGN_1G);
	cr_assert_eq(gmem_map_align(3 * GIB), GMEM_ALIGN_1G);
}

Test(gmem, placement_is_congruent_and_inside_the_reservation)
{
	static const uint64_t aligns[] = {GMEM_ALIGN_2M, GMEM_ALIGN_1G};
	static const uint64_t reserves[] = {
		0, 4096, GMEM_ALIGN_2M, GMEM_ALIGN_2M - 4096, 0x7f1234567000ULL,
		0x7f0000000000ULL, 0x7f00001ff000ULL,
	};
	static const uint64_t gpas[] = {
		0, 4096, GMEM_ALIGN_2M, 3 * MIB, 4 * GIB, 4 * GIB + 6 * MIB,
		GIB - 4096,
	};
	for (unsigned a = 0; a < 2; a++)
		for (unsigned r = 0; r < sizeof(reserves) / sizeof(reserves[0]); r++)
			for (unsigned g = 0; g < sizeof(gpas) / sizeof(gpas[0]); g++) {
				uint64_t al = aligns[a], res = reserves[r];
				uint64_t p = gmem_map_place(res, gpas[g], al);
				cr_assert_eq(p % al, gpas[g] % al,
					     "reserve 0x%llx gpa 0x%llx",
					     (unsigned long long)res,
					     (unsigned long long)gpas[g]);
				cr_assert(p >= res && p - res < al,
					  "0x%llx outside [0x%llx, +align)",
					  (unsigned long long)p,
					  (unsigned long long)res);
			}
}

/* The /proc/self/smaps block of the mapping that starts at hva: its end and
 * VmFlags line. False if no mapping starts there. */
static bool mapping_at(const void *hva, uint64_t *end, char *flags,
		       size_t flen)
{
	char line[512];
	bool in = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		/* Field lines ("Size:") never read as "hex-hex". */
		if (sscanf(line, "%llx-%llx ", &s, &e) == 2) {
			in = s == (uintptr_t)hva;
			if (in) {
				*end = e;
				found = true;
			}
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, flen, "%s", line + 8);
		}
	}
	fclose(f);
	return found;
}

static void check_region(const struct gmem_region *r, bool thp)
{
	uint64_t al = gmem_map_align(r->len), end = 0;
	char flags[512] = "";
	cr_assert_eq((uintptr_t)r->hva % al, r->gpa % al,
		     "hva %p for gpa 0x%llx, align 0x%llx", (void *)r->hva,
		     (unsigned long long)r->gpa, (unsigned long long)al);
	cr_assert(mapping_at(r->hva, &end, flags, sizeof(flags)),
		  "no mapping starts at %p", (void *)r->hva);
	cr_assert_eq(end, (uintptr_t)r->hva + r->len,
		     "the reservation's slack is still mapped");
	if (r->backend != GMEM_HUGETLB_2M)
		cr_assert(strstr(flags, thp ? " hg" : " nh"), "VmFlags:%s",
			  flags);
	/* Usable at both ends. */
	r->hva[0] = 1;
	r->hva[r->len - 1] = 2;
}

Test(gmem, anonymous_ram_is_aligned_and_advised_huge)
{
	const uint64_t ranges[2][2] = {{0, 256 * MIB}, {4 * GIB, 6 * MIB}};
	struct gmem m;
	cr_assert_eq(gmem_init(&m, ranges, 2, NULL), 0);
	check_region(&m.regions[0], true);
	check_region(&m.regions[1], true);
	gmem_destroy(&m);
}

Test(gmem, a_1g_region_is_1g_aligned)
{
	const uint64_t ranges[1][2] = {{0, GIB}};
	struct gmem m;
	cr_assert_eq(gmem_init(&m, ranges, 1, NULL), 0);
	cr_assert_eq((uintptr_t)m.regions[0].hva % GIB, 0);
	check_region(&m.regions[0], true);
	gmem_destroy(&m);
}

Test(gmem, an_unaligned_gpa_keeps_its_offset)
{
	const uint64_t ranges[1][2] = {{GMEM_ALIGN_2M + 4096, 8 * MIB}};
	struct gmem m;
	cr_assert_eq(gmem_init(&m, ranges, 1, NULL), 0);
	check_region(&m.regions[0], true);
	gmem_destroy(&m);
}

Test(gmem, huge_pages_none_advises_against_thp)
{
	const uint64_t ranges[1][2] = {{0, 64 * MIB}};
	struct gmem_opts o = {.backend = GMEM_ANON_PRIVATE};
	struct gmem m;
	cr_assert_eq(gmem_init(&m, ranges, 1, &o), 0);
	check_region(&m.regions[0], false);
	gmem_destroy(&m);
}

Test(gmem, memfd_ram_is_aligned_too)
{
	const uint64_t ranges[1][2] = {{0, 32 * MIB}};
	struct gmem_opts o = {.backend = GMEM_MEMFD_SHARED,
			      .transparent_hugepages = true};
	struct gmem m;
	cr_assert_eq(gmem_init(&m, ranges, 1, &o), 0);
	check_region(&m.regions[0], true);
	cr_assert_geq(m.regions[0].fd, 0);
	gmem_destroy(&m);
}
