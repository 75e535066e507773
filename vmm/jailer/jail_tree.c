/* The jail's directory tree: <base>/<exec name>/<id>/root with the exec
 * file, its libraries and three device nodes. Everything is created
 * relative to directory fds, one component at a time, never following a
 * symlink below the base; every entry made is logged for the undo. */
#include "jailer/jailer.h"

#include <core/err.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int join(char *out, const char *dir, const char *name)
{
	int n = *dir ? snprintf(out, PATH_MAX, "%s/%s", dir, name)
		     : snprintf(out, PATH_MAX, "%s", name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int log_made(struct jail_tree *t, const char *rel, bool dir)
{
	if (t->nr_made == t->cap_made) {
		unsigned cap = t->cap_made ? t->cap_made * 2 : 32;
		struct jail_made *m = realloc(t->made, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		t->made = m;
		t->cap_made = cap;
	}
	char *p = strdup(rel);
	if (!p)
		return -ENOMEM;
	t->made[t->nr_made++] = (struct jail_made){p, dir};
	return 0;
}

/* A directory name in parent (rel: parent's path from the anchor), made if
 * missing; *fd gets it opened O_PATH without following a symlink. */
static int make_dir(struct jail_tree *t, int parent, const char *parent_rel,
		    const char *name, mode_t mode, int *fd, char *rel)
{
	int r = join(rel, parent_rel, name);
	if (r)
		return r;
	if (mkdirat(parent, name, mode) == 0) {
		if ((r = log_made(t, rel, true)))
			return r;
	} else if (errno != EEXIST) {
		return -errno;
	}
	*fd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

/* The base may not exist: opens what does (following the operator's own
 * symlinks there) and makes the rest, anchored at the deepest existing. */
static int open_base(struct jail_tree *t, const char *base, int *base_fd,
		     char *base_rel, char *err, size_t errlen)
{
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set_sys(err, errlen, -errno, "/");
	bool making = false;
	base_rel[0] = 0;
	char comp[NAME_MAX + 1];
	for (const char *c = base + 1; *c;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len > NAME_MAX) {
			close(fd);
			return err_set_sys(err, errlen, -ENAMETOOLONG, "--chroot-base-dir");
		}
		memcpy(comp, c, len);
		comp[len] = 0;
		c += len + (end ? 1 : 0);
		int next = making ? -1 : openat(fd, comp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (next < 0 && !making && errno != ENOENT) {
			int e = -errno;
			close(fd);
			return err_set_sys(err, errlen, e, "--chroot-base-dir: %s", base);
		}
		if (next < 0 && !making) {
			making = true;
			t->anchor_fd = fd;
			fd = dup(fd);
			if (fd < 0)
				return err_set_sys(err, errlen, -errno, "dup");
		}
		if (making) {
			char rel[PATH_MAX];
			int r = make_dir(t, fd, base_rel, comp, 0755, &next, rel);
			if (r) {
				close(fd);
				return err_set_sys(err, errlen, r, "%s: making %s", base, comp);
			}
			strcpy(base_rel, rel);
		}
		close(fd);
		fd = next;
	}
	if (!making) {
		t->anchor_fd = fd;
		fd = dup(fd);
		if (fd < 0)
			return err_set_sys(err, errlen, -errno, "dup");
	}
	*base_fd = fd;
	return 0;
}

/* Replaces whatever entry name is in dir (a symlink is removed, not
 * followed); a directory there is an error. */
static int clear_entry(int dir, const char *name)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return unlinkat(dir, name, 0) < 0 ? -errno : 0;
}

static int copy_file(const char *src, int dir, const char *name)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	struct stat st;
	int r = fstat(in, &st) < 0 ? -errno : 0;
	int out = -1;
	if (!r) {
		out = openat(dir, name,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     st.st_mode & 0755);
		if (out < 0)
			r = -errno;
	}
	char buf[64 << 10];
	while (!r) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		for (ssize_t w = 0; w < n && !r;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0 && errno != EINTR)
				r = -errno;
			else if (k > 0)
				w += k;
		}
	}
	close(in);
	if (out >= 0 && close(out) < 0 && !r)
		r = -errno;
	return r;
}

/* src at dir/name: a hard link (same filesystem), else a copy. A link
 * shares the host's inode, so the jailer never changes its owner or mode;
 * both are root's. */
static int place_file(struct jail_tree *t, int dir, const char *dir_rel,
		      const char *name, const char *src)
{
	char rel[PATH_MAX];
	int r = join(rel, dir_rel, name);
	if (!r)
		r = clear_entry(dir, name);
	if (r)
		return r;
	if (linkat(AT_FDCWD, src, dir, name, AT_SYMLINK_FOLLOW) == 0)
		return log_made(t, rel, false);
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -errno;
	/* Logged first: a partial copy is removed too. */
	if ((r = log_made(t, rel, false)))
		return r;
	return copy_file(src, dir, name);
}

/* dir/name as a character device like host (same numbers). */
static int make_node(struct jail_tree *t, int dir, const char *dir_rel,
		     const char *name, dev_t rdev, mode_t mode, uid_t uid,
		     gid_t gid, bool own)
{
	char rel[PATH_MAX];
	int r = join(rel, dir_rel, name);
	if (!r)
		r = clear_entry(dir, name);
	if (r)
		return r;
	if (mknodat(dir, name, S_IFCHR | mode, rdev) < 0)
		return -errno;
	if ((r = log_made(t, rel, false)))
		return r;
	if (own && fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* A host file at the same absolute path inside root (libraries, loader). */
static int place_at_same_path(struct jail_tree *t, int root, const char *root_rel,
			      const char *path, char *err, size_t errlen)
{
	char dir_rel[PATH_MAX], rel[PATH_MAX], comp[NAME_MAX + 1];
	int dir = dup(root), r = 0;
	if (dir < 0)
		return err_set_sys(err, errlen, -errno, "dup");
	strcpy(dir_rel, root_rel);
	for (const char *c = path + 1;;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0 || len > NAME_MAX) {
			r = -EINVAL;
			break;
		}
		memcpy(comp, c, len);
		comp[len] = 0;
		if (!end) {
			r = place_file(t, dir, dir_rel, comp, path);
			break;
		}
		int next;
		if ((r = make_dir(t, dir, dir_rel, comp, 0755, &next, rel)))
			break;
		close(dir);
		dir = next;
		strcpy(dir_rel, rel);
		c = end + 1;
	}
	close(dir);
	return r ? err_set_sys(err, errlen, r, "jail: placing %s", path) : 0;
}

/* The device nodes mvmm needs: kvm is mvmm's own; urandom seeds
 * jansson's hash; null for stdio. Their numbers are the kernel's fixed ones
 * (Documentation/admin-guide/devices.txt; kvm is misc minor 232), not read
 * from the host's /dev: a host where kvm is not loaded yet still gets a jail,
 * and mvmm then says that KVM is missing. */
static int make_dev_nodes(struct jail_tree *t, int dev, const char *dev_rel,
			  const struct jail_args *a, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned major, minor;
		mode_t mode;
		bool own;
	} nodes[] = {
		{"kvm", 10, 232, 0600, true},
		{"urandom", 1, 9, 0444, false},
		{"null", 1, 3, 0666, false},
	};
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		int r = make_node(t, dev, dev_rel, nodes[i].name,
				  makedev(nodes[i].major, nodes[i].minor),
				  nodes[i].mode, a->uid, a->gid, nodes[i].own);
		if (r)
			return err_set_sys(err, errlen, r, "jail: dev/%s (%u:%u)",
					   nodes[i].name, nodes[i].major, nodes[i].minor);
	}
	return 0;
}

int jail_tree_build(struct jail_tree *t, const struct jail_args *a, char *err,
		    size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->anchor_fd = t->root_fd = -1;
	char base_rel[PATH_MAX], exec_rel[PATH_MAX], id_rel[PATH_MAX];
	char root_rel[PATH_MAX], dev_rel[PATH_MAX];
	int base = -1, exec_dir = -1, id_dir = -1, dev = -1;
	struct jail_elf_deps deps = {.n = 0};
	int r = open_base(t, a->base_dir, &base, base_rel, err, errlen);
	if (r)
		return r;
	if ((r = make_dir(t, base, base_rel, a->exec_name, 0755, &exec_dir, exec_rel)) ||
	    (r = make_dir(t, exec_dir, exec_rel, a->id, 0755, &id_dir, id_rel)) ||
	    (r = make_dir(t, id_dir, id_rel, "root", 0700, &t->root_fd, root_rel))) {
		err_set_sys(err, errlen, r, "jail: %s/%s/%s/root", a->base_dir,
		     a->exec_name, a->id);
		goto out;
	}
	if (asprintf(&t->root, "%s/%s/%s/root", a->base_dir, a->exec_name, a->id) < 0) {
		t->root = NULL;
		r = err_set_sys(err, errlen, -ENOMEM, "jail");
		goto out;
	}
	if ((r = place_file(t, t->root_fd, root_rel, a->exec_name, a->exec_file))) {
		err_set_sys(err, errlen, r, "jail: placing %s", a->exec_file);
		goto out;
	}
	if ((r = jail_elf_deps(a->exec_file, &deps, err, errlen))) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "--exec-file: %s", why);
		goto out;
	}
	for (unsigned i = 0; i < deps.n; i++)
		if ((r = place_at_same_path(t, t->root_fd, root_rel, deps.paths[i],
					    err, errlen)))
			goto out;
	if ((r = make_dir(t, t->root_fd, root_rel, "dev", 0755, &dev, dev_rel))) {
		err_set_sys(err, errlen, r, "jail: %s/dev", t->root);
		goto out;
	}
	if ((r = make_dev_nodes(t, dev, dev_rel, a, err, errlen)))
		goto out;
	/* mvmm makes its API socket and snapshots here. */
	if (fchownat(t->root_fd, "", a->uid, a->gid, AT_EMPTY_PATH) < 0) {
		r = err_set_sys(err, errlen, -errno, "jail: chown %s", t->root);
		goto out;
	}
out:
	jail_elf_deps_free(&deps);
	if (base >= 0)
		close(base);
	if (exec_dir >= 0)
		close(exec_dir);
	if (id_dir >= 0)
		close(id_dir);
	if (dev >= 0)
		close(dev);
	return r;
}

void jail_tree_undo(struct jail_tree *t)
{
	while (t->nr_made) {
		struct jail_made *m = &t->made[--t->nr_made];
		/* A directory someone else filled meanwhile stays. */
		unlinkat(t->anchor_fd, m->path, m->dir ? AT_REMOVEDIR : 0);
		free(m->path);
	}
}

void jail_tree_release(struct jail_tree *t)
{
	for (unsigned i = 0; i < t->nr_made; i++)
		free(t->made[i].path);
	free(t->made);
	free(t->root);
	if (t->anchor_fd >= 0)
		close(t->anchor_fd);
	if (t->root_fd >= 0)
		close(t->root_fd);
	memset(t, 0, sizeof(*t));
	t->anchor_fd = t->root_fd = -1;
}
