/* A stand-in for mvmm under mvmm-jailer: reports, as key=value lines, what
 * a jailed process sees. The jail has no /proc, so everything comes from
 * syscalls. Used by tests/confine/jailer_test.sh.
 *
 *   jail_probe [--out FILE] [--visible PATH]... [--sleep S] [--exit N]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

extern char **environ;

static void on_term(int sig)
{
	(void)sig;
	_exit(0); /* pid 1 of a namespace ignores SIGTERM without a handler */
}

static void caps(FILE *o)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	syscall(SYS_capget, &h, d);
	fprintf(o, "cap_eff=%016llx\n",
		(unsigned long long)(d[0].effective | (uint64_t)d[1].effective << 32));
	fprintf(o, "cap_prm=%016llx\n",
		(unsigned long long)(d[0].permitted | (uint64_t)d[1].permitted << 32));
	fprintf(o, "cap_inh=%016llx\n",
		(unsigned long long)(d[0].inheritable | (uint64_t)d[1].inheritable << 32));
	uint64_t bnd = 0, amb = 0;
	for (int c = 0; c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			bnd |= 1ULL << c;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			amb |= 1ULL << c;
	}
	fprintf(o, "cap_bnd=%016llx\ncap_amb=%016llx\n", (unsigned long long)bnd,
		(unsigned long long)amb);
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	unsigned sleep_s = 0;
	int status = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--out"))
			out = argv[i + 1];
		else if (!strcmp(argv[i], "--sleep"))
			sleep_s = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--exit"))
			status = atoi(argv[i + 1]);
	}
	/* Before anything opens an fd of its own. */
	char fds[512] = "";
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			snprintf(fds + strlen(fds), sizeof(fds) - strlen(fds), "%s%d",
				 *fds ? "," : "", fd);
	FILE *o = out ? fopen(out, "w") : stdout;
	if (!o)
		return 99;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	fprintf(o, "uid=%u,%u,%u\ngid=%u,%u,%u\n", ru, eu, su, rg, eg, sg);
	fprintf(o, "groups=%d\n", getgroups(0, NULL));
	caps(o);
	fprintf(o, "no_new_privs=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	fprintf(o, "pid=%d\nsid_is_pid=%d\n", (int)getpid(), getsid(0) == getpid());
	char cwd[256];
	fprintf(o, "cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	fprintf(o, "fds=%s\n", fds);
	struct stat st;
	for (int fd = 0; fd < 2; fd++)
		if (fstat(fd, &st) == 0)
			fprintf(o, "%s=%s%u:%u\n", fd ? "stdout" : "stdin",
				S_ISCHR(st.st_mode) ? "chr:" : "other:",
				major(st.st_rdev), minor(st.st_rdev));
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(o, "nofile=%llu,%llu\n", (unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max);
	getrlimit(RLIMIT_FSIZE, &rl);
	fprintf(o, "fsize=%lld\n", rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
	mode_t m = umask(0);
	fprintf(o, "umask=%03o\n", (unsigned)m);
	fprintf(o, "env=");
	for (char **e = environ; *e; e++)
		fprintf(o, "%s%.*s", e == environ ? "" : ",", (int)strcspn(*e, "="), *e);
	fprintf(o, "\nroot=");
	DIR *d = opendir("/");
	struct dirent *de;
	int first = 1;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			fprintf(o, "%s%s", first ? "" : ",", de->d_name);
			first = 0;
		}
	if (d)
		closedir(d);
	fprintf(o, "\n");
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	fprintf(o, "dev_kvm=%s\n", kvm >= 0 ? "ok" : strerror(errno));
	for (int i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--visible"))
			fprintf(o, "visible %s=%s\n", argv[i + 1],
				stat(argv[i + 1], &st) == 0 ? "yes" : "no");
	fprintf(o, "done=1\n");
	fflush(o);
	if (out)
		fclose(o);
	signal(SIGTERM, on_term);
	while (sleep_s)
		sleep_s = sleep(sleep_s);
	return status;
}
