#include "config/cli.h"

#include <core/err.h>
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
	OPT_SECCOMP,
	OPT_NO_SECCOMP,
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
	{"seccomp", required_argument, NULL, OPT_SECCOMP},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
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
		"  --seccomp ACTION   a forbidden syscall: kill (default), log or off\n"
		"  --no-seccomp       the same as --seccomp off (Firecracker's flag)\n"
		"  --help, --version\n",
		CONFIG_MAX_VCPUS);
}

static int parse_num(const char *flag, const char *v, uint64_t min,
		     uint64_t max, uint64_t *out, char *err)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
		return err_set(err, CONFIG_ERR_LEN, -EINVAL,
			       "%s: '%s' must be a number between %llu and %llu",
			       flag, v, (unsigned long long)min,
			       (unsigned long long)max);
	*out = n;
	return 0;
}

static int parse_log_level(const char *v, char *err)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{"error", LOG_ERROR},
		{"warn", LOG_WARN},
		{"info", LOG_INFO},
		{"debug", LOG_DEBUG},
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcmp(v, levels[i].name)) {
			log_set_level(levels[i].level);
			return 0;
		}
	}
	return err_set(err, CONFIG_ERR_LEN, -EINVAL,
		       "--log-level: '%s' is not error, warn, info or debug", v);
}

/* The setting a flag that takes a path or a string replaces, or NULL. */
static char **string_setting(struct vm_config *cfg, int opt)
{
	switch (opt) {
	case OPT_KERNEL:
		return &cfg->kernel_path;
	case OPT_INITRD:
		return &cfg->initrd_path;
	case OPT_CMDLINE:
		return &cfg->boot_args;
	case OPT_API_SOCK:
		return &cfg->api_sock;
	case OPT_RESTORE:
		return &cfg->restore_path;
	case OPT_RESTORE_MEM:
		return &cfg->restore_mem_path;
	default:
		return NULL;
	}
}

/* A flag with a number, or one that ends the parse; CLI_RUN to go on. */
static enum cli_result apply_flag(int opt, char **argv, struct vm_config *cfg,
				  char *err)
{
	uint64_t n;

	switch (opt) {
	case OPT_CONFIG: /* loaded already */
		return CLI_RUN;
	case OPT_CPUS:
		if (parse_num("--cpus", optarg, 1, CONFIG_MAX_VCPUS, &n, err))
			return CLI_EXIT_USAGE;
		cfg->vcpu_count = (unsigned)n;
		return CLI_RUN;
	case OPT_MEM:
		if (parse_num("--mem", optarg, CONFIG_MIN_MEM_MIB,
			      CONFIG_MAX_MEM_MIB, &n, err))
			return CLI_EXIT_USAGE;
		cfg->mem_size_mib = n;
		return CLI_RUN;
	case OPT_BALLOON:
		return config_parse_balloon_opts(&cfg->balloon, optarg, err)
			       ? CLI_EXIT_USAGE
			       : CLI_RUN;
	case OPT_LOG_LEVEL:
		return parse_log_level(optarg, err) ? CLI_EXIT_USAGE : CLI_RUN;
	case OPT_RESTORE_PAUSED:
		cfg->restore_paused = true;
		return CLI_RUN;
	case OPT_SECCOMP:
		if (confine_action_parse(optarg, &cfg->seccomp)) {
			err_set(err, CONFIG_ERR_LEN, -EINVAL,
				"--seccomp: '%s' must be %s", optarg,
				CONFINE_ACTION_NAMES);
			return CLI_EXIT_USAGE;
		}
		return CLI_RUN;
	case OPT_NO_SECCOMP:
		cfg->seccomp = CONFINE_OFF;
		return CLI_RUN;
	case OPT_HELP:
		cli_usage(stdout);
		return CLI_EXIT_OK;
	case OPT_VERSION:
		printf("mvmm %s\n", MVMM_VERSION);
		return CLI_EXIT_OK;
	case ':':
		return err_set(err, CONFIG_ERR_LEN, CLI_EXIT_USAGE,
			       "%s: missing value", argv[optind - 1]);
	default:
		return err_set(err, CONFIG_ERR_LEN, CLI_EXIT_USAGE,
			       "unknown option '%s'", argv[optind - 1]);
	}
}

/* Which of the three ways to start the flags ask for, and whether they fit
 * together: a restore, the API's pre-boot mode, or a boot. */
static enum cli_result check_mode(const struct vm_config *cfg, char *err)
{
	if (cfg->restore_path) {
		/* The snapshot says what the machine is. */
		if (cfg->kernel_path)
			return err_set(err, CONFIG_ERR_LEN, CLI_EXIT_USAGE,
				       "--restore: a snapshot is resumed, not booted; drop --kernel and --config");
		return CLI_RUN;
	}
	if (cfg->restore_mem_path || cfg->restore_paused)
		return err_set(err, CONFIG_ERR_LEN, CLI_EXIT_USAGE,
			       "%s needs --restore",
			       cfg->restore_mem_path ? "--restore-mem"
						     : "--restore-paused");
	/* With only an API socket, the configuration arrives over the API. */
	if (cfg->api_sock && !cfg->kernel_path)
		return CLI_RUN;
	return config_validate(cfg, err) ? CLI_EXIT_USAGE : CLI_RUN;
}

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg,
			  char *err)
{
	int c;

	/* The config file goes first so that every flag overrides it. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		if (c == OPT_CONFIG && config_load_file(cfg, optarg, err))
			return CLI_EXIT_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		char **setting = string_setting(cfg, c);
		enum cli_result r = CLI_RUN;
		if (setting)
			config_set_str(setting, optarg);
		else
			r = apply_flag(c, argv, cfg, err);
		if (r != CLI_RUN)
			return r;
	}
	if (optind < argc)
		return err_set(err, CONFIG_ERR_LEN, CLI_EXIT_USAGE,
			       "unexpected argument '%s'", argv[optind]);
	return check_mode(cfg, err);
}
