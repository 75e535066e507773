/* cgroup v2 for the jail: <cgroup2 mount>/<parent>/<id>, the controllers its
 * files need enabled down the path, the values written, then the jailer
 * moves in (mvmm and a --new-pid-ns child inherit it). Everything goes
 * through a dirfd of the mount, so the undo works after pivot_root. */
#include "jailer/jailer.h"

#include <core/err.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first cgroup2 mount in /proc/self/mountinfo. */
static int find_mount(char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	while (r == -ENOENT && getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - cgroup2 ");
		char mnt[PATH_MAX];
		/* id parent major:minor root mountpoint ... */
		if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
		    !strchr(mnt, '\\') && strlen(mnt) < outlen) {
			strcpy(out, mnt);
			r = 0;
		}
	}
	free(line);
	fclose(f);
	return r;
}

/* Our cgroup ("0::/a/b" in /proc/self/cgroup), without the leading '/'. */
static char *own_cgroup(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return NULL;
	char *line = NULL, *out = NULL;
	size_t cap = 0;
	while (!out && getline(&line, &cap, f) > 0) {
		if (strncmp(line, "0::/", 4))
			continue;
		line[strcspn(line, "\n")] = 0;
		out = strdup(line + 4);
	}
	free(line);
	fclose(f);
	return out;
}

/* snprintf into a PATH_MAX buffer; -ENAMETOOLONG when it does not fit. */
__attribute__((format(printf, 2, 3))) static int pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int read_small(int dir, const char *path, char *buf, size_t len)
{
	int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int r = n < 0 ? -errno : 0;
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return r;
}

static int write_str(int dir, const char *path, const char *s)
{
	int fd = openat(dir, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : (size_t)n != strlen(s) ? -EIO : 0;
	close(fd);
	return r;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* Enables ctrl in the subtree_control of the mount's root and of each
 * directory down to dir (relative to the mount, e.g. "mvmm"), so dir's
 * children get the controller's files. */
static int enable_down_to(int mnt, const char *dir, const char *ctrl)
{
	char path[PATH_MAX], buf[1024], plus[JAIL_CGROUP_FILE_MAX + 2];
	snprintf(plus, sizeof(plus), "+%s", ctrl);
	for (size_t len = 0;;) {
		int r = len ? pathf(path, "%.*s/cgroup.subtree_control", (int)len, dir)
			    : pathf(path, "cgroup.subtree_control");
		if (!r)
			r = read_small(mnt, path, buf, sizeof(buf));
		if (!r && !has_word(buf, ctrl))
			r = write_str(mnt, path, plus);
		if (r)
			return r;
		if (len == strlen(dir))
			return 0;
		const char *next = strchr(dir + len + (len ? 1 : 0), '/');
		len = next ? (size_t)(next - dir) : strlen(dir);
	}
}

/* The controller a cgroup file belongs to ("memory" of "memory.max"). */
static void controller_of(const char *file, char ctrl[JAIL_CGROUP_FILE_MAX + 1])
{
	size_t clen = strcspn(file, ".");
	memcpy(ctrl, file, clen);
	ctrl[clen] = 0;
}

/* Every --cgroup file's controller is offered at the mount's root. */
static int check_controllers(const struct jail_cgroup_state *s,
			     const struct jail_args *a, const char *mnt,
			     char *err, size_t errlen)
{
	char buf[1024];
	int r = read_small(s->mount_fd, "cgroup.controllers", buf, sizeof(buf));
	if (r)
		return err_set_sys(err, errlen, r, "--cgroup: %s/cgroup.controllers", mnt);
	for (unsigned i = 0; i < a->nr_cgroups; i++) {
		char ctrl[JAIL_CGROUP_FILE_MAX + 1];
		controller_of(a->cgroups[i].file, ctrl);
		if (strcmp(ctrl, "cgroup") && !has_word(buf, ctrl))
			return err_set(err, errlen, -ENOENT,
				       "--cgroup %s: the %s controller is not available in %s "
				       "(cgroup.controllers: %.*s)",
				       a->cgroups[i].file, ctrl, mnt,
				       (int)strcspn(buf, "\n"), buf);
	}
	return 0;
}

/* <parent>/<id> under the mount, each directory made remembered for the
 * undo; its path into s->leaf. */
static int make_leaf(struct jail_cgroup_state *s, const struct jail_args *a,
		     const char *mnt, char *err, size_t errlen)
{
	char rel[PATH_MAX];
	if (pathf(rel, "%s/%s", a->parent_cgroup, a->id))
		return err_set_sys(err, errlen, -ENAMETOOLONG, "--parent-cgroup");
	for (char *slash = rel;; slash++) {
		slash = strchr(slash, '/');
		if (slash)
			*slash = 0;
		if (mkdirat(s->mount_fd, rel, 0755) == 0) {
			if (s->nr_created == sizeof(s->created) / sizeof(s->created[0]) ||
			    !(s->created[s->nr_created] = strdup(rel))) {
				unlinkat(s->mount_fd, rel, AT_REMOVEDIR);
				return err_set_sys(err, errlen, -ENOMEM, "--cgroup");
			}
			s->nr_created++;
		} else if (errno != EEXIST) {
			return err_set_sys(err, errlen, -errno, "--cgroup: making %s/%s", mnt, rel);
		}
		if (!slash)
			break;
		*slash = '/';
	}
	if (!(s->leaf = strdup(rel)))
		return err_set_sys(err, errlen, -ENOMEM, "--cgroup");
	return 0;
}

/* Each --cgroup FILE=VALUE into the leaf, its controller enabled on the
 * way down. */
static int write_values(const struct jail_cgroup_state *s,
			const struct jail_args *a, const char *mnt, char *err,
			size_t errlen)
{
	for (unsigned i = 0; i < a->nr_cgroups; i++) {
		const struct jail_cgroup *c = &a->cgroups[i];
		char ctrl[JAIL_CGROUP_FILE_MAX + 1], path[PATH_MAX];
		int r;
		controller_of(c->file, ctrl);
		if (strcmp(ctrl, "cgroup") && (r = enable_down_to(s->mount_fd, a->parent_cgroup, ctrl)))
			return err_set_sys(err, errlen, r,
				    "--cgroup %s: enabling the %s controller above %s/%s",
				    c->file, ctrl, mnt, s->leaf);
		if ((r = pathf(path, "%s/%s", s->leaf, c->file)) ||
		    (r = write_str(s->mount_fd, path, c->value)))
			return err_set_sys(err, errlen, r, "--cgroup %s=%s: %s/%s", c->file,
				    c->value, mnt, path);
	}
	return 0;
}

int jail_cgroup_setup(struct jail_cgroup_state *s, const struct jail_args *a,
		      char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->mount_fd = -1;
	if (!a->nr_cgroups)
		return 0;
	char mnt[PATH_MAX];
	int r = find_mount(mnt, sizeof(mnt));
	if (r)
		return err_set_sys(err, errlen, r, "--cgroup: no cgroup2 filesystem is mounted");
	s->mount_fd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->mount_fd < 0)
		return err_set_sys(err, errlen, -errno, "--cgroup: %s", mnt);
	s->orig = own_cgroup();
	if (!s->orig)
		return err_set_sys(err, errlen, -ENOENT, "--cgroup: our cgroup v2 path in /proc/self/cgroup");
	if ((r = check_controllers(s, a, mnt, err, errlen)) ||
	    (r = make_leaf(s, a, mnt, err, errlen)) ||
	    (r = write_values(s, a, mnt, err, errlen)))
		return r;
	char pid[24], procs[PATH_MAX];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if ((r = pathf(procs, "%s/cgroup.procs", s->leaf)) ||
	    (r = write_str(s->mount_fd, procs, pid)))
		return err_set_sys(err, errlen, r, "--cgroup: joining %s/%s", mnt, s->leaf);
	s->joined = true;
	return 0;
}

void jail_cgroup_undo(struct jail_cgroup_state *s)
{
	if (s->mount_fd < 0)
		return;
	if (s->joined && s->orig) {
		char procs[PATH_MAX], pid[24];
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (!pathf(procs, "%s%scgroup.procs", s->orig, *s->orig ? "/" : "") &&
		    write_str(s->mount_fd, procs, pid) == 0)
			s->joined = false;
	}
	while (s->nr_created) {
		char *dir = s->created[--s->nr_created];
		unlinkat(s->mount_fd, dir, AT_REMOVEDIR);
		free(dir);
	}
}

void jail_cgroup_release(struct jail_cgroup_state *s)
{
	for (unsigned i = 0; i < s->nr_created; i++)
		free(s->created[i]);
	free(s->orig);
	free(s->leaf);
	if (s->mount_fd >= 0)
		close(s->mount_fd);
	memset(s, 0, sizeof(*s));
	s->mount_fd = -1;
}
