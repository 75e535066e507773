/* The bounded kernel command-line builder. */
#include <core/cmdline.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static struct cmdline c;

TestSuite(cmdline);

Test(cmdline, appends_space_separated_formatted_args)
{
	cmdline_init(&c, 2047);
	cr_assert_eq(cmdline_append(&c, "console=ttyS0"), 0);
	cr_assert_eq(cmdline_append(&c, "virtio_mmio.device=4K@0x%llx:%u", 0xd0000000ULL, 5), 0);
	cr_assert_str_eq(cmdline_str(&c), "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5");
	cr_assert_eq(c.len, strlen(cmdline_str(&c)));
}

Test(cmdline, empty_append_adds_no_space)
{
	cmdline_init(&c, 100);
	cr_assert_eq(cmdline_append(&c, "%s", ""), 0);
	cr_assert_eq(cmdline_append(&c, "a"), 0);
	cr_assert_eq(cmdline_append(&c, "%s", ""), 0);
	cr_assert_str_eq(cmdline_str(&c), "a");
}

Test(cmdline, exactly_max_bytes_fit)
{
	cmdline_init(&c, 7);
	cr_assert_eq(cmdline_append(&c, "abc"), 0);
	cr_assert_eq(cmdline_append(&c, "def"), 0); /* "abc def" = 7 */
	cr_assert_eq(c.len, 7);
	cr_assert_eq(cmdline_append(&c, "g"), -E2BIG);
}

Test(cmdline, overflowing_append_leaves_line_unchanged)
{
	cmdline_init(&c, 10);
	cr_assert_eq(cmdline_append(&c, "quiet"), 0);
	cr_assert_eq(cmdline_append(&c, "panic=-1"), -E2BIG);
	cr_assert_str_eq(cmdline_str(&c), "quiet");
	cr_assert_eq(c.len, 5);
}

Test(cmdline, max_is_clamped_to_the_buffer)
{
	static char big[CMDLINE_BUF_SIZE + 10];
	memset(big, 'x', sizeof(big) - 1);
	cmdline_init(&c, (size_t)-1);
	cr_assert_eq(c.max, CMDLINE_BUF_SIZE - 1);
	cr_assert_eq(cmdline_append(&c, "%s", big), -E2BIG);
	big[CMDLINE_BUF_SIZE - 1] = 0;
	cr_assert_eq(cmdline_append(&c, "%s", big), 0);
	cr_assert_eq(c.len, CMDLINE_BUF_SIZE - 1);
	cr_assert_eq(cmdline_str(&c)[c.len], 0);
}

Test(cmdline, has_word_matches_whole_words_only)
{
	cr_assert(cmdline_has_word("console=ttyS0 acpi=off quiet", "acpi=off"));
	cr_assert(cmdline_has_word("acpi=off", "acpi=off"));
	cr_assert(cmdline_has_word("  acpi=off  ", "acpi=off"));
	cr_assert_not(cmdline_has_word("acpi=offx quiet", "acpi=off"));
	cr_assert_not(cmdline_has_word("xacpi=off", "acpi=off"));
	cr_assert_not(cmdline_has_word("console=ttyS0", "acpi=off"));
	cr_assert_not(cmdline_has_word("", "acpi=off"));
}
