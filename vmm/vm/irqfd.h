/* KVM irqfds: an eventfd that KVM turns into an interrupt edge on a GSI, and
 * the irq_trigger that hands it to a device (which never sees KVM).
 * Threads: any; a write to an eventfd needs no lock. */
#ifndef VMM_IRQFD_H
#define VMM_IRQFD_H

#include <core/irq.h>

/* A new eventfd bound to gsi of the VM behind vm_fd: the fd, or -errno. */
int irqfd_create(int vm_fd, unsigned gsi);
/* The trigger that fires irqfd fd (owned by the caller). */
struct irq_trigger irqfd_trigger(int fd);

#endif
