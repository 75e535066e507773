#include "config/cli.h"

#include <core/log.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_CONFIG = 'c',
	OPT_KERNEL = 'k',
	OPT_INITRD = 'i',
	OPT_CMDLINE = 'a',
	OPT_CPUS = 'p',
	OPT_MEM = 'm',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_BALLOON = 256,
	OPT_API_SOCK,
	OPT_LOG_LEVEL,
	OPT_RESTORE,
	OPT_RESTORE_MEM,
	OPT_RESTORE_PAUSED,
};

static const struct option long_opts[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"balloon", required_argument, NULL, OPT_BALLOON},
	{"api-sock", required_argument, NULL, OPT_API_SOCK},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"restore", required_argument, NULL, OPT_RESTORE},
	{"restore-mem", required_argument, NULL, OPT_RESTORE_MEM},
	{"restore-paused", no_argument, NULL, OPT_RESTORE_PAUSED},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: mvmm [--config FILE] [options]\n"
		"  --config FILE      JSON config (Firecracker's config-file schema)\n"
		"  --kernel PATH      kernel image (bzImage or PVH ELF vmlinux)\n"
		"  --initrd PATH      initramfs\n"
		"  --cmdline STR      kernel command line\n"
		"  --cpus N           vCPUs (1-%d)\n"
		"  --mem MIB          guest RAM in MiB\n"
		"  --balloon OPTS     amount_mib=N,deflate_on_oom=on|off,\n"
		"                     stats_polling_interval_s=S,free_page_reporting=on|off,\n"
		"                     free_page_hinting=on|off\n"
		"  --api-sock PATH    REST API on a Unix socket\n"
		"  --log-level LEVEL  error, warn, info or debug\n"
		"  --restore FILE     resume a snapshot's state file instead of booting\n"
		"  --restore-mem FILE its memory file (default: the path it was written to)\n"
		"  --restore-paused   restore paused (PATCH /vm Resumed starts it)\n"
		"  --help, --version\n",
		CONFIG_MAX_VCPUS);
}

static int parse_num(const char *flag, const char *v, uint64_t min,
		     uint64_t max, uint64_t *out, char *err)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
		snprintf(err, CONFIG_ERR_LEN,
			 "%s: '%s' must be a number between %llu and %llu", flag,
			 v, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg,
			  char *err)
{
	int c;
	uint64_t n;

	/* The config file goes first so that every flag overrides it. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		if (c == OPT_CONFIG && config_load_file(cfg, optarg, err))
			return CLI_EXIT_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			break;
		case OPT_KERNEL:
			set_str(&cfg->kernel_path, optarg);
			break;
		case OPT_INITRD:
			set_str(&cfg->initrd_path, optarg);
			break;
		case OPT_CMDLINE:
			set_str(&cfg->boot_args, optarg);
			break;
		case OPT_CPUS:
			if (parse_num("--cpus", optarg, 1, CONFIG_MAX_VCPUS, &n, err))
				return CLI_EXIT_USAGE;
			cfg->vcpu_count = (unsigned)n;
			break;
		case OPT_MEM:
			if (parse_num("--mem", optarg, CONFIG_MIN_MEM_MIB,
				      CONFIG_MAX_MEM_MIB, &n, err))
				return CLI_EXIT_USAGE;
			cfg->mem_size_mib = n;
			break;
		case OPT_BALLOON:
			if (config_parse_balloon_opts(&cfg->balloon, optarg, err))
				return CLI_EXIT_USAGE;
			break;
		case OPT_API_SOCK:
			set_str(&cfg->api_sock, optarg);
			break;
		case OPT_LOG_LEVEL:
			if (!strcmp(optarg, "error"))
				log_set_level(LOG_ERROR);
			else if (!strcmp(optarg, "warn"))
				log_set_level(LOG_WARN);
			else if (!strcmp(optarg, "info"))
				log_set_level(LOG_INFO);
			else if (!strcmp(optarg, "debug"))
				log_set_level(LOG_DEBUG);
			else {
				snprintf(err, CONFIG_ERR_LEN,
					 "--log-level: '%s' is not error, warn, info or debug",
					 optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_RESTORE:
			set_str(&cfg->restore_path, optarg);
			break;
		case OPT_RESTORE_MEM:
			set_str(&cfg->restore_mem_path, optarg);
			break;
		case OPT_RESTORE_PAUSED:
			cfg->restore_paused = true;
			break;
		case OPT_HELP:
			cli_usage(stdout);
			return CLI_EXIT_OK;
		case OPT_VERSION:
			printf("mvmm %s\n", MVMM_VERSION);
			return CLI_EXIT_OK;
		case ':':
			snprintf(err, CONFIG_ERR_LEN, "%s: missing value",
				 argv[optind - 1]);
			return CLI_EXIT_USAGE;
		default:
			snprintf(err, CONFIG_ERR_LEN, "unknown option '%s'",
				 argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		snprintf(err, CONFIG_ERR_LEN, "unexpected argument '%s'",
			 argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cfg->restore_path) {
		/* The snapshot says what the machine is. */
		if (cfg->kernel_path) {
			snprintf(err, CONFIG_ERR_LEN,
				 "--restore: a snapshot is resumed, not booted; drop --kernel and --config");
			return CLI_EXIT_USAGE;
		}
		return CLI_RUN;
	}
	if (cfg->restore_mem_path || cfg->restore_paused) {
		snprintf(err, CONFIG_ERR_LEN, "%s needs --restore",
			 cfg->restore_mem_path ? "--restore-mem" : "--restore-paused");
		return CLI_EXIT_USAGE;
	}
	/* With only an API socket, the configuration arrives over the API. */
	if (cfg->api_sock && !cfg->kernel_path)
		return CLI_RUN;
	return config_validate(cfg, err) ? CLI_EXIT_USAGE : CLI_RUN;
}
