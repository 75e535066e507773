/* The one error formatter. A function that fails with a message formats it
 * into the caller's buffer and returns its code in one statement:
 *   return err_set(err, errlen, -EINVAL, "kernel: %s: bad magic", path); */
#ifndef CORE_ERR_H
#define CORE_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into err (nothing when err is NULL or errlen 0); returns code. */
int err_set(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int err_vset(char *err, size_t errlen, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* The same with ": strerror(-code)" after the message, for a failed
 * system call whose -errno is code. */
int err_set_sys(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
