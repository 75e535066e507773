/* The VM's lifecycle without a guest: vm_destroy is safe on a zeroed vm,
 * after a failed create, and repeated (issue 12: two refused snapshot loads
 * in one process closed fd 0 and then an API connection's socket). */
#include "vm/vm.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static struct vm_config cfg;
static struct vm vm;

static void setup(void)
{
	config_defaults(&cfg);
	memset(&vm, 0, sizeof(vm));
	/* fd 0 must be open for "fd 0 was closed" to be seen. */
	int fd = open("/dev/null", O_RDONLY);
	cr_assert_geq(fd, 0);
	if (fd != 0) {
		cr_assert_eq(dup2(fd, 0), 0);
		close(fd);
	}
}

static void teardown(void)
{
	vm_destroy(&vm);
	config_free(&cfg);
}

TestSuite(vm, .init = setup, .fini = teardown);

static bool fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

Test(vm, destroy_of_a_zeroed_vm_closes_no_fd)
{
	vm_destroy(&vm);
	cr_assert(fd_open(0), "vm_destroy of a zeroed vm closed fd 0");
	vm_destroy(&vm);
	cr_assert(fd_open(0));
}

/* A create that fails after KVM, memory and the legacy devices exist (the
 * kernel cannot be read), destroyed twice with fds reused in between. */
Test(vm, destroy_after_a_failed_create_is_safe_to_repeat)
{
	char err[256];
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("/dev/kvm: %s", strerror(errno));
	close(kvm);
	cfg.mem_size_mib = 32;
	config_set_str(&cfg.kernel_path, "/nonexistent/vmlinuz");
	cr_assert_neq(vm_create(&vm, &cfg, err, sizeof(err)), 0);
	cr_assert(strstr(err, "/nonexistent/vmlinuz"), "%s", err);
	vm_destroy(&vm);
	/* The numbers the VM used are free again: take them. */
	int p[4][2];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pipe(p[i]), 0);
	vm_destroy(&vm);
	for (int i = 0; i < 4; i++) {
		cr_assert(fd_open(p[i][0]) && fd_open(p[i][1]),
			  "a second vm_destroy closed fds %d/%d", p[i][0],
			  p[i][1]);
		close(p[i][0]);
		close(p[i][1]);
	}
	cr_assert(fd_open(0));
}
