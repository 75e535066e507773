#include "config/fields.h"

#include <core/err.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int fields_fail(struct fields *f, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->bad = key;
	return err_set(f->err, f->errlen, -EINVAL, "%s%s%s: %s", f->section,
		       key ? "." : "", key ? key : "", msg);
}

static bool listed(const char *const *names, const char *key)
{
	for (; *names; names++)
		if (!strcmp(*names, key))
			return true;
	return false;
}

int fields_check(struct fields *f, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(f->obj, key, v) {
		if (!listed(allowed, key))
			return fields_fail(f, key, "unknown field");
	}
	return 0;
}

int fields_require(struct fields *f, const char *const *keys)
{
	for (; *keys; keys++)
		if (!fields_has(f, *keys))
			return fields_fail(f, *keys, "missing required field");
	return 0;
}

bool fields_has(const struct fields *f, const char *key)
{
	return json_object_get(f->obj, key) != NULL;
}

int fields_bool(struct fields *f, const char *key, bool *out)
{
	json_t *v = json_object_get(f->obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fields_fail(f, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int fields_uint(struct fields *f, const char *key, uint64_t min, uint64_t max,
		uint64_t *out)
{
	json_t *v = json_object_get(f->obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return fields_fail(f, key, "must be an integer");
	json_int_t n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return fields_fail(f, key,
				   "must be between %llu and %llu, got %lld",
				   (unsigned long long)min,
				   (unsigned long long)max, (long long)n);
	*out = (uint64_t)n;
	return 0;
}

int fields_u32(struct fields *f, const char *key, uint32_t min, uint32_t max,
	       uint32_t *out)
{
	uint64_t n = *out;
	int r = fields_uint(f, key, min, max, &n);
	if (!r)
		*out = (uint32_t)n;
	return r;
}

int fields_string(struct fields *f, const char *key, const char **out)
{
	json_t *v = json_object_get(f->obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fields_fail(f, key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

int fields_text(struct fields *f, const char *key, bool required,
		const char **out)
{
	json_t *v = json_object_get(f->obj, key);
	if (!v)
		return required ? fields_fail(f, key, "required") : 0;
	if (!json_is_string(v) || !*json_string_value(v))
		return fields_fail(f, key, "must be a non-empty string");
	*out = json_string_value(v);
	return 0;
}

int fields_choice(struct fields *f, const char *key, const char *const *names,
		  unsigned *out)
{
	json_t *v = json_object_get(f->obj, key);
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	for (unsigned i = 0; s && names[i]; i++) {
		if (!strcmp(names[i], s)) {
			*out = i;
			return 0;
		}
	}
	/* `must be "A", "B" or "C"`: the names, quoted. */
	char list[160] = "";
	size_t len = 0;
	for (unsigned i = 0; names[i] && len < sizeof(list); i++) {
		const char *sep = !i ? "" : names[i + 1] ? ", " : " or ";
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
					sep, names[i]);
	}
	return fields_fail(f, key, "must be %s", list);
}
