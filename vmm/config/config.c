#include "config/config.h"
#include "config/fields.h"

#include <core/err.h>
#include <core/log.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Indexed by the enums, so a parsed index is the value. */
const char *const config_huge_pages_names[] = {
	[HUGE_PAGES_NONE] = "None",
	[HUGE_PAGES_TRANSPARENT] = "Transparent",
	[HUGE_PAGES_2M] = "2M",
	NULL,
};
static const char *const mem_backend_names[] = {
	[MEM_BACKEND_ANON] = "anonymous",
	[MEM_BACKEND_MEMFD] = "memfd",
	NULL,
};

void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpu_count = 1;
	cfg->mem_size_mib = 128;
	cfg->seccomp = CONFINE_KILL;
	cfg->boot_args = strdup("console=ttyS0 reboot=k panic=-1");
}

void config_free(struct vm_config *cfg)
{
	free(cfg->kernel_path);
	free(cfg->initrd_path);
	free(cfg->boot_args);
	free(cfg->api_sock);
	free(cfg->restore_path);
	free(cfg->restore_mem_path);
	memset(cfg, 0, sizeof(*cfg));
}

void config_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

const char *config_huge_pages_name(enum config_huge_pages h)
{
	return h <= HUGE_PAGES_2M ? config_huge_pages_names[h] : "None";
}

const char *config_mem_backend_name(enum config_mem_backend b)
{
	return b <= MEM_BACKEND_MEMFD ? mem_backend_names[b] : "anonymous";
}

/* ---- sections: each checked whole, then applied ---- */

static int parse_boot_source(struct fields *f, struct vm_config *cfg)
{
	static const char *const allowed[] = {"kernel_image_path", "initrd_path",
					      "boot_args", NULL};
	const char *kernel = NULL, *initrd = NULL, *args = NULL;
	/* initrd_path may be null: Firecracker's Option. */
	bool initrd_null = json_is_null(json_object_get(f->obj, "initrd_path"));

	if (fields_check(f, allowed) ||
	    fields_string(f, "kernel_image_path", &kernel) ||
	    (!initrd_null && fields_string(f, "initrd_path", &initrd)) ||
	    fields_string(f, "boot_args", &args))
		return -EINVAL;
	if (kernel)
		config_set_str(&cfg->kernel_path, kernel);
	if (initrd)
		config_set_str(&cfg->initrd_path, initrd);
	if (args)
		config_set_str(&cfg->boot_args, args);
	return 0;
}

/* Firecracker's deprecated CPU templates: mvmm has none, so only "None"
 * (no template) is taken; the others are named in the refusal. */
static int parse_cpu_template(struct fields *f)
{
	static const char *const templates[] = {"C3", "T2", "T2S", "T2CL",
						"T2A", "V1N1", NULL};
	const char *t = NULL;

	if (fields_string(f, "cpu_template", &t))
		return -EINVAL;
	if (!t || !strcmp(t, "None"))
		return 0;
	for (const char *const *n = templates; *n; n++)
		if (!strcmp(*n, t))
			return fields_fail(f, "cpu_template",
					   "mvmm has no CPU templates: \"%s\" cannot be applied (only \"None\" is accepted)",
					   t);
	return fields_fail(f, "cpu_template",
			   "\"%s\" is not a CPU template (only \"None\" is accepted)",
			   t);
}

static int parse_machine(struct fields *f, struct vm_config *cfg)
{
	static const char *const allowed[] = {
		"vcpu_count",	    "mem_size_mib",	"smt",
		"track_dirty_pages", "huge_pages",	"cpu_template",
		"mvmm_mem_backend", "mvmm_mem_lock",	NULL,
	};
	uint64_t vcpus = cfg->vcpu_count, mem_mib = cfg->mem_size_mib;
	unsigned huge = cfg->huge_pages, backend = cfg->mem_backend;
	bool lock = cfg->mem_lock, smt = cfg->smt;
	bool track = cfg->track_dirty_pages;

	if (fields_check(f, allowed) ||
	    fields_uint(f, "vcpu_count", 1, CONFIG_MAX_VCPUS, &vcpus) ||
	    fields_uint(f, "mem_size_mib", CONFIG_MIN_MEM_MIB,
			CONFIG_MAX_MEM_MIB, &mem_mib) ||
	    fields_bool(f, "smt", &smt) ||
	    fields_bool(f, "track_dirty_pages", &track) ||
	    fields_choice(f, "huge_pages", config_huge_pages_names, &huge) ||
	    parse_cpu_template(f) ||
	    fields_choice(f, "mvmm_mem_backend", mem_backend_names, &backend) ||
	    fields_bool(f, "mvmm_mem_lock", &lock))
		return -EINVAL;
	cfg->vcpu_count = (unsigned)vcpus;
	cfg->mem_size_mib = mem_mib;
	cfg->huge_pages = (enum config_huge_pages)huge;
	cfg->mem_backend = (enum config_mem_backend)backend;
	cfg->mem_lock = lock;
	cfg->smt = smt;
	cfg->track_dirty_pages = track;
	return 0;
}

static int parse_balloon(struct fields *f, struct config_balloon *b)
{
	static const char *const allowed[] = {
		"amount_mib",	       "deflate_on_oom",
		"stats_polling_interval_s", "free_page_reporting",
		"free_page_hinting",	   NULL,
	};
	struct config_balloon nb = *b;

	if (fields_check(f, allowed) ||
	    fields_u32(f, "amount_mib", 0, CONFIG_MAX_MEM_MIB, &nb.amount_mib) ||
	    fields_bool(f, "deflate_on_oom", &nb.deflate_on_oom) ||
	    fields_u32(f, "stats_polling_interval_s", 0,
		       CONFIG_MAX_STATS_INTERVAL_S,
		       &nb.stats_polling_interval_s) ||
	    fields_bool(f, "free_page_reporting", &nb.free_page_reporting) ||
	    fields_bool(f, "free_page_hinting", &nb.free_page_hinting))
		return -EINVAL;
	nb.enabled = true;
	*b = nb;
	return 0;
}

/* Firecracker's sections for what mvmm does not have. Each is taken when
 * it asks for nothing (null; [] for lists; {} where that changes nothing)
 * and refused, with why, when it asks for something the guest or the
 * user would then silently miss. */
struct absent_section {
	const char *name;
	bool list;         /* [] asks for nothing */
	bool empty_object; /* {} asks for nothing */
	const char *why;
};

static const struct absent_section absent_sections[] = {
	{"drives", true, false,
	 "mvmm has no block devices (boot from an initramfs: boot-source.initrd_path)"},
	{"network-interfaces", true, false, "mvmm has no network devices"},
	{"pmem", true, false, "mvmm has no pmem devices"},
	{"vsock", false, false, "mvmm has no vsock device"},
	{"entropy", false, false, "mvmm has no entropy device (virtio-rng)"},
	{"memory-hotplug", false, false,
	 "mvmm has no memory hotplug (virtio-mem); size the guest with machine-config.mem_size_mib and use the balloon"},
	{"mmds-config", false, false,
	 "mvmm has no MMDS (it needs a network device)"},
	{"cpu-config", false, false, "mvmm has no CPU templates"},
	{"logger", false, true,
	 "mvmm logs to its stderr (--log-level); remove the section or set it to null"},
	{"metrics", false, true,
	 "mvmm serves its metrics at GET /metrics and logs them with FlushMetrics; remove the section or set it to null"},
	{"serial", false, true,
	 "mvmm's serial console is its stdout; remove the section or set it to null"},
};

static const struct absent_section *absent_section(const char *name)
{
	for (size_t i = 0; i < sizeof(absent_sections) / sizeof(absent_sections[0]); i++)
		if (!strcmp(absent_sections[i].name, name))
			return &absent_sections[i];
	return NULL;
}

static int parse_absent(struct fields *f, const struct absent_section *a)
{
	json_t *v = f->obj;
	if (json_is_null(v) ||
	    (a->list && json_is_array(v) && !json_array_size(v)) ||
	    (a->empty_object && json_is_object(v) && !json_object_size(v)))
		return 0;
	return fields_fail(f, NULL, "%s", a->why);
}

static bool known_section(const char *name)
{
	return !strcmp(name, "boot-source") || !strcmp(name, "machine-config") ||
	       !strcmp(name, "balloon") || absent_section(name);
}

/* f->section is the section's name, f->obj its value. */
static int parse_section(struct fields *f, struct vm_config *cfg)
{
	json_t *v = f->obj;
	const char *name = f->section;
	const struct absent_section *a = absent_section(name);

	if (a)
		return parse_absent(f, a);
	if (!known_section(name))
		return fields_fail(f, NULL, "unknown section");
	/* null is how Firecracker exports a section it has nothing for:
	 * "balloon": null is no balloon, the others keep their defaults. */
	if (json_is_null(v)) {
		if (!strcmp(name, "balloon"))
			cfg->balloon.enabled = false;
		return 0;
	}
	if (!json_is_object(v))
		return fields_fail(f, NULL, "must be an object");
	if (!strcmp(name, "boot-source"))
		return parse_boot_source(f, cfg);
	if (!strcmp(name, "machine-config"))
		return parse_machine(f, cfg);
	return parse_balloon(f, &cfg->balloon);
}

int config_parse_section(struct vm_config *cfg, const char *section,
			 json_t *obj, char *err, size_t errlen)
{
	struct fields f = FIELDS(obj, section, err, errlen);
	return parse_section(&f, cfg);
}

/* ---- whole files ---- */

/* jansson keeps no positions for values, so find the key's first occurrence
 * in the text to point the user at it. */
static void key_position(const char *text, const char *key, int *line, int *col)
{
	char needle[128];
	*line = *col = 0;
	snprintf(needle, sizeof(needle), "\"%s\"", key);
	const char *p = strstr(text, needle);
	if (!p)
		return;
	*line = 1;
	const char *bol = text;
	for (const char *q = text; q < p; q++)
		if (*q == '\n') {
			(*line)++;
			bol = q + 1;
		}
	*col = (int)(p - bol) + 1;
}

/* "path:line:col: section.key: reason", the position that of the key the
 * message names (or of its section). */
static int located(const char *path, const char *text, const struct fields *f,
		   char *err)
{
	int line, col;
	key_position(text, f->bad ? f->bad : f->section, &line, &col);
	if (line)
		return err_set(err, CONFIG_ERR_LEN, -1, "%s:%d:%d: %s", path,
			       line, col, f->err);
	return err_set(err, CONFIG_ERR_LEN, -1, "%s: %s", path, f->err);
}

int config_load_string(struct vm_config *cfg, const char *text,
		       const char *path, char *err)
{
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "%s:%d:%d: invalid JSON: %s", path, je.line,
			       je.column, je.text);
	int r = 0;
	if (!json_is_object(root)) {
		r = err_set(err, CONFIG_ERR_LEN, -1,
			    "%s: top level must be an object", path);
		goto out;
	}
	char msg[256];
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		struct fields f = FIELDS(v, key, msg, sizeof(msg));
		if (!known_section(key)) {
			/* As Firecracker does; the warning catches typos. */
			log_warn("%s: ignoring unknown section \"%s\"", path, key);
			continue;
		}
		if (parse_section(&f, cfg)) {
			r = located(path, text, &f, err);
			break;
		}
	}
out:
	json_decref(root);
	return r;
}

int config_load_file(struct vm_config *cfg, const char *path, char *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(err, CONFIG_ERR_LEN, -1, "%s: cannot open: %s",
			       path, strerror(errno));
	/* Read to the end, not by st_size: --config may be a pipe. */
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 < cap)
			continue;
		if (cap >= (1u << 20))
			break; /* no config is a megabyte */
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (!buf)
		return err_set(err, CONFIG_ERR_LEN, -1, "%s: out of memory", path);
	buf[len] = 0;
	int r = config_load_string(cfg, buf, path, err);
	free(buf);
	return r;
}

/* ---- --balloon key=value,... ---- */

static int parse_on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > max)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

/* One key=value; -ENOENT for a key the balloon does not have. */
static int balloon_opt(struct config_balloon *b, const char *k, const char *v)
{
	if (!strcmp(k, "amount_mib"))
		return parse_u32(v, CONFIG_MAX_MEM_MIB, &b->amount_mib);
	if (!strcmp(k, "deflate_on_oom"))
		return parse_on_off(v, &b->deflate_on_oom);
	if (!strcmp(k, "stats_polling_interval_s"))
		return parse_u32(v, CONFIG_MAX_STATS_INTERVAL_S,
				 &b->stats_polling_interval_s);
	if (!strcmp(k, "free_page_reporting"))
		return parse_on_off(v, &b->free_page_reporting);
	if (!strcmp(k, "free_page_hinting"))
		return parse_on_off(v, &b->free_page_hinting);
	return -ENOENT;
}

int config_parse_balloon_opts(struct config_balloon *b, const char *opts,
			      char *err)
{
	char *copy = strdup(opts), *save = NULL;
	int r = 0;
	b->enabled = true;
	for (char *tok = strtok_r(copy, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			r = err_set(err, CONFIG_ERR_LEN, -1,
				    "--balloon: '%s' is not key=value", tok);
			break;
		}
		*eq = 0;
		int e = balloon_opt(b, tok, eq + 1);
		if (e == -ENOENT)
			r = err_set(err, CONFIG_ERR_LEN, -1,
				    "--balloon: unknown key '%s'", tok);
		else if (e)
			r = err_set(err, CONFIG_ERR_LEN, -1,
				    "--balloon: invalid value '%s' for %s",
				    eq + 1, tok);
	}
	free(copy);
	return r;
}

/* ---- the merged result ---- */

int config_validate_boot_source(const struct vm_config *cfg, char *err)
{
	if (!cfg->kernel_path)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "boot-source.kernel_image_path: no kernel given (--kernel or a config file)");
	if (access(cfg->kernel_path, R_OK) < 0)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "boot-source.kernel_image_path: cannot read '%s': %s",
			       cfg->kernel_path, strerror(errno));
	if (cfg->initrd_path && access(cfg->initrd_path, R_OK) < 0)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "boot-source.initrd_path: cannot read '%s': %s",
			       cfg->initrd_path, strerror(errno));
	return 0;
}

int config_check_machine(const struct vm_config *cfg, char *err,
			 size_t errlen)
{
	/* Firecracker's rule: SMT pairs vCPUs into cores. */
	if (cfg->smt && cfg->vcpu_count > 1 && cfg->vcpu_count % 2)
		return err_set(err, errlen, -EINVAL,
			       "machine-config.vcpu_count: must be 1 or an even number with smt, got %u",
			       cfg->vcpu_count);
	if (cfg->huge_pages == HUGE_PAGES_2M && cfg->mem_size_mib % 2)
		return err_set(err, errlen, -EINVAL,
			       "machine-config.mem_size_mib: must be a multiple of 2 with huge_pages \"2M\", got %llu",
			       (unsigned long long)cfg->mem_size_mib);
	return 0;
}

int config_validate(const struct vm_config *cfg, char *err)
{
	if (config_validate_boot_source(cfg, err))
		return -1;
	if (cfg->vcpu_count < 1 || cfg->vcpu_count > CONFIG_MAX_VCPUS)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "machine-config.vcpu_count: must be between 1 and %d, got %u",
			       CONFIG_MAX_VCPUS, cfg->vcpu_count);
	if (cfg->mem_size_mib < CONFIG_MIN_MEM_MIB ||
	    cfg->mem_size_mib > CONFIG_MAX_MEM_MIB)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "machine-config.mem_size_mib: must be between %d and %d, got %llu",
			       CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB,
			       (unsigned long long)cfg->mem_size_mib);
	if (config_check_machine(cfg, err, CONFIG_ERR_LEN))
		return -1;
	if (cfg->balloon.enabled && cfg->balloon.amount_mib > cfg->mem_size_mib)
		return err_set(err, CONFIG_ERR_LEN, -1,
			       "balloon.amount_mib: %u exceeds mem_size_mib %llu",
			       cfg->balloon.amount_mib,
			       (unsigned long long)cfg->mem_size_mib);
	return 0;
}
