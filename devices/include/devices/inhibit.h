/* A counter of named reasons that inhibit something (seed 002: ballooning
 * while memory is pinned, a snapshot in progress, an operator's request).
 * Each reason is counted, so independent holders of the same reason nest;
 * the whole is active while any count is non-zero.
 *
 * Threads: none of its own; the owner serializes access. */
#ifndef DEVICES_INHIBIT_H
#define DEVICES_INHIBIT_H

#include <stdbool.h>

#define INHIBIT_MAX_REASONS 8
#define INHIBIT_NAME_MAX 24 /* bytes, NUL included */

struct inhibit {
	struct inhibit_reason {
		char name[INHIBIT_NAME_MAX]; /* "" for a free slot */
		unsigned count;
	} reasons[INHIBIT_MAX_REASONS];
	unsigned total;
};

void inhibit_init(struct inhibit *inh);
/* Takes one hold on reason. 0, -EINVAL (empty or too long a name),
 * -ENOSPC (table full), -EOVERFLOW (count would wrap). */
int inhibit_add(struct inhibit *inh, const char *reason);
/* Drops one hold. 0, or -ENOENT when reason holds none. */
int inhibit_remove(struct inhibit *inh, const char *reason);
bool inhibit_active(const struct inhibit *inh);
/* Holds on reason (0 when unknown). */
unsigned inhibit_count(const struct inhibit *inh, const char *reason);
/* Names of the reasons with holds, in table order, at
 * most max of them in out (pointers into inh). Returns how many there are. */
unsigned inhibit_reasons(const struct inhibit *inh, const char **out,
			 unsigned max);

#endif
