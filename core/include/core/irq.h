/* How a device raises its interrupt without knowing KVM (rust-vmm's Trigger).
 * The VMM backs it with an irqfd; tests back it with a counter. */
#ifndef CORE_IRQ_H
#define CORE_IRQ_H

struct irq_trigger {
	/* Signals one interrupt edge; returns 0 or -errno. */
	int (*fire)(void *opaque);
	void *opaque;
};

static inline int irq_fire(const struct irq_trigger *t)
{
	return t->fire ? t->fire(t->opaque) : 0;
}

#endif
