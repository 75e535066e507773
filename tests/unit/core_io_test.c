/* core/io.c, err.c, clock.c: whole transfers, atomic file replacement, the
 * one error formatter and the one clock. */
#include <core/clock.h>
#include <core/err.h>
#include <core/io.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/mvmm-core-io-XXXXXX";
static char path[PATH_MAX];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(core_io, .init = setup, .fini = teardown);

Test(core_io, pipe_transfers_complete_across_short_reads)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	char out[100], in[100];
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (char)i;
	cr_assert_eq(io_write_full(p[1], out, sizeof(out)), 0);
	close(p[1]);
	cr_assert_eq(io_read_full(p[0], in, 60), 0);
	cr_assert_eq(io_read_full(p[0], in + 60, 40), 0);
	cr_assert_arr_eq(in, out, sizeof(out));
	cr_assert_eq(io_read_full(p[0], in, 1), -EIO, "EOF before len is -EIO");
	close(p[0]);
}

Test(core_io, positioned_transfers_use_the_offset)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(io_pwrite_full(fd, "world", 5, 6), 0);
	cr_assert_eq(io_pwrite_full(fd, "hello ", 6, 0), 0);
	char buf[12] = {0};
	cr_assert_eq(io_pread_full(fd, buf, 11, 0), 0);
	cr_assert_str_eq(buf, "hello world");
	cr_assert_eq(io_pread_full(fd, buf, 2, 10), -EIO);
	cr_assert_eq(io_pread_full(fd, buf, 1, (uint64_t)INT64_MAX + 1), -EINVAL);
	close(fd);
}

Test(core_io, all_zero_checks_every_byte)
{
	uint8_t b[4096] = {0};
	cr_assert(io_all_zero(b, sizeof(b)));
	cr_assert(io_all_zero(b, 0));
	b[4095] = 1;
	cr_assert_not(io_all_zero(b, sizeof(b)));
	cr_assert(io_all_zero(b, 4095));
	b[0] = 1;
	cr_assert_not(io_all_zero(b, 1));
}

Test(core_io, tmpfile_appears_only_at_commit)
{
	struct io_tmpfile t;
	const char *what;
	cr_assert_eq(io_tmpfile_open(&t, path), 0);
	cr_assert_eq(io_write_full(t.fd, "new", 3), 0);
	cr_assert_neq(access(path, F_OK), 0, "nothing at the path before commit");
	cr_assert_eq(io_tmpfile_commit(&t, &what), 0);
	cr_assert_eq(access(t.tmp, F_OK), -1, "the temporary name is gone");
	char buf[4] = {0};
	int fd = open(path, O_RDONLY);
	cr_assert_eq(io_read_full(fd, buf, 3), 0);
	close(fd);
	cr_assert_str_eq(buf, "new");
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(core_io, aborted_tmpfile_leaves_nothing)
{
	struct io_tmpfile t;
	cr_assert_eq(io_tmpfile_open(&t, path), 0);
	cr_assert_eq(io_write_full(t.fd, "x", 1), 0);
	io_tmpfile_abort(&t);
	cr_assert_eq(access(t.tmp, F_OK), -1);
	cr_assert_eq(access(path, F_OK), -1);
}

Test(core_io, failed_rename_names_the_step_and_leaves_nothing)
{
	struct io_tmpfile t;
	const char *what = NULL;
	cr_assert_eq(mkdir(path, 0700), 0); /* a directory holds the name */
	char inside[PATH_MAX + 8];
	snprintf(inside, sizeof(inside), "%s/x", path);
	cr_assert_eq(open(inside, O_WRONLY | O_CREAT, 0600) >= 0, 1);
	cr_assert_eq(io_tmpfile_open(&t, path), 0);
	int e = io_tmpfile_commit(&t, &what);
	cr_assert_lt(e, 0);
	cr_assert_str_eq(what, "rename into place");
	cr_assert_eq(access(t.tmp, F_OK), -1);
}

Test(core_io, overlong_path_is_refused)
{
	struct io_tmpfile t;
	char longp[PATH_MAX];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	cr_assert_eq(io_tmpfile_open(&t, longp), -ENAMETOOLONG);
	cr_assert_eq(t.fd, -1);
}

Test(core_err, formats_and_returns_the_code)
{
	char buf[16];
	cr_assert_eq(err_set(buf, sizeof(buf), -EINVAL, "bad %s %d", "x", 7), -EINVAL);
	cr_assert_str_eq(buf, "bad x 7");
	cr_assert_eq(err_set(NULL, 0, -EIO, "ignored"), -EIO);
	cr_assert_eq(err_set(buf, 4, -E2BIG, "truncated"), -E2BIG);
	cr_assert_str_eq(buf, "tru");
}

Test(core_err, sys_variant_appends_the_errno_text)
{
	char buf[64];
	cr_assert_eq(err_set_sys(buf, sizeof(buf), -ENOENT, "open %s", "/x"),
		     -ENOENT);
	cr_assert_str_eq(buf, "open /x: No such file or directory");
	cr_assert_eq(err_set_sys(NULL, 0, -EIO, "ignored"), -EIO);
	/* A full buffer keeps the message, cut, and stays terminated. */
	cr_assert_eq(err_set_sys(buf, 6, -EIO, "truncated"), -EIO);
	cr_assert_str_eq(buf, "trunc");
}

Test(core_clock, is_monotonic)
{
	uint64_t a = clock_now_ns();
	usleep(1000);
	uint64_t b = clock_now_ns();
	cr_assert_gt(b, a + 900000);
	cr_assert_geq(clock_now_us(), b / 1000);
}

/* ---- io_open_regular: user-named files (issue 12) ---- */

Test(core_io, open_regular_refuses_a_fifo_without_blocking, .timeout = 5)
{
	char err[256];
	cr_assert_eq(mkfifo(path, 0600), 0);
	/* Nobody writes: a plain open(O_RDONLY) would block here forever. */
	cr_assert_eq(io_open_regular(path, O_RDONLY, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "a FIFO, not a regular file");
}

Test(core_io, open_regular_refuses_a_directory_and_a_device)
{
	char err[256];
	cr_assert_eq(io_open_regular(dir, O_RDONLY, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "a directory"), "%s", err);
	cr_assert_eq(io_open_regular("/dev/null", O_RDONLY, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "a device"), "%s", err);
	cr_assert_eq(io_open_regular("/nonexistent/x", O_RDONLY, err,
				     sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "No such file"), "%s", err);
}

Test(core_io, open_regular_gives_a_blocking_close_on_exec_fd)
{
	int fd = io_open_regular(path, O_WRONLY | O_CREAT | O_EXCL, NULL, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600 & ~umask(022));
	close(fd);
}

Test(core_io, open_regular_with_nofollow_refuses_a_symlink)
{
	char link[PATH_MAX + 8];
	snprintf(link, sizeof(link), "%s/link", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(symlink(path, link), 0);
	cr_assert_eq(io_open_regular(link, O_RDONLY | O_NOFOLLOW, NULL, 0),
		     -ELOOP);
	fd = io_open_regular(link, O_RDONLY, NULL, 0);
	cr_assert_geq(fd, 0, "without O_NOFOLLOW a link to a file is fine");
	close(fd);
}

Test(core_io, tmpfile_refuses_a_planted_fifo, .timeout = 5)
{
	struct io_tmpfile t;
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	cr_assert_eq(mkfifo(tmp, 0600), 0);
	cr_assert_eq(io_tmpfile_open(&t, path), -EEXIST);
}

/* ---- io_same_file (issue 12: snapshot_path and mem_file_path) ---- */

Test(core_io, same_file_sees_through_dots_links_and_dotdot)
{
	char a[PATH_MAX + 8], b[PATH_MAX + 16], sub[PATH_MAX + 8],
		link[PATH_MAX + 8];
	snprintf(a, sizeof(a), "%s/vm", dir);
	snprintf(b, sizeof(b), "%s/./vm", dir);
	cr_assert_eq(io_same_file(a, b), 1, "neither exists yet");
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	snprintf(b, sizeof(b), "%s/sub/../vm", dir);
	cr_assert_eq(io_same_file(a, b), 1);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(dir, link), 0);
	snprintf(b, sizeof(b), "%s/link/vm", dir);
	cr_assert_eq(io_same_file(a, b), 1, "a linked directory");
	/* A link to the file itself, once it exists. */
	int fd = open(a, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(b, sizeof(b), "%s/sub/alias", dir);
	cr_assert_eq(symlink(a, b), 0);
	cr_assert_eq(io_same_file(a, b), 1, "a link to the file");
	cr_assert_eq(io_same_file(b, a), 1);
}

Test(core_io, same_file_tells_different_files_apart)
{
	char a[PATH_MAX + 8], b[PATH_MAX + 8];
	snprintf(a, sizeof(a), "%s/vm", dir);
	snprintf(b, sizeof(b), "%s/mem", dir);
	cr_assert_eq(io_same_file(a, b), 0);
	snprintf(b, sizeof(b), "%s/sub/vm", dir);
	cr_assert_eq(io_same_file(a, b), -ENOENT, "no such directory");
	cr_assert_eq(io_same_file("vm", "./vm"), 1, "relative to the cwd");
	cr_assert_eq(io_same_file("vm", "mem"), 0);
}
