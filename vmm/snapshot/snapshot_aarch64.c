/* arm64 snapshots are not implemented: its KVM state (the ONE_REG list,
 * the GIC's registers, the timers) has no blob yet, so create, load and
 * --restore are refused up front (snapshot_arch.h). */
#include "snapshot/snapshot_arch.h"

#include "snapshot/snapfile.h"

#include <core/err.h>

#include <errno.h>

const uint32_t snapshot_arch_id = SNAPFILE_ARCH_AARCH64;

int snapshot_arch_supported(char *err, size_t errlen)
{
	return err_set(err, errlen, -EOPNOTSUPP,
		       "snapshots are not supported on aarch64 yet");
}

int snapshot_arch_save(struct vm *vm, struct snapfile_writer *w, char *msg,
		       size_t msglen)
{
	(void)vm, (void)w;
	return snapshot_arch_supported(msg, msglen);
}

int snapshot_arch_check(const struct snapfile_reader *rd, unsigned nr_vcpus,
			char *err, size_t errlen)
{
	(void)rd, (void)nr_vcpus;
	return snapshot_arch_supported(err, errlen);
}

int snapshot_arch_restore(struct vm *vm, const struct snapfile_reader *rd,
			  char *err, size_t errlen)
{
	(void)vm, (void)rd;
	return snapshot_arch_supported(err, errlen);
}
