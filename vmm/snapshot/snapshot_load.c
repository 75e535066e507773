/* PUT /snapshot/load and --restore: check the whole state file, build the
 * VM it describes, fill guest memory, then put every state back
 * (snapshot.h). */
#include "snapshot/snapshot.h"

#include "snapshot/snapfile.h"
#include "snapshot/snapshot_arch.h"
#include "snapshot/snapshot_machine.h"
#include "snapshot/snapshot_mem.h"
#include "vm/vm.h"

#include <core/clock.h>
#include <core/err.h>
#include <core/log.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static int missing(char *err, size_t errlen, const char *what, unsigned inst)
{
	return err_set(err, errlen, -EINVAL,
		       "state file: the %s section (%u) is missing or has the wrong size",
		       what, inst);
}

/* Every section must be present and well formed before anything is built. */
static int snapshot_check(const struct snapfile_reader *rd,
			  const struct snapshot_machine *m, char *err,
			  size_t errlen)
{
	const void *d;
	size_t len;
	int r = snapshot_arch_check(rd, m->vcpu_count, err, errlen);
	if (r)
		return r;
	if (snapfile_get(rd, SNAPSHOT_TAG_SERIAL, 0, &d, &len) ||
	    len != sizeof(struct serial_state))
		return missing(err, errlen, "serial", 0);
	for (unsigned i = 0; i < m->nr_virtio; i++)
		if (snapfile_get(rd, SNAPSHOT_TAG_VIRTIO_MMIO, i, &d, &len) ||
		    len != sizeof(struct virtio_mmio_state))
			return missing(err, errlen, "virtio-mmio", i);
	if (m->balloon_enabled &&
	    (snapfile_get(rd, SNAPSHOT_TAG_BALLOON, 0, &d, &len) ||
	     len != sizeof(struct balloon_state)))
		return missing(err, errlen, "balloon", 0);
	return 0;
}

static int snapshot_mem_path(const struct snapfile_reader *rd,
			     const struct snapshot_load_req *req, char *out,
			     size_t outlen, char *err, size_t errlen)
{
	if (req->mem_file_path) {
		snprintf(out, outlen, "%s", req->mem_file_path);
		return 0;
	}
	const void *d;
	size_t len;
	if (snapfile_get(rd, SNAPSHOT_TAG_MEM_FILE, 0, &d, &len) || len == 0 ||
	    len >= outlen || memchr(d, 0, len))
		return err_set(err, errlen, -EINVAL,
			       "no memory file given and the state file names none");
	memcpy(out, d, len);
	out[len] = 0;
	return 0;
}

static int snapshot_restore_devices(struct vm *vm,
				    const struct snapfile_reader *rd, char *err,
				    size_t errlen)
{
	char why[200] = "";
	int r;
	struct serial_state ss;
	snapfile_get_exact(rd, SNAPSHOT_TAG_SERIAL, 0, &ss, sizeof(ss));
	if ((r = serial_restore(&vm->serial, &ss)))
		return err_set(err, errlen, r,
			       "state file: serial port state is invalid");
	struct balloon_state bs;
	if (vm->balloon) {
		snapfile_get_exact(rd, SNAPSHOT_TAG_BALLOON, 0, &bs, sizeof(bs));
		/* Names a config mismatch before the transport would refuse
		 * it by feature bit. */
		if ((r = balloon_state_check(vm->balloon, &bs, why, sizeof(why))))
			return err_set(err, errlen, r, "balloon: %s", why);
	}
	/* Transports first: they negotiate and activate as at DRIVER_OK. */
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio_state ms;
		snapfile_get_exact(rd, SNAPSHOT_TAG_VIRTIO_MMIO, i, &ms,
				   sizeof(ms));
		r = virtio_mmio_restore(&vm->virtio[i].mmio, &ms, why, sizeof(why));
		if (r)
			return err_set(err, errlen, r, "virtio slot %u: %s", i, why);
	}
	if (vm->balloon &&
	    (r = balloon_restore(vm->balloon, &bs, why, sizeof(why))))
		return err_set(err, errlen, r, "balloon: %s", why);
	if (vm->balloon &&
	    (r = vm_balloon_set_stats_interval(
		     vm, balloon_get_stats_interval(vm->balloon))))
		return err_set(err, errlen, r, "balloon statistics timer: %s",
			       strerror(-r));
	/* Buffers made available before the snapshot whose kick the old
	 * process never handled; queued work completes once the loop runs. */
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_restored(&vm->virtio[i].mmio);
	return 0;
}

/* The memory file must hold exactly the snapshot's RAM: refused before
 * anything is built (the loader checks again). */
static int snapshot_check_mem_file(const struct snapshot_machine *m,
				   const char *mem_path, char *err,
				   size_t errlen)
{
	struct stat st;
	if (stat(mem_path, &st) < 0) {
		int r = -errno;
		return err_set(err, errlen, r, "memory file %s: %s", mem_path,
			       strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		return err_set(err, errlen, -EINVAL,
			       "memory file %s is not a regular file", mem_path);
	uint64_t ram = 0;
	for (unsigned i = 0; i < m->nr_regions; i++)
		ram += m->region_len[i];
	if ((uint64_t)st.st_size != ram)
		return err_set(err, errlen, -EINVAL,
			       "memory file %s is %llu bytes, the snapshot's guest RAM is %llu bytes",
			       mem_path, (unsigned long long)st.st_size,
			       (unsigned long long)ram);
	return 0;
}

/* All that is checked before a VM is built: the machine section (into cfg),
 * every other section, and the memory file (its path into mem_path). */
static int snapshot_check_all(const struct snapfile_reader *rd,
			      const struct snapshot_load_req *req,
			      struct snapshot_machine *m, struct vm_config *cfg,
			      char *mem_path, size_t mem_path_len, char *err,
			      size_t errlen)
{
	int r;
	if (snapfile_get_exact(rd, SNAPSHOT_TAG_MACHINE, 0, m, sizeof(*m)))
		return missing(err, errlen, "machine", 0);
	if ((r = snapshot_machine_to_config(m, cfg, err, errlen)) ||
	    (r = snapshot_check(rd, m, err, errlen)) ||
	    (r = snapshot_mem_path(rd, req, mem_path, mem_path_len, err,
				   errlen)))
		return r;
	return snapshot_check_mem_file(m, mem_path, err, errlen);
}

int snapshot_load(struct vm *vm, struct vm_config *cfg,
		  const struct snapshot_load_req *req, char *err,
		  size_t errlen)
{
	struct snapfile_reader rd;
	struct snapshot_machine m;
	struct snapshot_mem_load_stats ls;
	char mem_path[PATH_MAX];
	uint64_t t0 = clock_now_ns();
	/* A refused load changes nothing: the machine section's fields are
	 * put back (its strings are never touched). */
	const struct vm_config before = *cfg;
	int r = snapshot_arch_supported(err, errlen);
	if (r)
		return r;
	if (!req->snapshot_path || !*req->snapshot_path)
		return err_set(err, errlen, -EINVAL, "snapshot_path is required");
	r = snapfile_reader_open(&rd, req->snapshot_path, snapshot_arch_id,
				 err, errlen);
	if (r)
		return r;
	if ((r = snapshot_check_all(&rd, req, &m, cfg, mem_path,
				    sizeof(mem_path), err, errlen)) ||
	    (r = vm_create_for_restore(vm, cfg, err, errlen)) ||
	    (r = snapshot_machine_check_vm(&m, vm, err, errlen)) ||
	    (r = snapshot_mem_load(&vm->mem, mem_path, &ls, err, errlen)) ||
	    (r = snapshot_arch_restore(vm, &rd, err, errlen)) ||
	    (r = snapshot_restore_devices(vm, &rd, err, errlen)))
		goto out;
	if (!req->resume)
		pause_gate_start_paused(&vm->pause);
	log_info("snapshot: restored %s (%u vCPUs, %llu MiB, %llu MiB read from %s) in %llu ms%s",
		 req->snapshot_path, m.vcpu_count,
		 (unsigned long long)m.mem_size_mib,
		 (unsigned long long)(ls.bytes_read >> 20), mem_path,
		 (unsigned long long)(clock_now_ns() - t0) / 1000000,
		 req->resume ? "" : "; paused until PATCH /vm Resumed");
out:
	if (r)
		*cfg = before;
	snapfile_reader_free(&rd);
	return r;
}
