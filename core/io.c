#include <core/err.h>
#include <core/io.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* One loop for the four transfers: off < 0 means the file position. */
static int transfer_full(int fd, void *buf, size_t len, int64_t off,
			 bool write_dir)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n;
		if (write_dir)
			n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
		else
			n = off < 0 ? read(fd, p, len) : pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return write_dir ? -ENOSPC : -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int io_read_full(int fd, void *buf, size_t len)
{
	return transfer_full(fd, buf, len, -1, false);
}

int io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	if (off > INT64_MAX)
		return -EINVAL;
	return transfer_full(fd, buf, len, (int64_t)off, false);
}

int io_write_full(int fd, const void *buf, size_t len)
{
	return transfer_full(fd, (void *)buf, len, -1, true);
}

int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	if (off > INT64_MAX)
		return -EINVAL;
	return transfer_full(fd, (void *)buf, len, (int64_t)off, true);
}

bool io_all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	/* The first byte is zero and every byte equals its successor. */
	return len == 0 || (b[0] == 0 && memcmp(b, b + 1, len - 1) == 0);
}

static const char *file_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "a special file";
}

int io_open_regular(const char *path, int flags, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		int e = -errno;
		return err_set(err, errlen, e, "%s", strerror(-e));
	}
	int e = fstat(fd, &st) < 0 ? -errno : 0;
	if (!e && !S_ISREG(st.st_mode))
		e = err_set(err, errlen, -EINVAL, "%s, not a regular file",
			    file_kind(st.st_mode));
	else if (e)
		err_set(err, errlen, e, "%s", strerror(-e));
	/* Blocking again: the callers' whole-transfer loops expect it. */
	int fl = e ? 0 : fcntl(fd, F_GETFL);
	if (!e && (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
		e = -errno;
		err_set(err, errlen, e, "%s", strerror(-e));
	}
	if (e) {
		close(fd);
		return e;
	}
	return fd;
}

/* The directory a rename into path lands in, and the name there. */
static int dir_and_name(const char *path, struct stat *dir, char *name,
			size_t len)
{
	char *d = strdup(path), *n = strdup(path);
	int e = d && n ? 0 : -ENOMEM;
	if (!e && stat(dirname(d), dir) < 0)
		e = -errno;
	if (!e && snprintf(name, len, "%s", basename(n)) >= (int)len)
		e = -ENAMETOOLONG;
	free(d);
	free(n);
	return e;
}

int io_same_file(const char *a, const char *b)
{
	struct stat da, db, fa, fb;
	char na[NAME_MAX + 1], nb[NAME_MAX + 1];
	if (stat(a, &fa) == 0 && stat(b, &fb) == 0 && fa.st_dev == fb.st_dev &&
	    fa.st_ino == fb.st_ino)
		return 1;
	int e = dir_and_name(a, &da, na, sizeof(na));
	if (!e)
		e = dir_and_name(b, &db, nb, sizeof(nb));
	if (e)
		return e;
	return da.st_dev == db.st_dev && da.st_ino == db.st_ino &&
	       !strcmp(na, nb);
}

int io_fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	int e = 0;
	/* Some filesystems cannot sync directories (EINVAL): nothing to do. */
	if (fsync(fd) < 0 && errno != EINVAL)
		e = -errno;
	close(fd);
	return e;
}

int io_tmpfile_open(struct io_tmpfile *t, const char *path)
{
	t->fd = -1;
	t->path = path;
	if (snprintf(t->tmp, sizeof(t->tmp), "%s.tmp.%ld", path,
		     (long)getpid()) >= (int)sizeof(t->tmp))
		return -ENAMETOOLONG;
	t->fd = io_open_regular(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
				NULL, 0);
	return t->fd < 0 ? t->fd : 0;
}

void io_tmpfile_abort(struct io_tmpfile *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
		unlink(t->tmp);
	}
}

int io_tmpfile_commit(struct io_tmpfile *t, const char **what)
{
	int e = 0;
	*what = "fsync";
	if (fsync(t->fd) < 0)
		e = -errno;
	if (close(t->fd) < 0 && !e) {
		*what = "close";
		e = -errno;
	}
	t->fd = -1;
	if (!e && rename(t->tmp, t->path) < 0) {
		*what = "rename into place";
		e = -errno;
	}
	if (e) {
		unlink(t->tmp);
		return e;
	}
	e = io_fsync_dir_of(t->path);
	if (e) {
		/* Not durable: keep the promise that failure leaves nothing. */
		*what = "fsync of its directory";
		unlink(t->path);
	}
	return e;
}
