/*
 * symcache.c — source positions kept across runs, one file per build id.
 *
 * Naming a frame's source line reads the file's DWARF, and for the C
 * library that means its separate debug file: megabytes of compressed
 * sections inflated on every report, though every report asks about the
 * same few addresses (__libc_start_main's, malloc's callers). What
 * ward__source_frames() finds is kept here by the file's GNU build id and
 * address, and written at exit to DIR/BUILD_ID (ward_symbolize_cache());
 * a later run reads it back and opens no debug information for what it
 * holds. A build id names the exact file, so an entry never goes stale.
 *
 * The file is text, one address a line:
 *     VADDR N [\tFUNC\tFILE\tLINE]*N
 * in hex and decimal, N 0 for "no source position there". A file that
 * does not parse is ignored and rewritten; one with MAX_ENTRIES entries
 * takes no more. Files are replaced atomically (ward_save_atomic()):
 * concurrent runs lose entries at worst, never corrupt one.
 *
 * Locking: callers hold symbolize.c's lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "snapshot/symbolize.h"
#include "ward/profile.h"

enum {
	MAX_FILES = 64,
	MAX_ENTRIES = 1 << 16,
	MAX_FILE_BYTES = 16 << 20,
	MAX_FRAMES = 16, /* an address's chain of inlined frames */
};

struct entry {
	uint64_t vaddr;
	char *text; /* the line after "VADDR ", without its newline */
};

struct symfile {
	char build_id[80];
	struct entry *e; /* open addressing by vaddr; text NULL: empty */
	size_t cap, n;
	bool dirty;
};

static char cache_dir[512]; /* "": no cache */
static struct symfile files[MAX_FILES];
static int nfiles;

static size_t slot_of(uint64_t vaddr, size_t cap)
{
	return (size_t)((vaddr * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

/* Keep text (taken) for vaddr; false when full or out of memory. */
static bool put(struct symfile *f, uint64_t vaddr, char *text)
{
	if (f->n >= MAX_ENTRIES)
		return false;
	if ((f->n + 1) * 2 > f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 256;
		struct entry *ne = calloc(ncap, sizeof(*ne));
		if (!ne)
			return false;
		for (size_t i = 0; i < f->cap; i++) {
			if (!f->e[i].text)
				continue;
			size_t k = slot_of(f->e[i].vaddr, ncap);
			while (ne[k].text)
				k = (k + 1) & (ncap - 1);
			ne[k] = f->e[i];
		}
		free(f->e);
		f->e = ne;
		f->cap = ncap;
	}
	size_t k = slot_of(vaddr, f->cap);
	while (f->e[k].text && f->e[k].vaddr != vaddr)
		k = (k + 1) & (f->cap - 1);
	if (f->e[k].text) { /* a file naming an address twice */
		free(text);
		return true;
	}
	f->e[k] = (struct entry){ vaddr, text };
	f->n++;
	return true;
}


static const char *find(const struct symfile *f, uint64_t vaddr)
{
	if (!f->cap)
		return NULL;
	size_t k = slot_of(vaddr, f->cap);
	for (; f->e[k].text; k = (k + 1) & (f->cap - 1))
		if (f->e[k].vaddr == vaddr)
			return f->e[k].text;
	return NULL;
}

/* Parse one entry's text into out (up to max frames): the count, or -1
 * when it does not parse. */
static int parse(const char *text, struct ward__src_frame *out, int max)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (end == text || n < 0 || n > MAX_FRAMES)
		return -1;
	const char *p = end;
	int got = 0;
	for (long i = 0; i < n; i++) {
		const char *fields[3];
		size_t lens[3];
		for (int k = 0; k < 3; k++) {
			if (*p != '\t')
				return -1;
			fields[k] = ++p;
			lens[k] = strcspn(p, "\t");
			p += lens[k];
		}
		long line = strtol(fields[2], &end, 10);
		if (end != fields[2] + lens[2] || line < 0 || line > INT32_MAX ||
		    lens[0] >= sizeof(out->func) || lens[1] >= sizeof(out->file))
			return -1;
		if (got < max) {
			memcpy(out[got].func, fields[0], lens[0]);
			out[got].func[lens[0]] = '\0';
			memcpy(out[got].file, fields[1], lens[1]);
			out[got].file[lens[1]] = '\0';
			out[got].line = (int)line;
			got++;
		}
	}
	return *p ? -1 : got;
}

/* DIR/BUILD_ID into out; false when it does not fit. */
static bool path_of(const struct symfile *f, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", cache_dir, f->build_id);
	return n > 0 && (size_t)n < len;
}

/* Read DIR/BUILD_ID into f; anything that does not parse ends it, and
 * what was read before is forgotten too. */
static void read_file(struct symfile *f)
{
	char path[700], *buf;
	if (!path_of(f, path, sizeof(path)) ||
	    ward__read_file(path, MAX_FILE_BYTES, &buf) < 0)
		return;
	struct ward__src_frame probe[1];
	bool bad = false;
	for (char *line = buf, *nl; !bad && *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			break; /* the last line was cut short: leave it */
		*nl = '\0';
		char *end;
		uint64_t vaddr = strtoull(line, &end, 16);
		char *text;
		bad = end == line || *end != ' ' || parse(end + 1, probe, 1) < 0 ||
		      !(text = strdup(end + 1)) || !put(f, vaddr, text);
	}
	free(buf);
	if (bad) {
		for (size_t i = 0; i < f->cap; i++)
			free(f->e[i].text);
		free(f->e);
		f->e = NULL;
		f->cap = f->n = 0;
		f->dirty = true; /* rewritten at exit */
	}
}

static struct symfile *file_for(const char *build_id)
{
	if (!cache_dir[0] || strlen(build_id) < 8 ||
	    strspn(build_id, "0123456789abcdef") != strlen(build_id))
		return NULL;
	for (int i = 0; i < nfiles; i++)
		if (strcmp(files[i].build_id, build_id) == 0)
			return &files[i];
	if (nfiles == MAX_FILES)
		return NULL;
	struct symfile *f = &files[nfiles++];
	snprintf(f->build_id, sizeof(f->build_id), "%s", build_id);
	read_file(f);
	return f;
}

int ward__symcache_get(const char *build_id, uint64_t vaddr,
		       struct ward__src_frame *out, int max)
{
	struct symfile *f = file_for(build_id);
	const char *text = f ? find(f, vaddr) : NULL;
	if (!text)
		return -EAGAIN;
	int n = parse(text, out, max);
	return n < 0 ? -EAGAIN : n == 0 ? -ENOENT : n;
}

void ward__symcache_put(const char *build_id, uint64_t vaddr,
			const struct ward__src_frame *frames, int n)
{
	struct symfile *f = file_for(build_id);
	if (!f || n < 0 || n > MAX_FRAMES || find(f, vaddr))
		return;
	char text[MAX_FRAMES * (sizeof(frames->func) + sizeof(frames->file) + 16)];
	int len = snprintf(text, sizeof(text), "%d", n);
	for (int i = 0; i < n && len > 0 && (size_t)len < sizeof(text); i++) {
		/* A name with a tab or a newline cannot be kept. */
		if (strpbrk(frames[i].func, "\t\n") ||
		    strpbrk(frames[i].file, "\t\n"))
			return;
		len += snprintf(text + len, sizeof(text) - (size_t)len,
				"\t%s\t%s\t%d", frames[i].func, frames[i].file,
				frames[i].line);
	}
	char *copy;
	if (len <= 0 || (size_t)len >= sizeof(text) || !(copy = strdup(text)))
		return;
	if (put(f, vaddr, copy))
		f->dirty = true;
}

struct fill_ctx {
	const struct symfile *f;
};

static int fill(int fd, void *arg)
{
	const struct symfile *f = ((struct fill_ctx *)arg)->f;
	FILE *out = fdopen(dup(fd), "w");
	if (!out)
		return -errno;
	for (size_t i = 0; i < f->cap; i++)
		if (f->e[i].text)
			fprintf(out, "%" PRIx64 " %s\n", f->e[i].vaddr,
				f->e[i].text);
	int rc = ferror(out) ? -EIO : 0;
	if (fclose(out) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* mkdir -p for the last levels of dir, private to the user. */
static bool make_dir(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return false;
		*s = '/';
	}
	return mkdir(path, 0700) == 0 || errno == EEXIST;
}

static void save_all(void)
{
	bool dir_ok = false;
	for (int i = 0; i < nfiles; i++) {
		struct symfile *f = &files[i];
		if (!f->dirty)
			continue;
		if (!dir_ok && !(dir_ok = make_dir(cache_dir)))
			return; /* a cache, not a result: nothing to say */
		char path[700];
		struct fill_ctx c = { f };
		if (path_of(f, path, sizeof(path)) &&
		    ward_save_atomic(path, fill, &c) == 0)
			f->dirty = false;
	}
}

void ward__symcache_dir(const char *dir)
{
	static bool registered;
	snprintf(cache_dir, sizeof(cache_dir), "%s", dir ? dir : "");
	if (cache_dir[0] && !registered)
		registered = atexit(save_all) == 0;
}
