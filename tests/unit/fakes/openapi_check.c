#include "fakes/openapi_check.h"

#include <core/err.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $refs may point at each other; a schema this deep is a loop. */
#define OA_MAX_DEPTH 32
#define OA_WHERE_LEN 256

struct oa {
	json_t *doc;
	char *err;
	size_t errlen;
};

static const char *const keywords[] = {
	"$ref",	    "anyOf",   "type",	  "enum",	   "properties",
	"required", "additionalProperties", "items",	   "minimum",
	"maximum",  "minProperties",	    "maxItems",	   NULL,
};
/* Read, never checked. */
static const char *const annotations[] = {
	"description", "deprecated", "summary", "title",
	"example",     "default",    "format",	"readOnly", NULL,
};

static bool listed(const char *const *names, const char *s)
{
	for (; *names; names++)
		if (!strcmp(*names, s))
			return true;
	return false;
}

static int fail(struct oa *o, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct oa *o, const char *where, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(o->err, o->errlen, -EINVAL, "%s: %s", where, msg);
}

json_t *openapi_load(char *err, size_t errlen)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		err_set(err, errlen, -errno, "/proc/self/exe: %s", strerror(errno));
		return NULL;
	}
	exe[n] = 0;
	/* build/unit_tests or build-asan/unit_tests: the checkout is above. */
	snprintf(path, sizeof(path), "%s/../docs/openapi.json", dirname(exe));
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		err_set(err, errlen, -EINVAL, "%s:%d:%d: %s", path, je.line,
			je.column, je.text);
	return doc;
}

static json_t *resolve(struct oa *o, const char *ref)
{
	static const char prefix[] = "#/components/schemas/";
	if (strncmp(ref, prefix, sizeof(prefix) - 1))
		return NULL;
	json_t *schemas = json_object_get(json_object_get(o->doc, "components"),
					  "schemas");
	return json_object_get(schemas, ref + sizeof(prefix) - 1);
}

/* 1 yes, 0 no, -1 an unknown type name. */
static int has_type(json_t *v, const char *t)
{
	if (!strcmp(t, "object"))
		return json_is_object(v);
	if (!strcmp(t, "array"))
		return json_is_array(v);
	if (!strcmp(t, "string"))
		return json_is_string(v);
	if (!strcmp(t, "integer"))
		return json_is_integer(v);
	if (!strcmp(t, "number"))
		return json_is_number(v);
	if (!strcmp(t, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(t, "null"))
		return json_is_null(v);
	return -1;
}

static int validate(struct oa *o, json_t *s, json_t *v, const char *where,
		    int depth);

static int check_type(struct oa *o, json_t *type, json_t *v, const char *where)
{
	size_t i, n = json_is_array(type) ? json_array_size(type) : 1;
	for (i = 0; i < n; i++) {
		json_t *t = json_is_array(type) ? json_array_get(type, i) : type;
		int r = json_is_string(t) ? has_type(v, json_string_value(t)) : -1;
		if (r < 0)
			return fail(o, where, "schema has an unknown type");
		if (r)
			return 0;
	}
	char *want = json_dumps(type, JSON_COMPACT | JSON_ENCODE_ANY);
	int r = fail(o, where, "expected type %s", want ? want : "?");
	free(want);
	return r;
}

static int check_any_of(struct oa *o, json_t *choices, json_t *v,
			const char *where, int depth)
{
	char first[256] = "";
	size_t i;
	json_t *c;
	json_array_foreach(choices, i, c) {
		if (!validate(o, c, v, where, depth + 1))
			return 0;
		if (!first[0])
			snprintf(first, sizeof(first), "%s", o->err);
	}
	return fail(o, where, "matches no choice of anyOf (first: %s)", first);
}

static int check_number(struct oa *o, json_t *s, json_t *v, const char *where)
{
	json_t *min = json_object_get(s, "minimum");
	json_t *max = json_object_get(s, "maximum");
	if (!json_is_number(v))
		return 0;
	double x = json_number_value(v);
	if (min && x < json_number_value(min))
		return fail(o, where, "%g is below the minimum %g", x,
			    json_number_value(min));
	if (max && x > json_number_value(max))
		return fail(o, where, "%g is above the maximum %g", x,
			    json_number_value(max));
	return 0;
}

static int check_object(struct oa *o, json_t *s, json_t *v, const char *where,
			int depth)
{
	json_t *props = json_object_get(s, "properties");
	json_t *extra = json_object_get(s, "additionalProperties");
	json_t *min = json_object_get(s, "minProperties");
	json_t *req;
	const char *key;
	json_t *val;
	size_t i;

	json_array_foreach(json_object_get(s, "required"), i, req) {
		if (!json_object_get(v, json_string_value(req)))
			return fail(o, where, "required field \"%s\" missing",
				    json_string_value(req));
	}
	if (min && json_object_size(v) < (size_t)json_integer_value(min))
		return fail(o, where, "fewer than %lld fields",
			    (long long)json_integer_value(min));
	json_object_foreach(v, key, val) {
		char sub[OA_WHERE_LEN];
		json_t *ps = json_object_get(props, key);
		snprintf(sub, sizeof(sub), "%s.%s", where, key);
		if (!ps && json_is_false(extra))
			return fail(o, sub, "field not in the document");
		if (!ps && json_is_object(extra))
			ps = extra;
		if (ps && validate(o, ps, val, sub, depth + 1))
			return -EINVAL;
	}
	return 0;
}

static int check_array(struct oa *o, json_t *s, json_t *v, const char *where,
		       int depth)
{
	json_t *items = json_object_get(s, "items");
	json_t *max = json_object_get(s, "maxItems");
	json_t *e;
	size_t i;

	if (max && json_array_size(v) > (size_t)json_integer_value(max))
		return fail(o, where, "more than %lld items",
			    (long long)json_integer_value(max));
	json_array_foreach(v, i, e) {
		char sub[OA_WHERE_LEN];
		snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
		if (items && validate(o, items, e, sub, depth + 1))
			return -EINVAL;
	}
	return 0;
}

static int check_enum(struct oa *o, json_t *choices, json_t *v,
		      const char *where)
{
	size_t i;
	json_t *c;
	json_array_foreach(choices, i, c) {
		if (json_equal(c, v))
			return 0;
	}
	char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int r = fail(o, where, "%s is not in the enum", got ? got : "?");
	free(got);
	return r;
}

static int validate(struct oa *o, json_t *s, json_t *v, const char *where,
		    int depth)
{
	const char *key;
	json_t *val;

	if (depth > OA_MAX_DEPTH)
		return fail(o, where, "schema nests deeper than %d", OA_MAX_DEPTH);
	if (!json_is_object(s))
		return fail(o, where, "schema is not an object");
	json_object_foreach(s, key, val) {
		if (!listed(keywords, key) && !listed(annotations, key))
			return fail(o, where, "schema keyword \"%s\" is not supported",
				    key);
	}
	json_t *ref = json_object_get(s, "$ref");
	if (ref) {
		json_t *target = resolve(o, json_string_value(ref));
		if (!target)
			return fail(o, where, "unresolved $ref %s",
				    json_string_value(ref));
		if (validate(o, target, v, where, depth + 1))
			return -EINVAL;
	}
	json_t *any_of = json_object_get(s, "anyOf");
	json_t *type = json_object_get(s, "type");
	json_t *choices = json_object_get(s, "enum");
	if ((any_of && check_any_of(o, any_of, v, where, depth)) ||
	    (type && check_type(o, type, v, where)) ||
	    (choices && check_enum(o, choices, v, where)) ||
	    check_number(o, s, v, where))
		return -EINVAL;
	if (json_is_object(v))
		return check_object(o, s, v, where, depth);
	if (json_is_array(v))
		return check_array(o, s, v, where, depth);
	return 0;
}

int openapi_validate(json_t *doc, json_t *schema, json_t *v,
		     const char *where, char *err, size_t errlen)
{
	struct oa o = {.doc = doc, .err = err, .errlen = errlen};
	return validate(&o, schema, v, where, 0);
}

json_t *openapi_operation(json_t *doc, const char *path, const char *method)
{
	char m[16];
	size_t i;
	for (i = 0; method[i] && i < sizeof(m) - 1; i++)
		m[i] = (char)tolower((unsigned char)method[i]);
	m[i] = 0;
	return json_object_get(json_object_get(json_object_get(doc, "paths"),
					       path),
			       m);
}

/* content -> application/json -> schema of a response or request body. */
static json_t *json_schema_of(json_t *r)
{
	return json_object_get(
		json_object_get(json_object_get(r, "content"), "application/json"),
		"schema");
}

static int check_answer(struct oa *o, json_t *op, unsigned status,
			json_t *resp, const char *where)
{
	char code[8];
	snprintf(code, sizeof(code), "%u", status);
	json_t *responses = json_object_get(op, "responses");
	json_t *r = json_object_get(responses, code);
	if (!r)
		r = json_object_get(responses, "default");
	if (!r)
		return fail(o, where, "status %u is not in the document", status);
	json_t *schema = json_schema_of(r);
	if (!schema && resp)
		return fail(o, where, "status %u has a body, the document none",
			    status);
	if (schema && !resp)
		return fail(o, where, "status %u has no body, the document one",
			    status);
	char w[OA_WHERE_LEN + 16];
	snprintf(w, sizeof(w), "%s: answer", where);
	return schema ? validate(o, schema, resp, w, 0) : 0;
}

static int check_request(struct oa *o, json_t *op, const char *req_body,
			 const char *where)
{
	json_t *schema = json_schema_of(json_object_get(op, "requestBody"));
	if (!schema)
		return fail(o, where, "took a body the document does not describe");
	json_t *req = json_loads(req_body, JSON_REJECT_DUPLICATES, NULL);
	if (!req)
		return fail(o, where, "a 2xx answer to a body that is not JSON");
	char w[OA_WHERE_LEN + 16];
	snprintf(w, sizeof(w), "%s: request", where);
	int r = validate(o, schema, req, w, 0);
	json_decref(req);
	return r;
}

int openapi_check_exchange(json_t *doc, const char *method, const char *path,
			   const char *req_body, unsigned status,
			   const char *resp_body, char *err, size_t errlen)
{
	struct oa o = {.doc = doc, .err = err, .errlen = errlen};
	char where[OA_WHERE_LEN];
	json_t *resp = NULL;
	int r;

	snprintf(where, sizeof(where), "%s %s -> %u", method, path, status);
	if (resp_body && *resp_body &&
	    !(resp = json_loads(resp_body, JSON_REJECT_DUPLICATES, NULL)))
		return fail(&o, where, "the answer is not JSON: %s", resp_body);
	json_t *op = openapi_operation(doc, path, method);
	if (!op) {
		/* Outside the operations: the refusals the description lists. */
		if (status != 400 && status != 405 && status != 413 &&
		    status != 503)
			r = fail(&o, where, "not an operation of the document");
		else if (!resp)
			r = fail(&o, where, "a refusal without an Error body");
		else
			r = validate(&o, resolve(&o, "#/components/schemas/Error"),
				     resp, where, 0);
	} else {
		r = check_answer(&o, op, status, resp, where);
		if (!r && status / 100 == 2 && req_body && *req_body)
			r = check_request(&o, op, req_body, where);
	}
	json_decref(resp);
	return r;
}
