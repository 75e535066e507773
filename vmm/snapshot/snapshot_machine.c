#include "snapshot/snapshot_machine.h"

#include "config/cli.h"
#include "vm/vm.h"

#include <core/err.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

void snapshot_machine_from_vm(const struct vm *vm, struct snapshot_machine *m)
{
	const struct vm_config *c = vm->cfg;
	memset(m, 0, sizeof(*m));
	m->vcpu_count = vm->nr_vcpus;
	m->huge_pages = (uint32_t)c->huge_pages;
	m->mem_backend = (uint32_t)c->mem_backend;
	m->mem_lock = c->mem_lock;
	m->mem_size_mib = c->mem_size_mib;
	m->nr_regions = vm->mem.nr_regions;
	m->nr_virtio = vm->nr_virtio;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		m->region_gpa[i] = vm->mem.regions[i].gpa;
		m->region_len[i] = vm->mem.regions[i].len;
	}
	m->balloon_enabled = c->balloon.enabled;
	m->balloon_amount_mib = c->balloon.amount_mib;
	m->balloon_deflate_on_oom = c->balloon.deflate_on_oom;
	m->balloon_stats_interval_s = c->balloon.stats_polling_interval_s;
	m->balloon_free_page_reporting = c->balloon.free_page_reporting;
	m->balloon_free_page_hinting = c->balloon.free_page_hinting;
	snprintf(m->mvmm_version, sizeof(m->mvmm_version), "%s", MVMM_VERSION);
}

static int bad(char *err, size_t errlen, const char *field, uint64_t v)
{
	return err_set(err, errlen, -EINVAL,
		       "state file: machine.%s has an impossible value %llu",
		       field, (unsigned long long)v);
}

int snapshot_machine_to_config(const struct snapshot_machine *m,
			       struct vm_config *cfg, char *err, size_t errlen)
{
	if (m->vcpu_count < 1 || m->vcpu_count > CONFIG_MAX_VCPUS)
		return bad(err, errlen, "vcpu_count", m->vcpu_count);
	if (m->mem_size_mib < CONFIG_MIN_MEM_MIB ||
	    m->mem_size_mib > CONFIG_MAX_MEM_MIB)
		return bad(err, errlen, "mem_size_mib", m->mem_size_mib);
	if (m->huge_pages > HUGE_PAGES_2M)
		return bad(err, errlen, "huge_pages", m->huge_pages);
	if (m->mem_backend > MEM_BACKEND_MEMFD)
		return bad(err, errlen, "mem_backend", m->mem_backend);
	if (m->mem_lock > 1)
		return bad(err, errlen, "mem_lock", m->mem_lock);
	if (m->nr_regions < 1 || m->nr_regions > GMEM_MAX_REGIONS)
		return bad(err, errlen, "nr_regions", m->nr_regions);
	if (m->nr_virtio > VM_MAX_VIRTIO)
		return bad(err, errlen, "nr_virtio", m->nr_virtio);
	if (m->balloon_enabled > 1 || m->balloon_deflate_on_oom > 1 ||
	    m->balloon_free_page_reporting > 1 ||
	    m->balloon_free_page_hinting > 1)
		return bad(err, errlen, "balloon flags", 2);
	if (m->nr_virtio != (m->balloon_enabled ? 1u : 0u))
		return bad(err, errlen, "nr_virtio", m->nr_virtio);
	/* Checked whole, as a config file would be, before cfg changes (the
	 * copy shares cfg's strings, which are not touched). */
	struct vm_config next = *cfg;
	char why[CONFIG_ERR_LEN];
	next.vcpu_count = m->vcpu_count;
	next.mem_size_mib = m->mem_size_mib;
	next.huge_pages = (enum config_huge_pages)m->huge_pages;
	next.mem_backend = (enum config_mem_backend)m->mem_backend;
	next.mem_lock = m->mem_lock;
	next.balloon = (struct config_balloon){
		.enabled = m->balloon_enabled,
		.amount_mib = m->balloon_amount_mib,
		.deflate_on_oom = m->balloon_deflate_on_oom,
		.stats_polling_interval_s = m->balloon_stats_interval_s,
		.free_page_reporting = m->balloon_free_page_reporting,
		.free_page_hinting = m->balloon_free_page_hinting,
	};
	if (config_validate_machine(&next, why))
		return err_set(err, errlen, -EINVAL, "state file: machine: %s",
			       why);
	*cfg = next;
	return 0;
}

int snapshot_machine_check_vm(const struct snapshot_machine *m,
			      const struct vm *vm, char *err, size_t errlen)
{
	if (m->nr_regions != vm->mem.nr_regions)
		return err_set(err, errlen, -EINVAL,
			       "state file: %u RAM regions, this mvmm lays out %u for %llu MiB",
			       m->nr_regions, vm->mem.nr_regions,
			       (unsigned long long)m->mem_size_mib);
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *g = &vm->mem.regions[i];
		if (m->region_gpa[i] != g->gpa || m->region_len[i] != g->len)
			return err_set(err, errlen, -EINVAL,
				       "state file: RAM region %u is 0x%llx+0x%llx, this mvmm has 0x%llx+0x%llx",
				       i, (unsigned long long)m->region_gpa[i],
				       (unsigned long long)m->region_len[i],
				       (unsigned long long)g->gpa,
				       (unsigned long long)g->len);
	}
	if (m->nr_virtio != vm->nr_virtio)
		return err_set(err, errlen, -EINVAL,
			       "state file: %u virtio devices, the restored VM has %u",
			       m->nr_virtio, vm->nr_virtio);
	return 0;
}
