/* The field checker the config file and the API share: every message names
 * section.key, and f.bad the key (the config file's position comes from it). */
#include "config/fields.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static char err[256];

static json_t *obj(const char *text)
{
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	cr_assert(json_is_object(o), "%s", text);
	return o;
}

Test(fields, unknown_field_is_named_with_its_section)
{
	static const char *const allowed[] = {"a", "b", NULL};
	json_t *o = obj("{\"a\": 1, \"c\": 2}");
	struct fields f = FIELDS(o, "sec", err, sizeof(err));
	cr_assert_eq(fields_check(&f, allowed), -EINVAL);
	cr_assert_str_eq(err, "sec.c: unknown field");
	cr_assert_str_eq(f.bad, "c");
	json_decref(o);

	o = obj("{\"b\": 1}");
	f = FIELDS(o, "sec", err, sizeof(err));
	cr_assert_eq(fields_check(&f, allowed), 0);
	json_decref(o);
}

Test(fields, required_fields_are_checked_in_order)
{
	static const char *const required[] = {"a", "b", NULL};
	json_t *o = obj("{\"b\": 1}");
	struct fields f = FIELDS(o, "sec", err, sizeof(err));
	cr_assert_eq(fields_require(&f, required), -EINVAL);
	cr_assert_str_eq(err, "sec.a: missing required field");
	cr_assert(fields_has(&f, "b"));
	cr_assert_not(fields_has(&f, "a"));
	json_decref(o);
}

Test(fields, readers_leave_absent_fields_alone)
{
	json_t *o = obj("{}");
	struct fields f = FIELDS(o, "sec", err, sizeof(err));
	bool b = true;
	uint64_t n = 7;
	uint32_t u = 8;
	const char *s = "keep";
	unsigned i = 9;
	static const char *const names[] = {"x", "y", NULL};
	cr_assert_eq(fields_bool(&f, "b", &b), 0);
	cr_assert_eq(fields_uint(&f, "n", 0, 10, &n), 0);
	cr_assert_eq(fields_u32(&f, "u", 0, 10, &u), 0);
	cr_assert_eq(fields_string(&f, "s", &s), 0);
	cr_assert_eq(fields_text(&f, "s", false, &s), 0);
	cr_assert_eq(fields_choice(&f, "c", names, &i), 0);
	cr_assert(b);
	cr_assert_eq(n, 7);
	cr_assert_eq(u, 8);
	cr_assert_str_eq(s, "keep");
	cr_assert_eq(i, 9);
	json_decref(o);
}

Test(fields, type_and_range_errors_name_the_field)
{
	json_t *o = obj("{\"b\": 1, \"n\": 11, \"m\": -1, \"t\": \"x\", \"s\": 3,"
			" \"e\": \"\", \"u\": 5}");
	struct fields f = FIELDS(o, "sec", err, sizeof(err));
	bool b;
	uint64_t n;
	uint32_t u = 0;
	const char *s;

	cr_assert_eq(fields_bool(&f, "b", &b), -EINVAL);
	cr_assert_str_eq(err, "sec.b: must be true or false");
	cr_assert_eq(fields_uint(&f, "n", 1, 10, &n), -EINVAL);
	cr_assert_str_eq(err, "sec.n: must be between 1 and 10, got 11");
	cr_assert_eq(fields_uint(&f, "m", 0, 10, &n), -EINVAL);
	cr_assert_str_eq(err, "sec.m: must be between 0 and 10, got -1");
	cr_assert_eq(fields_uint(&f, "t", 0, 10, &n), -EINVAL);
	cr_assert_str_eq(err, "sec.t: must be an integer");
	cr_assert_eq(fields_string(&f, "s", &s), -EINVAL);
	cr_assert_str_eq(err, "sec.s: must be a string");
	cr_assert_eq(fields_text(&f, "e", false, &s), -EINVAL);
	cr_assert_str_eq(err, "sec.e: must be a non-empty string");
	cr_assert_eq(fields_text(&f, "missing", true, &s), -EINVAL);
	cr_assert_str_eq(err, "sec.missing: required");
	cr_assert_str_eq(f.bad, "missing");
	cr_assert_eq(fields_u32(&f, "u", 0, 10, &u), 0);
	cr_assert_eq(u, 5);
	json_decref(o);
}

Test(fields, choice_lists_the_names_it_takes)
{
	static const char *const two[] = {"on", "off", NULL};
	static const char *const three[] = {"None", "Transparent", "2M", NULL};
	json_t *o = obj("{\"a\": \"off\", \"b\": \"1G\", \"c\": 2}");
	struct fields f = FIELDS(o, "sec", err, sizeof(err));
	unsigned i = 0;

	cr_assert_eq(fields_choice(&f, "a", two, &i), 0);
	cr_assert_eq(i, 1);
	cr_assert_eq(fields_choice(&f, "b", three, &i), -EINVAL);
	cr_assert_str_eq(err, "sec.b: must be \"None\", \"Transparent\" or \"2M\"");
	cr_assert_eq(fields_choice(&f, "c", two, &i), -EINVAL);
	cr_assert_str_eq(err, "sec.c: must be \"on\" or \"off\"");
	json_decref(o);
}

Test(fields, a_failure_about_the_object_names_only_the_section)
{
	json_t *o = obj("{}");
	struct fields f = FIELDS(o, "snapshot", err, sizeof(err));
	cr_assert_eq(fields_fail(&f, NULL, "give %s, not both", "one"), -EINVAL);
	cr_assert_str_eq(err, "snapshot: give one, not both");
	cr_assert_null(f.bad);
	json_decref(o);
}
