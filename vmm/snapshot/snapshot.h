/* Full snapshots (Firecracker's PUT /snapshot/create and /snapshot/load):
 * a checksummed state file (snapfile.h) with every vCPU's and the
 * VM's KVM state and every device's state, and a sparse memory file
 * (snapshot_mem.h) where zero pages, ballooned pages and pages the guest
 * hinted free and did not write since are holes.
 *
 * Create, on the main loop:
 *  - VM paused (Firecracker's flow): state and memory are written at once;
 *    the VM stays paused.
 *  - VM running: mvmm pauses it itself. If the driver negotiated
 *    FREE_PAGE_HINT, a hint run comes first (vm_reclaim.c's machinery:
 *    dirty log on before the run id is written; on the guest's STOP or a
 *    timeout the vCPUs pause and hinted pages that stayed clean, and hold no
 *    virtqueue ring, are left out of the memory file). DONE is written with
 *    the vCPUs paused, before the state is saved, so the restored guest
 *    takes its hinted pages back. The VM stays paused afterwards.
 * Discards in flight finish before anything is saved.
 *
 * Load: only into a process without a VM (before InstanceStart, or
 * --restore). The whole state file is read and checked (checksum, version,
 * every section's size, every vCPU and device blob) before the VM is built;
 * a bad file leaves nothing behind.
 *
 * Threads: main loop (create), main thread before the VM runs (load). */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/* Section tags of the state file. */
enum snapshot_tag {
	SNAPSHOT_TAG_MACHINE = 1, /* struct snapshot_machine */
	SNAPSHOT_TAG_VM_KVM,      /* x86_vm_state blob */
	SNAPSHOT_TAG_CPUID,       /* per vCPU: nent + kvm_cpuid_entry2[] */
	SNAPSHOT_TAG_VCPU,        /* per vCPU: x86_vcpu_state blob */
	SNAPSHOT_TAG_SERIAL,      /* struct serial_state */
	SNAPSHOT_TAG_VIRTIO_MMIO, /* per slot: struct virtio_mmio_state */
	SNAPSHOT_TAG_BALLOON,     /* struct balloon_state */
	SNAPSHOT_TAG_MEM_FILE,    /* the memory file's path when written (text) */
};

struct snapshot_create_req {
	const char *snapshot_path;
	const char *mem_file_path;
	/* Longest the guest gets to finish its hint run before the host
	 * stops it (running VM with hinting only). */
	unsigned hint_timeout_ms;
	/* false: no hint run even when the guest could give one. */
	bool use_hints;
};

struct snapshot_create_result {
	int err;            /* 0 or -errno */
	char msg[256];      /* why it failed */
	bool hinted;        /* a hint run decided some holes */
	uint64_t hint_us;   /* run written to STOP */
	uint64_t pause_us;  /* vCPUs paused before the files were done */
	uint64_t save_us;   /* state + memory written */
	uint64_t pages_total, pages_written, pages_zero, pages_hinted_clean;
	uint64_t pages_hinted_dirty;
	uint64_t mem_file_bytes; /* allocated on disk */
	uint64_t state_bytes;
};

typedef void (*snapshot_done_fn)(void *opaque,
				 const struct snapshot_create_result *res);

/* Starts a snapshot; done is called once, maybe before this returns. 0, or
 * -errno with msg when it could not start (done not called): -EBUSY (one
 * is in progress), -EINVAL (paths). */
int snapshot_create(struct vm *vm, const struct snapshot_create_req *req,
		    snapshot_done_fn done, void *opaque, char *msg,
		    size_t msglen);

struct snapshot_load_req {
	const char *snapshot_path;
	const char *mem_file_path; /* NULL: the one recorded at create */
	bool resume;               /* false: the VM starts paused */
};

/* Reads and checks the state file, fills cfg (from the snapshot's machine
 * section, validated as a config file's would be; cfg's strings are kept)
 * and builds vm in its saved state. 0, or -errno with err, cfg as it was,
 * and vm destroyed again by the caller. */
int snapshot_load(struct vm *vm, struct vm_config *cfg,
		  const struct snapshot_load_req *req, char *err,
		  size_t errlen);

#endif
