/* io_uring's own allowlist (confine_uring_restrict): the discard engine's
 * ops run, anything else a subverted thread might queue is refused by the
 * kernel, and register operations are closed after setup. */
#include "confine/confine.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <liburing.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

TestSuite(confine_uring);

/* Skips (passes with a message) where io_uring itself is unavailable. */
static bool ring_up(struct io_uring *ring, unsigned flags)
{
	int r = io_uring_queue_init(8, ring, flags);
	if (r == -ENOSYS || r == -EPERM) {
		cr_log_warn("io_uring unavailable here (%s): not tested",
			    strerror(-r));
		return false;
	}
	cr_assert_eq(r, 0, "io_uring_queue_init: %s", strerror(-r));
	return true;
}

/* Submits one SQE and returns its completion's result. */
static int run_one(struct io_uring *ring, struct io_uring_sqe *sqe)
{
	(void)sqe;
	cr_assert_eq(io_uring_submit(ring), 1);
	struct io_uring_cqe *cqe;
	cr_assert_eq(io_uring_wait_cqe(ring, &cqe), 0);
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

Test(confine_uring, runs_discards_and_refuses_other_ops)
{
	struct io_uring ring;
	if (!ring_up(&ring, IORING_SETUP_R_DISABLED))
		return;
	/* Setup-time registration still works before the restriction. */
	int efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(io_uring_register_eventfd(&ring, efd), 0);
	char err[160] = "";
	cr_assert_eq(confine_uring_restrict(&ring, err, sizeof(err)), 0, "%s", err);

	size_t len = 1 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, 0x5a, len);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_madvise(sqe, p, (off_t)len, MADV_DONTNEED);
	cr_assert_eq(run_one(&ring, sqe), 0);
	cr_assert_eq(p[0], 0, "the discard ran");

	int memfd = memfd_create("ram", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(memfd, (off_t)len), 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fallocate(sqe, memfd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				(off_t)len);
	cr_assert_eq(run_one(&ring, sqe), 0);

	/* What seccomp could not stop: opening files, reading, and the
	 * harmless NOP stand for every opcode not listed. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	cr_assert_eq(run_one(&ring, sqe), -EACCES);
	char buf[8];
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, memfd, buf, sizeof(buf), 0);
	cr_assert_eq(run_one(&ring, sqe), -EACCES);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	cr_assert_eq(run_one(&ring, sqe), -EACCES);
	/* A listed op with an SQE flag is refused too. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_madvise(sqe, p, (off_t)len, MADV_DONTNEED);
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
	cr_assert_eq(run_one(&ring, sqe), -EACCES);

	/* After the restriction, only the eventfd may go. */
	struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
	cr_assert_null(probe, "IORING_REGISTER_PROBE was allowed");
	cr_assert_eq(io_uring_register_iowq_max_workers(&ring, (unsigned[2]){1, 1}),
		     -EACCES);
	cr_assert_eq(io_uring_unregister_eventfd(&ring), 0);

	close(memfd);
	close(efd);
	munmap(p, len);
	io_uring_queue_exit(&ring);
}

Test(confine_uring, needs_a_ring_created_disabled)
{
	struct io_uring ring;
	if (!ring_up(&ring, 0))
		return;
	char err[160] = "";
	cr_assert_eq(confine_uring_restrict(&ring, err, sizeof(err)), -EBADFD);
	cr_assert(strstr(err, "IORING_SETUP_R_DISABLED"), "%s", err);
	io_uring_queue_exit(&ring);
}
