/*
 * Function names from ELF symbol tables (symbolize.c).
 */
#ifndef WARD_INTERNAL_SYMBOLIZE_H
#define WARD_INTERNAL_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether source lines may come from separate debug files (by build id):
 * the ward command sets it; traced processes keep to embedded DWARF. */
extern bool ward__separate_debuginfo;

/* Name the function at a file-relative virtual address of an ELF file.
 * Returns 0 and fills name (and *offset, the distance from its start);
 * -ESRCH when the file's symbol tables have nothing there (dladdr, which
 * reads the same tables, would not either); -ENOENT when the file cannot be
 * read. */
int ward__symbolize_vaddr(const char *path, uint64_t vaddr, char *name,
			  size_t len, uint64_t *offset);

/* The same for an offset into the file (as a profile's mapping gives). */
int ward__symbolize_offset(const char *path, uint64_t file_offset,
			   char *name, size_t len, uint64_t *offset);

/* The GNU build id among the ELF notes at p (one PT_NOTE segment's len
 * bytes), as hex into out: true when found. */
bool ward__note_build_id(const uint8_t *p, size_t len, char *out,
			 size_t outlen);

/* Whether path is the file a profile's mapping with build id `want` was
 * made from: 0 when it is, or when either build id is unknown (no check
 * can be made); -ESTALE when path's build id differs (or it has none),
 * told once per file and profile build id through the log. */
int ward__check_build_id(const char *path, const char *want);

/* A file offset of path as a file-relative virtual address. 0 or -ENOENT. */
int ward__offset_to_vaddr(const char *path, uint64_t file_offset,
			  uint64_t *vaddr);

/* The same for an address in this process; *object gets the file's path
 * (valid until the thread's next call) and *base its load bias. */
int ward__symbolize_pc(uintptr_t pc, char *name, size_t len,
		       uint64_t *offset, const char **object, uintptr_t *base);

/*
 * The source positions at a file-relative virtual address, from DWARF:
 * out[0] is the function the address is in and its line; when that
 * function was inlined, out[1] is the function it was inlined into, at the
 * line of the call, and so on; the last is the function the symbol table
 * names (its DWARF name in func, "" when unknown). Returns the count (>= 1),
 * -ENOENT without debug info there, -ENOSYS without libdw.
 */
struct ward__src_frame {
	char func[200];
	char file[120];
	int line;
};
int ward__source_frames(const char *path, uint64_t vaddr,
			struct ward__src_frame *out, int max);

/*
 * What ward__source_frames() found, kept across runs by build id
 * (symcache.c). ward__symcache_dir: where (NULL or "": nowhere); what was
 * added is written there at exit. ward__symcache_get: the count kept for
 * the address, -ENOENT when it has no source position, -EAGAIN when the
 * cache does not know. ward__symcache_put: keep a count (>= 0, 0 for
 * none) and its frames. Under symbolize.c's lock.
 */
void ward__symcache_dir(const char *dir);
int ward__symcache_get(const char *build_id, uint64_t vaddr,
		       struct ward__src_frame *out, int max);
void ward__symcache_put(const char *build_id, uint64_t vaddr,
			const struct ward__src_frame *frames, int n);

/* The global or static variable holding address addr of this process
 * (its name, the distance from its start, the object's path, valid until
 * the thread's next call): 0, -ESRCH when no sized data symbol covers it,
 * -ENOENT when no loaded object does. */
int ward__symbolize_data(uintptr_t addr, char *name, size_t len,
			 uint64_t *offset, const char **object);

/* The addresses of the functions the program's own file names names[0..n)
 * (its full symbol table, else the exported one), each 0 when it has
 * none: the calls a program defines for a leak checker to find, which no
 * loader exports. Read straight from the file, nothing kept. */
void ward__program_functions(const char *const names[], uintptr_t at[],
			     int n);

/* Whether a loaded object (the program, a library) calls a function
 * `wanted` takes by name that it does not define (its exported table's
 * undefined symbols). */
bool ward__objects_import(bool (*wanted)(const char *name));

/* Remember the library loaded at load_base before dlclose() unmaps it. */
void ward__symbolize_remember(uintptr_t load_base);

/* Executable segments of remembered, unloaded libraries. */
struct ward__unloaded {
	const char *path;
	uint64_t start, limit, offset;
};
size_t ward__symbolize_unloaded(struct ward__unloaded *out, size_t max);

/* Demangle a C++ or Rust name in place (demangle.c): a name that is not
 * mangled, one the reader does not take whole, or a C++ name with no C++
 * runtime to demangle it stays as it is. */
void ward__demangle(char *name, size_t len);

#endif
