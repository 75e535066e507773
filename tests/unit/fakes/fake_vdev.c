#include "fake_vdev.h"

#include <core/checked.h>

#include <errno.h>
#include <string.h>

static uint64_t fake_vdev_get_features(void *dev)
{
	return ((struct fake_vdev *)dev)->offer;
}

static int fake_vdev_set_features(void *dev, uint64_t features)
{
	struct fake_vdev *f = dev;
	f->acked = features;
	return f->refuse_features ? -EINVAL : 0;
}

static unsigned fake_vdev_num_queues(void *dev)
{
	return ((struct fake_vdev *)dev)->vdev.max_queues;
}

static void fake_vdev_config_read(void *dev, uint32_t off, void *data,
				  unsigned len)
{
	memcpy(data, ((struct fake_vdev *)dev)->config + off, len);
}

static void fake_vdev_config_write(void *dev, uint32_t off, const void *data,
				   unsigned len)
{
	struct fake_vdev *f = dev;
	memcpy(f->config + off, data, len);
	f->config_writes++;
}

static int fake_vdev_activate(void *dev, struct virtq *queues,
			      unsigned nr_queues, const struct gmem *mem,
			      const struct virtio_host *host)
{
	struct fake_vdev *f = dev;
	f->queues = queues;
	f->nr_queues = nr_queues;
	f->mem = mem;
	f->host = host;
	f->activations++;
	return 0;
}

static void fake_vdev_queue_notify(void *dev, unsigned q)
{
	struct fake_vdev *f = dev;
	if (q < FAKE_VDEV_MAX_QUEUES)
		f->notifies[q]++;
	if (!f->manual)
		fake_vdev_process(f, q);
}

static void fake_vdev_reset(void *dev)
{
	struct fake_vdev *f = dev;
	f->queues = NULL;
	f->nr_queues = 0;
	f->host = NULL;
	f->resets++;
}

static const struct virtio_dev_ops fake_vdev_ops = {
	.get_features = fake_vdev_get_features,
	.set_features = fake_vdev_set_features,
	.num_queues = fake_vdev_num_queues,
	.config_read = fake_vdev_config_read,
	.config_write = fake_vdev_config_write,
	.activate = fake_vdev_activate,
	.queue_notify = fake_vdev_queue_notify,
	.reset = fake_vdev_reset,
};

void fake_vdev_init(struct fake_vdev *f, uint32_t device_id,
		    unsigned nr_queues, uint16_t queue_max_size)
{
	memset(f, 0, sizeof(*f));
	f->vdev = (struct virtio_dev){
		.device_id = device_id,
		.config_size = FAKE_VDEV_CONFIG_SIZE,
		.max_queues = nr_queues,
		.queue_max_size = queue_max_size,
		.ops = &fake_vdev_ops,
		.dev = f,
	};
}

unsigned fake_vdev_process(struct fake_vdev *f, unsigned q)
{
	struct virtq_chain *chain = &f->chain;
	uint8_t buf[256];
	unsigned done = 0;

	if (!f->queues || q >= f->nr_queues)
		return 0;
	struct virtq *vq = &f->queues[q];
	for (;;) {
		int r = virtq_pop(vq, chain);
		if (r == 0)
			break;
		if (r < 0) {
			f->malformed++;
			f->host->needs_reset(f->host->t, "fake_vdev: bad chain");
			break;
		}
		uint32_t n = MIN(chain->read_bytes, chain->write_bytes), off = 0;
		while (off < n) {
			uint32_t k = MIN(n - off, (uint32_t)sizeof(buf));
			if (virtq_chain_read(vq, chain, off, buf, k) != (int)k ||
			    virtq_chain_write(vq, chain, off, buf, k) != (int)k)
				break;
			off += k;
		}
		virtq_push_used(vq, chain->head, off);
		f->completed++;
		done++;
	}
	if (done)
		f->host->notify_queue(f->host->t, q);
	return done;
}
