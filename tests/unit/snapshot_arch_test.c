/* The arch's part of a snapshot (snapshot_arch.h), x86_64 side: snapshots
 * are supported, files carry the x86 arch id, and the KVM sections are
 * refused, each with a reason, when missing or malformed; a file of the
 * other arch is named as such. */
#include "snapshot/snapfile.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_arch.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

TestSuite(snapshot_arch);

/* A reader over a file holding the given sections (written for x86). */
static void reader_of(struct snapfile_writer *w, struct snapfile_reader *rd)
{
	const void *img;
	size_t len;
	char err[256];
	cr_assert_eq(snapfile_writer_image(w, snapshot_arch_id, &img, &len), 0);
	cr_assert_eq(snapfile_reader_parse(rd, img, len, snapshot_arch_id, err,
					   sizeof(err)),
		     0, "%s", err);
}

Test(snapshot_arch, x86_takes_snapshots_in_x86_files)
{
	char err[64] = "";
	cr_assert_eq(snapshot_arch_supported(err, sizeof(err)), 0);
	cr_assert_str_empty(err);
	cr_assert_eq(snapshot_arch_id, SNAPFILE_ARCH_X86_64);
}

Test(snapshot_arch, refuses_a_file_without_vm_state)
{
	struct snapfile_writer w;
	struct snapfile_reader rd;
	char err[256];
	snapfile_writer_init(&w);
	snapfile_put(&w, SNAPSHOT_TAG_SERIAL, 0, "x", 1);
	reader_of(&w, &rd);
	cr_assert_eq(snapshot_arch_check(&rd, 1, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "state file: VM state: missing");
	snapfile_reader_free(&rd);
	snapfile_writer_free(&w);
}

Test(snapshot_arch, refuses_malformed_vm_state_and_cpuid)
{
	struct snapfile_writer w;
	struct snapfile_reader rd;
	char err[256];
	uint8_t junk[16] = {0};
	snapfile_writer_init(&w);
	snapfile_put(&w, SNAPSHOT_TAG_VM_KVM, 0, junk, sizeof(junk));
	reader_of(&w, &rd);
	cr_assert_eq(snapshot_arch_check(&rd, 1, err, sizeof(err)), -EINVAL);
	cr_assert(!strncmp(err, "state file: VM state: ", 22), "%s", err);
	snapfile_reader_free(&rd);
	snapfile_writer_free(&w);
}

Test(snapshot_arch, the_other_arch_is_named_when_a_file_is_refused)
{
	struct snapfile_writer w;
	struct snapfile_reader rd;
	const void *img;
	size_t len;
	char err[256];
	snapfile_writer_init(&w);
	snapfile_put(&w, SNAPSHOT_TAG_SERIAL, 0, "x", 1);
	cr_assert_eq(snapfile_writer_image(&w, SNAPFILE_ARCH_AARCH64, &img, &len), 0);
	cr_assert_eq(snapfile_reader_parse(&rd, img, len, snapshot_arch_id, err,
					   sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "state file was written for architecture aarch64 (2), this mvmm runs x86_64 (1)");
	snapfile_writer_free(&w);
}
