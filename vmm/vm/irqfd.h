/* KVM irqfds: an eventfd that KVM turns into an interrupt edge on a GSI, and
 * the irq_trigger that hands it to a device (which never sees KVM). Making
 * the eventfd and registering it are apart: on arm64 KVM_IRQFD fails with
 * EAGAIN until the GIC is initialized, which needs every vCPU, while devices
 * get their trigger before that.
 * Threads: any; a write to an eventfd needs no lock. */
#ifndef VMM_IRQFD_H
#define VMM_IRQFD_H

#include <core/irq.h>

/* A new eventfd for an irqfd: the fd, or -errno. */
int irqfd_new(void);
/* Binds eventfd fd to gsi of the VM behind vm_fd. 0 or -errno. */
int irqfd_register(int vm_fd, int fd, unsigned gsi);
/* The trigger that fires irqfd fd (owned by the caller). */
struct irq_trigger irqfd_trigger(int fd);

#endif
