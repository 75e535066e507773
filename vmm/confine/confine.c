/* The names of thread kinds and actions, and the parser for the flag and
 * config field that choose the action. */
#include "confine/confine.h"

#include <errno.h>
#include <string.h>

static const char *const action_names[] = {
	[CONFINE_KILL] = "kill",
	[CONFINE_LOG] = "log",
	[CONFINE_OFF] = "off",
};

static const char *const thread_names[] = {
	[CONFINE_VCPU] = "vcpu",
	[CONFINE_MAIN] = "main",
	[CONFINE_API] = "api",
};

int confine_action_parse(const char *s, enum confine_action *out)
{
	for (unsigned i = 0; s && i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (!strcmp(s, action_names[i])) {
			*out = (enum confine_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *confine_action_name(enum confine_action a)
{
	return (unsigned)a < sizeof(action_names) / sizeof(action_names[0])
		       ? action_names[a]
		       : "?";
}

const char *confine_thread_name(enum confine_thread t)
{
	return (unsigned)t < CONFINE_THREAD_KINDS ? thread_names[t] : "?";
}
