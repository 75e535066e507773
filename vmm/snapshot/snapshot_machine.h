/* The state file's machine section: what a restoring process must build
 * before any state goes in (vCPUs, RAM layout and backend, devices and the
 * balloon's configuration). Fixed layout; every field checked on load.
 * Threads: the caller's (main loop on create, main thread on load). */
#ifndef VMM_SNAPSHOT_MACHINE_H
#define VMM_SNAPSHOT_MACHINE_H

#include "config/config.h"

#include <core/gmem.h>

#include <stddef.h>
#include <stdint.h>

struct vm;

struct snapshot_machine {
	uint32_t vcpu_count;
	uint32_t huge_pages;  /* enum config_huge_pages */
	uint32_t mem_backend; /* enum config_mem_backend */
	uint32_t mem_lock;
	uint64_t mem_size_mib;
	uint32_t nr_regions;
	uint32_t nr_virtio;
	uint64_t region_gpa[GMEM_MAX_REGIONS];
	uint64_t region_len[GMEM_MAX_REGIONS];
	uint32_t balloon_enabled;
	uint32_t balloon_amount_mib;
	uint32_t balloon_deflate_on_oom;
	uint32_t balloon_stats_interval_s;
	uint32_t balloon_free_page_reporting;
	uint32_t balloon_free_page_hinting;
	char mvmm_version[32];
};

void snapshot_machine_from_vm(const struct vm *vm, struct snapshot_machine *m);
/* Checks m and fills the machine part of cfg (vCPUs, memory, balloon);
 * other fields of cfg are kept. 0 or -EINVAL with err naming the field. */
int snapshot_machine_to_config(const struct snapshot_machine *m,
			       struct vm_config *cfg, char *err, size_t errlen);
/* After the VM was built from cfg: its RAM layout and device count must be
 * the snapshot's. 0 or -EINVAL with err. */
int snapshot_machine_check_vm(const struct snapshot_machine *m,
			      const struct vm *vm, char *err, size_t errlen);

#endif
