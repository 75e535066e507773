/* File I/O that finishes what it starts: whole-buffer reads and writes
 * (EINTR retried, short transfers continued) and files that appear at their
 * path complete or not at all. Functions return 0 or a negative errno. */
#ifndef CORE_IO_H
#define CORE_IO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* -EIO when the file ends before len bytes were read. */
int io_read_full(int fd, void *buf, size_t len);
int io_pread_full(int fd, void *buf, size_t len, uint64_t off);
int io_write_full(int fd, const void *buf, size_t len);
int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

bool io_all_zero(const void *p, size_t len);

/* Opens a file a user named (kernel, initrd, snapshot, config): a FIFO or
 * device is refused without blocking in open() (O_NONBLOCK until fstat says
 * S_ISREG, then cleared). flags: the access mode plus O_CREAT, O_EXCL,
 * O_TRUNC, O_NOFOLLOW; O_CLOEXEC and O_NOCTTY always, created files 0600.
 * The fd, or -errno with err saying why ("a FIFO, not a regular file" for
 * -EINVAL, else strerror); the caller names the path. */
int io_open_regular(const char *path, int flags, char *err, size_t errlen);

/* A file written under a temporary name beside its path and renamed into
 * place by io_tmpfile_commit, so a reader never sees it half written and a
 * crash leaves the old file (or none). */
struct io_tmpfile {
	int fd;
	const char *path;
	char tmp[PATH_MAX];
};

/* Creates the temporary file (O_EXCL, mode 0600). */
int io_tmpfile_open(struct io_tmpfile *t, const char *path);
/* fsync, close, rename over the path, fsync the directory. On failure
 * nothing is left at either name, and *what names the step that failed. */
int io_tmpfile_commit(struct io_tmpfile *t, const char **what);
/* Closes and removes the temporary file. */
void io_tmpfile_abort(struct io_tmpfile *t);

/* Whether writing a and then b (each renamed into place) would leave one
 * file: the same directory (symlinks and "." resolved) and the same name,
 * or both exist and are one inode. 1, 0, or -errno when a directory cannot
 * be looked at (the write would fail anyway). Files need not exist. */
int io_same_file(const char *a, const char *b);

/* fsyncs the directory holding path, so a rename into it is durable. */
int io_fsync_dir_of(const char *path);

#endif
