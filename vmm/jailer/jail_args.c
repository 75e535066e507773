/* mvmm-jailer's command line: every value checked before anything is
 * created, each error naming its flag. */
#include "jailer/jailer.h"

#include <core/err.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXEC_NAME_MAX 128
#define PARENT_CGROUP_MAX 256
/* Room under the base for /<exec name>/<id>/root/dev/urandom and more. */
#define BASE_DIR_MAX (PATH_MAX - 512)

void jail_usage(FILE *out)
{
	fprintf(out,
		"usage: mvmm-jailer --id ID --exec-file PATH --uid UID --gid GID\n"
		"                   [--chroot-base-dir DIR] [--netns PATH] [--new-pid-ns]\n"
		"                   [--cgroup-version 2] [--parent-cgroup PATH]\n"
		"                   [--cgroup FILE=VALUE]... [--resource-limit fsize=N|no-file=N]...\n"
		"                   [--daemonize] [-- MVMM-ARGS...]\n"
		"  --id ID              1-64 letters, digits and '-'; names the jail\n"
		"  --exec-file PATH     absolute path of mvmm, copied into the jail\n"
		"  --uid, --gid N       ids mvmm runs as (no capabilities)\n"
		"  --chroot-base-dir    default " JAIL_DEFAULT_BASE "; the jail is\n"
		"                       <base>/<exec name>/<id>/root\n"
		"  --netns PATH         network namespace to join (e.g. /var/run/netns/x)\n"
		"  --new-pid-ns         mvmm is pid 1 of a new PID namespace\n"
		"  --cgroup FILE=VALUE  written in <cgroup2>/<parent>/<id>, e.g. memory.max=1G\n"
		"  --parent-cgroup P    default: the exec file's name\n"
		"  --resource-limit     fsize=BYTES or no-file=N (default no-file=%d)\n"
		"  --daemonize          new session, stdio to /dev/null, jailer returns\n"
		"Files the VM needs (kernel, initrd, config, snapshots) go in the jail's\n"
		"root before the start, at the paths mvmm is given after '--'.\n",
		JAIL_DEFAULT_NOFILE);
}

/* Decimal, no sign, no spaces, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	if (!*s || strlen(s) > 20)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* uid_t/gid_t: -1 (4294967295) means "unchanged" to setresuid. */
static int parse_id(const char *flag, const char *s, uint32_t *out, char *err,
		    size_t errlen)
{
	uint64_t v;
	if (parse_u64(s, &v) || v >= UINT32_MAX)
		return err_set(err, errlen, -EINVAL,
			   "%s: '%s' is not a number from 0 to 4294967294", flag, s);
	*out = (uint32_t)v;
	return 0;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > JAIL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* A path component the jailer creates or trusts: no '/', '.', '..', or
 * anything outside [A-Za-z0-9._+-]. */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
			return false;
	return true;
}

/* Absolute, no empty, '.' or '..' components, no trailing '/'. */
static bool abs_path_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (s[0] != '/' || n > max)
		return false;
	if (n == 1)
		return true;
	for (const char *c = s + 1;;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!end)
			return true;
		c = end + 1;
	}
}

static bool rel_path_ok(const char *s)
{
	if (!*s || s[0] == '/' || strlen(s) > PARENT_CGROUP_MAX)
		return false;
	for (const char *c = s;;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (!name_ok(c, len))
			return false;
		if (!end)
			return true;
		c = end + 1;
	}
}

/* The jailer writes these itself, or they would freeze or kill it. */
static const char *const cgroup_reserved[] = {
	"cgroup.procs", "cgroup.threads", "cgroup.subtree_control",
	"cgroup.kill", "cgroup.freeze",
};

static int parse_cgroup(struct jail_args *a, const char *arg, char *err,
			size_t errlen)
{
	const char *eq = strchr(arg, '=');
	size_t flen = eq ? (size_t)(eq - arg) : 0;
	if (!eq)
		return err_set(err, errlen, -EINVAL,
			   "--cgroup: '%s' is not FILE=VALUE (e.g. memory.max=512M)", arg);
	/* controller.knob: lower case, a '.' neither first nor last. */
	bool ok = flen > 2 && flen <= JAIL_CGROUP_FILE_MAX &&
		  islower((unsigned char)arg[0]) && arg[flen - 1] != '.' &&
		  memchr(arg, '.', flen);
	for (size_t i = 0; ok && i < flen; i++)
		ok = islower((unsigned char)arg[i]) || isdigit((unsigned char)arg[i]) ||
		     arg[i] == '_' || arg[i] == '.';
	if (!ok)
		return err_set(err, errlen, -EINVAL,
			   "--cgroup: '%.*s' does not name a cgroup file (controller.knob)",
			   (int)(flen > 80 ? 80 : flen), arg);
	struct jail_cgroup cg = {.value = eq + 1};
	memcpy(cg.file, arg, flen);
	for (size_t i = 0; i < sizeof(cgroup_reserved) / sizeof(cgroup_reserved[0]); i++)
		if (!strcmp(cg.file, cgroup_reserved[i]))
			return err_set(err, errlen, -EINVAL,
				   "--cgroup: %s is the jailer's to write", cg.file);
	size_t vlen = strlen(cg.value);
	ok = vlen > 0 && vlen <= JAIL_CGROUP_VALUE_MAX;
	for (const char *p = cg.value; ok && *p; p++)
		ok = *p >= 0x20 && *p < 0x7f;
	if (!ok)
		return err_set(err, errlen, -EINVAL,
			   "--cgroup %s: the value must be 1-%d printable characters",
			   cg.file, JAIL_CGROUP_VALUE_MAX);
	for (unsigned i = 0; i < a->nr_cgroups; i++)
		if (!strcmp(a->cgroups[i].file, cg.file))
			return err_set(err, errlen, -EINVAL, "--cgroup %s: given twice", cg.file);
	if (a->nr_cgroups == JAIL_MAX_CGROUPS)
		return err_set(err, errlen, -E2BIG, "--cgroup: more than %d values",
			   JAIL_MAX_CGROUPS);
	a->cgroups[a->nr_cgroups++] = cg;
	return 0;
}

static int parse_limit(struct jail_args *a, const char *arg, char *err,
		       size_t errlen)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;
	if (!eq)
		return err_set(err, errlen, -EINVAL,
			   "--resource-limit: '%s' is not fsize=N or no-file=N", arg);
	size_t nlen = (size_t)(eq - arg);
	bool fsize = nlen == 5 && !strncmp(arg, "fsize", 5);
	bool nofile = nlen == 7 && !strncmp(arg, "no-file", 7);
	if (!fsize && !nofile)
		return err_set(err, errlen, -EINVAL,
			   "--resource-limit: unknown resource '%.*s' (fsize or no-file)",
			   (int)nlen, arg);
	if (parse_u64(eq + 1, &v) || v == 0 || (nofile && v > (1u << 20)))
		return err_set(err, errlen, -EINVAL,
			   "--resource-limit %.*s: '%s' is not a number from 1 to %s",
			   (int)nlen, arg, eq + 1,
			   nofile ? "1048576" : "18446744073709551615");
	if ((fsize && a->has_fsize) || (nofile && a->has_nofile))
		return err_set(err, errlen, -EINVAL, "--resource-limit %.*s: given twice",
			   (int)nlen, arg);
	if (fsize) {
		a->has_fsize = true;
		a->fsize = v;
	} else {
		a->has_nofile = true;
		a->nofile = v;
	}
	return 0;
}

/* One flag and its value. */
static int parse_flag(struct jail_args *a, const char *flag, char *val,
		      char *err, size_t errlen)
{
	uint32_t id = 0;
	int r;
	if (!strcmp(flag, "--id")) {
		if (!id_ok(val))
			return err_set(err, errlen, -EINVAL,
				   "--id: '%s' must be 1-%d letters, digits or '-'",
				   val, JAIL_ID_MAX);
		a->id = val;
	} else if (!strcmp(flag, "--exec-file")) {
		const char *slash = strrchr(val, '/');
		if (!abs_path_ok(val, PATH_MAX - 1) || !slash ||
		    !name_ok(slash + 1, strlen(slash + 1)) ||
		    strlen(slash + 1) > EXEC_NAME_MAX)
			return err_set(err, errlen, -EINVAL,
				   "--exec-file: '%s' must be an absolute path to a file "
				   "named with [A-Za-z0-9._+-]", val);
		a->exec_file = val;
		a->exec_name = slash + 1;
	} else if (!strcmp(flag, "--uid")) {
		if ((r = parse_id("--uid", val, &id, err, errlen)))
			return r;
		a->uid = id;
	} else if (!strcmp(flag, "--gid")) {
		if ((r = parse_id("--gid", val, &id, err, errlen)))
			return r;
		a->gid = id;
	} else if (!strcmp(flag, "--chroot-base-dir")) {
		if (!abs_path_ok(val, BASE_DIR_MAX))
			return err_set(err, errlen, -EINVAL,
				   "--chroot-base-dir: '%s' must be an absolute path "
				   "without '.', '..' or empty components", val);
		a->base_dir = val;
	} else if (!strcmp(flag, "--netns")) {
		if (!abs_path_ok(val, PATH_MAX - 1))
			return err_set(err, errlen, -EINVAL,
				   "--netns: '%s' must be an absolute path", val);
		a->netns = val;
	} else if (!strcmp(flag, "--parent-cgroup")) {
		if (!rel_path_ok(val))
			return err_set(err, errlen, -EINVAL,
				   "--parent-cgroup: '%s' must be a relative path of "
				   "[A-Za-z0-9._+-] components", val);
		a->parent_cgroup = val;
	} else if (!strcmp(flag, "--cgroup-version")) {
		if (!strcmp(val, "1"))
			return err_set(err, errlen, -EINVAL,
				   "--cgroup-version: only 2 (the unified hierarchy) is supported");
		if (strcmp(val, "2"))
			return err_set(err, errlen, -EINVAL,
				   "--cgroup-version: '%s' is not 2", val);
	} else if (!strcmp(flag, "--cgroup")) {
		return parse_cgroup(a, val, err, errlen);
	} else if (!strcmp(flag, "--resource-limit")) {
		return parse_limit(a, val, err, errlen);
	} else {
		return err_set(err, errlen, -EINVAL, "unknown flag %s (see --help)", flag);
	}
	return 0;
}

int jail_args_parse(int argc, char **argv, struct jail_args *a, char *err,
		    size_t errlen)
{
	bool seen_uid = false, seen_gid = false;
	memset(a, 0, sizeof(*a));
	a->base_dir = JAIL_DEFAULT_BASE;
	a->exec_argv = argv + argc; /* argv[argc] is NULL: no arguments */
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		if (!strcmp(arg, "--")) {
			a->exec_argv = argv + i + 1;
			a->exec_argc = argc - i - 1;
			break;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			a->help = true;
			return 0;
		}
		if (!strcmp(arg, "--new-pid-ns")) {
			a->new_pid_ns = true;
			continue;
		}
		if (!strcmp(arg, "--daemonize")) {
			a->daemonize = true;
			continue;
		}
		if (strncmp(arg, "--", 2))
			return err_set(err, errlen, -EINVAL,
				   "unexpected '%s' (mvmm's own arguments go after --)", arg);
		/* --flag=value or --flag value */
		char flag[32];
		char *val;
		char *eq = strchr(arg, '=');
		if (eq) {
			if ((size_t)(eq - arg) >= sizeof(flag))
				return err_set(err, errlen, -EINVAL, "unknown flag %.40s", arg);
			memcpy(flag, arg, (size_t)(eq - arg));
			flag[eq - arg] = 0;
			val = eq + 1;
		} else {
			if (strlen(arg) >= sizeof(flag))
				return err_set(err, errlen, -EINVAL, "unknown flag %.40s", arg);
			strcpy(flag, arg);
			if (i + 1 >= argc)
				return err_set(err, errlen, -EINVAL, "%s: missing value", flag);
			val = argv[++i];
		}
		int r = parse_flag(a, flag, val, err, errlen);
		if (r)
			return r;
		seen_uid |= !strcmp(flag, "--uid");
		seen_gid |= !strcmp(flag, "--gid");
	}
	if (!a->id)
		return err_set(err, errlen, -EINVAL, "--id: required");
	if (!a->exec_file)
		return err_set(err, errlen, -EINVAL, "--exec-file: required");
	if (!seen_uid)
		return err_set(err, errlen, -EINVAL, "--uid: required");
	if (!seen_gid)
		return err_set(err, errlen, -EINVAL, "--gid: required");
	if (!a->parent_cgroup)
		a->parent_cgroup = a->exec_name;
	return 0;
}

int jail_args_check_paths(const struct jail_args *a, char *err, size_t errlen)
{
	struct stat st;
	if (stat(a->exec_file, &st) < 0)
		return err_set(err, errlen, -errno, "--exec-file: %s: %s", a->exec_file,
			   strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, errlen, -EINVAL, "--exec-file: %s is not a regular file",
			   a->exec_file);
	if (!(st.st_mode & 0111))
		return err_set(err, errlen, -EACCES, "--exec-file: %s is not executable",
			   a->exec_file);
	if (stat(a->base_dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return err_set(err, errlen, -ENOTDIR,
			   "--chroot-base-dir: %s is not a directory", a->base_dir);
	if (a->netns && stat(a->netns, &st) < 0)
		return err_set(err, errlen, -errno, "--netns: %s: %s", a->netns,
			   strerror(errno));
	return 0;
}
