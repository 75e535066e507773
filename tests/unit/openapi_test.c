/* docs/openapi.json against mvmm's route table, and the small schema
 * checker (fakes/openapi_check.c) that holds every API test's answer to
 * the document (fakes/api_fixture.c, call). */
#include "api/api_routes.h"
#include "fakes/openapi_check.h"

#include <criterion/criterion.h>
#include <string.h>

static json_t *doc;
static char err[768];

static void setup(void)
{
	doc = openapi_load(err, sizeof(err));
	cr_assert(doc, "%s", err);
}

static void teardown(void) { json_decref(doc); }

TestSuite(openapi, .init = setup, .fini = teardown);

static const char *const methods[] = {"GET", "PUT", "PATCH", NULL};

Test(openapi, every_route_served_is_documented)
{
	const char *path;
	for (size_t i = 0; (path = api_route_path(i)); i++) {
		cr_assert(json_object_get(json_object_get(doc, "paths"), path),
			  "%s is served but not in docs/openapi.json", path);
		for (const char *const *m = methods; *m; m++)
			cr_assert_eq(api_route_allows(path, *m),
				     openapi_operation(doc, path, *m) != NULL,
				     "%s %s: served %d, documented %d", *m, path,
				     api_route_allows(path, *m),
				     openapi_operation(doc, path, *m) != NULL);
	}
}

Test(openapi, every_documented_path_is_served)
{
	const char *path, *m;
	json_t *item, *op;
	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		json_object_foreach(item, m, op) {
			char upper[8] = "";
			for (size_t i = 0; m[i] && i < sizeof(upper) - 1; i++)
				upper[i] = (char)(m[i] - 'a' + 'A');
			cr_assert(api_route_allows(path, upper),
				  "docs/openapi.json has %s %s, mvmm does not serve it",
				  upper, path);
			cr_assert(json_object_get(op, "responses"), "%s %s", m, path);
		}
	}
}

/* Every $ref in the document names a schema that exists. */
static void check_refs(json_t *v)
{
	const char *k;
	json_t *c;
	size_t i;
	if (json_is_object(v)) {
		json_t *ref = json_object_get(v, "$ref");
		if (ref) {
			const char *name = strrchr(json_string_value(ref), '/');
			cr_assert(name && json_object_get(json_object_get(
						   json_object_get(doc, "components"),
						   "schemas"),
					   name + 1),
				  "unresolved %s", json_string_value(ref));
		}
		json_object_foreach(v, k, c)
			check_refs(c);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
			check_refs(c);
	}
}

Test(openapi, every_ref_resolves)
{
	check_refs(doc);
}

/* ---- the checker ---- */

static int check(const char *schema, const char *value)
{
	json_t *s = json_loads(schema, 0, NULL);
	json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
	cr_assert(s && v, "test JSON: %s / %s", schema, value);
	int r = openapi_validate(doc, s, v, "v", err, sizeof(err));
	json_decref(s);
	json_decref(v);
	return r;
}

Test(openapi, checker_types_and_enums)
{
	cr_assert_eq(check("{\"type\": \"integer\"}", "3"), 0);
	cr_assert_neq(check("{\"type\": \"integer\"}", "3.5"), 0);
	cr_assert_str_eq(err, "v: expected type \"integer\"");
	cr_assert_eq(check("{\"type\": [\"string\", \"null\"]}", "null"), 0);
	cr_assert_neq(check("{\"type\": [\"string\", \"null\"]}", "true"), 0);
	cr_assert_eq(check("{\"enum\": [\"a\", false]}", "false"), 0);
	cr_assert_neq(check("{\"enum\": [\"a\", false]}", "\"b\""), 0);
	cr_assert_str_eq(err, "v: \"b\" is not in the enum");
	cr_assert_neq(check("{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 32}",
			    "33"),
		      0);
	cr_assert_str_eq(err, "v: 33 is above the maximum 32");
	cr_assert_neq(check("{\"minimum\": 0}", "-1"), 0);
}

Test(openapi, checker_objects_and_arrays)
{
	const char *s = "{\"type\": \"object\", \"required\": [\"a\"],"
			" \"properties\": {\"a\": {\"type\": \"integer\"},"
			" \"b\": {\"type\": \"array\", \"maxItems\": 2,"
			" \"items\": {\"type\": \"string\"}}},"
			" \"additionalProperties\": false}";
	cr_assert_eq(check(s, "{\"a\": 1, \"b\": [\"x\"]}"), 0, "%s", err);
	cr_assert_neq(check(s, "{\"b\": []}"), 0);
	cr_assert_str_eq(err, "v: required field \"a\" missing");
	cr_assert_neq(check(s, "{\"a\": 1, \"c\": 2}"), 0);
	cr_assert_str_eq(err, "v.c: field not in the document");
	cr_assert_neq(check(s, "{\"a\": 1, \"b\": [\"x\", 2]}"), 0);
	cr_assert_str_eq(err, "v.b[1]: expected type \"string\"");
	cr_assert_neq(check(s, "{\"a\": 1, \"b\": [\"x\", \"y\", \"z\"]}"), 0);
	cr_assert_str_eq(err, "v.b: more than 2 items");
	cr_assert_neq(check("{\"minProperties\": 1}", "{}"), 0);
	/* Extra fields are fine unless the schema says otherwise. */
	cr_assert_eq(check("{\"properties\": {}}", "{\"z\": 1}"), 0);
}

Test(openapi, checker_refs_any_of_and_unknown_keywords)
{
	cr_assert_eq(check("{\"$ref\": \"#/components/schemas/Error\"}",
			   "{\"fault_message\": \"x\"}"),
		     0, "%s", err);
	cr_assert_neq(check("{\"$ref\": \"#/components/schemas/Error\"}", "{}"), 0);
	cr_assert_neq(check("{\"$ref\": \"#/components/schemas/Nope\"}", "{}"), 0);
	const char *any = "{\"anyOf\": [{\"$ref\": \"#/components/schemas/Vm\"},"
			  " {\"type\": \"null\"}]}";
	cr_assert_eq(check(any, "null"), 0, "%s", err);
	cr_assert_eq(check(any, "{\"state\": \"Paused\"}"), 0, "%s", err);
	cr_assert_neq(check(any, "{\"state\": \"Asleep\"}"), 0);
	/* A keyword the checker does not implement is an error, not a pass. */
	cr_assert_neq(check("{\"pattern\": \"^a\"}", "\"b\""), 0);
	cr_assert_str_eq(err, "v: schema keyword \"pattern\" is not supported");
}

Test(openapi, exchanges_are_held_to_their_status)
{
	/* Documented. */
	cr_assert_eq(openapi_check_exchange(doc, "PATCH", "/vm", "{\"state\": \"Paused\"}",
					    204, NULL, err, sizeof(err)),
		     0, "%s", err);
	/* A body where the document has none, and the reverse. */
	cr_assert_neq(openapi_check_exchange(doc, "PATCH", "/vm", "{}", 204, "{}",
					     err, sizeof(err)),
		      0);
	cr_assert_neq(openapi_check_exchange(doc, "GET", "/", NULL, 200, NULL, err,
					     sizeof(err)),
		      0);
	/* A 2xx answer to a request the document would refuse. */
	cr_assert_neq(openapi_check_exchange(doc, "PATCH", "/vm",
					     "{\"state\": \"Sleeping\"}", 204, NULL,
					     err, sizeof(err)),
		      0);
	cr_assert(strstr(err, "request.state"), "%s", err);
	/* Outside the operations: only the listed refusals, as Errors. */
	cr_assert_eq(openapi_check_exchange(doc, "DELETE", "/balloon", NULL, 405,
					    "{\"fault_message\": \"no\"}", err,
					    sizeof(err)),
		     0, "%s", err);
	cr_assert_neq(openapi_check_exchange(doc, "GET", "/nope", NULL, 200,
					     "{}", err, sizeof(err)),
		      0);
	cr_assert_neq(openapi_check_exchange(doc, "GET", "/nope", NULL, 400,
					     "{\"error\": 1}", err, sizeof(err)),
		      0);
}
