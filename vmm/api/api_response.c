/* The answers handlers build: JSON bodies, and fault messages that stay
 * valid JSON whatever bytes they were given. */
#include "api/api_server.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_respond_json(struct api_response *resp, unsigned status, json_t *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !resp->body)
		resp->status = 500;
	json_decref(body);
}

void api_respond_no_content(struct api_response *resp)
{
	free(resp->body);
	resp->status = MHD_HTTP_NO_CONTENT;
	resp->body = NULL;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* jansson refuses a string that is not UTF-8, and the answer would lose
 * its body: each invalid byte becomes '?', and a sequence the formatter
 * cut at the end is dropped. In place. */
static void utf8_clean(char *msg)
{
	unsigned char *p = (unsigned char *)msg;
	while (*p) {
		size_t n = utf8_seq_len(p);
		if (n) {
			p += n;
			continue;
		}
		size_t rest = strlen((char *)p);
		bool cut = rest < 4 && p[0] >= 0xc2 && p[0] <= 0xf4;
		for (size_t i = 1; cut && i < rest; i++)
			cut = p[i] >= 0x80 && p[i] <= 0xbf;
		if (cut) {
			*p = 0;
			return;
		}
		*p++ = '?';
	}
}

void api_respond_error(struct api_response *resp, unsigned status,
		       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	api_respond_json(resp, status, json_pack("{ss}", "fault_message", msg));
}
