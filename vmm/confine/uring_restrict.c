/* io_uring's own allowlist. A ring's operations run in kernel io-wq
 * workers, where no seccomp filter applies: a subverted main thread could
 * otherwise queue IORING_OP_OPENAT or IORING_OP_CONNECT past every filter.
 * The kernel enforces these restrictions for the ring's lifetime; SQE flags
 * (links, IOSQE_ASYNC, fixed files) are refused too, as none is listed. */
#include "confine/confine.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* liburing 2.3 (Debian 12) declares io_uring_register_restrictions and
 * io_uring_enable_rings but its shared library does not export them. */
static int ring_register(struct io_uring *ring, unsigned op, const void *arg,
			 unsigned nr)
{
	long r = syscall(SYS_io_uring_register, ring->ring_fd, op, arg, nr);
	return r < 0 ? -errno : 0;
}

int confine_uring_restrict(struct io_uring *ring, char *err, size_t errlen)
{
	struct io_uring_restriction res[] = {
		/* The discard engine's two ops (discard_uring.c). */
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_MADVISE},
		{.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE},
		/* Teardown drops the completion eventfd; nothing else may
		 * change the ring once it runs. */
		{.opcode = IORING_RESTRICTION_REGISTER_OP,
		 .register_op = IORING_UNREGISTER_EVENTFD},
	};
	int r = ring_register(ring, IORING_REGISTER_RESTRICTIONS, res,
			      sizeof(res) / sizeof(res[0]));
	const char *what = "IORING_REGISTER_RESTRICTIONS";
	if (!r) {
		what = "IORING_REGISTER_ENABLE_RINGS";
		r = ring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	}
	if (r && err && errlen)
		snprintf(err, errlen, "io_uring: %s: %s%s", what, strerror(-r),
			 r == -EBADFD ? " (ring not created with IORING_SETUP_R_DISABLED)" : "");
	return r;
}
