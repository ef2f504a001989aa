/*
 * symbolize.c — function names for addresses, from the ELF symbol tables
 * of the files that mapped them.
 *
 * dladdr() only knows exported symbols; this reads .symtab (all functions,
 * static ones included, when the file is not stripped) and falls back to
 * .dynsym. A file is read once: its function symbols are sorted by address
 * and kept in a small cache keyed by path. Lookups take a file-relative
 * virtual address (what `addr2line -e FILE` takes), so the same code names
 * addresses in this process (through dl_iterate_phdr's load bias) and in a
 * profile read from disk (through its mappings).
 *
 * Locking: one mutex around the cache; lookups are rare (reports).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/guard.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/stacks.h"
#include "snapshot/symbolize.h"

#if WARD_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdwfl.h>

/*
 * libdw is opened on first use, not linked: a program that never names a
 * source line does not load it and the five libraries it needs (~0.5 ms
 * at every start), and a machine without it still gets function names.
 */
#define DW_FUNCTIONS(X)                                                       \
	X(dwfl_begin) X(dwfl_end) X(dwfl_report_offline) X(dwfl_report_end)  \
	X(dwfl_module_getelf) X(dwfl_module_getsrc) X(dwfl_lineinfo)         \
	X(dwfl_module_addrdie) X(dwfl_standard_find_debuginfo)               \
	X(dwfl_offline_section_address) X(dwarf_getscopes)                   \
	X(dwarf_getscopes_die) X(dwarf_getsrcfiles) X(dwarf_tag)             \
	X(dwarf_diename) X(dwarf_attr) X(dwarf_formudata) X(dwarf_filesrc)   \
	X(dwfl_module_getdwarf) X(dwarf_get_units) X(dwarf_haspc)            \
	X(dwarf_getsrc_die) X(dwarf_lineno) X(dwarf_linesrc)

static struct {
#define X(f) __typeof__(&f) f;
	DW_FUNCTIONS(X)
#undef X
} dw;
#endif

struct sym {
	uint64_t addr, size;
	const char *name; /* into the file's string table copy */
};

struct elf_syms {
	char path[512];
	bool regular; /* path was a regular file: the only kind ever read */
#if WARD_HAVE_LIBDW
	Dwfl *dwfl;         /* debug info, opened on first use; */
	Dwfl_Module *mod;   /* NULL when the file has none */
	GElf_Addr bias;
	bool dwfl_tried;
	Dwarf_Die last_cu; /* the unit cu_at() found last, when have_cu */
	Dwarf_Addr last_cu_bias;
	bool have_cu;
#endif
	struct sym *syms; /* functions */
	size_t n;
	struct sym *objs; /* data objects (globals, statics), sized */
	size_t nobjs;
	char *strings;
	/* PT_LOAD segments, to turn file offsets into virtual addresses. */
	struct {
		uint64_t vaddr, offset, filesz;
	} loads[16];
	int nloads;
	char build_id[80]; /* hex of its GNU build id note; "" when none */
	char warned[80];   /* the profile's build id a mismatch was told for */
	bool ok;
};

enum { CACHE = 64 };
static struct elf_syms *cache[CACHE];
static int ncache;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int by_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Read the function symbols of one table (symtab or dynsym). */
static void take_table(struct elf_syms *e, const uint8_t *base, size_t size,
		       const Elf64_Shdr *sh, const Elf64_Shdr *strsh)
{
	if (sh->sh_offset + sh->sh_size > size ||
	    strsh->sh_offset + strsh->sh_size > size || sh->sh_entsize == 0)
		return;
	size_t count = sh->sh_size / sh->sh_entsize;
	char *strings = malloc(strsh->sh_size + 1);
	struct sym *syms = malloc((count + 1) * sizeof(*syms));
	struct sym *objs = malloc((count + 1) * sizeof(*objs));
	if (!strings || !syms || !objs) {
		free(strings);
		free(syms);
		free(objs);
		return;
	}
	memcpy(strings, base + strsh->sh_offset, strsh->sh_size);
	strings[strsh->sh_size] = '\0';
	/* "__libc_start_main@GLIBC_2.2.5": a symbol version is no part of
	 * the function's name. */
	for (char *at = strings; (at = memchr(at, '@', strsh->sh_size -
						      (size_t)(at - strings)));)
		*at++ = '\0';
	size_t n = 0, nobjs = 0;
	for (size_t i = 0; i < count; i++) {
		const Elf64_Sym *s =
			(const Elf64_Sym *)(base + sh->sh_offset + i * sh->sh_entsize);
		int type = ELF64_ST_TYPE(s->st_info);
		/* An undefined function may have a value too: in an
		 * executable built without PIE that takes its address, its
		 * PLT entry's (canonical). No code of this file is it, and
		 * unsized, it would name every function after it. */
		if (s->st_value == 0 || s->st_shndx == SHN_UNDEF ||
		    s->st_name >= strsh->sh_size)
			continue;
		if (type == STT_FUNC)
			syms[n++] = (struct sym){ s->st_value, s->st_size,
						  strings + s->st_name };
		else if (type == STT_OBJECT && s->st_size)
			objs[nobjs++] = (struct sym){ s->st_value, s->st_size,
						      strings + s->st_name };
	}
	qsort(syms, n, sizeof(*syms), by_addr);
	qsort(objs, nobjs, sizeof(*objs), by_addr);
	free(e->syms);
	free(e->objs);
	free(e->strings);
	e->syms = syms;
	e->n = n;
	e->objs = objs;
	e->nobjs = nobjs;
	e->strings = strings;
}

bool ward__note_build_id(const uint8_t *p, size_t len, char *out,
			 size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	while (len >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)p;
		size_t name = (nh->n_namesz + 3) & ~(size_t)3;
		size_t desc = (nh->n_descsz + 3) & ~(size_t)3;
		if (name > len - sizeof(*nh) || desc > len - sizeof(*nh) - name)
			return false;
		const uint8_t *d = p + sizeof(*nh) + name;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    memcmp(p + sizeof(*nh), "GNU", 4) == 0) {
			size_t k = 0;
			for (size_t i = 0; i < nh->n_descsz && k + 2 < outlen; i++) {
				out[k++] = digits[d[i] >> 4];
				out[k++] = digits[d[i] & 15];
			}
			out[k] = '\0';
			return true;
		}
		p += sizeof(*nh) + name + desc;
		len -= sizeof(*nh) + name + desc;
	}
	return false;
}

/*
 * A regular file mapped read-only if it is a 64-bit ELF file whose tables
 * lie inside it; NULL otherwise. A profile may name anything as a
 * mapping's file: a FIFO or a device would block or never end, so the
 * file is opened without blocking and only a regular one is read.
 */
static const uint8_t *map_elf(const char *path, size_t *size, bool *regular)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return NULL;
	}
	if (regular)
		*regular = true;
	*size = (size_t)st.st_size;
	const uint8_t *base = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return NULL;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > *size ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > *size) {
		munmap((void *)base, *size);
		return NULL;
	}
	return base;
}

/* The symbol table of a type (SHT_SYMTAB, SHT_DYNSYM) of a mapped file,
 * whose string table index is valid; NULL when none. */
static const Elf64_Shdr *table_of(const uint8_t *base, uint32_t type)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == type && sh[i].sh_link < eh->e_shnum)
			return &sh[i];
	return NULL;
}

/* A symbol table of a mapped file and its strings, checked to lie inside
 * it (size bytes): how many symbols, 0 when it does not. */
struct symtab {
	const uint8_t *syms;
	size_t entsize;
	const char *strings;
	size_t nstrings;
};

static size_t symtab_of(const uint8_t *base, size_t size, const Elf64_Shdr *sh,
			struct symtab *t)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *strsh =
		(const Elf64_Shdr *)(base + eh->e_shoff) + sh->sh_link;
	if (sh->sh_offset + sh->sh_size > size || sh->sh_entsize == 0 ||
	    strsh->sh_offset + strsh->sh_size > size)
		return 0;
	t->syms = base + sh->sh_offset;
	t->entsize = sh->sh_entsize;
	t->strings = (const char *)base + strsh->sh_offset;
	t->nstrings = strsh->sh_size;
	return sh->sh_size / sh->sh_entsize;
}

static const Elf64_Sym *symtab_at(const struct symtab *t, size_t i)
{
	return (const Elf64_Sym *)(t->syms + i * t->entsize);
}

static void take(struct elf_syms *e, const uint8_t *base, size_t size,
		 const Elf64_Shdr *table)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	take_table(e, base, size, table, &sh[table->sh_link]);
}

/*
 * A stripped file's complete symbol table from its separate debug file,
 * found by build id (libc6-dbg's for the C library: its static functions,
 * __libc_start_call_main and the like, have no name otherwise). Only where
 * separate debug files are wanted (the ward command).
 */
static void take_debug_file_table(struct elf_syms *e)
{
	char path[160];
	size_t size;
	if (!ward__separate_debuginfo || strlen(e->build_id) < 4)
		return;
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		 e->build_id, e->build_id + 2);
	const uint8_t *base = map_elf(path, &size, NULL);
	if (!base)
		return;
	const Elf64_Shdr *full = table_of(base, SHT_SYMTAB);
	if (full)
		take(e, base, size, full);
	munmap((void *)base, size);
}

static void load(struct elf_syms *e)
{
	size_t size;
	const uint8_t *base = map_elf(e->path, &size, &e->regular);
	if (!base)
		return;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_NOTE && ph[i].p_offset <= size &&
		    ph[i].p_filesz <= size - ph[i].p_offset)
			ward__note_build_id(base + ph[i].p_offset, ph[i].p_filesz,
					    e->build_id, sizeof(e->build_id));
	for (int i = 0; i < eh->e_phnum && e->nloads < 16; i++)
		if (ph[i].p_type == PT_LOAD) {
			e->loads[e->nloads].vaddr = ph[i].p_vaddr;
			e->loads[e->nloads].offset = ph[i].p_offset;
			e->loads[e->nloads].filesz = ph[i].p_filesz;
			e->nloads++;
		}
	const Elf64_Shdr *dyn = table_of(base, SHT_DYNSYM);
	const Elf64_Shdr *full = table_of(base, SHT_SYMTAB);
	if (dyn)
		take(e, base, size, dyn);
	if (full) /* a complete table replaces the exported one */
		take(e, base, size, full);
	munmap((void *)base, size);
	if (!full)
		take_debug_file_table(e);
	e->ok = true;
}

static struct elf_syms *get(const char *path)
{
	for (int i = 0; i < ncache; i++)
		if (strcmp(cache[i]->path, path) == 0)
			return cache[i];
	struct elf_syms *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->path, sizeof(e->path), "%s", path);
	load(e);
	if (ncache == CACHE) { /* forget the oldest */
		free(cache[0]->syms);
		free(cache[0]->objs);
		free(cache[0]->strings);
#if WARD_HAVE_LIBDW
		if (cache[0]->dwfl)
			dw.dwfl_end(cache[0]->dwfl);
#endif
		free(cache[0]);
		memmove(cache, cache + 1, (CACHE - 1) * sizeof(*cache));
		ncache--;
	}
	cache[ncache++] = e;
	return e;
}

static const struct sym *find_in(const struct sym *syms, size_t n,
				 uint64_t vaddr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct sym *s = &syms[lo - 1];
	/* Sized symbols must contain the address; unsized ones are trusted
	 * up to the next symbol. */
	if (s->size && vaddr >= s->addr + s->size)
		return NULL;
	return s;
}

static const struct sym *find(const struct elf_syms *e, uint64_t vaddr)
{
	return find_in(e->syms, e->n, vaddr);
}

/* The function (or, with data, the variable) at vaddr of path: 0,
 * -ESRCH when no symbol covers it, -ENOENT when the file cannot be read. */
static int lookup(const char *path, uint64_t vaddr, bool data, char *name,
		  size_t len, uint64_t *offset)
{
	int rc = -ESRCH; /* the file is known; no symbol covers vaddr */
	ward__mutex_lock(&lock);
	ward__guard_raise();
	struct elf_syms *e = get(path);
	if (!e || !e->ok)
		rc = -ENOENT;
	const struct sym *s = NULL;
	if (e && e->ok)
		s = data ? find_in(e->objs, e->nobjs, vaddr) : find(e, vaddr);
	if (s) {
		snprintf(name, len, "%s", s->name);
		if (offset)
			*offset = vaddr - s->addr;
		rc = 0;
	}
	ward__guard_lower();
	ward__mutex_unlock(&lock);
	return rc;
}

int ward__symbolize_vaddr(const char *path, uint64_t vaddr, char *name,
			  size_t len, uint64_t *offset)
{
	int rc = lookup(path, vaddr, false, name, len, offset);
	if (rc == 0) {
		ward__guard_raise();
		ward__demangle(name, len);
		ward__guard_lower();
	}
	return rc;
}

int ward__offset_to_vaddr(const char *path, uint64_t file_offset,
			  uint64_t *vaddr)
{
	int rc = -ENOENT;
	ward__mutex_lock(&lock);
	ward__guard_raise();
	struct elf_syms *e = get(path);
	for (int i = 0; e && i < e->nloads; i++)
		if (file_offset >= e->loads[i].offset &&
		    file_offset < e->loads[i].offset + e->loads[i].filesz) {
			*vaddr = file_offset - e->loads[i].offset +
				 e->loads[i].vaddr;
			rc = 0;
			break;
		}
	ward__guard_lower();
	ward__mutex_unlock(&lock);
	return rc;
}

int ward__symbolize_offset(const char *path, uint64_t file_offset,
			   char *name, size_t len, uint64_t *offset)
{
	ward__mutex_lock(&lock);
	ward__guard_raise();
	struct elf_syms *e = get(path);
	uint64_t vaddr = file_offset;
	bool found = false;
	for (int i = 0; e && i < e->nloads; i++)
		if (file_offset >= e->loads[i].offset &&
		    file_offset < e->loads[i].offset + e->loads[i].filesz) {
			vaddr = file_offset - e->loads[i].offset + e->loads[i].vaddr;
			found = true;
			break;
		}
	ward__guard_lower();
	ward__mutex_unlock(&lock);
	if (!found)
		return -ENOENT;
	return ward__symbolize_vaddr(path, vaddr, name, len, offset);
}

int ward__check_build_id(const char *path, const char *want)
{
	int rc = 0;
	if (!want || !want[0])
		return 0;
	ward__mutex_lock(&lock);
	ward__guard_raise();
	struct elf_syms *e = get(path);
	bool tell = false;
	char have[80];
	if (e && e->ok && strcasecmp(e->build_id, want) != 0) {
		rc = -ESTALE;
		tell = strcmp(e->warned, want) != 0;
		snprintf(e->warned, sizeof(e->warned), "%s", want);
		snprintf(have, sizeof(have), "%s", e->build_id[0] ? e->build_id
								  : "none");
	}
	ward__guard_lower();
	ward__mutex_unlock(&lock);
	if (tell)
		ward__log(WARD_LOG_WARN,
			  "ward: %s is not the file the profile was written "
			  "from (build id %s, the profile's %s): its frames "
			  "are left unnamed\n", path, have, want);
	return rc;
}

/* ---- Source lines, from DWARF debug info --------------------------------- */

bool ward__separate_debuginfo;

#if WARD_HAVE_LIBDW
/*
 * In a traced process the report must be quick: only debug info inside the
 * binary itself is read. Separate debug files (libc6-dbg's, found by build
 * id) are large and compressed — reading them cost ~80 ms at every exit —
 * so only the ward command, reading a profile offline, looks for them.
 */
static int embedded_only(Dwfl_Module *mod, void **user, const char *name,
			 Dwarf_Addr base, const char *file, const char *link,
			 GElf_Word crc, char **found)
{
	(void)mod; (void)user; (void)name; (void)base; (void)file;
	(void)link; (void)crc; (void)found;
	return -1;
}

static Dwfl_Callbacks embedded_callbacks = { .find_debuginfo = embedded_only };
static Dwfl_Callbacks separate_callbacks;

/* Under lock. */
static bool dw_open(void)
{
	static int state; /* 0 untried, 1 open, -1 missing */
	if (state)
		return state > 0;
	state = -1;
	void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return false;
#define X(f)                                                                  \
	{                                                                     \
		void *sym = dlsym(h, #f);                                     \
		if (!sym)                                                     \
			return false;                                         \
		memcpy(&dw.f, &sym, sizeof(sym));                             \
	}
	DW_FUNCTIONS(X)
#undef X
	embedded_callbacks.section_address = dw.dwfl_offline_section_address;
	separate_callbacks.find_debuginfo = dw.dwfl_standard_find_debuginfo;
	separate_callbacks.section_address = dw.dwfl_offline_section_address;
	state = 1;
	return true;
}
#endif

#if WARD_HAVE_LIBDW
/* The debug info of e's file, opened on first use; NULL without. Under
 * lock. */
static Dwfl_Module *module_of(struct elf_syms *e, GElf_Addr *bias)
{
	const char *path = e ? e->path : NULL;
	if (e && e->regular && !e->dwfl_tried && dw_open()) {
		e->dwfl_tried = true;
		e->dwfl = dw.dwfl_begin(ward__separate_debuginfo
					     ? &separate_callbacks
					     : &embedded_callbacks);
		if (e->dwfl) {
			e->mod = dw.dwfl_report_offline(e->dwfl, path, path, -1);
			dw.dwfl_report_end(e->dwfl, NULL, NULL);
			if (e->mod && !dw.dwfl_module_getelf(e->mod, &e->bias))
				e->mod = NULL;
		}
	}
	if (!e || !e->mod)
		return NULL;
	*bias = e->bias;
	return e->mod;
}

static void base_name(char *out, size_t len, const char *path)
{
	const char *base = path ? strrchr(path, '/') : NULL;
	snprintf(out, len, "%s", base ? base + 1 : path ? path : "");
}

/*
 * The compilation unit whose code holds addr. libdw finds it through
 * .debug_aranges, which clang does not write: libdw before 0.191 then
 * finds none, and a clang-built program's frames had no source lines.
 * Without it, the units are asked one by one (their DW_AT_ranges read
 * whatever the form), the last one found asked first.
 */
static Dwarf_Die *cu_at(struct elf_syms *e, Dwfl_Module *mod, Dwarf_Addr addr,
			Dwarf_Addr *cu_bias)
{
	Dwarf_Die *cu = dw.dwfl_module_addrdie(mod, addr, cu_bias);
	if (cu)
		return cu;
	if (e->have_cu &&
	    dw.dwarf_haspc(&e->last_cu, addr - e->last_cu_bias) > 0) {
		*cu_bias = e->last_cu_bias;
		return &e->last_cu;
	}
	Dwarf_Addr bias;
	Dwarf *dbg = dw.dwfl_module_getdwarf(mod, &bias);
	Dwarf_CU *unit = NULL;
	Dwarf_Die die;
	uint8_t type;
	while (dbg && dw.dwarf_get_units(dbg, unit, &unit, NULL, &type, &die,
					 NULL) == 0) {
		if ((type == DW_UT_compile || type == DW_UT_partial ||
		     type == DW_UT_skeleton) &&
		    dw.dwarf_haspc(&die, addr - bias) > 0) {
			e->last_cu = die;
			e->last_cu_bias = bias;
			e->have_cu = true;
			*cu_bias = bias;
			return &e->last_cu;
		}
	}
	return NULL;
}

/*
 * Walk out from the innermost scope at addr: each inlined subroutine is a
 * frame positioned where execution is in it (the address's line for the
 * first, the call site of the one inside it for the others); the
 * subprogram that contains them all ends the list.
 */
static int inline_chain(struct elf_syms *e, Dwfl_Module *mod, Dwarf_Addr addr,
			struct ward__src_frame *out, int max, const char *file,
			int line)
{
	Dwarf_Addr cu_bias;
	Dwarf_Die *cu = cu_at(e, mod, addr, &cu_bias);
	Dwarf_Die *scopes = NULL;
	int nscopes = cu ? dw.dwarf_getscopes(cu, addr - cu_bias, &scopes) : 0;
	/* dwarf_getscopes() follows an inlined instance to its abstract
	 * definition; the scopes that hold the instance itself are what
	 * shows where it was inlined. */
	if (nscopes > 0) {
		Dwarf_Die innermost = scopes[0];
		free(scopes);
		scopes = NULL;
		nscopes = dw.dwarf_getscopes_die(&innermost, &scopes);
	}
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	int n = 0;

	if (cu && dw.dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	for (int i = 0; i < nscopes && n < max; i++) {
		int tag = dw.dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		const char *name = dw.dwarf_diename(&scopes[i]);
		struct ward__src_frame *f = &out[n++];
		snprintf(f->func, sizeof(f->func), "%s", name ? name : "");
		base_name(f->file, sizeof(f->file), file);
		f->line = line;
		if (tag == DW_TAG_subprogram)
			break;
		/* Where this one was inlined: the next frame's position. */
		Dwarf_Attribute attr;
		Dwarf_Word cf = 0, cl = 0;
		if (dw.dwarf_formudata(dw.dwarf_attr(&scopes[i],
						     DW_AT_call_file, &attr),
				       &cf) != 0 ||
		    dw.dwarf_formudata(dw.dwarf_attr(&scopes[i],
						     DW_AT_call_line, &attr),
				       &cl) != 0)
			cl = 0;
		file = files && cf < nfiles
			       ? dw.dwarf_filesrc(files, cf, NULL, NULL)
			       : NULL;
		line = (int)cl;
	}
	free(scopes);
	return n;
}
#endif

#if WARD_HAVE_LIBDW
/* What libdw says of one address: on a stack with room for it
 * (ward__deep), since reading a line table takes 150 KiB and more. */
struct source_lookup {
	struct elf_syms *e;
	uint64_t vaddr;
	struct ward__src_frame *out;
	int max;
	int rc;
};

static void look_up_source(void *arg)
{
	struct source_lookup *l = arg;
	GElf_Addr bias;
	l->rc = -ENOENT;
	Dwfl_Module *mod = module_of(l->e, &bias);
	Dwfl_Line *ln = mod ? dw.dwfl_module_getsrc(mod, l->vaddr + bias) : NULL;
	int lineno = 0;
	const char *src = ln ? dw.dwfl_lineinfo(ln, NULL, &lineno, NULL, NULL,
					     NULL)
			     : NULL;
	Dwarf_Addr cu_bias;
	Dwarf_Die *cu;
	Dwarf_Line *dl;
	if (!src && mod && (cu = cu_at(l->e, mod, l->vaddr + bias, &cu_bias)) &&
	    (dl = dw.dwarf_getsrc_die(cu, l->vaddr + bias - cu_bias)) &&
	    dw.dwarf_lineno(dl, &lineno) == 0)
		src = dw.dwarf_linesrc(dl, NULL, NULL);
	if (src && lineno > 0) {
		l->rc = inline_chain(l->e, mod, l->vaddr + bias, l->out, l->max,
				     src, lineno);
		if (l->rc <= 0) { /* no scopes: the line alone */
			l->out[0].func[0] = '\0';
			base_name(l->out[0].file, sizeof(l->out[0].file), src);
			l->out[0].line = lineno;
			l->rc = 1;
		}
	}
}
#endif

int ward__source_frames(const char *path, uint64_t vaddr,
			struct ward__src_frame *out, int max)
{
#if WARD_HAVE_LIBDW
	int rc;

	if (max < 1)
		return -EINVAL;
	ward__mutex_lock(&lock);
	ward__guard_raise();
	/* Known from an earlier run: no debug information opened. */
	struct elf_syms *e = get(path);
	const char *build_id = e && e->regular ? e->build_id : "";
	if ((rc = ward__symcache_get(build_id, vaddr, out, max)) == -EAGAIN) {
		struct source_lookup l = { e, vaddr, out, max, -ENOENT };
		ward__deep(look_up_source, &l);
		rc = l.rc;
		ward__symcache_put(build_id, vaddr, out, rc > 0 ? rc : 0);
	}
	ward__guard_lower();
	ward__mutex_unlock(&lock);
	return rc;
#else
	(void)path;
	(void)vaddr;
	(void)out;
	(void)max;
	return -ENOSYS;
#endif
}

/* ---- Objects unloaded by dlclose() -------------------------------------- */

/*
 * Before dlclose() unmaps a library, ward remembers where it was and reads
 * its symbols, so stacks through it stay readable in reports written after
 * it is gone (LeakSanitizer prints "<unknown module>" there).
 */
enum { GONE = 64 };
static struct gone_obj {
	char path[512];
	uintptr_t bias;
	int n;
	struct {
		uintptr_t lo, hi, offset;
	} seg[8];
} gone[GONE];
static int ngone;

struct remember {
	uintptr_t addr;
	struct gone_obj *g;
};

static int find_by_base(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct remember *r = arg;
	(void)size;
	if (info->dlpi_addr != r->addr || !info->dlpi_name || !info->dlpi_name[0])
		return 0;
	snprintf(r->g->path, sizeof(r->g->path), "%s", info->dlpi_name);
	r->g->bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum && r->g->n < 8; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		r->g->seg[r->g->n].lo = info->dlpi_addr + ph->p_vaddr;
		r->g->seg[r->g->n].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		r->g->seg[r->g->n].offset = ph->p_offset;
		r->g->n++;
	}
	return 1;
}

void ward__symbolize_remember(uintptr_t load_base)
{
	struct gone_obj g;
	memset(&g, 0, sizeof(g));
	struct remember r = { load_base, &g };
	ward__guard_raise();
	if (dl_iterate_phdr(find_by_base, &r) && g.n > 0) {
		ward__mutex_lock(&lock);
		get(g.path); /* read its symbols while the file is surely there */
		if (ngone == GONE)
			memmove(gone, gone + 1, (GONE - 1) * sizeof(*gone));
		else
			ngone++;
		gone[ngone - 1] = g;
		ward__mutex_unlock(&lock);
	}
	ward__guard_lower();
}

size_t ward__symbolize_unloaded(struct ward__unloaded *out, size_t max)
{
	size_t n = 0;
	ward__mutex_lock(&lock);
	for (int i = 0; i < ngone; i++)
		for (int k = 0; k < gone[i].n && n < max; k++) {
			out[n].path = gone[i].path;
			out[n].start = gone[i].seg[k].lo;
			out[n].limit = gone[i].seg[k].hi;
			out[n].offset = gone[i].seg[k].offset;
			n++;
		}
	ward__mutex_unlock(&lock);
	return n;
}

/* ---- In this process --------------------------------------------------- */

struct lookup {
	uintptr_t pc;
	uintptr_t bias;
	const char *path;
};

/* The main program's path, read once ("" when unknown). */
static const char *program_path(void)
{
	static char exe[512];
	if (!exe[0])
		ward__exe_path(exe, sizeof(exe));
	return exe;
}

static int which_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lookup *l = arg;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (l->pc >= lo && l->pc < lo + ph->p_memsz) {
			l->bias = info->dlpi_addr;
			l->path = info->dlpi_name && info->dlpi_name[0]
					  ? info->dlpi_name
					  : program_path();
			return 1;
		}
	}
	return 0;
}

int ward__symbolize_pc(uintptr_t pc, char *name, size_t len,
		       uint64_t *offset, const char **object, uintptr_t *base)
{
	struct lookup l = { pc, 0, NULL };
	static __thread char path[512];

	if (!dl_iterate_phdr(which_object, &l) || !l.path) {
		/* Not mapped now: perhaps a library dlclose() unloaded. */
		const char *found = NULL;
		ward__mutex_lock(&lock);
		for (int i = ngone - 1; i >= 0 && !found; i--)
			for (int k = 0; k < gone[i].n; k++)
				if (pc >= gone[i].seg[k].lo && pc < gone[i].seg[k].hi) {
					snprintf(path, sizeof(path), "%s", gone[i].path);
					l.bias = gone[i].bias;
					found = path;
					break;
				}
		ward__mutex_unlock(&lock);
		if (!found)
			return -ENOENT;
		if (object)
			*object = path;
		if (base)
			*base = l.bias;
		return ward__symbolize_vaddr(path, pc - l.bias, name, len, offset);
	}
	snprintf(path, sizeof(path), "%s", l.path);
	if (object)
		*object = path;
	if (base)
		*base = l.bias;
	return ward__symbolize_vaddr(path, pc - l.bias, name, len, offset);
}

/* The main program: its load bias and its path. */
static int main_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lookup *l = arg;
	(void)size;
	l->bias = info->dlpi_addr;
	l->path = program_path()[0] ? program_path() : NULL;
	return 1; /* the first object is the program */
}

/* The defined functions of one table named among names[], into at[]. */
static void find_named(const uint8_t *base, size_t size,
		       const Elf64_Shdr *sh, const char *const names[],
		       uintptr_t at[], int n, uintptr_t bias)
{
	struct symtab t;
	size_t count = symtab_of(base, size, sh, &t);
	for (size_t i = 0; i < count; i++) {
		const Elf64_Sym *s = symtab_at(&t, i);
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || !s->st_value ||
		    s->st_shndx == SHN_UNDEF || s->st_name >= t.nstrings)
			continue;
		const char *name = t.strings + s->st_name;
		size_t room = t.nstrings - s->st_name;
		for (int k = 0; k < n; k++)
			if (!at[k] && strncmp(name, names[k], room) == 0 &&
			    strlen(names[k]) < room)
				at[k] = bias + s->st_value;
	}
}

void ward__program_functions(const char *const names[], uintptr_t at[],
			     int n)
{
	for (int k = 0; k < n; k++)
		at[k] = 0;
	struct lookup l = { 0, 0, NULL };
	size_t size;
	if (!dl_iterate_phdr(main_object, &l) || !l.path)
		return;
	ward__guard_raise();
	const uint8_t *base = map_elf(l.path, &size, NULL);
	if (base) {
		const Elf64_Shdr *full = table_of(base, SHT_SYMTAB);
		const Elf64_Shdr *dyn = table_of(base, SHT_DYNSYM);
		if (full)
			find_named(base, size, full, names, at, n, l.bias);
		if (dyn)
			find_named(base, size, dyn, names, at, n, l.bias);
		munmap((void *)base, size);
	}
	ward__guard_lower();
}

/* Whether one table of a mapped file names an undefined symbol that
 * `wanted` takes. */
static bool imports_in(const uint8_t *base, size_t size, const Elf64_Shdr *sh,
		       bool (*wanted)(const char *name))
{
	struct symtab t;
	size_t count = symtab_of(base, size, sh, &t);
	if (!count || !t.nstrings || t.strings[t.nstrings - 1] != '\0')
		return false;
	for (size_t i = 0; i < count; i++) {
		const Elf64_Sym *s = symtab_at(&t, i);
		if (s->st_shndx == SHN_UNDEF && s->st_name &&
		    s->st_name < t.nstrings && wanted(t.strings + s->st_name))
			return true;
	}
	return false;
}

struct imports {
	bool (*wanted)(const char *name);
	bool found;
};

static int object_imports(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct imports *im = arg;
	(void)size;
	const char *path = info->dlpi_name && info->dlpi_name[0]
				   ? info->dlpi_name
				   : program_path();
	if (path[0] != '/')
		return 0; /* the vDSO: no file */
	size_t len;
	const uint8_t *base = map_elf(path, &len, NULL);
	if (!base)
		return 0;
	const Elf64_Shdr *dyn = table_of(base, SHT_DYNSYM);
	im->found = dyn && imports_in(base, len, dyn, im->wanted);
	munmap((void *)base, len);
	return im->found;
}

bool ward__objects_import(bool (*wanted)(const char *name))
{
	struct imports im = { wanted, false };
	ward__guard_raise();
	dl_iterate_phdr(object_imports, &im);
	ward__guard_lower();
	return im.found;
}

int ward__symbolize_data(uintptr_t addr, char *name, size_t len,
			 uint64_t *offset, const char **object)
{
	struct lookup l = { addr, 0, NULL };
	static __thread char path[512];

	if (!dl_iterate_phdr(which_object, &l) || !l.path)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s", l.path);
	if (object)
		*object = path;
	return lookup(path, addr - l.bias, true, name, len, offset);
}
