/* mvmm-jailer's command line (vmm/jailer/jail_args.c): every value is
 * checked before anything is built, and each error names its flag. */
#include "jailer/jailer.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(jailer_args);

#define MAX_ARGS 48

static struct jail_args args;
static char err[512];

/* Parses the required flags, then the NULL-terminated extra ones: a flag
 * given again there wins, as the last occurrence does. */
static int parse(const char *first, ...)
{
	static char *argv[MAX_ARGS];
	static const char *const required[] = {
		"--id", "vm-1", "--exec-file", "/usr/bin/mvmm",
		"--uid", "123", "--gid", "100",
	};
	int argc = 0;
	argv[argc++] = "mvmm-jailer";
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		argv[argc++] = (char *)required[i];
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < MAX_ARGS - 1; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = 0;
	return jail_args_parse(argc, argv, &args, err, sizeof(err));
}

static void expect_error(int r, const char *flag)
{
	cr_assert_eq(r, -EINVAL, "accepted; err '%s'", err);
	cr_assert(strstr(err, flag), "'%s' does not name %s", err, flag);
}

Test(jailer_args, takes_firecrackers_flags)
{
	cr_assert_eq(parse("--chroot-base-dir", "/var/jail", "--netns",
			   "/var/run/netns/vm1", "--new-pid-ns", "--daemonize",
			   "--cgroup-version", "2", "--cgroup", "memory.max=512M",
			   "--cgroup", "cpu.weight=50", "--resource-limit",
			   "fsize=1048576", "--resource-limit=no-file=1024", "--",
			   "--api-sock", "/api.sock", NULL),
		     0, "%s", err);
	cr_assert_str_eq(args.id, "vm-1");
	cr_assert_str_eq(args.exec_file, "/usr/bin/mvmm");
	cr_assert_str_eq(args.exec_name, "mvmm");
	cr_assert_eq(args.uid, 123);
	cr_assert_eq(args.gid, 100);
	cr_assert_str_eq(args.base_dir, "/var/jail");
	cr_assert_str_eq(args.netns, "/var/run/netns/vm1");
	cr_assert_str_eq(args.parent_cgroup, "mvmm", "defaults to the exec name");
	cr_assert(args.new_pid_ns && args.daemonize);
	cr_assert_eq(args.nr_cgroups, 2);
	cr_assert_str_eq(args.cgroups[0].file, "memory.max");
	cr_assert_str_eq(args.cgroups[0].value, "512M");
	cr_assert_str_eq(args.cgroups[1].file, "cpu.weight");
	cr_assert(args.has_fsize && args.fsize == 1048576);
	cr_assert(args.has_nofile && args.nofile == 1024);
	cr_assert_eq(args.exec_argc, 2);
	cr_assert_str_eq(args.exec_argv[0], "--api-sock");
	cr_assert_str_eq(args.exec_argv[1], "/api.sock");
	cr_assert_null(args.exec_argv[2]);
}

Test(jailer_args, defaults)
{
	cr_assert_eq(parse(NULL), 0, "%s", err);
	cr_assert_str_eq(args.base_dir, JAIL_DEFAULT_BASE);
	cr_assert_null(args.netns);
	cr_assert(!args.new_pid_ns && !args.daemonize);
	cr_assert(!args.has_fsize && !args.has_nofile);
	cr_assert_eq(args.exec_argc, 0);
	cr_assert_null(args.exec_argv[0]);
}

Test(jailer_args, requires_id_exec_file_uid_gid)
{
	char *argv[] = {"mvmm-jailer", "--exec-file", "/m", "--uid", "1", "--gid", "1", NULL};
	cr_assert_eq(jail_args_parse(7, argv, &args, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "--id: required");
	char *argv2[] = {"mvmm-jailer", "--id", "a", "--exec-file", "/m", "--uid", "1", NULL};
	cr_assert_eq(jail_args_parse(7, argv2, &args, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "--gid: required");
	char *argv3[] = {"mvmm-jailer", "--help", NULL};
	cr_assert_eq(jail_args_parse(2, argv3, &args, err, sizeof(err)), 0);
	cr_assert(args.help);
}

Test(jailer_args, ids_are_1_to_64_letters_digits_or_hyphens)
{
	char id64[65];
	memset(id64, 'a', 64);
	id64[64] = 0;
	cr_assert_eq(parse("--id", id64, NULL), 0, "%s", err);
	cr_assert_eq(parse("--id", "551e7604-e35c-42b3-b825-416853441234", NULL), 0);
	char id65[66];
	memset(id65, 'a', 65);
	id65[65] = 0;
	expect_error(parse("--id", id65, NULL), "--id");
	expect_error(parse("--id", "", NULL), "--id");
	expect_error(parse("--id", "a/b", NULL), "--id");
	expect_error(parse("--id", "..", NULL), "--id");
	expect_error(parse("--id", "a_b", NULL), "--id");
	expect_error(parse("--id", "a b", NULL), "--id");
	expect_error(parse("--id=", NULL), "--id");
}

Test(jailer_args, exec_file_is_absolute_with_a_plain_name)
{
	expect_error(parse("--exec-file", "mvmm", NULL), "--exec-file");
	expect_error(parse("--exec-file", "./mvmm", NULL), "--exec-file");
	expect_error(parse("--exec-file", "/usr/bin/", NULL), "--exec-file");
	expect_error(parse("--exec-file", "/usr/../bin/mvmm", NULL), "--exec-file");
	expect_error(parse("--exec-file", "/usr//bin/mvmm", NULL), "--exec-file");
	expect_error(parse("--exec-file", "/bin/mv mm", NULL), "--exec-file");
	cr_assert_eq(parse("--exec-file", "/opt/mvmm-0.1+x86_64", NULL), 0, "%s", err);
	cr_assert_str_eq(args.exec_name, "mvmm-0.1+x86_64");
}

Test(jailer_args, uids_and_gids_are_plain_numbers)
{
	cr_assert_eq(parse("--uid", "0", "--gid", "4294967294", NULL), 0, "%s", err);
	cr_assert_eq(args.gid, 4294967294u);
	expect_error(parse("--uid", "-1", NULL), "--uid");
	expect_error(parse("--uid", "4294967295", NULL), "--uid"); /* "unchanged" */
	expect_error(parse("--uid", "99999999999999999999999", NULL), "--uid");
	expect_error(parse("--gid", "1e3", NULL), "--gid");
	expect_error(parse("--gid", " 5", NULL), "--gid");
	expect_error(parse("--gid", "+5", NULL), "--gid");
	expect_error(parse("--uid", "nobody", NULL), "--uid");
	expect_error(parse("--uid", "", NULL), "--uid");
}

Test(jailer_args, paths_are_absolute_and_plain)
{
	expect_error(parse("--chroot-base-dir", "srv/jailer", NULL), "--chroot-base-dir");
	expect_error(parse("--chroot-base-dir", "/srv/../etc", NULL), "--chroot-base-dir");
	expect_error(parse("--chroot-base-dir", "/srv/./jailer", NULL), "--chroot-base-dir");
	expect_error(parse("--chroot-base-dir", "/srv/jailer/", NULL), "--chroot-base-dir");
	expect_error(parse("--netns", "netns/vm1", NULL), "--netns");
	expect_error(parse("--parent-cgroup", "/abs", NULL), "--parent-cgroup");
	expect_error(parse("--parent-cgroup", "a/../b", NULL), "--parent-cgroup");
	cr_assert_eq(parse("--parent-cgroup", "vms/team-a", NULL), 0, "%s", err);
	cr_assert_str_eq(args.parent_cgroup, "vms/team-a");
}

Test(jailer_args, cgroups_are_v2_file_value_pairs)
{
	expect_error(parse("--cgroup-version", "1", NULL), "--cgroup-version");
	expect_error(parse("--cgroup-version", "3", NULL), "--cgroup-version");
	expect_error(parse("--cgroup", "memory.max", NULL), "--cgroup");
	expect_error(parse("--cgroup", "memory=1", NULL), "--cgroup");
	expect_error(parse("--cgroup", "../memory.max=1", NULL), "--cgroup");
	expect_error(parse("--cgroup", "memory/x.max=1", NULL), "--cgroup");
	expect_error(parse("--cgroup", "Memory.max=1", NULL), "--cgroup");
	expect_error(parse("--cgroup", "memory.max=", NULL), "--cgroup memory.max");
	expect_error(parse("--cgroup", "memory.max=1\n2", NULL), "--cgroup memory.max");
	expect_error(parse("--cgroup", "cgroup.procs=1", NULL), "cgroup.procs");
	expect_error(parse("--cgroup", "cgroup.kill=1", NULL), "cgroup.kill");
	expect_error(parse("--cgroup", "memory.max=1", "--cgroup", "memory.max=2", NULL),
		     "given twice");
	cr_assert_eq(parse("--cgroup", "cpuset.cpus=0-3,7", "--cgroup",
			   "memory.high=max", NULL), 0, "%s", err);
	cr_assert_str_eq(args.cgroups[0].value, "0-3,7");
	cr_assert_str_eq(args.cgroups[1].value, "max");
}

Test(jailer_args, resource_limits_are_fsize_or_no_file)
{
	expect_error(parse("--resource-limit", "nofile=10", NULL), "--resource-limit");
	expect_error(parse("--resource-limit", "fsize", NULL), "--resource-limit");
	expect_error(parse("--resource-limit", "fsize=", NULL), "--resource-limit fsize");
	expect_error(parse("--resource-limit", "fsize=-1", NULL), "--resource-limit fsize");
	expect_error(parse("--resource-limit", "fsize=0", NULL), "--resource-limit fsize");
	expect_error(parse("--resource-limit", "no-file=1048577", NULL), "--resource-limit no-file");
	expect_error(parse("--resource-limit", "no-file=12k", NULL), "--resource-limit no-file");
	expect_error(parse("--resource-limit", "no-file=8", "--resource-limit",
			   "no-file=9", NULL), "given twice");
	cr_assert_eq(parse("--resource-limit", "fsize=18446744073709551615", NULL), 0,
		     "%s", err);
	cr_assert_eq(args.fsize, UINT64_MAX);
}

Test(jailer_args, unknown_or_misplaced_arguments)
{
	expect_error(parse("--seccomp-level", "2", NULL), "--seccomp-level");
	expect_error(parse("--api-sock", "/a", NULL), "--api-sock");
	expect_error(parse("stray", NULL), "after --");
	expect_error(parse("--netns", NULL), "--netns: missing value");
}

/* ---- the checks that look at files ---- */

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvmm-jargs-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void rm_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void touch(const char *name, mode_t mode)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	cr_assert(f);
	fclose(f);
	cr_assert_eq(chmod(p, mode), 0);
}

static int check(const char *exec_name, const char *base, const char *netns)
{
	char exec[128], b[128], n[128];
	snprintf(exec, sizeof(exec), "%s/%s", dir, exec_name);
	snprintf(b, sizeof(b), "%s/%s", dir, base);
	snprintf(n, sizeof(n), "%s/%s", dir, netns ? netns : "");
	cr_assert_eq(parse("--exec-file", exec, "--chroot-base-dir", b,
			   netns ? "--netns" : NULL, n, NULL), 0, "%s", err);
	return jail_args_check_paths(&args, err, sizeof(err));
}

Test(jailer_args, exec_file_must_be_an_executable_regular_file,
     .init = make_dir, .fini = rm_dir)
{
	touch("mvmm", 0755);
	touch("plain", 0644);
	cr_assert_eq(check("mvmm", "base", NULL), 0, "%s", err);
	cr_assert_eq(check("absent", "base", NULL), -ENOENT);
	cr_assert(strstr(err, "--exec-file"), "%s", err);
	cr_assert_eq(check("plain", "base", NULL), -EACCES);
	cr_assert(strstr(err, "not executable"), "%s", err);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(check("sub", "base", NULL), -EINVAL);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
}

Test(jailer_args, base_must_be_a_directory_and_netns_present,
     .init = make_dir, .fini = rm_dir)
{
	touch("mvmm", 0755);
	touch("file", 0644);
	cr_assert_eq(check("mvmm", "file", NULL), -ENOTDIR);
	cr_assert(strstr(err, "--chroot-base-dir"), "%s", err);
	cr_assert_eq(check("mvmm", "base", "no-such-netns"), -ENOENT);
	cr_assert(strstr(err, "--netns"), "%s", err);
	cr_assert_eq(check("mvmm", "base", "file"), 0, "%s", err);
}
