#include "config/config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct parse_ctx {
	const char *path;
	const char *text;
	char *err;
};

void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpu_count = 1;
	cfg->mem_size_mib = 128;
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

/* jansson keeps no positions for values, so find the key's first occurrence
 * in the text to point the user at it. */
static void key_position(const char *text, const char *key, int *line, int *col)
{
	char needle[128];
	*line = *col = 0;
	if (!text)
		return;
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

__attribute__((format(printf, 4, 5))) static int
fail(struct parse_ctx *c, const char *section, const char *key,
     const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int line, col;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	key_position(c->text, key ? key : section, &line, &col);
	if (line)
		snprintf(c->err, CONFIG_ERR_LEN, "%s:%d:%d: %s%s%s: %s", c->path,
			 line, col, section, key ? "." : "", key ? key : "", msg);
	else
		snprintf(c->err, CONFIG_ERR_LEN, "%s: %s%s%s: %s", c->path,
			 section, key ? "." : "", key ? key : "", msg);
	return -1;
}

static int get_string(struct parse_ctx *c, const char *sec, const char *key,
		      json_t *v, char **out)
{
	if (!json_is_string(v))
		return fail(c, sec, key, "must be a string");
	free(*out);
	*out = strdup(json_string_value(v));
	return 0;
}

static int get_uint(struct parse_ctx *c, const char *sec, const char *key,
		    json_t *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!json_is_integer(v))
		return fail(c, sec, key, "must be an integer");
	json_int_t n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return fail(c, sec, key, "must be between %llu and %llu, got %lld",
			    (unsigned long long)min, (unsigned long long)max,
			    (long long)n);
	*out = (uint64_t)n;
	return 0;
}

static int get_bool(struct parse_ctx *c, const char *sec, const char *key,
		    json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return fail(c, sec, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int parse_boot_source(struct parse_ctx *c, struct vm_config *cfg,
			     json_t *obj)
{
	const char *sec = "boot-source", *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		int r;
		if (!strcmp(key, "kernel_image_path"))
			r = get_string(c, sec, key, v, &cfg->kernel_path);
		else if (!strcmp(key, "initrd_path"))
			r = json_is_null(v) ? 0
					    : get_string(c, sec, key, v,
							 &cfg->initrd_path);
		else if (!strcmp(key, "boot_args"))
			r = get_string(c, sec, key, v, &cfg->boot_args);
		else
			r = fail(c, sec, key, "unknown field");
		if (r)
			return r;
	}
	return 0;
}

static int parse_machine(struct parse_ctx *c, struct vm_config *cfg, json_t *obj)
{
	const char *sec = "machine-config", *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		uint64_t n;
		bool b;
		int r = 0;
		if (!strcmp(key, "vcpu_count")) {
			r = get_uint(c, sec, key, v, 1, CONFIG_MAX_VCPUS, &n);
			cfg->vcpu_count = (unsigned)n;
		} else if (!strcmp(key, "mem_size_mib")) {
			r = get_uint(c, sec, key, v, CONFIG_MIN_MEM_MIB,
				     CONFIG_MAX_MEM_MIB, &n);
			cfg->mem_size_mib = n;
		} else if (!strcmp(key, "smt") || !strcmp(key, "track_dirty_pages")) {
			r = get_bool(c, sec, key, v, &b); /* accepted, no effect */
		} else if (!strcmp(key, "huge_pages")) {
			const char *s = json_string_value(v);
			if (s && !strcmp(s, "None"))
				cfg->huge_pages = HUGE_PAGES_NONE;
			else if (s && !strcmp(s, "Transparent"))
				cfg->huge_pages = HUGE_PAGES_TRANSPARENT;
			else if (s && !strcmp(s, "2M"))
				cfg->huge_pages = HUGE_PAGES_2M;
			else
				r = fail(c, sec, key,
					 "must be \"None\", \"Transparent\" or \"2M\"");
		} else if (!strcmp(key, "mvmm_mem_backend")) {
			const char *s = json_string_value(v);
			if (s && !strcmp(s, "anonymous"))
				cfg->mem_backend = MEM_BACKEND_ANON;
			else if (s && !strcmp(s, "memfd"))
				cfg->mem_backend = MEM_BACKEND_MEMFD;
			else
				r = fail(c, sec, key,
					 "must be \"anonymous\" or \"memfd\"");
		} else if (!strcmp(key, "mvmm_mem_lock")) {
			r = get_bool(c, sec, key, v, &cfg->mem_lock);
		} else {
			r = fail(c, sec, key, "unknown field");
		}
		if (r)
			return r;
	}
	return 0;
}

static int parse_balloon(struct parse_ctx *c, struct config_balloon *b,
			 json_t *obj)
{
	const char *sec = "balloon", *key;
	json_t *v;
	b->enabled = true;
	json_object_foreach(obj, key, v) {
		uint64_t n;
		int r;
		if (!strcmp(key, "amount_mib")) {
			r = get_uint(c, sec, key, v, 0, CONFIG_MAX_MEM_MIB, &n);
			b->amount_mib = (uint32_t)n;
		} else if (!strcmp(key, "deflate_on_oom")) {
			r = get_bool(c, sec, key, v, &b->deflate_on_oom);
		} else if (!strcmp(key, "stats_polling_interval_s")) {
			r = get_uint(c, sec, key, v, 0, 3600, &n);
			b->stats_polling_interval_s = (uint32_t)n;
		} else if (!strcmp(key, "free_page_reporting")) {
			r = get_bool(c, sec, key, v, &b->free_page_reporting);
		} else if (!strcmp(key, "free_page_hinting")) {
			r = get_bool(c, sec, key, v, &b->free_page_hinting);
		} else {
			r = fail(c, sec, key, "unknown field");
		}
		if (r)
			return r;
	}
	return 0;
}

int config_load_string(struct vm_config *cfg, const char *text,
		       const char *path, char *err)
{
	struct parse_ctx c = {path, text, err};
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, CONFIG_ERR_LEN, "%s:%d:%d: invalid JSON: %s", path,
			 je.line, je.column, je.text);
		return -1;
	}
	int r = 0;
	if (!json_is_object(root)) {
		snprintf(err, CONFIG_ERR_LEN, "%s: top level must be an object",
			 path);
		r = -1;
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		bool empty_list = json_is_array(v) && json_array_size(v) == 0;
		if (!strcmp(key, "drives") || !strcmp(key, "network-interfaces") ||
		    !strcmp(key, "vsock") || !strcmp(key, "logger") ||
		    !strcmp(key, "metrics")) {
			if (!empty_list && !json_is_null(v))
				r = fail(&c, key, NULL, "not supported by mvmm");
		} else if (!json_is_object(v)) {
			r = fail(&c, key, NULL, "must be an object");
		} else if (!strcmp(key, "boot-source")) {
			r = parse_boot_source(&c, cfg, v);
		} else if (!strcmp(key, "machine-config")) {
			r = parse_machine(&c, cfg, v);
		} else if (!strcmp(key, "balloon")) {
			r = parse_balloon(&c, &cfg->balloon, v);
		} else {
			r = fail(&c, key, NULL, "unknown section");
		}
		if (r)
			break;
	}
out:
	json_decref(root);
	return r;
}

int config_load_file(struct vm_config *cfg, const char *path, char *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, CONFIG_ERR_LEN, "%s: cannot open: %s", path,
			 strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
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
	}
	fclose(f);
	if (!buf) {
		snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", path);
		return -1;
	}
	buf[len] = 0;
	int r = config_load_string(cfg, buf, path, err);
	free(buf);
	return r;
}

static int parse_on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
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
			snprintf(err, CONFIG_ERR_LEN,
				 "--balloon: '%s' is not key=value", tok);
			r = -1;
			break;
		}
		*eq = 0;
		const char *k = tok, *v = eq + 1;
		int bad;
		if (!strcmp(k, "amount_mib"))
			bad = parse_u32(v, CONFIG_MAX_MEM_MIB, &b->amount_mib);
		else if (!strcmp(k, "deflate_on_oom"))
			bad = parse_on_off(v, &b->deflate_on_oom);
		else if (!strcmp(k, "stats_polling_interval_s"))
			bad = parse_u32(v, 3600, &b->stats_polling_interval_s);
		else if (!strcmp(k, "free_page_reporting"))
			bad = parse_on_off(v, &b->free_page_reporting);
		else if (!strcmp(k, "free_page_hinting"))
			bad = parse_on_off(v, &b->free_page_hinting);
		else {
			snprintf(err, CONFIG_ERR_LEN, "--balloon: unknown key '%s'",
				 k);
			r = -1;
			break;
		}
		if (bad) {
			snprintf(err, CONFIG_ERR_LEN,
				 "--balloon: invalid value '%s' for %s", v, k);
			r = -1;
		}
	}
	free(copy);
	return r;
}

int config_validate(const struct vm_config *cfg, char *err)
{
	if (!cfg->kernel_path) {
		snprintf(err, CONFIG_ERR_LEN,
			 "boot-source.kernel_image_path: no kernel given (--kernel or a config file)");
		return -1;
	}
	if (access(cfg->kernel_path, R_OK) < 0) {
		snprintf(err, CONFIG_ERR_LEN,
			 "boot-source.kernel_image_path: cannot read '%s': %s",
			 cfg->kernel_path, strerror(errno));
		return -1;
	}
	if (cfg->initrd_path && access(cfg->initrd_path, R_OK) < 0) {
		snprintf(err, CONFIG_ERR_LEN,
			 "boot-source.initrd_path: cannot read '%s': %s",
			 cfg->initrd_path, strerror(errno));
		return -1;
	}
	if (cfg->vcpu_count < 1 || cfg->vcpu_count > CONFIG_MAX_VCPUS) {
		snprintf(err, CONFIG_ERR_LEN,
			 "machine-config.vcpu_count: must be between 1 and %d, got %u",
			 CONFIG_MAX_VCPUS, cfg->vcpu_count);
		return -1;
	}
	if (cfg->mem_size_mib < CONFIG_MIN_MEM_MIB ||
	    cfg->mem_size_mib > CONFIG_MAX_MEM_MIB) {
		snprintf(err, CONFIG_ERR_LEN,
			 "machine-config.mem_size_mib: must be between %d and %d, got %llu",
			 CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB,
			 (unsigned long long)cfg->mem_size_mib);
		return -1;
	}
	if (cfg->huge_pages == HUGE_PAGES_2M && cfg->mem_size_mib % 2) {
		snprintf(err, CONFIG_ERR_LEN,
			 "machine-config.mem_size_mib: must be a multiple of 2 with huge_pages \"2M\"");
		return -1;
	}
	if (cfg->balloon.enabled && cfg->balloon.amount_mib > cfg->mem_size_mib) {
		snprintf(err, CONFIG_ERR_LEN,
			 "balloon.amount_mib: %u exceeds mem_size_mib %llu",
			 cfg->balloon.amount_mib,
			 (unsigned long long)cfg->mem_size_mib);
		return -1;
	}
	return 0;
}
