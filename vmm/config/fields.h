/* The fields of one JSON object, checked before anything reads them: the
 * one "unknown field" check and the typed readers that the config file's
 * sections and the REST API's request bodies share, so both name a bad
 * field the same way ("balloon.amount_mib: must be an integer").
 *
 *   char err[CONFIG_ERR_LEN];
 *   struct fields f = FIELDS(body, "balloon", err, sizeof(err));
 *   if (fields_check(&f, allowed) || fields_bool(&f, "deflate_on_oom", &b))
 *           ... err says why, f.bad names the key
 *
 * A reader leaves *out alone when the key is absent: set defaults first.
 * Every function returns 0 or -EINVAL with err = "section.key: reason". */
#ifndef VMM_CONFIG_FIELDS_H
#define VMM_CONFIG_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fields {
	json_t *obj;
	const char *section; /* names obj in messages: "snapshot.mem_backend" */
	char *err;
	size_t errlen;
	const char *bad; /* after a failure: the key it names, NULL: obj */
};

#define FIELDS(obj_, section_, err_, errlen_)                                  \
	((struct fields){.obj = (obj_), .section = (section_), .err = (err_),  \
			 .errlen = (errlen_)})

/* "section.key: <fmt>", or "section: <fmt>" when key is NULL. */
int fields_fail(struct fields *f, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Every key of obj is in allowed (NULL-terminated): "unknown field". */
int fields_check(struct fields *f, const char *const *allowed);
/* Every key in keys is present: "missing required field". */
int fields_require(struct fields *f, const char *const *keys);
bool fields_has(const struct fields *f, const char *key);

int fields_bool(struct fields *f, const char *key, bool *out);
int fields_uint(struct fields *f, const char *key, uint64_t min, uint64_t max,
		uint64_t *out);
int fields_u32(struct fields *f, const char *key, uint32_t min, uint32_t max,
	       uint32_t *out);
/* Any string; *out points into obj. */
int fields_string(struct fields *f, const char *key, const char **out);
/* A non-empty string (a path); an absent required one fails "required". */
int fields_text(struct fields *f, const char *key, bool required,
		const char **out);
/* One of names (NULL-terminated): *out is its index; else `must be "A",
 * "B" or "C"`. */
int fields_choice(struct fields *f, const char *key, const char *const *names,
		  unsigned *out);

#endif
