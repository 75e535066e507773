#include <core/cmdline.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cmdline_init(struct cmdline *c, size_t max)
{
	c->buf[0] = '\0';
	c->len = 0;
	c->max = max < CMDLINE_BUF_SIZE ? max : CMDLINE_BUF_SIZE - 1;
}

int cmdline_append(struct cmdline *c, const char *fmt, ...)
{
	char tmp[CMDLINE_BUF_SIZE];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	size_t sep = c->len ? 1 : 0;
	/* n may exceed tmp when truncated; compare before copying anything. */
	if ((size_t)n >= sizeof(tmp) || c->len + sep + (size_t)n > c->max)
		return -E2BIG;
	if (sep)
		c->buf[c->len++] = ' ';
	memcpy(c->buf + c->len, tmp, (size_t)n + 1);
	c->len += (size_t)n;
	return 0;
}

bool cmdline_has_word(const char *line, const char *arg)
{
	size_t n = strlen(arg);
	for (const char *p = line; p && *p; p = strchr(p, ' ')) {
		while (*p == ' ')
			p++;
		if (strncmp(p, arg, n) == 0 && (p[n] == ' ' || p[n] == 0))
			return true;
	}
	return false;
}
