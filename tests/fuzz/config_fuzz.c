/* libFuzzer target: config files as the parser gets them (any bytes as
 * JSON text), then the checks of the merged result; and the same bytes as
 * a --balloon option string. Invariants: an accepted configuration is
 * within every documented range; an error message fits its buffer and is
 * NUL-terminated. */
#include "config/config.h"

#include <core/log.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_err(const char *err)
{
	if (!memchr(err, 0, CONFIG_ERR_LEN) || !err[0])
		__builtin_trap();
}

static void check_valid(const struct vm_config *c)
{
	if (c->vcpu_count < 1 || c->vcpu_count > CONFIG_MAX_VCPUS ||
	    c->mem_size_mib < CONFIG_MIN_MEM_MIB ||
	    c->mem_size_mib > CONFIG_MAX_MEM_MIB ||
	    c->huge_pages > HUGE_PAGES_2M || c->mem_backend > MEM_BACKEND_MEMFD)
		__builtin_trap();
	if (c->huge_pages == HUGE_PAGES_2M && c->mem_size_mib % 2)
		__builtin_trap();
	if (c->balloon.enabled &&
	    (c->balloon.amount_mib > c->mem_size_mib ||
	     c->balloon.stats_polling_interval_s > CONFIG_MAX_STATS_INTERVAL_S))
		__builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[CONFIG_ERR_LEN];
	struct vm_config cfg;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	config_defaults(&cfg);
	memset(err, 0x5a, sizeof(err));
	if (config_load_string(&cfg, text, "fuzz.json", err)) {
		check_err(err);
	} else {
		memset(err, 0x5a, sizeof(err));
		if (config_validate_machine(&cfg, err))
			check_err(err);
		else
			check_valid(&cfg);
		memset(err, 0x5a, sizeof(err));
		if (config_validate(&cfg, err))
			check_err(err);
	}
	config_free(&cfg);

	struct config_balloon b = {0};
	memset(err, 0x5a, sizeof(err));
	if (config_parse_balloon_opts(&b, text, err))
		check_err(err);
	else if (b.amount_mib > CONFIG_MAX_MEM_MIB ||
		 b.stats_polling_interval_s > CONFIG_MAX_STATS_INTERVAL_S)
		__builtin_trap();
	free(text);
	return 0;
}
