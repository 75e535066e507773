/* mvmm-jailer: builds a chroot for one mvmm, puts it in a cgroup and its
 * own namespaces, drops every privilege and execs it (docs/security.md).
 * Flags follow Firecracker's jailer where they apply.
 *
 * Order (main.c): parse and check everything, then close inherited fds,
 * build <base>/<exec name>/<id>/root, set rlimits, join the cgroup and the
 * netns, enter a new mount namespace and pivot into the root, then (in a
 * child for --new-pid-ns or --daemonize) drop to uid/gid and exec. Any
 * failure before the exec removes what was built. */
#ifndef VMM_JAILER_H
#define VMM_JAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define JAIL_ID_MAX 64
#define JAIL_MAX_CGROUPS 32
#define JAIL_CGROUP_VALUE_MAX 256
#define JAIL_DEFAULT_BASE "/srv/jailer"
/* Firecracker's default when no --resource-limit no-file is given. */
#define JAIL_DEFAULT_NOFILE 2048
#define JAIL_EXIT_USAGE 2
#define JAIL_EXIT_FAIL 1

#define JAIL_CGROUP_FILE_MAX 64
struct jail_cgroup {
	char file[JAIL_CGROUP_FILE_MAX + 1]; /* "memory.max" */
	const char *value;                   /* "512M", in argv */
};

struct jail_args {
	const char *id;
	const char *exec_file;
	const char *exec_name; /* last component of exec_file */
	uid_t uid;
	gid_t gid;
	const char *base_dir;      /* --chroot-base-dir */
	const char *netns;         /* NULL: stay in the current one */
	const char *parent_cgroup; /* default: exec_name */
	struct jail_cgroup cgroups[JAIL_MAX_CGROUPS];
	unsigned nr_cgroups;
	bool has_fsize, has_nofile;
	uint64_t fsize, nofile;
	bool new_pid_ns;
	bool daemonize;
	bool help;
	char **exec_argv; /* after "--"; NULL-terminated, may be empty */
	int exec_argc;
};

/* Parses argv into *a without touching the system: every value is checked
 * for syntax and range. 0, or -EINVAL with "--flag: why" in err. The
 * strings in *a point into argv. */
int jail_args_parse(int argc, char **argv, struct jail_args *a, char *err,
		    size_t errlen);
/* The checks that look at the system: exec file a regular, executable,
 * absolute file; base dir, if present, a directory; netns present.
 * 0 or -errno with "--flag: why" in err. */
int jail_args_check_paths(const struct jail_args *a, char *err,
			  size_t errlen);
void jail_usage(FILE *out);

/* ---- the chroot tree (jail_tree.c) ---- */

/* What this run wrote, so a failure anywhere before the exec undoes it.
 * Paths are relative to the anchor, the deepest directory that existed
 * before, so the undo also works after pivot_root has hidden the host's
 * tree. An operator's files already in root are never in the log. */
struct jail_made {
	char *path;
	bool dir;
};

struct jail_tree {
	int anchor_fd; /* O_PATH */
	struct jail_made *made;
	unsigned nr_made, cap_made;
	char *root;  /* <base>/<exec name>/<id>/root, absolute */
	int root_fd; /* O_PATH, opened without following links */
};

/* Builds root (which may exist, with the operator's files in it) with the
 * exec file and, for a dynamic one, its loader and libraries (hard links,
 * or copies across filesystems), dev/kvm, dev/urandom, dev/null; chowns
 * root and dev/kvm to uid:gid. Every component inside root is opened
 * without following symlinks: a previous jailed process owned root.
 * 0 or -errno + err. */
int jail_tree_build(struct jail_tree *t, const struct jail_args *a, char *err,
		    size_t errlen);
/* Removes everything jail_tree_build created (reverse order); idempotent. */
void jail_tree_undo(struct jail_tree *t);
/* Forgets the undo log (after a successful exec handoff) and closes fds. */
void jail_tree_release(struct jail_tree *t);

/* ---- shared libraries of a dynamic exec file (jail_elf.c) ---- */

#define JAIL_ELF_MAX_DEPS 64
struct jail_elf_deps {
	char *paths[JAIL_ELF_MAX_DEPS]; /* host paths: loader first */
	unsigned n;
};

/* The loader (PT_INTERP) and the DT_NEEDED closure of path, resolved in
 * the system library directories. A static file gives n = 0. 0 or -errno
 * with err naming the file or library. */
int jail_elf_deps(const char *path, struct jail_elf_deps *d, char *err,
		  size_t errlen);
void jail_elf_deps_free(struct jail_elf_deps *d);

/* ---- cgroup v2 (jail_cgroup.c) ---- */

struct jail_cgroup_state {
	int mount_fd;         /* the cgroup2 mount, O_PATH */
	char *orig;           /* our cgroup before joining, relative */
	char *leaf;           /* <parent>/<id>, relative */
	char *created[8];     /* directories made, relative, in order */
	unsigned nr_created;
	bool joined;
};

/* With --cgroup values: finds the cgroup2 mount, makes <parent>/<id>,
 * enables the controllers the files need, writes the values and moves the
 * calling process in. Without: does nothing. 0 or -errno + err. */
int jail_cgroup_setup(struct jail_cgroup_state *s, const struct jail_args *a,
		      char *err, size_t errlen);
/* Moves the process back and removes what setup made. */
void jail_cgroup_undo(struct jail_cgroup_state *s);
void jail_cgroup_release(struct jail_cgroup_state *s);

/* ---- the process (jail_enter.c) ---- */

/* Closes every fd above 2. */
int jail_close_fds(void);
/* setrlimit for fsize and no-file (default no-file when not given). */
int jail_set_rlimits(const struct jail_args *a, char *err, size_t errlen);
/* setns into the network namespace at path. */
int jail_join_netns(const char *path, char *err, size_t errlen);
/* New mount namespace, / private, root bind-mounted on itself, pivot_root
 * into it, old root detached. cwd is the new /. */
int jail_pivot(const char *root, char *err, size_t errlen);
/* Bounding and ambient sets cleared, supplementary groups dropped, then
 * gid and uid (real, effective, saved); no effective or inheritable
 * capability (checked); NO_NEW_PRIVS. Only CAP_DAC_OVERRIDE stays
 * permitted, for jail_raise_for_undo; the exec drops it. */
int jail_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen);
/* After a failed exec: CAP_DAC_OVERRIDE effective, to remove the jail. */
int jail_raise_for_undo(void);
/* No capability at all (the waiting parent of --new-pid-ns). */
int jail_drop_all_caps(void);

#endif
