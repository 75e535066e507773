/* The VM's lifecycle without a guest: vm_destroy is safe on a zeroed vm,
 * after a failed create, and repeated (issue 12: two refused snapshot loads
 * in one process closed fd 0 and then an API connection's socket). */
#include "vm/vm.h"
#include "fakes/fd0_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static struct vm_config cfg;
static struct vm vm;

static void setup(void)
{
	config_defaults(&cfg);
	memset(&vm, 0, sizeof(vm));
	/* fd 0 must be open for "fd 0 was closed" to be seen. */
	cr_assert_eq(fd0_ensure_open(), 0);
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

/* Issue 12: a console reader that stops reading blocked the vCPU in
 * write(stdout) holding the UART's lock. stdout is a pipe nobody reads; a
 * thread (the vCPU) prints 512 KiB through the VM's port bus. */
struct printer {
	struct bus *pio;
	bool done;
};

static void *print_to_com1(void *arg)
{
	struct printer *pr = arg;
	for (unsigned i = 0; i < 512 * 1024; i++) {
		uint8_t c = 'a' + i % 26;
		bus_write(pr->pio, 0x3f8, &c, 1);
	}
	pr->done = true;
	return NULL;
}

Test(vm, a_stalled_console_reader_blocks_no_vcpu, .timeout = 30)
{
	char err[256];
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("/dev/kvm: %s", strerror(errno));
	close(kvm);
	signal(SIGPIPE, SIG_IGN);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	int saved = dup(1);
	cr_assert_eq(dup2(p[1], 1), 1);
	cfg.mem_size_mib = 32;
	cr_assert_eq(vm_create_for_restore(&vm, &cfg, err, sizeof(err)), 0, "%s",
		     err);
	struct printer pr = {&vm.pio_bus, false};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, print_to_com1, &pr), 0);
	for (int i = 0; i < 1000 && !pr.done; i++) {
		console_flush(&vm.console); /* the main loop's part */
		usleep(5000);
	}
	bool done = pr.done;
	dup2(saved, 1);
	close(saved);
	if (!done) {
		/* Unstick the old behaviour's writer so the test can end. */
		close(p[0]);
		p[0] = -1;
	}
	pthread_join(th, NULL);
	cr_assert(done, "the vCPU blocked writing the console");
	struct console_stats st;
	console_get_stats(&vm.console, &st);
	cr_assert_gt(st.bytes_dropped_full, 0);
	close(p[1]);
	if (p[0] >= 0)
		close(p[0]);
}
