/* A bounded kernel command-line builder: arguments are appended space
 * separated, and an append that would exceed the limit (a bzImage's
 * cmdline_size, see x86_kernel_cmdline_max()) fails whole with -E2BIG,
 * leaving the line as it was. Threads: owned by its caller. */
#ifndef CORE_CMDLINE_H
#define CORE_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#define CMDLINE_BUF_SIZE 4096

struct cmdline {
	char buf[CMDLINE_BUF_SIZE]; /* always NUL-terminated */
	size_t len;                 /* without the NUL */
	size_t max;                 /* limit on len */
};

/* Empty line accepting up to max bytes (clamped to CMDLINE_BUF_SIZE - 1). */
void cmdline_init(struct cmdline *c, size_t max);
/* Appends the formatted text, preceded by a space unless the line is empty
 * or the text is. 0, -E2BIG, or -EINVAL for a formatting error. */
int cmdline_append(struct cmdline *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* True when line holds arg as one whole space-separated word. */
bool cmdline_has_word(const char *line, const char *arg);
static inline const char *cmdline_str(const struct cmdline *c)
{
	return c->buf;
}

#endif
