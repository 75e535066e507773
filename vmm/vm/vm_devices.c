/* Wiring of virtio devices into the VM: MMIO slots, irqfds, ioeventfds, the
 * kernel command line, and the balloon with its discard engine and timers. */
#include "memory/discard_engine.h"
#include "memory/mem_lock.h"
#include "vm/irqfd.h"
#include "vm/vm.h"
#include "vm/vm_arch.h"

#include <core/cmdline.h>
#include <core/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct queue_event {
	struct virtio_mmio *mmio;
	unsigned q;
	int fd;
};

static void on_queue_event(void *opaque, uint32_t events)
{
	struct queue_event *qe = opaque;
	uint64_t v;
	(void)events;
	if (read(qe->fd, &v, sizeof(v)) == sizeof(v))
		virtio_mmio_queue_event(qe->mmio, qe->q);
}

static int vm_add_ioeventfd(struct vm *vm, struct vm_virtio_slot *slot,
			    unsigned q)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct kvm_ioeventfd io = {
		.datamatch = q,
		.addr = slot->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	slot->ioeventfds[q] = fd;
	struct queue_event *qe = malloc(sizeof(*qe));
	if (!qe)
		return -ENOMEM;
	*qe = (struct queue_event){&slot->mmio, q, fd};
	slot->queue_events[q] = qe;
	return event_loop_add(&vm->loop, fd, 0, on_queue_event, qe);
}

int vm_add_virtio(struct vm *vm, struct virtio_dev *dev)
{
	if (vm->nr_virtio == VM_MAX_VIRTIO)
		return -ENOSPC;
	struct vm_virtio_slot *slot = &vm->virtio[vm->nr_virtio];
	memset(slot, 0, sizeof(*slot));
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		slot->ioeventfds[q] = -1;
	slot->irqfd = -1;
	int r = vm_arch_virtio_slot(vm->nr_virtio, &slot->base, &slot->gsi);
	if (r)
		return r;
	slot->irqfd = irqfd_new();
	if (slot->irqfd < 0)
		return slot->irqfd;
	r = virtio_mmio_init(&slot->mmio, dev, &vm->mem,
			     irqfd_trigger(slot->irqfd));
	if (r) {
		/* Not counted in nr_virtio: destroy would not see it. */
		close(slot->irqfd);
		slot->irqfd = -1;
		return r;
	}
	slot->initialized = true;
	vm->nr_virtio++;
	r = bus_insert(&vm->mmio_bus, slot->base, VIRTIO_MMIO_SIZE,
		       &virtio_mmio_bus_ops, &slot->mmio);
	for (unsigned q = 0; !r && q < dev->max_queues; q++)
		r = vm_add_ioeventfd(vm, slot, q);
	return r;
}

int vm_virtio_register_irqfds(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		int r = irqfd_register(vm->vm_fd, vm->virtio[i].irqfd,
				       vm->virtio[i].gsi);
		if (r)
			return r;
	}
	return 0;
}

int vm_add_virtio_cmdline(struct vm *vm, struct cmdline *cl)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		char arg[96];
		const struct vm_virtio_slot *slot = &vm->virtio[i];
		if (virtio_mmio_cmdline_arg(arg, sizeof(arg), slot->base,
					    slot->gsi) < 0)
			return -ENOSPC;
		int r = cmdline_append(cl, "%s", arg);
		if (r)
			return r;
	}
	return 0;
}

static void vm_virtio_slot_destroy(struct vm *vm, struct vm_virtio_slot *slot)
{
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		if (slot->ioeventfds[q] < 0)
			continue;
		event_loop_del(&vm->loop, slot->ioeventfds[q]);
		close(slot->ioeventfds[q]);
		free(slot->queue_events[q]);
	}
	if (slot->initialized)
		virtio_mmio_destroy(&slot->mmio);
	if (slot->irqfd >= 0)
		close(slot->irqfd);
}

static void on_discard_done(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t v;
	(void)events;
	if (read(discard_engine_eventfd(vm->discard_engine), &v, sizeof(v)) < 0 &&
	    errno != EAGAIN)
		log_warn("discard eventfd: %s", strerror(errno));
	vm->discard->ops->reap(vm->discard->be);
}

static void on_balloon_pending(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	(void)events;
	balloon_run_pending(vm->balloon);
}

static void on_stats_timer(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t expirations;
	(void)events;
	if (read(vm->stats_timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	balloon_stats_tick(vm->balloon);
}

static int stats_timer_arm(struct vm *vm, uint32_t interval_s)
{
	struct itimerspec its = {
		.it_interval = {.tv_sec = interval_s},
		.it_value = {.tv_sec = interval_s},
	};
	return timerfd_settime(vm->stats_timer_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int vm_balloon_set_stats_interval(struct vm *vm, uint32_t interval_s)
{
	if (!vm->balloon)
		return -ENODEV;
	balloon_set_stats_interval(vm->balloon, interval_s);
	return stats_timer_arm(vm, interval_s);
}

void vm_balloon_config(const struct vm_config *cfg, struct balloon_config *bc)
{
	const struct config_balloon *c = &cfg->balloon;
	*bc = (struct balloon_config){
		.amount_mib = c->amount_mib,
		.deflate_on_oom = c->deflate_on_oom,
		.stats_polling_interval_s = c->stats_polling_interval_s,
		.free_page_reporting = c->free_page_reporting,
		.free_page_hinting = c->free_page_hinting,
		/* Locked memory is unlocked on inflate and locked again on
		 * deflate, which a silently deflating driver skips (seed 000). */
		.require_must_tell_host = cfg->mem_lock,
		.pin = cfg->mem_lock
			       ? (struct mem_pin){.ops = &mem_lock_pin_ops}
			       : (struct mem_pin){0},
	};
}

int vm_add_balloon(struct vm *vm)
{
	const struct config_balloon *c = &vm->cfg->balloon;
	struct balloon_config bc;
	vm_balloon_config(vm->cfg, &bc);
	int r = discard_engine_create(
		&vm->discard_engine, NULL,
		balloon_discard_done);
	if (r)
		return r;
	vm->discard = discard_engine_iface(vm->discard_engine);
	log_info("balloon: discard engine %s",
		 discard_engine_name(vm->discard_engine));
	int efd = discard_engine_eventfd(vm->discard_engine);
	if (efd >= 0 && (r = event_loop_add(&vm->loop, efd, 0, on_discard_done, vm)))
		return r;

	vm->balloon = calloc(1, sizeof(*vm->balloon));
	if (!vm->balloon)
		return -ENOMEM;
	if ((r = balloon_init(vm->balloon, &bc, vm->discard))) {
		free(vm->balloon);
		vm->balloon = NULL;
		return r;
	}
	if ((r = event_loop_add(&vm->loop, balloon_pending_fd(vm->balloon), 0,
				on_balloon_pending, vm)))
		return r;
	vm->stats_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->stats_timer_fd < 0)
		return -errno;
	if ((r = event_loop_add(&vm->loop, vm->stats_timer_fd, 0, on_stats_timer, vm)))
		return r;
	if (c->stats_polling_interval_s && (r = stats_timer_arm(vm, c->stats_polling_interval_s)))
		return r;
	return vm_add_virtio(vm, balloon_virtio_dev(vm->balloon));
}

void vm_devices_destroy(struct vm *vm)
{
	/* In-flight discards finish before the balloon and memory go away. */
	int r = vm->discard_engine ? discard_engine_drain(vm->discard_engine)
				   : 0;
	if (r)
		log_error("balloon: discards not drained at shutdown: %s",
			  strerror(-r));
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		vm_virtio_slot_destroy(vm, &vm->virtio[i]);
	vm->nr_virtio = 0;
	if (vm->balloon) {
		balloon_destroy(vm->balloon);
		free(vm->balloon);
		vm->balloon = NULL;
	}
	if (vm->discard_engine)
		discard_engine_destroy(vm->discard_engine);
	vm->discard_engine = NULL;
	if (vm->stats_timer_fd >= 0)
		close(vm->stats_timer_fd);
	vm->stats_timer_fd = -1;
}
