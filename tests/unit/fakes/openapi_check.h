/* Checks API exchanges against docs/openapi.json: a small validator for
 * the JSON Schema subset the document uses ($ref to #/components/schemas,
 * anyOf, type (a name or a list), enum, properties, required,
 * additionalProperties, items, minimum, maximum, minProperties, maxItems;
 * description, deprecated and friends are read as annotations). Any other
 * keyword is an error, so the document cannot use one this does not check.
 *
 *   json_t *doc = openapi_load(err, sizeof(err));
 *   if (openapi_check_exchange(doc, "GET", "/balloon", NULL, 200, body,
 *                              err, sizeof(err)))
 *           ... err says where and why
 *
 * All return 0 or -errno with err filled. */
#ifndef TESTS_FAKES_OPENAPI_CHECK_H
#define TESTS_FAKES_OPENAPI_CHECK_H

#include <jansson.h>
#include <stddef.h>

/* docs/openapi.json beside the build directory holding this binary. */
json_t *openapi_load(char *err, size_t errlen);
/* v against schema; where names v in messages ("body", "body.balloon"). */
int openapi_validate(json_t *doc, json_t *schema, json_t *v,
		     const char *where, char *err, size_t errlen);
/* The operation for method ("GET") on path, or NULL. */
json_t *openapi_operation(json_t *doc, const char *path, const char *method);
/* One request and its answer (bodies NULL or "" for none): the answer is
 * one the document gives for that status (or an Error outside the
 * operations, see its description), and a request answered 2xx matches
 * the operation's request body. */
int openapi_check_exchange(json_t *doc, const char *method, const char *path,
			   const char *req_body, unsigned status,
			   const char *resp_body, char *err, size_t errlen);

#endif
