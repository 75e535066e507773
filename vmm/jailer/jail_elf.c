/* The files a dynamically linked exec file needs inside the jail: its
 * loader (PT_INTERP) and the DT_NEEDED closure, found where the loader looks
 * when it has no ld.so.cache (the jail has none). Firecracker's jailer
 * expects a static binary; mvmm links Debian's shared libraries.
 *
 * The files read are the operator's exec file and the host's libraries, but
 * every offset and size is still checked before use. */
#include "jailer/jailer.h"

#include <core/err.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_MACHINE EM_X86_64
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define NATIVE_MACHINE EM_AARCH64
#define MULTIARCH "aarch64-linux-gnu"
#else
#error "jail_elf: unknown architecture"
#endif

/* The loader's built-in search path on Debian, in its order. */
static const char *const lib_dirs[] = {
	"/lib/" MULTIARCH, "/usr/lib/" MULTIARCH, "/lib", "/usr/lib",
};

#define MAX_PHDRS 64
#define MAX_DYN_BYTES (64u << 10)
#define MAX_STRTAB_BYTES (1u << 20)

static int read_at(int fd, void *buf, size_t len, uint64_t off, uint64_t size)
{
	if (off > size || len > size - off)
		return -EINVAL;
	ssize_t n = pread(fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* File offset of [vaddr, vaddr + len) in a PT_LOAD segment's file bytes. */
static int vaddr_to_off(const Elf64_Phdr *ph, unsigned n, uint64_t vaddr,
			uint64_t len, uint64_t *off)
{
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD || vaddr < ph[i].p_vaddr)
			continue;
		uint64_t rel = vaddr - ph[i].p_vaddr;
		if (rel <= ph[i].p_filesz && len <= ph[i].p_filesz - rel) {
			*off = ph[i].p_offset + rel;
			return 0;
		}
	}
	return -EINVAL;
}

struct elf_info {
	char interp[PATH_MAX]; /* "" when static */
	char *strtab;          /* DT_STRTAB, NUL-terminated copy */
	uint64_t strsz;
	uint64_t needed[JAIL_ELF_MAX_DEPS]; /* DT_NEEDED offsets in strtab */
	unsigned nr_needed;
};

/* The file being read, with its ELF and program headers. */
struct elf_file {
	int fd;
	uint64_t size;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];
};

/* The ELF and program headers; PT_INTERP into e->interp, PT_DYNAMIC's
 * header into *dyn_ph (NULL for a static file). */
static int elf_read_phdrs(struct elf_file *f, struct elf_info *e,
			  const Elf64_Phdr **dyn_ph)
{
	const Elf64_Ehdr *eh = &f->eh;
	*dyn_ph = NULL;
	if (read_at(f->fd, &f->eh, sizeof(f->eh), 0, f->size))
		return -ENOEXEC; /* too short for an ELF header */
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != NATIVE_MACHINE ||
	    (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum > MAX_PHDRS)
		return -ENOEXEC;
	int r = read_at(f->fd, f->ph, eh->e_phnum * sizeof(f->ph[0]),
			eh->e_phoff, f->size);
	for (unsigned i = 0; i < eh->e_phnum && !r; i++) {
		const Elf64_Phdr *ph = &f->ph[i];
		if (ph->p_type == PT_DYNAMIC)
			*dyn_ph = ph;
		if (ph->p_type != PT_INTERP)
			continue;
		if (ph->p_filesz < 2 || ph->p_filesz > sizeof(e->interp))
			r = -ENOEXEC;
		else if (!(r = read_at(f->fd, e->interp, ph->p_filesz,
				       ph->p_offset, f->size)))
			e->interp[ph->p_filesz - 1] = 0;
		if (!r && e->interp[0] != '/')
			r = -ENOEXEC;
	}
	return r;
}

/* The dynamic section: DT_STRTAB's address into *strtab (0 if none),
 * DT_STRSZ and the DT_NEEDED offsets into e. */
static int elf_read_dynamic(const struct elf_file *f, const Elf64_Phdr *dyn_ph,
			    struct elf_info *e, uint64_t *strtab)
{
	if (dyn_ph->p_filesz > MAX_DYN_BYTES)
		return -E2BIG;
	unsigned ndyn = (unsigned)(dyn_ph->p_filesz / sizeof(Elf64_Dyn));
	Elf64_Dyn *dyn = malloc(ndyn * sizeof(*dyn) + 1);
	if (!dyn)
		return -ENOMEM;
	int r = read_at(f->fd, dyn, ndyn * sizeof(*dyn), dyn_ph->p_offset,
			f->size);
	for (unsigned i = 0; !r && i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			*strtab = dyn[i].d_un.d_ptr;
		else if (dyn[i].d_tag == DT_STRSZ)
			e->strsz = dyn[i].d_un.d_val;
		else if (dyn[i].d_tag == DT_NEEDED &&
			 e->nr_needed == JAIL_ELF_MAX_DEPS)
			r = -E2BIG;
		else if (dyn[i].d_tag == DT_NEEDED)
			e->needed[e->nr_needed++] = dyn[i].d_un.d_val;
	}
	free(dyn);
	return r;
}

/* The string table the DT_NEEDED offsets point into, NUL-terminated. */
static int elf_read_strtab(const struct elf_file *f, struct elf_info *e,
			   uint64_t strtab)
{
	uint64_t off;
	if (!strtab || e->strsz == 0 || e->strsz > MAX_STRTAB_BYTES ||
	    vaddr_to_off(f->ph, f->eh.e_phnum, strtab, e->strsz, &off))
		return -ENOEXEC;
	e->strtab = malloc(e->strsz + 1);
	if (!e->strtab)
		return -ENOMEM;
	int r = read_at(f->fd, e->strtab, e->strsz, off, f->size);
	if (r)
		return r;
	e->strtab[e->strsz] = 0;
	for (unsigned i = 0; i < e->nr_needed; i++)
		if (e->needed[i] >= e->strsz)
			return -ENOEXEC;
	return 0;
}

/* Reads the headers, PT_INTERP and the dynamic section of path. */
static int elf_read(const char *path, struct elf_info *e, char *err,
		    size_t errlen)
{
	struct elf_file f;
	struct stat st;
	const Elf64_Phdr *dyn_ph = NULL;
	uint64_t strtab = 0;

	memset(e, 0, sizeof(*e));
	f.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f.fd < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	int r = fstat(f.fd, &st) < 0 ? -errno : 0;
	f.size = r ? 0 : (uint64_t)st.st_size;
	if (!r)
		r = elf_read_phdrs(&f, e, &dyn_ph);
	if (!r && dyn_ph) /* none: static, nothing needed */
		r = elf_read_dynamic(&f, dyn_ph, e, &strtab);
	if (!r && e->nr_needed)
		r = elf_read_strtab(&f, e, strtab);
	close(f.fd);
	if (r) {
		free(e->strtab);
		e->strtab = NULL;
		return err_set(err, errlen, r, "%s: %s", path,
			    r == -ENOEXEC ? "not a readable ELF file for this machine"
					  : strerror(-r));
	}
	return 0;
}

static bool have(const struct jail_elf_deps *d, const char *path)
{
	for (unsigned i = 0; i < d->n; i++)
		if (!strcmp(d->paths[i], path))
			return true;
	return false;
}

static int add(struct jail_elf_deps *d, const char *path)
{
	if (have(d, path))
		return 0;
	if (d->n == JAIL_ELF_MAX_DEPS)
		return -E2BIG;
	if (!(d->paths[d->n] = strdup(path)))
		return -ENOMEM;
	d->n++;
	return 1;
}

/* A library name from DT_NEEDED, found in the loader's directories. */
static int resolve(const char *name, char *out, size_t outlen)
{
	if (!*name || strchr(name, '/'))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		struct stat st;
		if (snprintf(out, outlen, "%s/%s", lib_dirs[i], name) >= (int)outlen)
			return -ENAMETOOLONG;
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
	}
	return -ENOENT;
}

int jail_elf_deps(const char *path, struct jail_elf_deps *d, char *err,
		  size_t errlen)
{
	memset(d, 0, sizeof(*d));
	struct elf_info e;
	int r = elf_read(path, &e, err, errlen);
	if (r || !e.interp[0]) {
		free(e.strtab);
		return r;
	}
	if ((r = add(d, e.interp)) < 0)
		goto fail;
	/* Breadth first over the libraries; d grows as we go. */
	const char *cur = path;
	for (unsigned next = 1;;) {
		for (unsigned i = 0; i < e.nr_needed; i++) {
			char lib[PATH_MAX];
			const char *name = e.strtab + e.needed[i];
			if ((r = resolve(name, lib, sizeof(lib)))) {
				err_set(err, errlen, r, "%s needs %s: %s", cur, name,
				     r == -ENOENT ? "not found in the system library directories"
						  : "not a plain library name");
				goto fail_quiet;
			}
			if ((r = add(d, lib)) < 0)
				goto fail;
		}
		free(e.strtab);
		e.strtab = NULL;
		if (next == d->n)
			return 0;
		cur = d->paths[next++];
		if ((r = elf_read(cur, &e, err, errlen)))
			goto fail_quiet;
	}
fail:
	err_set(err, errlen, r, "%s: libraries: %s", path, strerror(-r));
fail_quiet:
	free(e.strtab);
	jail_elf_deps_free(d);
	return r;
}

void jail_elf_deps_free(struct jail_elf_deps *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->paths[i]);
	d->n = 0;
}
