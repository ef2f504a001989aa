/*
 * describe.c — the names of a profile's frames: "function+0xoff (object)
 * file:line", inlined frames first. A snapshot of this process is named
 * from the loaded objects; a profile read from a file through its own
 * mappings, from files whose build id is the one the mapping carries (a
 * rebuilt binary at the same path would name every frame wrongly).
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "snapshot/profile.h"
#include "snapshot/symbolize.h"

/*
 * The frames of a named function at file-relative address vaddr of path:
 * those DWARF says were inlined there, then the function itself.
 */
static int with_source(struct ward__frame_text *out, int max, const char *name,
		       uint64_t off, const char *obj, const char *path,
		       uint64_t vaddr)
{
	struct ward__src_frame src[16];
	int n = ward__source_frames(path, vaddr, src, 16);
	int k = 0;

	if (n <= 0) {
		snprintf(out[0].s, sizeof(out[0].s), "%s+0x%" PRIx64 " (%s)",
			 name, off, obj);
		return 1;
	}
	for (int i = 0; i < n - 1 && k < max - 1; i++)
		snprintf(out[k++].s, sizeof(out[0].s),
			 "%.200s (%.150s) %.120s:%d (inlined)",
			 src[i].func[0] ? src[i].func : "?", obj, src[i].file,
			 src[i].line);
	snprintf(out[k++].s, sizeof(out[0].s),
		 "%.200s+0x%" PRIx64 " (%.150s) %.120s:%d",
		 name, off, obj, src[n - 1].file, src[n - 1].line);
	return k;
}

static const char *base_of(const char *path)
{
	const char *base = strrchr(path, '/');
	return base ? base + 1 : path;
}

/*
 * "function+0xoff (object) file:line" for a return address in this
 * process: the ELF symbol tables first (static functions too), then
 * dladdr, then the bare address; functions inlined there come first.
 */
static int describe_pc(uintptr_t pc, struct ward__frame_text *out, int max)
{
	char name[256];
	uint64_t off;
	const char *object = NULL;
	Dl_info info;
	uintptr_t bias = 0;
	const size_t len = sizeof(out[0].s);

	int rc = ward__symbolize_pc(pc - 1, name, sizeof(name), &off, &object,
				    &bias);
	if (rc == 0)
		return with_source(out, max, name, off + 1, base_of(object),
				   object, pc - 1 - bias);
	if (rc != -ESRCH && dladdr((void *)(pc - 1), &info) &&
	    info.dli_fname) {
		const char *obj = base_of(info.dli_fname);
		if (info.dli_sname) {
			snprintf(name, sizeof(name), "%s", info.dli_sname);
			ward__demangle(name, sizeof(name));
			snprintf(out[0].s, len, "%s+0x%" PRIxPTR " (%s)", name,
				 pc - (uintptr_t)info.dli_saddr, obj);
		}
		else
			snprintf(out[0].s, len, "0x%" PRIxPTR " (%s+0x%" PRIxPTR ")",
				 pc, obj, pc - (uintptr_t)info.dli_fbase);
	} else if (rc == -ESRCH) {
		/* dladdr would search the same tables, slowly: skip it. */
		snprintf(out[0].s, len, "0x%" PRIxPTR " (%s+0x%" PRIxPTR ")", pc,
			 base_of(object), pc - bias);
	} else {
		snprintf(out[0].s, len, "0x%" PRIxPTR, pc);
	}
	return 1;
}

static int describe_raw(const struct ward_profile *p, uintptr_t pc,
			struct ward__frame_text *out, int max);

/* Names come from files and profiles anyone may have written: control
 * characters never reach a terminal raw. */
int ward__describe_frames(const struct ward_profile *p, uintptr_t pc,
			  struct ward__frame_text *out, int max)
{
	int n = describe_raw(p, pc, out, max);
	for (int i = 0; i < n; i++)
		ward__printable(out[i].s);
	return n;
}

static int describe_raw(const struct ward_profile *p, uintptr_t pc,
			struct ward__frame_text *out, int max)
{
	const size_t len = sizeof(out[0].s);

	if (max < 1)
		return 0;
	if (!p || !p->from_file)
		return describe_pc(pc, out, max);
	/* Names the profile carries come first: they were made from the
	 * binary the profile came from, wherever that is now. */
	uint32_t nn;
	const struct ward__src_frame *named = ward__profile_named(p, pc, &nn);
	if (named) {
		const char *obj = "?";
		for (size_t i = 0; i < p->nmaps; i++)
			if (pc - 1 >= p->maps[i].start && pc - 1 < p->maps[i].limit &&
			    p->maps[i].file)
				obj = base_of(p->maps[i].file);
		int k = 0;
		for (uint32_t i = 0; i < nn && k < max; i++) {
			const struct ward__src_frame *f = &named[i];
			if (f->file[0] && f->line > 0)
				snprintf(out[k++].s, len, "%.200s (%.150s) %.120s:%d%s",
					 f->func, obj, f->file, f->line,
					 i + 1 < nn ? " (inlined)" : "");
			else
				snprintf(out[k++].s, len, "%.200s (%.150s)%s",
					 f->func, obj, i + 1 < nn ? " (inlined)" : "");
		}
		return k;
	}
	for (size_t i = 0; i < p->nmaps; i++) {
		const struct ward__mapping *m = &p->maps[i];
		if (pc - 1 < m->start || pc - 1 >= m->limit)
			continue;
		const char *base = m->file ? base_of(m->file) : "?";
		char name[256];
		uint64_t off, vaddr;
		uint64_t foff = pc - 1 - m->start + m->offset;
		bool same = m->file && m->file[0] &&
			    ward__check_build_id(m->file, m->build_id) == 0;
		/* The address in the file's own terms, as a live process's
		 * frames are told and addr2line takes it: its virtual
		 * address (in an executable built without PIE, the address
		 * itself), else the offset in the file. */
		bool known = same && ward__offset_to_vaddr(m->file, foff,
							   &vaddr) == 0;
		if (same && ward__symbolize_offset(m->file, foff, name,
						   sizeof(name), &off) == 0) {
			if (known)
				return with_source(out, max, name, off + 1, base,
						   m->file, vaddr);
			snprintf(out[0].s, len, "%s+0x%" PRIx64 " (%s)", name,
				 off + 1, base);
		} else {
			snprintf(out[0].s, len, "0x%" PRIxPTR " (%s+0x%" PRIx64 ")",
				 pc, base, (known ? vaddr : foff) + 1);
		}
		return 1;
	}
	snprintf(out[0].s, len, "0x%" PRIxPTR, pc);
	return 1;
}

void ward__describe(const struct ward_profile *p, uintptr_t pc, char *buf,
		    size_t len)
{
	struct ward__frame_text f[16];
	int n = ward__describe_frames(p, pc, f, 16);
	snprintf(buf, len, "%s", f[n - 1].s);
}

void ward__describe_pc(uintptr_t pc, char *buf, size_t len)
{
	ward__describe(NULL, pc, buf, len);
}

void ward__frame_function(char *frame, bool with_object)
{
	if (frame[0] == '0' && frame[1] == 'x') {
		/* No name: "0xADDR (object+offset)" becomes "object+offset",
		 * which, unlike the address, stays from run to run. */
		char *open = strstr(frame, " (");
		if (open) {
			memmove(frame, open + 2, strlen(open + 2) + 1);
			frame[strcspn(frame, ")")] = '\0';
		}
		return;
	}
	char *open = strstr(frame, " (");
	char *plus = strchr(frame, '+');
	char *end = plus && (!open || plus < open) ? plus : open;
	if (!end)
		return;
	if (!with_object || !open) {
		*end = '\0';
		return;
	}
	char *close = strchr(open, ')');
	if (close)
		close[1] = '\0';
	memmove(end, open, strlen(open) + 1);
}

/* The frames at pc as (function, file, line), innermost first, the
 * function containing pc last; 0 when nothing names it. */
int ward__name_frames(const struct ward_profile *p, uintptr_t pc,
		      struct ward__src_frame *out, int max)
{
	char name[200];
	uint64_t off, vaddr;
	const char *path = NULL;
	int n = 0;

	if (max < 1)
		return 0;
	uint32_t nn;
	const struct ward__src_frame *named = ward__profile_named(p, pc, &nn);
	if (named) { /* what the profile carries, as it carries it */
		int k = 0;
		for (uint32_t i = 0; i < nn && k < max; i++)
			out[k++] = named[i];
		return k;
	}
	if (!p || !p->from_file) {
		const char *object = NULL;
		uintptr_t bias = 0;
		if (ward__symbolize_pc(pc - 1, name, sizeof(name), &off, &object,
				       &bias) == 0) {
			path = object;
			vaddr = pc - 1 - bias;
		} else {
			Dl_info info;
			if (!dladdr((void *)(pc - 1), &info) || !info.dli_sname)
				return 0;
			snprintf(name, sizeof(name), "%s", info.dli_sname);
			ward__demangle(name, sizeof(name));
		}
	} else {
		const struct ward__mapping *m = NULL;
		for (size_t i = 0; i < p->nmaps && !m; i++)
			if (pc - 1 >= p->maps[i].start && pc - 1 < p->maps[i].limit)
				m = &p->maps[i];
		if (!m || !m->file || !m->file[0] ||
		    ward__check_build_id(m->file, m->build_id) < 0)
			return 0;
		uint64_t foff = pc - 1 - m->start + m->offset;
		if (ward__symbolize_offset(m->file, foff, name, sizeof(name),
					   &off) < 0)
			return 0;
		if (ward__offset_to_vaddr(m->file, foff, &vaddr) == 0)
			path = m->file;
	}
	if (path)
		n = ward__source_frames(path, vaddr, out, max);
	if (n <= 0) {
		snprintf(out[0].func, sizeof(out[0].func), "%s", name);
		out[0].file[0] = '\0';
		out[0].line = 0;
		n = 1;
	} else {
		/* The symbol table's name for the function itself: DWARF's
		 * may be a short one. */
		snprintf(out[n - 1].func, sizeof(out[n - 1].func), "%s", name);
	}
	for (int i = 0; i < n; i++) /* never raw to a terminal */
		ward__printable(out[i].func);
	return n;
}

WARD_API int ward_profile_frames(const ward_profile_t *p, uintptr_t pc,
				 struct ward_frame *out, int max)
{
	_Static_assert(sizeof(struct ward_frame) == sizeof(struct ward__frame_text),
		       "a public frame is an internal one");
	if (!out || max < 1)
		return 0;
	return ward__describe_frames(p, pc, (struct ward__frame_text *)out, max);
}

WARD_API void ward_frame_function(char *text, bool with_object)
{
	if (text)
		ward__frame_function(text, with_object);
}

WARD_API void ward_symbolize_separate_debuginfo(bool on)
{
	ward__separate_debuginfo = on;
}

WARD_API void ward_symbolize_cache(const char *dir)
{
	ward__symcache_dir(dir);
}
