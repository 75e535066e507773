/* A vCPU's KVM state to and from one blob (see arch/kvm_state.h); the MSR
 * part is in kvm_state_msrs.c. */
#include <arch/kvm_state.h>
#include <core/checked.h>
#include <core/err.h>
#include <core/log.h>

#include "kvm_state_blob.h"
#include "kvm_state_msrs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define VCPU_MAGIC 0x50435658u /* "XVCP" */
#define VCPU_VERSION 1u
#define WHAT "vcpu state"

/* Bounds the variable XSAVE part (AMX needs ~11 KiB). */
#define VCPU_XSAVE_MAX_BYTES (256u * 1024)
/* Hosts whose TSC rates differ by less than this (ppm) need no scaling:
 * calibration alone makes hosts of one model disagree slightly. */
#define VCPU_TSC_TOLERANCE_PPM 250u

enum {
	P_MP_STATE,
	P_REGS,
	P_SREGS,
	P_XSAVE,
	P_FPU,
	P_XCRS,
	P_DEBUGREGS,
	P_LAPIC,
	P_TSC_KHZ,
	P_MSRS,
	P_EVENTS,
	P_COUNT
};

#define FIXED(id, name, type, req) { id, name, sizeof(type), sizeof(type), req }
/* Indexed by the P_ enum; ids are what the blob stores, never reused. */
static const struct kvm_state_part_spec vcpu_specs[P_COUNT] = {
	[P_MP_STATE] = FIXED(1, "mp_state", struct kvm_mp_state, true),
	[P_REGS] = FIXED(2, "regs", struct kvm_regs, true),
	[P_SREGS] = FIXED(3, "sregs", struct kvm_sregs, true),
	[P_XSAVE] = { 4, "xsave", sizeof(struct kvm_xsave),
		      VCPU_XSAVE_MAX_BYTES, false },
	[P_FPU] = FIXED(5, "fpu", struct kvm_fpu, false),
	[P_XCRS] = FIXED(6, "xcrs", struct kvm_xcrs, false),
	[P_DEBUGREGS] = FIXED(7, "debugregs", struct kvm_debugregs, true),
	[P_LAPIC] = FIXED(8, "lapic", struct kvm_lapic_state, true),
	[P_TSC_KHZ] = FIXED(9, "tsc_khz", uint32_t, true),
	[P_MSRS] = { 10, "msrs", KVM_STATE_MSRS_HDR_BYTES,
		     KVM_STATE_MSRS_HDR_BYTES +
			     KVM_STATE_MSRS_MAX * sizeof(struct kvm_msr_entry),
		     true },
	[P_EVENTS] = FIXED(11, "vcpu_events", struct kvm_vcpu_events, true),
};

/* Every fixed part but tsc_khz is restored through one buffer. */
_Static_assert(sizeof(struct kvm_lapic_state) <= KVM_STATE_FIXED_PART_MAX &&
		       sizeof(struct kvm_sregs) <= KVM_STATE_FIXED_PART_MAX &&
		       sizeof(struct kvm_fpu) <= KVM_STATE_FIXED_PART_MAX &&
		       sizeof(struct kvm_xcrs) <= KVM_STATE_FIXED_PART_MAX &&
		       sizeof(struct kvm_vcpu_events) <= KVM_STATE_FIXED_PART_MAX,
	       "fixed vCPU parts fit KVM_STATE_FIXED_PART_MAX");

static int check_parts(const struct kvm_state_part *p, char *err,
		       size_t errlen)
{
	if (p[P_XSAVE].present == p[P_FPU].present)
		return err_set(err, errlen, -EINVAL,
			       WHAT ": needs exactly one of xsave, fpu");
	return kvm_state_msrs_check(p[P_MSRS].data, p[P_MSRS].len, err, errlen);
}

static const struct kvm_state_format vcpu_format = {
	.what = WHAT, .magic = VCPU_MAGIC, .version = VCPU_VERSION,
	.specs = vcpu_specs, .nspecs = P_COUNT, .check = check_parts,
};

int x86_vcpu_state_check(const void *blob, size_t len, char *err,
			 size_t errlen)
{
	struct kvm_state_part p[P_COUNT];
	return kvm_state_blob_parse(&vcpu_format, blob, len, p, err, errlen);
}

/* A fixed-size part straight from KVM. */
static void save_part(struct kvm_state_blob *w, int vcpu_fd, unsigned part,
		      unsigned long req, const char *req_name)
{
	kvm_state_blob_ioctl(w, part, vcpu_specs[part].min_len, NULL, vcpu_fd,
			     req, req_name);
}

static void save_xsave(struct kvm_state_blob *w, int kvm_fd, int vcpu_fd)
{
	if (w->err)
		return;
	/* KVM_CAP_XSAVE2 gives the buffer size KVM_GET_XSAVE2 fills, larger
	 * than struct kvm_xsave once dynamic features (AMX) are enabled. */
	int size = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	unsigned long req = KVM_GET_XSAVE2;
	const char *name = "KVM_GET_XSAVE2";

	if (size <= (int)sizeof(struct kvm_xsave)) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0) {
			save_part(w, vcpu_fd, P_FPU, KVM_GET_FPU, "KVM_GET_FPU");
			return;
		}
		size = sizeof(struct kvm_xsave);
		req = KVM_GET_XSAVE;
		name = "KVM_GET_XSAVE";
	}
	if ((unsigned)size > VCPU_XSAVE_MAX_BYTES) {
		kvm_state_blob_fail(w, -E2BIG,
				    WHAT ": XSAVE area of %d bytes, over %u",
				    size, VCPU_XSAVE_MAX_BYTES);
		return;
	}
	kvm_state_blob_ioctl(w, P_XSAVE, (size_t)size, NULL, vcpu_fd, req, name);
}

/* 0 when KVM cannot tell: the restore then leaves the rate alone. */
static void save_tsc_khz(struct kvm_state_blob *w, int vcpu_fd)
{
	if (w->err)
		return;
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	uint32_t tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	kvm_state_blob_put(w, P_TSC_KHZ, &tsc_khz, sizeof(tsc_khz));
}

int x86_vcpu_state_save(int kvm_fd, int vcpu_fd, void **blob, size_t *len,
			char *err, size_t errlen)
{
	struct kvm_state_blob w;

	/* Each step does nothing once one has failed (the writer's sticky
	 * error), so this is KVM's order: KVM_GET_MP_STATE first (it runs
	 * pending APIC events, INIT/SIPI, into the state the rest then
	 * reads), events last. */
	kvm_state_blob_init(&w, &vcpu_format, err, errlen);
	save_part(&w, vcpu_fd, P_MP_STATE, KVM_GET_MP_STATE, "KVM_GET_MP_STATE");
	save_part(&w, vcpu_fd, P_REGS, KVM_GET_REGS, "KVM_GET_REGS");
	save_part(&w, vcpu_fd, P_SREGS, KVM_GET_SREGS, "KVM_GET_SREGS");
	save_xsave(&w, kvm_fd, vcpu_fd);
	if (!w.err && ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
		save_part(&w, vcpu_fd, P_XCRS, KVM_GET_XCRS, "KVM_GET_XCRS");
	save_part(&w, vcpu_fd, P_DEBUGREGS, KVM_GET_DEBUGREGS,
		  "KVM_GET_DEBUGREGS");
	save_part(&w, vcpu_fd, P_LAPIC, KVM_GET_LAPIC, "KVM_GET_LAPIC");
	save_tsc_khz(&w, vcpu_fd);
	kvm_state_msrs_save(&w, P_MSRS, kvm_fd, vcpu_fd);
	save_part(&w, vcpu_fd, P_EVENTS, KVM_GET_VCPU_EVENTS,
		  "KVM_GET_VCPU_EVENTS");
	return kvm_state_blob_finish(&w, blob, len);
}

static int restore_part(int vcpu_fd, unsigned long req, const char *req_name,
			const struct kvm_state_part *p, char *err,
			size_t errlen)
{
	return kvm_state_part_ioctl(WHAT, vcpu_fd, req, req_name, p, err,
				    errlen);
}

static int restore_xsave(int kvm_fd, int vcpu_fd,
			 const struct kvm_state_part *p, char *err,
			 size_t errlen)
{
	/* KVM_SET_XSAVE reads this vCPU's whole XSAVE size, which may exceed
	 * what was saved: zero padding is an absent component (XSTATE_BV). */
	int cap = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	size_t size = MAX((size_t)p->len, (size_t)MAX(cap, 0));
	void *buf = calloc(1, size);

	if (!buf)
		return err_set(err, errlen, -ENOMEM, WHAT ": xsave: %s",
			       strerror(ENOMEM));
	memcpy(buf, p->data, p->len);
	int r = ioctl(vcpu_fd, KVM_SET_XSAVE, buf) < 0 ?
			kvm_state_ioctl_err(WHAT, "KVM_SET_XSAVE", err, errlen) :
			0;
	free(buf);
	return r;
}
/* Before the MSRs: IA32_TSC is written at the rate then in force. */
static void restore_tsc_khz(int vcpu_fd, const struct kvm_state_part *p)
{
	uint32_t saved;
	memcpy(&saved, p->data, sizeof(saved));
	if (!saved)
		return;
	int cur = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	uint64_t diff = cur > 0 ? (uint64_t)llabs((int64_t)cur - saved) : saved;
	if (diff * 1000000 <= (uint64_t)saved * VCPU_TSC_TOLERANCE_PPM)
		return;
	if (ioctl(vcpu_fd, KVM_SET_TSC_KHZ, (unsigned long)saved) < 0)
		log_warn(WHAT ": TSC at %u kHz here, snapshot had %u kHz and "
			 "KVM_SET_TSC_KHZ failed (%s): guest time may drift",
			 cur > 0 ? (unsigned)cur : 0, saved, strerror(errno));
}

int x86_vcpu_state_restore(int kvm_fd, int vcpu_fd, const void *blob,
			   size_t len, char *err, size_t errlen)
{
	struct kvm_state_part p[P_COUNT];
	int r = kvm_state_blob_parse(&vcpu_format, blob, len, p, err, errlen);
	if (r)
		return r;

	restore_tsc_khz(vcpu_fd, &p[P_TSC_KHZ]);
	/* SET_REGS clears pending exceptions (events restore them); SET_SREGS
	 * sets the APIC base the LAPIC state needs; the TSC-deadline MSR needs
	 * the LAPIC. */
	if ((r = restore_part(vcpu_fd, KVM_SET_MP_STATE, "KVM_SET_MP_STATE",
			      &p[P_MP_STATE], err, errlen)) ||
	    (r = restore_part(vcpu_fd, KVM_SET_REGS, "KVM_SET_REGS", &p[P_REGS],
			      err, errlen)) ||
	    (r = restore_part(vcpu_fd, KVM_SET_SREGS, "KVM_SET_SREGS",
			      &p[P_SREGS], err, errlen)))
		return r;
	if (p[P_XSAVE].present)
		r = restore_xsave(kvm_fd, vcpu_fd, &p[P_XSAVE], err, errlen);
	else
		r = restore_part(vcpu_fd, KVM_SET_FPU, "KVM_SET_FPU", &p[P_FPU],
				 err, errlen);
	if (r)
		return r;
	if (p[P_XCRS].present &&
	    (r = restore_part(vcpu_fd, KVM_SET_XCRS, "KVM_SET_XCRS", &p[P_XCRS],
			      err, errlen)))
		return r;
	if ((r = restore_part(vcpu_fd, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS",
			      &p[P_DEBUGREGS], err, errlen)) ||
	    (r = restore_part(vcpu_fd, KVM_SET_LAPIC, "KVM_SET_LAPIC",
			      &p[P_LAPIC], err, errlen)) ||
	    (r = kvm_state_msrs_restore(vcpu_fd, p[P_MSRS].data, p[P_MSRS].len,
					err, errlen)))
		return r;
	return restore_part(vcpu_fd, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS",
			    &p[P_EVENTS], err, errlen);
}
