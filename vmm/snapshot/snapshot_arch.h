/* The architecture's part of a snapshot: the state file's arch id and the
 * KVM state sections (the VM's and each vCPU's). One implementation per
 * arch, picked by the Makefile: snapshot_x86_64.c, snapshot_aarch64.c
 * (which refuses every snapshot for now).
 * Threads: main loop (save), main thread before the VM runs (check, load). */
#ifndef VMM_SNAPSHOT_ARCH_H
#define VMM_SNAPSHOT_ARCH_H

#include <stddef.h>
#include <stdint.h>

struct snapfile_reader;
struct snapfile_writer;
struct vm;

/* The state file header's arch for this build (SNAPFILE_ARCH_*). */
extern const uint32_t snapshot_arch_id;

/* 0, or -EOPNOTSUPP with the reason in err where snapshots cannot be taken
 * or loaded on this arch; asked before anything else is done. */
int snapshot_arch_supported(char *err, size_t errlen);
/* Appends the KVM state sections of the paused VM. 0 or -errno with msg. */
int snapshot_arch_save(struct vm *vm, struct snapfile_writer *w, char *msg,
		       size_t msglen);
/* Checks those sections for nr_vcpus vCPUs before any VM is built. */
int snapshot_arch_check(const struct snapfile_reader *rd, unsigned nr_vcpus,
			char *err, size_t errlen);
/* Puts them into the VM built for the restore (sections checked). */
int snapshot_arch_restore(struct vm *vm, const struct snapfile_reader *rd,
			  char *err, size_t errlen);

#endif
