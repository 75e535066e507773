#include "config/cli.h"
#include "config/config.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct vm_config cfg;
static char err[CONFIG_ERR_LEN];
static char kernel_file[] = "/tmp/mvmm-cfgtest-kernel-XXXXXX";

static void setup(void)
{
	config_defaults(&cfg);
	err[0] = 0;
	int fd = mkstemp(kernel_file);
	cr_assert(fd >= 0);
	close(fd);
}

static void teardown(void)
{
	config_free(&cfg);
	unlink(kernel_file);
	strcpy(kernel_file, "/tmp/mvmm-cfgtest-kernel-XXXXXX");
}

TestSuite(config, .init = setup, .fini = teardown);

static int load(const char *json)
{
	return config_load_string(&cfg, json, "test.json", err);
}

Test(config, parses_firecracker_sections)
{
	char json[512];
	snprintf(json, sizeof(json),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"console=ttyS0\"},\n"
		 " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256},\n"
		 " \"balloon\": {\"amount_mib\": 64, \"deflate_on_oom\": true, "
		 "\"stats_polling_interval_s\": 1}}",
		 kernel_file);
	cr_assert_eq(load(json), 0, "%s", err);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(cfg.mem_size_mib, 256);
	cr_assert_str_eq(cfg.boot_args, "console=ttyS0");
	cr_assert(cfg.balloon.enabled);
	cr_assert_eq(cfg.balloon.amount_mib, 64);
	cr_assert(cfg.balloon.deflate_on_oom);
	cr_assert_eq(cfg.balloon.stats_polling_interval_s, 1);
	cr_assert_eq(config_validate(&cfg, err), 0, "%s", err);
}

Test(config, malformed_json_names_line_and_column)
{
	cr_assert_eq(load("{\n  \"machine-config\": {\"vcpu_count\": 1,,}\n}"), -1);
	cr_assert(strstr(err, "test.json:2:"), "%s", err);
	cr_assert(strstr(err, "invalid JSON"), "%s", err);
}

Test(config, vcpu_count_zero_is_rejected_with_field_name)
{
	cr_assert_eq(load("{\"machine-config\": {\"vcpu_count\": 0}}"), -1);
	cr_assert(strstr(err, "machine-config.vcpu_count"), "%s", err);
	cr_assert(strstr(err, "test.json:1:"), "%s", err);
}

Test(config, mem_size_zero_is_rejected_with_field_name)
{
	cr_assert_eq(load("{\"machine-config\": {\"mem_size_mib\": 0}}"), -1);
	cr_assert(strstr(err, "machine-config.mem_size_mib"), "%s", err);
}

Test(config, unknown_field_is_rejected)
{
	cr_assert_eq(load("{\"balloon\": {\"amount_mb\": 1}}"), -1);
	cr_assert(strstr(err, "balloon.amount_mb: unknown field"), "%s", err);
}

Test(config, wrong_type_is_rejected)
{
	cr_assert_eq(load("{\"machine-config\": {\"vcpu_count\": \"2\"}}"), -1);
	cr_assert(strstr(err, "must be an integer"), "%s", err);
}

Test(config, missing_kernel_is_reported)
{
	cr_assert_eq(load("{\"boot-source\": {\"kernel_image_path\": "
			  "\"/nonexistent/bzImage\"}}"),
		     0);
	cr_assert_eq(config_validate(&cfg, err), -1);
	cr_assert(strstr(err, "boot-source.kernel_image_path"), "%s", err);
	cr_assert(strstr(err, "/nonexistent/bzImage"), "%s", err);
}

Test(config, no_kernel_at_all_is_reported)
{
	cr_assert_eq(config_validate(&cfg, err), -1);
	cr_assert(strstr(err, "kernel_image_path"), "%s", err);
}

Test(config, unsupported_section_is_rejected)
{
	cr_assert_eq(load("{\"drives\": [{\"drive_id\": \"root\"}]}"), -1);
	cr_assert(strstr(err, "drives: mvmm has no block devices"), "%s", err);
	config_free(&cfg);
	config_defaults(&cfg);
	cr_assert_eq(load("{\"drives\": [], \"network-interfaces\": []}"), 0);
}

Test(config, balloon_larger_than_ram_is_rejected)
{
	free(cfg.kernel_path);
	cfg.kernel_path = strdup(kernel_file);
	cfg.mem_size_mib = 128;
	cfg.balloon.enabled = true;
	cfg.balloon.amount_mib = 129;
	cr_assert_eq(config_validate(&cfg, err), -1);
	cr_assert(strstr(err, "balloon.amount_mib"), "%s", err);
}

Test(config, balloon_cli_options)
{
	struct config_balloon b = {0};
	cr_assert_eq(config_parse_balloon_opts(
			     &b,
			     "amount_mib=32,deflate_on_oom=on,stats_polling_interval_s=5,free_page_reporting=on",
			     err),
		     0, "%s", err);
	cr_assert(b.enabled && b.deflate_on_oom && b.free_page_reporting);
	cr_assert_eq(b.amount_mib, 32);
	cr_assert_eq(b.stats_polling_interval_s, 5);
	cr_assert_eq(config_parse_balloon_opts(&b, "amount_mib=-1", err), -1);
	cr_assert(strstr(err, "amount_mib"), "%s", err);
	cr_assert_eq(config_parse_balloon_opts(&b, "colour=blue", err), -1);
	cr_assert(strstr(err, "unknown key 'colour'"), "%s", err);
	cr_assert_eq(config_parse_balloon_opts(&b, "deflate_on_oom=maybe", err), -1);
}

Test(config, cli_flags_override_file)
{
	char path[] = "/tmp/mvmm-cfgtest-json-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	dprintf(fd, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		    "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}}",
		kernel_file);
	close(fd);
	char *argv[] = {"mvmm", "--config", path, "--cpus", "2", "--mem", "512", NULL};
	cr_assert_eq(cli_parse(7, argv, &cfg, err), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(cfg.mem_size_mib, 512);
	unlink(path);
}

Test(config, cli_rejects_bad_flags)
{
	char *argv1[] = {"mvmm", "--cpus", "0", NULL};
	cr_assert_eq(cli_parse(3, argv1, &cfg, err), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "--cpus"), "%s", err);
	char *argv2[] = {"mvmm", "--frobnicate", NULL};
	cr_assert_eq(cli_parse(2, argv2, &cfg, err), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "--frobnicate"), "%s", err);
	char *argv3[] = {"mvmm", "--config", "/nonexistent.json", NULL};
	cr_assert_eq(cli_parse(3, argv3, &cfg, err), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "/nonexistent.json: cannot open"), "%s", err);
}

/* ---- Firecracker's config files (issue 13), named after the case ---- */

TestSuite(config_contract, .init = setup, .fini = teardown);

Test(config_contract, balloon_null_is_no_balloon)
{
	cr_assert_eq(load("{\"balloon\": {\"amount_mib\": 8, \"deflate_on_oom\": true}}"),
		     0, "%s", err);
	cr_assert(cfg.balloon.enabled);
	/* Firecracker exports "no balloon" as null. */
	cr_assert_eq(load("{\"balloon\": null}"), 0, "%s", err);
	cr_assert(!cfg.balloon.enabled);
	cr_assert_eq(load("{\"boot-source\": null, \"machine-config\": null}"), 0,
		     "%s", err);
	cr_assert_eq(cfg.vcpu_count, 1);
}

Test(config_contract, unknown_sections_are_ignored_with_a_warning,
     .init = cr_redirect_stderr)
{
	cr_assert_eq(load("{\"machine-config\": {\"vcpu_count\": 2},"
			  " \"balloom\": {\"amount_mib\": 8},"
			  " \"frobnicate\": [1, 2]}"),
		     0, "%s", err);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert(!cfg.balloon.enabled);
	fflush(stderr);
	char line[256], all[1024] = "";
	FILE *f = cr_get_redirected_stderr();
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	cr_assert(strstr(all, "test.json: ignoring unknown section \"balloom\""),
		  "%s", all);
	cr_assert(strstr(all, "test.json: ignoring unknown section \"frobnicate\""),
		  "%s", all);
}

Test(config_contract, sections_for_devices_mvmm_lacks_are_accepted_when_they_ask_for_none)
{
	cr_assert_eq(load("{\"cpu-config\": null, \"mmds-config\": null,"
			  " \"entropy\": null, \"network-interfaces\": [],"
			  " \"drives\": [], \"vsock\": null, \"logger\": null,"
			  " \"metrics\": null, \"pmem\": [], \"memory-hotplug\": null,"
			  " \"serial\": null}"),
		     0, "%s", err);
	cr_assert_eq(load("{\"logger\": {}, \"metrics\": {}, \"serial\": {},"
			  " \"drives\": null, \"network-interfaces\": null}"),
		     0, "%s", err);
}

Test(config_contract, sections_for_devices_mvmm_lacks_are_refused_when_they_ask_for_one)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"{\"drives\": [{\"drive_id\": \"root\"}]}",
		 "drives: mvmm has no block devices"},
		{"{\"network-interfaces\": [{\"iface_id\": \"eth0\"}]}",
		 "network-interfaces: mvmm has no network devices"},
		{"{\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}}",
		 "vsock: mvmm has no vsock device"},
		{"{\"entropy\": {}}", "entropy: mvmm has no entropy device"},
		{"{\"mmds-config\": {\"network_interfaces\": []}}",
		 "mmds-config: mvmm has no MMDS"},
		{"{\"cpu-config\": \"/t.json\"}", "cpu-config: mvmm has no CPU templates"},
		{"{\"logger\": {\"log_path\": \"/l\"}}", "logger: mvmm logs to its stderr"},
		{"{\"metrics\": {\"metrics_path\": \"/m\"}}",
		 "metrics: mvmm serves its metrics at GET /metrics"},
		{"{\"memory-hotplug\": {\"total_size_mib\": 1024}}",
		 "memory-hotplug: mvmm has no memory hotplug"},
		{"{\"pmem\": [{\"id\": \"p\"}]}", "pmem: mvmm has no pmem devices"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		cr_assert_eq(load(cases[i].json), -1, "%s", cases[i].json);
		cr_assert(strstr(err, cases[i].want), "%s: %s", cases[i].json, err);
		cr_assert(strstr(err, "test.json:1:"), "%s", err);
	}
}

Test(config_contract, cpu_template_none_is_accepted_in_config_files)
{
	cr_assert_eq(load("{\"machine-config\": {\"vcpu_count\": 2,"
			  " \"mem_size_mib\": 256, \"cpu_template\": \"None\"}}"),
		     0, "%s", err);
	cr_assert_eq(cfg.vcpu_count, 2);
	cr_assert_eq(load("{\"machine-config\": {\"cpu_template\": \"C3\"}}"), -1);
	cr_assert(strstr(err, "machine-config.cpu_template: mvmm has no CPU templates"),
		  "%s", err);
}

Test(config_contract, smt_with_odd_vcpu_count_is_refused_in_config_files)
{
	free(cfg.kernel_path);
	cfg.kernel_path = strdup(kernel_file);
	cr_assert_eq(load("{\"machine-config\": {\"vcpu_count\": 3, \"smt\": true}}"),
		     0, "%s", err);
	cr_assert_eq(config_validate(&cfg, err), -1);
	cr_assert(strstr(err, "machine-config.vcpu_count: must be 1 or an even number with smt"),
		  "%s", err);
	cfg.vcpu_count = 4;
	cr_assert_eq(config_validate(&cfg, err), 0, "%s", err);
}
