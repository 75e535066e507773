/* Leveled logger, safe from any thread. Guest-triggerable messages use
 * log_ratelimited() so a hostile guest cannot flood the host log. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One state per call site; allows a burst of 10 messages per second. */
struct log_ratelimit {
	long window_start_s;
	unsigned count;
	unsigned suppressed;
};
bool log_ratelimit_ok(struct log_ratelimit *rl);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#define log_ratelimited(level, ...)                                   \
	do {                                                          \
		static struct log_ratelimit rl_;                      \
		if (log_ratelimit_ok(&rl_))                           \
			log_msg(level, __VA_ARGS__);                  \
	} while (0)

#endif
