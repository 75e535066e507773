/* vCPU and VM KVM state blobs: round trips through /dev/kvm (skipped where
 * it cannot be opened) and the checks, which need no KVM. */
#include <arch/cpuid.h>
#include <arch/kvm_state.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

TestSuite(x86_kvm_state);

/* The documented layout: u32 magic, version, part count; parts of u32 id,
 * u32 length, data. */
#define VCPU_MAGIC 0x50435658u
#define VM_MAGIC 0x534d5658u
#define HDR 12u
enum { V_MP = 1, V_REGS, V_SREGS, V_XSAVE, V_FPU, V_XCRS, V_DEBUGREGS,
       V_LAPIC, V_TSC, V_MSRS, V_EVENTS };
enum { M_PIC_MASTER = 1, M_PIC_SLAVE, M_IOAPIC, M_PIT, M_CLOCK };

#define MSR_LSTAR 0xc0000082u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define APIC_TPR 0x80
/* XSAVE legacy area (Intel SDM vol. 1, 13.4): xmm0 at 160, XSTATE_BV at 512. */
#define XSAVE_XMM0 160
#define XSAVE_XSTATE_BV 512
#define XFEATURE_SSE 0x2

/* ---- a small blob writer, independent of the one under test ---- */

struct wblob {
	uint8_t *b;
	size_t len;
	uint32_t nparts;
};

static void w_u32(struct wblob *w, uint32_t v)
{
	w->b = realloc(w->b, w->len + 4);
	memcpy(w->b + w->len, &v, 4);
	w->len += 4;
}

static void w_begin(struct wblob *w, uint32_t magic)
{
	memset(w, 0, sizeof(*w));
	w_u32(w, magic);
	w_u32(w, 1);
	w_u32(w, 0);
}

static void w_part(struct wblob *w, uint32_t id, const void *data, size_t n)
{
	w_u32(w, id);
	w_u32(w, (uint32_t)n);
	w->b = realloc(w->b, w->len + n);
	if (data)
		memcpy(w->b + w->len, data, n);
	else
		memset(w->b + w->len, 0, n);
	w->len += n;
	w->nparts++;
	memcpy(w->b + 8, &w->nparts, 4);
}

static void w_msrs(struct wblob *w, uint32_t count, uint32_t entries)
{
	size_t n = 8 + (size_t)entries * sizeof(struct kvm_msr_entry);
	uint8_t *p = calloc(1, n);
	memcpy(p, &count, 4);
	for (uint32_t i = 0; i < entries; i++) {
		struct kvm_msr_entry e = { .index = MSR_LSTAR + i, .data = i };
		memcpy(p + 8 + i * sizeof(e), &e, sizeof(e));
	}
	w_part(w, V_MSRS, p, n);
	free(p);
}

/* A vCPU blob built by hand, every part zero but the MSRs; skip_id leaves
 * one part out (0: none). */
static struct wblob crafted_vcpu(uint32_t msr_count, uint32_t skip_id)
{
	struct wblob w;
	w_begin(&w, VCPU_MAGIC);
	const struct { uint32_t id; size_t n; } parts[] = {
		{ V_MP, sizeof(struct kvm_mp_state) },
		{ V_REGS, sizeof(struct kvm_regs) },
		{ V_SREGS, sizeof(struct kvm_sregs) },
		{ V_XSAVE, sizeof(struct kvm_xsave) },
		{ V_XCRS, sizeof(struct kvm_xcrs) },
		{ V_DEBUGREGS, sizeof(struct kvm_debugregs) },
		{ V_LAPIC, sizeof(struct kvm_lapic_state) },
		{ V_TSC, 4 },
	};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i].id != skip_id)
			w_part(&w, parts[i].id, NULL, parts[i].n);
	if (skip_id != V_MSRS)
		w_msrs(&w, msr_count, msr_count);
	if (skip_id != V_EVENTS)
		w_part(&w, V_EVENTS, NULL, sizeof(struct kvm_vcpu_events));
	return w;
}

static struct wblob crafted_vm(void)
{
	struct wblob w;
	w_begin(&w, VM_MAGIC);
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c = { .chip_id = chip };
		w_part(&w, M_PIC_MASTER + chip, &c, sizeof(c));
	}
	w_part(&w, M_PIT, NULL, sizeof(struct kvm_pit_state2));
	w_part(&w, M_CLOCK, NULL, sizeof(struct kvm_clock_data));
	return w;
}

/* Offset of part id's header in a blob, or 0. */
static size_t find_part(const uint8_t *b, size_t len, uint32_t id)
{
	for (size_t off = HDR; off + 8 <= len;) {
		uint32_t pid, plen;
		memcpy(&pid, b + off, 4);
		memcpy(&plen, b + off + 4, 4);
		if (pid == id)
			return off;
		off += 8 + plen;
	}
	return 0;
}

/* The check refuses w with a message containing want. */
static void refuses_vcpu(const struct wblob *w, const char *what,
			 const char *want)
{
	char err[256] = "";
	cr_assert_eq(x86_vcpu_state_check(w->b, w->len, err, sizeof(err)),
		     -EINVAL, "%s", what);
	cr_assert(strstr(err, want), "%s: error text \"%s\" lacks \"%s\"",
		  what, err, want);
}

/* ---- checks, no KVM ---- */

Test(x86_kvm_state, check_accepts_a_well_formed_crafted_blob)
{
	char err[256] = "";
	struct wblob v = crafted_vcpu(3, 0), m = crafted_vm();
	cr_assert_eq(x86_vcpu_state_check(v.b, v.len, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(x86_vm_state_check(m.b, m.len, err, sizeof(err)), 0, "%s",
		     err);
	free(v.b);
	free(m.b);
}

Test(x86_kvm_state, check_refuses_every_truncation)
{
	struct wblob v = crafted_vcpu(2, 0), m = crafted_vm();
	for (size_t l = 0; l < v.len; l++)
		cr_assert_eq(x86_vcpu_state_check(v.b, l, NULL, 0), -EINVAL,
			     "vcpu blob cut to %zu of %zu bytes", l, v.len);
	for (size_t l = 0; l < m.len; l++)
		cr_assert_eq(x86_vm_state_check(m.b, l, NULL, 0), -EINVAL,
			     "vm blob cut to %zu of %zu bytes", l, m.len);
	free(v.b);
	free(m.b);
}

Test(x86_kvm_state, check_refuses_bad_magic_version_and_trailing_bytes)
{
	struct wblob w = crafted_vcpu(1, 0);
	w.b[0] ^= 1;
	refuses_vcpu(&w, "magic", "vcpu state: bad magic 0x50435659");
	w.b[0] ^= 1;
	w.b[4] = 2;
	refuses_vcpu(&w, "version", "vcpu state: version 2, this build reads 1");
	w.b[4] = 1;
	w.b = realloc(w.b, w.len + 1);
	w.b[w.len] = 0;
	w.len++;
	refuses_vcpu(&w, "trailing byte", "vcpu state: 1 bytes after the last part");
	/* A vCPU blob is not a VM blob. */
	cr_assert_eq(x86_vm_state_check(w.b, w.len - 1, NULL, 0), -EINVAL);
	free(w.b);
}

Test(x86_kvm_state, check_refuses_a_part_of_the_wrong_length)
{
	struct wblob w = crafted_vcpu(1, 0);
	size_t off = find_part(w.b, w.len, V_REGS);
	cr_assert_neq(off, 0);
	uint32_t bad = sizeof(struct kvm_regs) - 8;
	memcpy(w.b + off + 4, &bad, 4);
	refuses_vcpu(&w, "short regs", "vcpu state: part regs is 136 bytes, expected 144");
	bad = sizeof(struct kvm_regs) + 8;
	memcpy(w.b + off + 4, &bad, 4);
	refuses_vcpu(&w, "long regs", "vcpu state: part regs is 152 bytes, expected 144");
	free(w.b);
}

Test(x86_kvm_state, check_refuses_unknown_duplicate_and_missing_parts)
{
	struct wblob w = crafted_vcpu(1, 0);
	w_part(&w, 99, NULL, 0);
	refuses_vcpu(&w, "unknown id", "vcpu state: unknown part id 99");
	free(w.b);

	w = crafted_vcpu(1, 0);
	w_part(&w, V_REGS, NULL, sizeof(struct kvm_regs));
	refuses_vcpu(&w, "regs twice", "vcpu state: part regs appears twice");
	free(w.b);

	const uint32_t required[] = { V_MP, V_REGS, V_SREGS, V_DEBUGREGS,
				      V_LAPIC, V_TSC, V_MSRS, V_EVENTS };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		w = crafted_vcpu(1, required[i]);
		refuses_vcpu(&w, "a required part missing", " missing");
		free(w.b);
	}
	w = crafted_vcpu(1, V_XCRS);
	cr_assert_eq(x86_vcpu_state_check(w.b, w.len, NULL, 0), 0,
		     "xcrs is optional");
	free(w.b);
}

Test(x86_kvm_state, check_wants_exactly_one_of_xsave_and_fpu)
{
	struct wblob w = crafted_vcpu(1, V_XSAVE);
	refuses_vcpu(&w, "neither", "vcpu state: needs exactly one of xsave, fpu");
	w_part(&w, V_FPU, NULL, sizeof(struct kvm_fpu));
	cr_assert_eq(x86_vcpu_state_check(w.b, w.len, NULL, 0), 0, "fpu only");
	free(w.b);
	w = crafted_vcpu(1, 0);
	w_part(&w, V_FPU, NULL, sizeof(struct kvm_fpu));
	refuses_vcpu(&w, "both", "vcpu state: needs exactly one of xsave, fpu");
	free(w.b);
}

Test(x86_kvm_state, check_refuses_msr_count_overflow_and_mismatch)
{
	struct wblob w = crafted_vcpu(1024, 0);
	cr_assert_eq(x86_vcpu_state_check(w.b, w.len, NULL, 0), 0,
		     "1024 MSRs fit the cap");
	free(w.b);

	w = crafted_vcpu(1025, 0);
	refuses_vcpu(&w, "1025 MSRs", "vcpu state: part msrs is 16408 bytes, expected 8..16392");
	free(w.b);

	/* A huge count behind a short part must not be believed. */
	w = crafted_vcpu(0, V_MSRS);
	uint32_t hdr[2] = { 0xffffffffu, 0 };
	w_part(&w, V_MSRS, hdr, sizeof(hdr));
	refuses_vcpu(&w, "count 2^32-1", "vcpu state: msrs: count 4294967295 over 1024");
	free(w.b);

	w = crafted_vcpu(0, V_MSRS);
	w_msrs(&w, 2, 1);
	refuses_vcpu(&w, "count 2, one entry", "vcpu state: msrs: 24 bytes for 2 entries");
	free(w.b);
}

Test(x86_kvm_state, vm_check_refuses_an_irqchip_part_naming_another_chip)
{
	struct wblob w = crafted_vm();
	size_t off = find_part(w.b, w.len, M_PIC_SLAVE);
	cr_assert_neq(off, 0);
	uint32_t chip = KVM_IRQCHIP_IOAPIC;
	memcpy(w.b + off + 8 + offsetof(struct kvm_irqchip, chip_id), &chip, 4);
	char err[256] = "";
	cr_assert_eq(x86_vm_state_check(w.b, w.len, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vm state: part pic_slave holds chip id 2");
	free(w.b);
}

Test(x86_kvm_state, save_and_restore_name_the_ioctl_that_failed)
{
	char err[256] = "";
	void *blob = NULL;
	size_t len = 0;

	/* No fd at all: the first ioctl of each path fails, no KVM needed. */
	cr_assert_eq(x86_vm_state_save(-1, &blob, &len, err, sizeof(err)), -EBADF);
	cr_assert_str_eq(err, "vm state: KVM_GET_IRQCHIP: Bad file descriptor");
	cr_assert_eq(x86_vcpu_state_save(-1, -1, &blob, &len, err, sizeof(err)),
		     -EBADF);
	cr_assert_str_eq(err, "vcpu state: KVM_GET_MP_STATE: Bad file descriptor");
	cr_assert_null(blob, "nothing handed out on failure");

	struct wblob v = crafted_vcpu(1, 0), m = crafted_vm();
	cr_assert_eq(x86_vm_state_restore(-1, m.b, m.len, err, sizeof(err)), -EBADF);
	cr_assert_str_eq(err, "vm state: KVM_SET_IRQCHIP: Bad file descriptor");
	cr_assert_eq(x86_vcpu_state_restore(-1, -1, v.b, v.len, err, sizeof(err)),
		     -EBADF);
	cr_assert_str_eq(err, "vcpu state: KVM_SET_MP_STATE: Bad file descriptor");
	free(v.b);
	free(m.b);
}

/* ---- round trips through /dev/kvm ---- */

struct bed {
	int kvm, vm, vcpu;
};

static void bed_open(struct bed *b)
{
	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		cr_skip_test("/dev/kvm cannot be opened: %s", strerror(errno));
	if (ioctl(b->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(b->kvm);
		cr_skip_test("/dev/kvm is not a KVM of API version %d",
			     KVM_API_VERSION);
	}
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(b->vm, 0, "KVM_CREATE_VM: %s", strerror(errno));
	/* As vmm/vm/vm.c builds a VM. */
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t ident = 0xfffbc000;
	cr_assert_eq(ioctl(b->vm, KVM_SET_TSS_ADDR, 0xfffbd000), 0);
	cr_assert_eq(ioctl(b->vm, KVM_SET_IDENTITY_MAP_ADDR, &ident), 0);
	cr_assert_eq(ioctl(b->vm, KVM_CREATE_IRQCHIP, 0), 0);
	cr_assert_eq(ioctl(b->vm, KVM_CREATE_PIT2, &pit), 0);
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	cr_assert_geq(b->vcpu, 0, "KVM_CREATE_VCPU: %s", strerror(errno));

	struct kvm_cpuid2 *c;
	int r = x86_cpuid_fetch(b->kvm, KVM_GET_SUPPORTED_CPUID, &c);
	cr_assert_eq(r, 0, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_CPUID2, c), 0, "KVM_SET_CPUID2: %s",
		     strerror(errno));
	free(c);
}

static void bed_close(struct bed *b)
{
	close(b->vcpu);
	close(b->vm);
	close(b->kvm);
}

static void set_msr(int vcpu, uint32_t index, uint64_t data)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e = { .index = index, .data = data } };
	cr_assert_eq(ioctl(vcpu, KVM_SET_MSRS, &m), 1, "set MSR 0x%x", index);
}

static uint64_t get_msr(int vcpu, uint32_t index)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e = { .index = index } };
	cr_assert_eq(ioctl(vcpu, KVM_GET_MSRS, &m), 1, "get MSR 0x%x", index);
	return m.e.data;
}

/* Gives the first vCPU a state no fresh one has, and saves it. */
static void distinctive_vcpu_saved(struct bed *b, void **blob, size_t *len)
{
	struct kvm_regs regs = { .rip = 0x123456, .rax = 0xdeadbeefcafe,
				 .rsp = 0x8000, .rflags = 0x257 };
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_REGS, &regs), 0);
	struct kvm_sregs sregs;
	cr_assert_eq(ioctl(b->vcpu, KVM_GET_SREGS, &sregs), 0);
	sregs.cr2 = 0xabc000; /* cr0/cr4 stay the reset values */
	sregs.ds.base = 0x5000;
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_SREGS, &sregs), 0);
	/* xmm3 through XSAVE with XSTATE_BV.SSE set: KVM_SET_FPU alone leaves
	 * SSE "in init state", and XSAVE then reads zeroes. */
	struct kvm_xsave xs;
	cr_assert_eq(ioctl(b->vcpu, KVM_GET_XSAVE, &xs), 0);
	uint8_t *x = (uint8_t *)xs.region;
	memset(x + XSAVE_XMM0 + 3 * 16, 0x5a, 16);
	x[XSAVE_XSTATE_BV] |= XFEATURE_SSE;
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_XSAVE, &xs), 0);
	struct kvm_debugregs dr;
	cr_assert_eq(ioctl(b->vcpu, KVM_GET_DEBUGREGS, &dr), 0);
	dr.db[0] = 0x4000;
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_DEBUGREGS, &dr), 0);
	struct kvm_lapic_state lapic;
	cr_assert_eq(ioctl(b->vcpu, KVM_GET_LAPIC, &lapic), 0);
	lapic.regs[APIC_TPR] = 0x20;
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_LAPIC, &lapic), 0);
	set_msr(b->vcpu, MSR_KERNEL_GS_BASE, 0xffff888012345678ull);
	set_msr(b->vcpu, MSR_LSTAR, 0xffffffff81234560ull);
	struct kvm_mp_state mp = { KVM_MP_STATE_HALTED };
	cr_assert_eq(ioctl(b->vcpu, KVM_SET_MP_STATE, &mp), 0);

	char err[256] = "";
	cr_assert_eq(x86_vcpu_state_save(b->kvm, b->vcpu, blob, len, err,
					 sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(x86_vcpu_state_check(*blob, *len, err, sizeof(err)), 0,
		     "%s", err);
}

Test(x86_kvm_state, vcpu_round_trip_restores_registers_msrs_lapic_and_mp_state)
{
	struct bed a, b;
	void *blob;
	size_t len;
	char err[256] = "";

	bed_open(&a);
	distinctive_vcpu_saved(&a, &blob, &len);
	bed_open(&b);
	cr_assert_eq(x86_vcpu_state_restore(b.kvm, b.vcpu, blob, len, err,
					    sizeof(err)),
		     0, "%s", err);

	struct kvm_regs ra, rb;
	cr_assert_eq(ioctl(a.vcpu, KVM_GET_REGS, &ra), 0);
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_REGS, &rb), 0);
	cr_assert_eq(rb.rip, 0x123456);
	cr_assert_eq(rb.rax, 0xdeadbeefcafe);
	cr_assert_eq(rb.rflags, 0x257);
	cr_assert_arr_eq(&ra, &rb, sizeof(ra));
	struct kvm_sregs sa, sb;
	cr_assert_eq(ioctl(a.vcpu, KVM_GET_SREGS, &sa), 0);
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_SREGS, &sb), 0);
	cr_assert_eq(sb.cr2, 0xabc000);
	cr_assert_eq(sb.ds.base, 0x5000);
	cr_assert_arr_eq(&sa, &sb, sizeof(sa));
	struct kvm_fpu fb;
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_FPU, &fb), 0);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(fb.xmm[3][i], 0x5a, "xmm3 byte %d", i);
	struct kvm_debugregs db;
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_DEBUGREGS, &db), 0);
	cr_assert_eq(db.db[0], 0x4000);
	cr_assert_eq(get_msr(b.vcpu, MSR_LSTAR), 0xffffffff81234560ull);
	cr_assert_eq(get_msr(b.vcpu, MSR_KERNEL_GS_BASE), 0xffff888012345678ull);
	struct kvm_lapic_state la, lb;
	cr_assert_eq(ioctl(a.vcpu, KVM_GET_LAPIC, &la), 0);
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_LAPIC, &lb), 0);
	cr_assert_eq(lb.regs[APIC_TPR], 0x20);
	cr_assert_arr_eq(la.regs, lb.regs, sizeof(la.regs));
	struct kvm_mp_state mp;
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_MP_STATE, &mp), 0);
	cr_assert_eq(mp.mp_state, KVM_MP_STATE_HALTED);

	free(blob);
	bed_close(&a);
	bed_close(&b);
}

Test(x86_kvm_state, saved_blob_refuses_every_truncation)
{
	struct bed a;
	void *blob;
	size_t len;

	bed_open(&a);
	distinctive_vcpu_saved(&a, &blob, &len);
	for (size_t l = 0; l < len; l++)
		cr_assert_eq(x86_vcpu_state_check(blob, l, NULL, 0), -EINVAL,
			     "cut to %zu of %zu bytes", l, len);
	free(blob);
	bed_close(&a);
}

Test(x86_kvm_state, restore_of_a_bad_blob_changes_nothing)
{
	struct bed a, b;
	void *blob;
	size_t len;
	char err[256] = "";

	bed_open(&a);
	distinctive_vcpu_saved(&a, &blob, &len);
	bed_open(&b);
	struct kvm_regs before = { .rip = 0x777000, .rflags = 0x2 };
	cr_assert_eq(ioctl(b.vcpu, KVM_SET_REGS, &before), 0);

	/* The last part's length is wrong: everything before it is valid. */
	uint8_t *bad = malloc(len);
	memcpy(bad, blob, len);
	size_t off = find_part(bad, len, V_EVENTS);
	cr_assert_neq(off, 0);
	uint32_t wrong = sizeof(struct kvm_vcpu_events) + 1;
	memcpy(bad + off + 4, &wrong, 4);
	cr_assert_eq(x86_vcpu_state_restore(b.kvm, b.vcpu, bad, len, err,
					    sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "vcpu_events"), "error names the part: %s", err);
	cr_assert_eq(x86_vcpu_state_restore(b.kvm, b.vcpu, blob, len - 1, err,
					    sizeof(err)),
		     -EINVAL);

	struct kvm_regs after;
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_REGS, &after), 0);
	cr_assert_eq(after.rip, 0x777000, "regs untouched");
	struct kvm_mp_state mp;
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_MP_STATE, &mp), 0);
	cr_assert_eq(mp.mp_state, KVM_MP_STATE_RUNNABLE, "mp state untouched");
	free(bad);
	free(blob);
	bed_close(&a);
	bed_close(&b);
}

Test(x86_kvm_state, restore_names_an_msr_kvm_refuses)
{
	struct bed a, b;
	void *blob;
	size_t len;
	char err[256] = "";

	bed_open(&a);
	distinctive_vcpu_saved(&a, &blob, &len);
	uint8_t *p = blob;
	size_t off = find_part(p, len, V_MSRS);
	cr_assert_neq(off, 0);
	uint32_t count;
	memcpy(&count, p + off + 8, 4);
	cr_assert_gt(count, 0);
	/* No MSR lives at this index. */
	uint32_t index = 0x4b4d0fffu;
	memcpy(p + off + 8 + 8 + (count - 1) * sizeof(struct kvm_msr_entry),
	       &index, 4);
	bed_open(&b);
	cr_assert_lt(x86_vcpu_state_restore(b.kvm, b.vcpu, blob, len, err,
					    sizeof(err)),
		     0);
	cr_assert(strstr(err, "0x4b4d0fff"), "error names the MSR: %s", err);
	free(blob);
	bed_close(&a);
	bed_close(&b);
}

Test(x86_kvm_state, restore_goes_on_when_the_tsc_rate_cannot_be_matched)
{
	struct bed a, b;
	void *blob;
	size_t len;
	char err[256] = "";

	bed_open(&a);
	distinctive_vcpu_saved(&a, &blob, &len);
	uint8_t *p = blob;
	size_t off = find_part(p, len, V_TSC);
	cr_assert_neq(off, 0);
	uint32_t khz;
	memcpy(&khz, p + off + 8, 4);
	cr_assert_gt(khz, 0, "KVM_GET_TSC_KHZ saved");
	khz /= 2; /* below the host rate: refused without TSC scaling */
	memcpy(p + off + 8, &khz, 4);
	bed_open(&b);
	cr_assert_eq(x86_vcpu_state_restore(b.kvm, b.vcpu, blob, len, err,
					    sizeof(err)),
		     0, "%s", err);
	struct kvm_regs r;
	cr_assert_eq(ioctl(b.vcpu, KVM_GET_REGS, &r), 0);
	cr_assert_eq(r.rip, 0x123456);
	free(blob);
	bed_close(&a);
	bed_close(&b);
}

Test(x86_kvm_state, vm_round_trip_restores_ioapic_pit_and_clock)
{
	struct bed a, b;
	void *blob;
	size_t len;
	char err[256] = "";

	bed_open(&a);
	struct kvm_irqchip io = { .chip_id = KVM_IRQCHIP_IOAPIC };
	cr_assert_eq(ioctl(a.vm, KVM_GET_IRQCHIP, &io), 0);
	/* Pin 5: vector 0x35, level-triggered, masked. */
	io.chip.ioapic.redirtbl[5].bits = 0x35 | 1ull << 15 | 1ull << 16 |
					  0x01ull << 56;
	cr_assert_eq(ioctl(a.vm, KVM_SET_IRQCHIP, &io), 0);
	struct kvm_irqchip pic = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	cr_assert_eq(ioctl(a.vm, KVM_GET_IRQCHIP, &pic), 0);
	pic.chip.pic.imr = 0xa5;
	cr_assert_eq(ioctl(a.vm, KVM_SET_IRQCHIP, &pic), 0);
	struct kvm_pit_state2 pit;
	cr_assert_eq(ioctl(a.vm, KVM_GET_PIT2, &pit), 0);
	pit.channels[0].count = 0x1234;
	pit.channels[0].mode = 2;
	cr_assert_eq(ioctl(a.vm, KVM_SET_PIT2, &pit), 0);
	struct kvm_clock_data clock = { .clock = 1000000000000ull };
	cr_assert_eq(ioctl(a.vm, KVM_SET_CLOCK, &clock), 0);

	cr_assert_eq(x86_vm_state_save(a.vm, &blob, &len, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(x86_vm_state_check(blob, len, err, sizeof(err)), 0, "%s",
		     err);
	for (size_t l = 0; l < len; l++)
		cr_assert_eq(x86_vm_state_check(blob, l, NULL, 0), -EINVAL,
			     "cut to %zu", l);
	bed_open(&b);
	cr_assert_eq(x86_vm_state_restore(b.vm, blob, len, err, sizeof(err)), 0,
		     "%s", err);

	struct kvm_irqchip got = { .chip_id = KVM_IRQCHIP_IOAPIC };
	cr_assert_eq(ioctl(b.vm, KVM_GET_IRQCHIP, &got), 0);
	cr_assert_eq(got.chip.ioapic.redirtbl[5].bits,
		     io.chip.ioapic.redirtbl[5].bits);
	pic = (struct kvm_irqchip){ .chip_id = KVM_IRQCHIP_PIC_MASTER };
	cr_assert_eq(ioctl(b.vm, KVM_GET_IRQCHIP, &pic), 0);
	cr_assert_eq(pic.chip.pic.imr, 0xa5);
	/* The slave whole: the master's IRR follows the running PIT. */
	struct kvm_irqchip sa = { .chip_id = KVM_IRQCHIP_PIC_SLAVE },
			   sb = { .chip_id = KVM_IRQCHIP_PIC_SLAVE };
	cr_assert_eq(ioctl(a.vm, KVM_GET_IRQCHIP, &sa), 0);
	cr_assert_eq(ioctl(b.vm, KVM_GET_IRQCHIP, &sb), 0);
	cr_assert_arr_eq(&sa.chip.pic, &sb.chip.pic, sizeof(sa.chip.pic));
	struct kvm_pit_state2 pgot;
	cr_assert_eq(ioctl(b.vm, KVM_GET_PIT2, &pgot), 0);
	cr_assert_eq(pgot.channels[0].count, 0x1234);
	cr_assert_eq(pgot.channels[0].mode, 2);
	struct kvm_clock_data cgot;
	cr_assert_eq(ioctl(b.vm, KVM_GET_CLOCK, &cgot), 0);
	/* The saved value plus the few ms the test took, not a new VM's ~0. */
	cr_assert_geq(cgot.clock, 1000000000000ull);
	cr_assert_lt(cgot.clock, 1000000000000ull + 60000000000ull);

	free(blob);
	bed_close(&a);
	bed_close(&b);
}
