/* The VM's configuration: Firecracker's config-file schema (boot-source,
 * machine-config, balloon) plus CLI overrides. Parsing never exits; errors
 * come back as one line naming the file, position and field. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include "confine/confine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_VCPUS 32
#define CONFIG_MIN_MEM_MIB 16
#define CONFIG_MAX_MEM_MIB (1024 * 1024)
#define CONFIG_MAX_STATS_INTERVAL_S 3600

enum config_huge_pages { HUGE_PAGES_NONE, HUGE_PAGES_TRANSPARENT, HUGE_PAGES_2M };
enum config_mem_backend { MEM_BACKEND_ANON, MEM_BACKEND_MEMFD };

struct config_balloon {
	bool enabled;
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s;
	bool free_page_reporting;
	bool free_page_hinting;
};

struct vm_config {
	char *kernel_path;
	char *initrd_path;
	char *boot_args;
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	enum config_huge_pages huge_pages;
	enum config_mem_backend mem_backend;
	bool mem_lock;
	/* Firecracker's: kept and checked (smt needs 1 or an even vcpu_count),
	 * no effect (no SMT topology, no diff snapshots). */
	bool smt;
	bool track_dirty_pages;
	struct config_balloon balloon;
	char *api_sock;
	/* --restore: build the VM from this state file instead of booting. */
	char *restore_path;
	char *restore_mem_path; /* NULL: the one the state file names */
	bool restore_paused;
	/* --seccomp: what a forbidden syscall does (kill by default). */
	enum confine_action seccomp;
};

#define CONFIG_ERR_LEN 512

struct json_t; /* jansson's json_t */

void config_defaults(struct vm_config *cfg);
void config_free(struct vm_config *cfg);
/* Replaces a string setting with a copy of v. */
void config_set_str(char **dst, const char *v);
/* "None", "Transparent", "2M": indexed by the enum, NULL-terminated. */
extern const char *const config_huge_pages_names[];
/* The names the config file and the API use for these settings. */
const char *config_huge_pages_name(enum config_huge_pages h);
const char *config_mem_backend_name(enum config_mem_backend b);
/* Merges a JSON config file into cfg; 0 or -1 with err filled. Top-level
 * sections mvmm does not know are skipped with a warning (Firecracker
 * ignores them); sections for devices mvmm lacks are taken only when they
 * ask for none (docs/config.md). */
int config_load_file(struct vm_config *cfg, const char *path, char *err);
/* Same, from a string (path names it in messages). */
int config_load_string(struct vm_config *cfg, const char *text,
		       const char *path, char *err);
/* One section's object ("boot-source", "machine-config", "balloon") merged
 * into cfg, checked whole before any of it is applied: the REST API's pre-boot
 * PUTs take their bodies through here. 0 or -EINVAL with err =
 * "section.key: reason" (no position). */
int config_parse_section(struct vm_config *cfg, const char *section,
			 struct json_t *obj, char *err, size_t errlen);
/* Parses "amount_mib=N,deflate_on_oom=on,stats_polling_interval_s=S,...". */
int config_parse_balloon_opts(struct config_balloon *b, const char *opts,
			      char *err);
/* The machine's fields against each other, as Firecracker checks them:
 * smt with an odd vcpu_count above 1, "2M" huge pages with an odd
 * mem_size_mib. 0 or -EINVAL with err ("machine-config.field: reason"). */
int config_check_machine(const struct vm_config *cfg, char *err,
			 size_t errlen);
/* Checks the merged result (ranges, files exist); 0 or -1 with err. */
int config_validate(const struct vm_config *cfg, char *err);
/* Its first part: a kernel is given, it and the initrd are readable. */
int config_validate_boot_source(const struct vm_config *cfg, char *err);

#endif
