/* The inhibit counter: named reasons, each counted (seed 002). */
#include <devices/inhibit.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

TestSuite(inhibit);

Test(inhibit, active_while_any_reason_holds)
{
	struct inhibit inh;
	inhibit_init(&inh);
	cr_assert_not(inhibit_active(&inh));
	cr_assert_eq(inhibit_add(&inh, "snapshot"), 0);
	cr_assert_eq(inhibit_add(&inh, "operator"), 0);
	cr_assert_eq(inhibit_add(&inh, "snapshot"), 0);
	cr_assert(inhibit_active(&inh));
	cr_assert_eq(inhibit_count(&inh, "snapshot"), 2);
	cr_assert_eq(inhibit_count(&inh, "operator"), 1);
	cr_assert_eq(inhibit_remove(&inh, "snapshot"), 0);
	cr_assert_eq(inhibit_remove(&inh, "operator"), 0);
	cr_assert(inhibit_active(&inh), "one snapshot hold is left");
	cr_assert_eq(inhibit_remove(&inh, "snapshot"), 0);
	cr_assert_not(inhibit_active(&inh));
	cr_assert_eq(inhibit_count(&inh, "snapshot"), 0);
}

Test(inhibit, removing_what_is_not_held_fails_without_change)
{
	struct inhibit inh;
	inhibit_init(&inh);
	cr_assert_eq(inhibit_remove(&inh, "snapshot"), -ENOENT);
	cr_assert_eq(inhibit_add(&inh, "snapshot"), 0);
	cr_assert_eq(inhibit_remove(&inh, "operator"), -ENOENT);
	cr_assert_eq(inhibit_remove(&inh, NULL), -ENOENT);
	cr_assert(inhibit_active(&inh));
	cr_assert_eq(inhibit_remove(&inh, "snapshot"), 0);
	cr_assert_eq(inhibit_remove(&inh, "snapshot"), -ENOENT);
	cr_assert_not(inhibit_active(&inh));
}

Test(inhibit, lists_the_reasons_held)
{
	struct inhibit inh;
	const char *names[INHIBIT_MAX_REASONS];
	inhibit_init(&inh);
	cr_assert_eq(inhibit_reasons(&inh, names, INHIBIT_MAX_REASONS), 0);
	inhibit_add(&inh, "operator");
	inhibit_add(&inh, "snapshot");
	inhibit_add(&inh, "operator");
	cr_assert_eq(inhibit_reasons(&inh, names, INHIBIT_MAX_REASONS), 2);
	cr_assert_str_eq(names[0], "operator");
	cr_assert_str_eq(names[1], "snapshot");
	inhibit_remove(&inh, "operator");
	inhibit_remove(&inh, "operator");
	cr_assert_eq(inhibit_reasons(&inh, names, 1), 1);
	cr_assert_str_eq(names[0], "snapshot");
	/* max 0: just the count. */
	cr_assert_eq(inhibit_reasons(&inh, NULL, 0), 1);
}

Test(inhibit, the_name_is_copied)
{
	struct inhibit inh;
	char name[16];
	const char *names[1];
	inhibit_init(&inh);
	snprintf(name, sizeof(name), "snapshot");
	inhibit_add(&inh, name);
	memset(name, 'x', sizeof(name) - 1);
	inhibit_reasons(&inh, names, 1);
	cr_assert_str_eq(names[0], "snapshot");
	cr_assert_eq(inhibit_remove(&inh, "snapshot"), 0);
}

Test(inhibit, bad_names_and_a_full_table_are_refused)
{
	struct inhibit inh;
	char name[INHIBIT_NAME_MAX + 1];
	inhibit_init(&inh);
	cr_assert_eq(inhibit_add(&inh, ""), -EINVAL);
	cr_assert_eq(inhibit_add(&inh, NULL), -EINVAL);
	memset(name, 'a', INHIBIT_NAME_MAX);
	name[INHIBIT_NAME_MAX] = '\0';
	cr_assert_eq(inhibit_add(&inh, name), -EINVAL);
	for (unsigned i = 0; i < INHIBIT_MAX_REASONS; i++) {
		snprintf(name, sizeof(name), "r%u", i);
		cr_assert_eq(inhibit_add(&inh, name), 0);
	}
	cr_assert_eq(inhibit_add(&inh, "one-more"), -ENOSPC);
	cr_assert_eq(inhibit_add(&inh, "r3"), 0, "a held reason still counts");
	cr_assert_eq(inhibit_count(&inh, "r3"), 2);
	cr_assert(inhibit_active(&inh));
	/* A slot freed is reused. */
	inhibit_remove(&inh, "r0");
	cr_assert_eq(inhibit_add(&inh, "one-more"), 0);
}
