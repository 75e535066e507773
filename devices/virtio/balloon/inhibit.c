#include <devices/inhibit.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

void inhibit_init(struct inhibit *inh)
{
	memset(inh, 0, sizeof(*inh));
}

static struct inhibit_reason *find(const struct inhibit *inh,
				   const char *reason)
{
	for (unsigned i = 0; i < INHIBIT_MAX_REASONS; i++) {
		const struct inhibit_reason *r = &inh->reasons[i];
		if (r->count && !strcmp(r->name, reason))
			return (struct inhibit_reason *)r;
	}
	return NULL;
}

int inhibit_add(struct inhibit *inh, const char *reason)
{
	size_t len = reason ? strlen(reason) : 0;
	if (len == 0 || len >= INHIBIT_NAME_MAX)
		return -EINVAL;
	struct inhibit_reason *r = find(inh, reason);
	if (!r) {
		/* A new reason takes the first free slot. */
		for (unsigned i = 0; i < INHIBIT_MAX_REASONS && !r; i++)
			if (!inh->reasons[i].count)
				r = &inh->reasons[i];
		if (!r)
			return -ENOSPC;
		memcpy(r->name, reason, len + 1);
	}
	if (r->count == UINT_MAX || inh->total == UINT_MAX)
		return -EOVERFLOW;
	r->count++;
	inh->total++;
	return 0;
}

int inhibit_remove(struct inhibit *inh, const char *reason)
{
	struct inhibit_reason *r = reason ? find(inh, reason) : NULL;
	if (!r)
		return -ENOENT;
	if (--r->count == 0)
		r->name[0] = '\0';
	inh->total--;
	return 0;
}

bool inhibit_active(const struct inhibit *inh)
{
	return inh->total != 0;
}

unsigned inhibit_count(const struct inhibit *inh, const char *reason)
{
	const struct inhibit_reason *r = reason ? find(inh, reason) : NULL;
	return r ? r->count : 0;
}

unsigned inhibit_reasons(const struct inhibit *inh, const char **out,
			 unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < INHIBIT_MAX_REASONS; i++) {
		if (!inh->reasons[i].count)
			continue;
		if (n < max)
			out[n] = inh->reasons[i].name;
		n++;
	}
	return n;
}
