/* core/gmem.c: guest RAM regions as mapped (issue 12: kept out of core
 * dumps). Checked against /proc/self/smaps, whose VmFlags say "dd" for
 * MADV_DONTDUMP. */
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
