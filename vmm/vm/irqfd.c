#include "vm/irqfd.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

int irqfd_new(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int irqfd_register(int vm_fd, int fd, unsigned gsi)
{
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = gsi};
	return ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int irqfd_fire(void *opaque)
{
	uint64_t one = 1;
	int fd = (int)(intptr_t)opaque;
	return write(fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

struct irq_trigger irqfd_trigger(int fd)
{
	return (struct irq_trigger){irqfd_fire, (void *)(intptr_t)fd};
}
