#include <devices/i8042.h>

#include <string.h>

#define I8042_STATUS_OBF 0x01
#define I8042_STATUS_SYS 0x04
#define I8042_STATUS_UNLOCKED 0x10 /* keyboard not inhibited */
#define I8042_CMD_READ_CB 0x20
#define I8042_CMD_WRITE_CB 0x60
#define I8042_CMD_SELF_TEST 0xaa
#define I8042_CMD_RESET 0xfe

void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque)
{
	memset(k, 0, sizeof(*k));
	k->reset = reset;
	k->opaque = opaque;
}

static void i8042_read(void *dev, uint64_t off, void *data, unsigned len)
{
	struct i8042 *k = dev;
	uint8_t v = 0;
	if (off == 0) {
		v = k->out;
		k->out_full = false;
	} else if (off == 4) {
		v = I8042_STATUS_SYS | I8042_STATUS_UNLOCKED |
		    (k->out_full ? I8042_STATUS_OBF : 0);
	}
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void i8042_write(void *dev, uint64_t off, const void *data, unsigned len)
{
	struct i8042 *k = dev;
	uint8_t v = *(const uint8_t *)data;
	(void)len;
	if (off == 4) {
		switch (v) {
		case I8042_CMD_RESET:
			if (k->reset)
				k->reset(k->opaque);
			break;
		case I8042_CMD_READ_CB:
			k->out = k->cmd_byte;
			k->out_full = true;
			break;
		case I8042_CMD_SELF_TEST:
			k->out = 0x55;
			k->out_full = true;
			break;
		case I8042_CMD_WRITE_CB:
			k->pending_cmd = v;
			break;
		default:
			break;
		}
	} else if (off == 0 && k->pending_cmd == I8042_CMD_WRITE_CB) {
		k->cmd_byte = v;
		k->pending_cmd = 0;
	}
}

const struct bus_dev_ops i8042_bus_ops = {
	.read = i8042_read,
	.write = i8042_write,
};
