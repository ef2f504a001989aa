/*
 * scan.c — which live heap blocks a program can still reach, at exit, in
 * LeakSanitizer's model.
 *
 * Roots are the writable segments of every loaded object (globals, .bss)
 * except ward's own and glibc malloc's main arena, and the calling
 * thread's stack from its current frame up. Every aligned word of a root
 * that points into a live block (at its start or inside it) marks that
 * block reachable; marked blocks are scanned the same way, transitively,
 * small ones first and those of 64 KiB and more last, until every block
 * is reached or none is left to read. What is left is lost: "definitely"
 * when no other lost block points to it, "indirectly" when one does (it
 * would be freed by freeing its owner); a lost cycle gets one head,
 * definitely lost, as valgrind's cliques do.
 *
 * While the other threads are stopped, each walks its own stack from
 * where the signal found it; the scan keeps those stacks for the report's
 * "blocked now in", read before any thread is let go.
 *
 * The other threads' registers and stacks are roots too: they are stopped
 * for the scan (suspend.c), and each one's stack is scanned from its stack
 * pointer (less the 128-byte red zone) to the end of the mapping holding
 * it, which for threads glibc created also holds their static TLS. A
 * thread held asleep instead (suspend.c) is read the same way from where
 * it sleeps, without its registers; while one is, memory is read through
 * copies (a page it unmaps cannot fault the scan) and the heap's books
 * stay locked (a block it frees waits); one held running is read whole
 * (stack_of()). While they are stopped the
 * scan allocates only with mmap and sorts in place: a stopped thread may
 * hold malloc's locks. Roots are checked against /proc/self/maps before
 * they are read.
 *
 * Thread-local storage is a root too: the calling thread's, and that of
 * threads that ended but were never joined (their descriptors stay), found
 * through the thread pointer (x86-64: static TLS below it, the descriptor
 * and its pointer to dynamic TLS at it), read exactly (tls_settle()): an
 * ended thread's dead frames lie below, and anything at all above.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "capture/capture.h"
#include "core/file.h"
#include "core/map.h"

/* Under valgrind, the scan's reads of every root word (stacks' unwritten
 * words, valgrind's own mappings) are the scan's business, not errors of
 * the program's: they are kept out of valgrind's report. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_ENABLE_ERROR_REPORTING
#endif
#include "registry/registry.h"
#include "scan/scan.h"
#include "ward/track.h"

uintptr_t ward__main_thread;

/*
 * Heap blocks the program has that ward has no record of: those a forked
 * child inherited from its parent and the parent's own ancestors (its
 * books start empty) and those
 * allocated before ward started (a library's constructor's, early.c).
 * They are no leaks of this run, but what they point to is reachable, so
 * they are roots. The registry keeps them; the scan reads them into this
 * array, sorted by start, before it stops anyone, again only when they
 * changed since.
 */
struct unrecorded_range {
	uintptr_t start, end;
	int root; /* WARD__ROOT_INHERITED, _EARLY or _IGNORED */
};
static struct unrecorded_range *unrecorded;
static size_t nunrecorded, unrecorded_cap;
static uint64_t unrecorded_seen; /* the generations' sum read last */

static void count_unrecorded(uintptr_t h, uint32_t site, uint64_t size,
			     void *n)
{
	(void)h;
	(void)site;
	(void)size;
	++*(size_t *)n;
}

static void add_unrecorded(uintptr_t h, uint32_t site, uint64_t size,
			   void *root)
{
	/* The early set's site 1: a block the program had ward ignore. */
	int kind = *(const int *)root == WARD__ROOT_EARLY && site
			   ? WARD__ROOT_IGNORED
			   : *(const int *)root;
	if (nunrecorded < unrecorded_cap)
		unrecorded[nunrecorded++] =
			(struct unrecorded_range){ h, h + size, kind };
}

static int by_start(const void *a, const void *b)
{
	const struct unrecorded_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Whether any record of kind is live, from the sites' counters. */
static bool any_live(int kind)
{
	struct ward_kind_stats st;
	return ward_kind_stats(kind, &st) < 0 || st.live_count > 0;
}

static void read_unrecorded(void)
{
	/* Either set changing moves the sum (neither generation goes back). */
	uint64_t gen = ward__blocks_inherited_gen() + ward__early_gen();
	if (gen == unrecorded_seen)
		return;
	ward__unmap(unrecorded, unrecorded_cap * sizeof(*unrecorded));
	unrecorded = NULL;
	nunrecorded = unrecorded_cap = 0;
	size_t n = 0;
	ward__blocks_inherited_each(count_unrecorded, &n);
	ward__early_each(count_unrecorded, &n);
	/* What either set gains meanwhile (a block another thread has
	 * ward ignore) is past cap, left for the next read: gen moved. */
	unrecorded = n ? ward__map(n * sizeof(*unrecorded)) : NULL;
	unrecorded_cap = unrecorded ? n : 0;
	int inherited = WARD__ROOT_INHERITED, early = WARD__ROOT_EARLY;
	ward__blocks_inherited_each(add_unrecorded, &inherited);
	ward__early_each(add_unrecorded, &early);
	qsort(unrecorded, nunrecorded, sizeof(*unrecorded), by_start);
	unrecorded_seen = gen;
}

/* 24 bytes a block: the scan's own memory grows with the heap. */
struct block {
	uintptr_t start, end; /* end: start + size, or start + 1 for size 0 */
	uint32_t site;
	uint8_t state; /* 0 unreached, 1 reachable, 2 pointed to by lost
			* (3: heading lost ones, lost_cliques()) */
	bool empty;    /* of size 0 (reported so) */
	uint8_t root;  /* reachable: the kind of root its chain starts at */
	uint8_t reading; /* how its words are read (enum reading) */
};

enum reading {
	READ_DIRECT,
	READ_COPIED, /* not readable throughout (flag_unreadable()) */
	READ_NONE,   /* a stdio stream's buffer (flag_stdio_buffers()) */
};

/*
 * The blocks by page, so that finding the block a word points into reads
 * a few cache lines, not a binary search's twenty across the whole array.
 * The sorted blocks fall into segments, runs of blocks less than SEG_GAP
 * apart; each page of a segment has a slot in `first`: the index of the
 * first block starting at or after the page, and one slot more for the
 * page after its last.
 */
struct segment {
	uintptr_t lo, hi; /* lo: its first page; hi: past its last block's
			   * end (and the word just past it) */
	size_t slot;      /* its first page's slot in `first` */
};

enum { SEG_GAP = 64 << 10 };

struct range {
	uintptr_t lo, hi;
};

/* The program's own writable memory, and how it is read. Shared memory
 * and files another process may shrink under the scan: read through
 * copies, which a page gone cannot fault (read in place, SIGBUS). */
enum own_kind {
	OWN_PRIVATE, /* anonymous memory, the break */
	OWN_SHARED,  /* shared anonymous, memfd, POSIX and System V segments:
		      * every page in memory, whoever wrote it */
	OWN_WRITTEN, /* a file's private mapping: only the pages the program
		      * wrote, copied from the file, are its */
	OWN_FILE,    /* a file's shared mapping: the pages this process
		      * touched, in its page tables */
};

struct own_range {
	uintptr_t lo, hi;
	enum own_kind kind;
};

/* A mapping as /proc/self/smaps tells it: how much of it is in memory
 * or swapped (Rss + Swap), and how much of that the program wrote of a
 * file's private mapping (Anonymous). */
struct held_range {
	uintptr_t lo, hi;
	uint64_t held, written;
};

enum { MAX_ROOTS = 4096, MAX_MAPS = 65536, MAX_TPS = 32768 };

struct scan {
	struct block *b;
	size_t n, cap;
	struct block *sorted; /* cap blocks: the radix sort's other half */
	struct segment *segs; /* cap at most */
	size_t nsegs;
	uint32_t *first;
	size_t nfirst;
	/* Reachable blocks still to read: small ones from the bottom of
	 * `work` (nwork), large ones from its top (nlarge), read only when
	 * no small one is left. */
	size_t *work;
	size_t nwork, nlarge;
	size_t nreached; /* blocks marked reachable so far */
	size_t leader;   /* the lost block whose clique is being claimed */
	/* Reachable blocks: the word that reached each first (0: the
	 * loader's own), by block index; kept only for who holds it. */
	uintptr_t *via;
	uintptr_t skip_lo, skip_hi; /* ward's own object */
	bool gaps_shared; /* scan_gaps() reads shared memory: a page another
			   * process wrote is in no page table of ours */
	bool gaps_file;   /* ... or a file's shared mapping, whose pages not
			   * in memory are on storage */
	uint8_t mincore_ok; /* may_ask_mincore(): 0 not known yet, 1 it may,
			     * 2 it may not */
	/* Where neither pagemap nor mincore() can tell touched pages
	 * (scan_untold()): each mapping's resident and swapped bytes, from
	 * /proc/self/smaps, read once when first wanted. */
	struct held_range *held_maps;
	size_t nheld_maps;
	uint8_t held_maps_read; /* 0 not yet, 1 read, 2 cannot be */
	uint64_t blind_left;    /* bytes scan_untold() may still fault in */
	uint64_t unread;        /* bytes left unread: no page could be told */
	struct range *roots;        /* writable segments of loaded objects */
	size_t nroots;
	bool *root_libc;            /* each root: the C library's or the
				     * loader's own data */
	struct range *maps;         /* readable mappings, in address order */
	size_t nmaps;
	struct own_range *anon;     /* the program's own writable memory */
	size_t nanon;
	/* The allocator's own mappings (allocator.c), sorted: never roots
	 * outside its blocks. */
	struct ward__range *books;
	size_t nbooks;
	uintptr_t *tps;             /* thread pointers: this thread's, and */
	size_t ntps;                /* threads not joined (their TLS) */
	size_t tls_below;           /* static TLS below a thread pointer */
	size_t tls_slack;           /* read below that (0: it is exact) */
	size_t tls_static;          /* the farthest module block seen */
	size_t tls_above;           /* the descriptor, at the thread pointer */
	uintptr_t loader_lo, loader_hi; /* the dynamic loader's code */
	/* Threads that could not be stopped (held): memory is read through
	 * copies, which a page unmapped meanwhile cannot fault. So are shared
	 * memory and a file's written pages (reading_copied: what is read
	 * now is). */
	int held;
	bool reading_copied;
	uintptr_t *copy; /* COPY_WORDS words */
	/* Who holds it: the sites whose reachable blocks get a path. */
	uint8_t cur_root; /* the kind of root being scanned now */
	const uint8_t *want; /* by site id; NULL: none */
	uint32_t nwant;
	struct ward__scan_path *paths; /* MAX_PATHS */
	size_t npaths;
	struct ward__stopped_stack *stacks; /* the stopped threads' */
	int nstacks;
};

enum { COPY_WORDS = 4096 };

/* A thread's TLS as the scan reads it: from its static TLS to the end of
 * its descriptor above the thread pointer (tls_settle()). Bounds for when
 * the C library does not say: a slack below the modules' sizes summed,
 * and a descriptor's size. */
enum { TLS_SLACK = 2048, TLS_ABOVE = 4096 };

/* Copy up to n bytes at src into dst without faulting: the bytes copied,
 * up to the first unreadable page. */
static size_t copy_in(void *dst, uintptr_t src, size_t n)
{
	struct iovec local = { dst, n }, remote = { (void *)src, n };
	ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return got > 0 ? (size_t)got : 0;
}

static void *map_pages(size_t bytes)
{
	return ward__map(bytes);
}

static void unmap_pages(void *p, size_t bytes)
{
	ward__unmap(p, bytes);
}

static void collect(uintptr_t h, uint32_t site, uint64_t size, void *opaque)
{
	struct scan *s = opaque;
	if (s->n < s->cap)
		s->b[s->n++] = (struct block){ .start = h,
					       .end = h + (size ? size : 1),
					       .site = site,
					       .empty = size == 0 };
}

/*
 * Sort the blocks by address: a least-significant-digit radix sort over the
 * address bits that differ, a byte a pass, between s->b and s->sorted
 * (qsort may allocate; a heap sort of a million blocks misses the cache
 * on nearly every step).
 */
static void sort_blocks(struct scan *s)
{
	enum { BITS = 8, BUCKETS = 1 << BITS };
	size_t count[BUCKETS];
	uintptr_t differ = 0;
	for (size_t i = 1; i < s->n; i++)
		differ |= s->b[i].start ^ s->b[0].start;
	if (!differ)
		return;
	int lo = __builtin_ctzll(differ), hi = 64 - __builtin_clzll(differ);
	for (int shift = lo; shift < hi; shift += BITS) {
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < s->n; i++)
			count[(s->b[i].start >> shift) & (BUCKETS - 1)]++;
		size_t at = 0;
		for (size_t d = 0; d < BUCKETS; d++) {
			size_t c = count[d];
			count[d] = at;
			at += c;
		}
		for (size_t i = 0; i < s->n; i++)
			s->sorted[count[(s->b[i].start >> shift) & (BUCKETS - 1)]++] = s->b[i];
		struct block *t = s->b;
		s->b = s->sorted;
		s->sorted = t;
	}
}

/* Divide the sorted blocks into segments and index their pages. Returns
 * false when out of memory. */
static size_t seg_pages(const struct segment *g)
{
	return ((g->hi - 1 - g->lo) >> 12) + 1;
}

static bool index_blocks(struct scan *s)
{
	struct segment *g = NULL;
	s->nsegs = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!g || s->b[i].start > g->hi + SEG_GAP) {
			g = &s->segs[s->nsegs++];
			g->lo = s->b[i].start & ~(uintptr_t)4095;
			g->hi = 0;
		}
		if (s->b[i].end + 1 > g->hi)
			g->hi = s->b[i].end + 1;
	}
	size_t slots = 0;
	for (size_t j = 0; j < s->nsegs; j++) {
		s->segs[j].slot = slots;
		slots += seg_pages(&s->segs[j]) + 1;
	}
	s->nfirst = slots;
	s->first = map_pages(slots * sizeof(*s->first));
	if (!s->first)
		return false;
	size_t k = 0;
	for (size_t j = 0; j < s->nsegs; j++) {
		const struct segment *seg = &s->segs[j];
		for (size_t pg = 0; pg <= seg_pages(seg); pg++) {
			uintptr_t base = seg->lo + (pg << 12);
			while (k < s->n && s->b[k].start < base)
				k++;
			s->first[seg->slot + pg] = (uint32_t)k;
		}
	}
	return true;
}

/* The readable mappings, from /proc/self/maps, read with system calls
 * into a static buffer. */
/*
 * A line of /proc/self/maps from its permissions on ("rw-p 00000000 00:00
 * 0   [heap]"): the program's own writable memory when it is anonymous (no
 * file, or the brk heap) or shared memory, and not a thread stack (stacks
 * are read from their stack pointers only). A regular file's mapping is
 * data on storage, which reading whole could read from disk: only the
 * pages the program wrote (private) or touched (shared) are read.
 */
static bool holds_thread_descriptor(const struct scan *s, uintptr_t lo,
				    uintptr_t hi);

static void note_anon(struct scan *s, uintptr_t lo, uintptr_t hi,
		      const char *rest, bool above_guard)
{
	char perms[8] = "";
	unsigned long long off, inode;
	char dev[16];
	int name_at = 0;
	if (sscanf(rest, "%7s %llx %15s %llu %n", perms, &off, dev, &inode,
		   &name_at) < 4 ||
	    perms[0] != 'r' || perms[1] != 'w')
		return;
	const char *name = name_at ? rest + name_at : "";
	/* A shmget() segment's inode is its id, which is 0 for the first
	 * one in an IPC namespace (a container's, a fresh machine's). */
	if (inode != 0 || strncmp(name, "/SYSV", 5) == 0) {
		/* Memory with an inode of its own: shared anonymous memory
		 * ("/dev/zero (deleted)", "[anon_shmem:NAME]" once named),
		 * memfd_create()'s, shm_open()'s and shmget()'s segments. */
		bool shm = strncmp(name, "/dev/zero ", 10) == 0 ||
			   strncmp(name, "[anon_shmem:", 12) == 0 ||
			   strncmp(name, "/memfd:", 7) == 0 ||
			   strncmp(name, "/dev/shm/", 9) == 0 ||
			   strncmp(name, "/SYSV", 5) == 0;
		if (shm && perms[2] != 'x' && s->nanon < MAX_MAPS)
			s->anon[s->nanon++] =
				(struct own_range){ lo, hi, OWN_SHARED };
		/* A file mapped private and writable (the JVM's class-data
		 * archive): what the program wrote there is its memory. Not a
		 * device's (/dev/zero's pages are memory), whose pages may be
		 * no memory at all. */
		else if (!shm && perms[3] == 'p' && s->nanon < MAX_MAPS &&
			 (strncmp(name, "/dev/", 5) != 0 ||
			  strcmp(name, "/dev/zero") == 0))
			s->anon[s->nanon++] =
				(struct own_range){ lo, hi, OWN_WRITTEN };
		/* A file mapped shared and writable (a segment two programs
		 * share through a file in /tmp, a database's pages): what the
		 * program put there is in the pages it touched, as valgrind
		 * reads them. Not a device's nor the kernel's files (a PCI
		 * device's registers in /sys), which reading may disturb. */
		else if (!shm && perms[3] == 's' && s->nanon < MAX_MAPS &&
			 name[0] == '/' && strncmp(name, "/dev/", 5) != 0 &&
			 strncmp(name, "/sys/", 5) != 0 &&
			 strncmp(name, "/proc/", 6) != 0)
			s->anon[s->nanon++] =
				(struct own_range){ lo, hi, OWN_FILE };
		return;
	}
	if (above_guard && holds_thread_descriptor(s, lo, hi))
		return;
	/* Writable and executable: a JIT's memory, read as valgrind reads
	 * it — the JVM's code cache holds its code blobs' data, pointers to
	 * the C heap among it (left out, 126 of `java -version`'s blocks read
	 * as lost). Under valgrind such mappings are its own translations,
	 * full of the program's addresses: left out there. */
	if (perms[2] == 'x' && RUNNING_ON_VALGRIND)
		return;
	if (*name && strncmp(name, "[anon:", 6) != 0)
		return; /* [heap] (malloc's main arena), [stack], [vvar] */
	if (s->nanon < MAX_MAPS)
		s->anon[s->nanon++] = (struct own_range){ lo, hi, OWN_PRIVATE };
}

/* Each line of /proc/self/NAME, into a static buffer: one scan at a time
 * (file.c's reader uses system calls only, so that it may run where a
 * descriptor is free, ward__with_descriptor). */
static int each_line(const char *name, void (*line)(void *arg, char *text),
		     void *arg)
{
	static char buf[65536];
	return ward__proc_lines(name, buf, sizeof(buf), line, arg);
}

struct maps_reading {
	struct scan *s;
	uintptr_t guard_below; /* the end of the mapping just read, when it
				* was neither readable nor writable */
};

static void maps_line(void *arg, char *p)
{
	struct maps_reading *r = arg;
	struct scan *s = r->s;
	char *e;
	uintptr_t lo = strtoull(p, &e, 16), hi = 0;
	if (*e == '-')
		hi = strtoull(e + 1, &e, 16);
	if (*e == ' ' && e[1] == 'r' && hi > lo && s->nmaps < MAX_MAPS)
		s->maps[s->nmaps++] = (struct range){ lo, hi };
	if (*e == ' ' && hi > lo)
		note_anon(s, lo, hi, e + 1, r->guard_below == lo);
	/* A thread's stack lies right above its guard page, which is
	 * neither readable nor writable; note_anon checks that the mapping
	 * above holds the thread's descriptor. */
	r->guard_below = *e == ' ' && e[1] == '-' && e[2] == '-' ? hi : 0;
}

static int read_maps_job(void *arg)
{
	struct maps_reading r = { arg, 0 };
	int rc = each_line("maps", maps_line, &r);
	return rc < 0 ? rc : r.s->nmaps ? 0 : -ENODATA;
}

/* The break the program took (ward__scan_break_ranges), as far as the
 * break reaches now, among its own memory. */
static void note_break_taken(struct scan *s)
{
	struct ward__range taken[WARD__BREAK_RANGES];
	size_t n = ward__scan_break_ranges(taken, WARD__BREAK_RANGES);
	uintptr_t now = (uintptr_t)syscall(SYS_brk, 0);
	for (size_t i = 0; i < n && s->nanon < MAX_MAPS; i++) {
		uintptr_t hi = taken[i].hi < now ? taken[i].hi : now;
		if (taken[i].lo < hi)
			s->anon[s->nanon++] =
				(struct own_range){ taken[i].lo, hi,
						    OWN_PRIVATE };
	}
}

/* The readable mappings: 0, or -errno when they cannot be known (every
 * root would then be unreadable and every block called lost). Where the
 * program has used up its descriptors, read where one is free. */
static int read_maps(struct scan *s)
{
	s->nmaps = s->nanon = 0;
	int rc = read_maps_job(s);
	if (rc == -EMFILE) {
		s->nmaps = s->nanon = 0;
		rc = ward__with_descriptor(read_maps_job, s);
	}
	if (rc == 0)
		note_break_taken(s);
	return rc;
}

/* Whether [lo, hi) is readable throughout (across adjacent mappings);
 * *end gets where the mapping holding lo ends. */
static bool readable(const struct scan *s, uintptr_t lo, uintptr_t hi,
		     uintptr_t *end)
{
	size_t i = 0;
	while (i < s->nmaps && s->maps[i].hi <= lo)
		i++;
	if (i == s->nmaps || s->maps[i].lo > lo)
		return false;
	/* A thread's stack ends there, whatever mapping happens to follow
	 * it (a library's, a file's whose last pages lie past its end). */
	if (end)
		*end = s->maps[i].hi;
	uintptr_t reach = s->maps[i].hi;
	while (++i < s->nmaps && s->maps[i].lo == reach)
		reach = s->maps[i].hi;
	return hi <= reach;
}

/* The readable mapping holding at, [*lo, *hi); false when none does. */
static bool mapping_of(const struct scan *s, uintptr_t at, uintptr_t *lo,
		       uintptr_t *hi)
{
	for (size_t i = 0; i < s->nmaps; i++)
		if (s->maps[i].lo <= at && at < s->maps[i].hi) {
			*lo = s->maps[i].lo;
			*hi = s->maps[i].hi;
			return true;
		}
	return false;
}

__attribute__((no_sanitize("address")))
static struct block *find(struct scan *s, uintptr_t p)
{
	/* The segment: the last one starting at or below p. */
	size_t lo = 0, hi = s->nsegs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->segs[mid].lo <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || p >= s->segs[lo - 1].hi)
		return NULL;
	const struct segment *g = &s->segs[lo - 1];
	size_t slot = g->slot + ((p - g->lo) >> 12);
	/* The last block starting at or below p: one starting in p's page,
	 * or the one before them all. */
	lo = s->first[slot];
	hi = s->first[slot + 1];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->b[mid].start <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct block *b = &s->b[lo - 1];
	if (p < b->end)
		return b;
	/* C++'s `new T[0]` for a T with a destructor: an 8-byte block
	 * holding the element count 0, and the program holds only the
	 * pointer just past it (LeakSanitizer makes the same exception). */
	if (p == b->end && b->end - b->start == 8 && !b->empty &&
	    b->reading == READ_DIRECT && *(const uintptr_t *)b->start == 0)
		return b;
	return NULL;
}

/* The index of the first block starting at or after p. */
static size_t first_block_from(const struct scan *s, uintptr_t p)
{
	size_t a = 0, b = s->n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (s->b[mid].start < p)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/*
 * glibc malloc's heaps other than the main one are 64 MiB-aligned and open
 * with a heap_info: the arena, the previous heap, the size in use and the
 * size made writable (both page multiples up to 64 MiB). Returns the
 * heap's writable size at a, or 0 when a holds none.
 */
enum { GLIBC_HEAP_MAX = 64 << 20 };

/* n words at a, readable (the caller checked): copied in while the
 * other threads are held, read in place otherwise. */
__attribute__((no_sanitize("address")))
static bool read_words(const struct scan *s, uintptr_t *w, uintptr_t a,
		       size_t n)
{
	if (s->held || s->reading_copied)
		return copy_in(w, a, n * sizeof(*w)) == n * sizeof(*w);
	for (size_t i = 0; i < n; i++)
		w[i] = ((const volatile uintptr_t *)a)[i];
	return true;
}

__attribute__((no_sanitize("address")))
static uintptr_t glibc_heap_at(const struct scan *s, uintptr_t a)
{
	/* ward's own mappings hold what they hold: a table of ward's at a
	 * heap's alignment can read as a heap's header, and the program's
	 * memory after it would go unread. */
	uintptr_t olo, ohi;
	if (!readable(s, a, a + 32, NULL) ||
	    ward__map_first_own(a, a + 32, &olo, &ohi))
		return 0;
	uintptr_t h[4];
	if (!read_words(s, h, a, 4))
		return 0;
	uintptr_t size = h[2], writable = h[3];
	if (!h[0] || size == 0 || size > GLIBC_HEAP_MAX || (size & 4095) ||
	    writable < size || writable > GLIBC_HEAP_MAX || (writable & 4095))
		return 0;
	/* And the arena it names lies in the arena's first heap, right
	 * after that heap's header, which names it too: the program's own
	 * words that happen to fit the sizes do not also fit this. */
	uintptr_t first = h[0] & ~(uintptr_t)(GLIBC_HEAP_MAX - 1), back;
	if (h[0] - first > 4096 || !readable(s, first, first + 8, NULL) ||
	    !read_words(s, &back, first, 1) || back != h[0])
		return 0;
	return writable;
}

/*
 * Whether [lo, hi), a writable mapping right above an inaccessible one, is
 * a thread's stack and its guard page: glibc puts a thread's descriptor
 * at the top of its stack, and the descriptor's first and third words
 * (its TCB's `tcb` and `self`) hold its own address. A stack glibc keeps
 * for reuse after its thread was joined keeps its descriptor too. Memory
 * that merely lies above another inaccessible mapping — another runtime's
 * reserved heap, an allocator's guard page, ward's rooms — holds no such
 * words there, and is the program's memory, a root.
 */
enum { DESCRIPTOR_WITHIN = 8192, DESCRIPTOR_ALIGN = 64 };

__attribute__((no_sanitize("address")))
static bool holds_thread_descriptor(const struct scan *s, uintptr_t lo,
				    uintptr_t hi)
{
	enum { N = 128, STEP = DESCRIPTOR_ALIGN / sizeof(uintptr_t) };
	uintptr_t w[N];
	uintptr_t from = hi - lo > DESCRIPTOR_WITHIN ? hi - DESCRIPTOR_WITHIN
						     : lo;
	for (uintptr_t a = from; a + sizeof(w) <= hi; a += sizeof(w)) {
		if (!read_words(s, w, a, N))
			return false;
		for (size_t i = 0; i + 2 < N; i += STEP)
			if (w[i] == a + i * sizeof(*w) && w[i + 2] == w[i])
				return true;
	}
	return false;
}

/*
 * Blocks of LARGE bytes and more are read last, smallest first. A
 * program's structures are small blocks that point to each other and to
 * its large buffers, whose bytes are mostly data: read so, the largest
 * are often not read at all, every block having been reached (xz's
 * 200 MB of buffers at exit: the scan 54 ms -> 2.6 ms).
 */
enum { LARGE = 64 << 10 };

static size_t bytes_of(const struct scan *s, size_t i)
{
	return s->b[i].end - s->b[i].start;
}

/* The large blocks queued: a heap, smallest on top, at the top of
 * `work` (its k-th element at work[cap - 1 - k]). */
static size_t *large_at(struct scan *s, size_t k)
{
	return &s->work[s->cap - 1 - k];
}

static void queue(struct scan *s, size_t i)
{
	if (bytes_of(s, i) < LARGE) {
		s->work[s->nwork++] = i;
		return;
	}
	size_t k = s->nlarge++;
	while (k > 0 && bytes_of(s, *large_at(s, (k - 1) / 2)) > bytes_of(s, i)) {
		*large_at(s, k) = *large_at(s, (k - 1) / 2);
		k = (k - 1) / 2;
	}
	*large_at(s, k) = i;
}

/* The next reachable block to read, or SIZE_MAX. */
static size_t next_queued(struct scan *s)
{
	if (s->nwork)
		return s->work[--s->nwork];
	if (!s->nlarge)
		return SIZE_MAX;
	size_t top = *large_at(s, 0), last = *large_at(s, --s->nlarge);
	size_t k = 0;
	for (;;) {
		size_t c = 2 * k + 1;
		if (c >= s->nlarge)
			break;
		if (c + 1 < s->nlarge &&
		    bytes_of(s, *large_at(s, c + 1)) < bytes_of(s, *large_at(s, c)))
			c++;
		if (bytes_of(s, *large_at(s, c)) >= bytes_of(s, last))
			break;
		*large_at(s, k) = *large_at(s, c);
		k = c;
	}
	if (s->nlarge)
		*large_at(s, k) = last;
	return top;
}

/* Mark what the n words at w point to with `state`; reachable blocks are
 * queued. lo: where the range scanned starts (a lost block pointing into
 * itself is not indirect). */
/* Every word of a root is read, whatever the program keeps there: where
 * ward is built with AddressSanitizer, its redzones too. */
#define WARD__READS_ANYTHING __attribute__((no_sanitize("address")))

WARD__READS_ANYTHING
static void scan_words(struct scan *s, const uintptr_t *w, size_t n,
		       uintptr_t at, uintptr_t lo, uint8_t state)
{
	for (size_t i = 0; i < n; i++) {
		uintptr_t v = w[i];
		if (v < s->b[0].start || v >= s->b[s->n - 1].end)
			continue;
		struct block *b = find(s, v);
		if (!b || b->state == 1)
			continue;
		if (state == 2) { /* from a lost block: see lost_cliques() */
			size_t k = (size_t)(b - s->b);
			if (b->start == lo) /* the block itself */
				continue;
			if (b->state == 0) {
				b->state = 2;
				queue(s, k);
			} else if (b->state == 3 && k != s->leader) {
				b->state = 2; /* another's head, now its part */
			}
			continue;
		}
		b->state = state;
		if (state == 1) {
			s->nreached++;
			if (s->via)
				s->via[b - s->b] = at + i * 8;
			b->root = s->cur_root;
			queue(s, (size_t)(b - s->b));
		}
	}
}

/* Whether every block is reachable already: what is left to read can
 * change nothing (a block's root and the word that reached it are those
 * of its first marking). */
static bool all_reached(const struct scan *s)
{
	return s->nreached == s->n;
}

/* Mark what [lo, hi) points to with `state`; marking reachable, a
 * chunk at a time, until every block is. Copied first when `copied` (a
 * held thread may unmap what is read, or the range is not readable
 * throughout): what cannot be read is passed over, never faulted on. */
static void scan_range_as(struct scan *s, uintptr_t lo, uintptr_t hi,
			  uint8_t state, bool copied)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	if (hi < lo + 8)
		return;
	size_t words = (hi - lo) / 8;
	if (!copied) {
		for (uintptr_t a = lo; words > 0;) {
			if (state == 1 && all_reached(s))
				return;
			size_t n = words < COPY_WORDS ? words : COPY_WORDS;
			scan_words(s, (const uintptr_t *)a, n, a, lo, state);
			words -= n;
			a += n * 8;
		}
		return;
	}
	for (uintptr_t a = lo; words > 0;) {
		if (state == 1 && all_reached(s))
			return;
		size_t want = words < COPY_WORDS ? words : COPY_WORDS;
		size_t got = copy_in(s->copy, a, want * 8) / 8;
		scan_words(s, s->copy, got, a, lo, state);
		if (got < want) { /* unreadable now: on from the next page */
			uintptr_t next = ((a + got * 8) | 4095) + 1;
			size_t skipped = (next - a) / 8;
			if (skipped >= words)
				return;
			words -= skipped;
			a = next;
			continue;
		}
		words -= got;
		a += got * 8;
	}
}

static void scan_range(struct scan *s, uintptr_t lo, uintptr_t hi,
		       uint8_t state)
{
	scan_range_as(s, lo, hi, state, s->held || s->reading_copied);
}

/* Mark what block b's words point to. */
static void scan_block(struct scan *s, const struct block *b, uint8_t state)
{
	if (b->reading != READ_NONE)
		scan_range_as(s, b->start, b->end, state,
			      s->held || b->reading == READ_COPIED);
}

/*
 * The blocks not readable throughout: a page of one the program made
 * inaccessible (mprotect(PROT_NONE): a guard, a trap for stray writes).
 * Read directly, it would fault the scan and end the program; their words
 * are read through a copy that passes over what cannot be read. One walk
 * over the blocks and the readable mappings, both in address order.
 */
static void flag_unreadable(struct scan *s)
{
	size_t m = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct block *b = &s->b[i];
		while (m < s->nmaps && s->maps[m].hi <= b->start)
			m++;
		uintptr_t reach = m < s->nmaps && s->maps[m].lo <= b->start
					  ? s->maps[m].hi
					  : b->start;
		for (size_t k = m + 1;
		     reach < b->end && k < s->nmaps && s->maps[k].lo == reach;
		     k++)
			reach = s->maps[k].hi;
		b->reading = reach < b->end ? READ_COPIED : READ_DIRECT;
	}
}

/*
 * The buffers of the program's stdio streams are reached (their streams
 * hold them) but not read: their bytes are what was written or read, and
 * past those whatever the memory held before — a freed block's words,
 * which named a lost block and made it still reachable, held by libc
 * (valgrind frees these buffers before it counts). The streams are
 * glibc's list of them (_IO_list_all, on through each FILE's _chain),
 * read through copies: a stopped thread may be inside fopen() or
 * fclose(). A buffer the program gave setvbuf() counts when it is a
 * block of its own.
 */
extern FILE *_IO_list_all __attribute__((weak));

static void flag_stdio_buffers(struct scan *s)
{
	enum { MOST_STREAMS = 1 << 16 };
	uintptr_t at = 0;
	if (!&_IO_list_all ||
	    copy_in(&at, (uintptr_t)&_IO_list_all, sizeof(at)) != sizeof(at))
		return;
	for (int n = 0; at && n < MOST_STREAMS; n++) {
		FILE f;
		if (copy_in(&f, at, sizeof(f)) != sizeof(f))
			return;
		uintptr_t base = (uintptr_t)f._IO_buf_base;
		struct block *b = base ? find(s, base) : NULL;
		if (b && b->start == base && (uintptr_t)f._IO_buf_end >= b->end)
			b->reading = READ_NONE;
		at = (uintptr_t)f._chain;
	}
}

/* Scan [lo, hi) as a root, less ward's own mappings in it: a range read
 * with slack (a thread's TLS, below its static block) can reach into
 * whatever mapping lies next to it, and the next one mmap() handed out
 * may well be ward's, whose tables hold every live block's address. */
static void scan_root(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	uintptr_t olo, ohi;
	while (lo < hi && ward__map_first_own(lo, hi, &olo, &ohi)) {
		if (olo > lo)
			scan_range(s, lo, olo, 1);
		lo = ohi;
	}
	if (lo < hi)
		scan_range(s, lo, hi, 1);
}

/* Scan [lo, hi) as a root, less the live blocks in it: those starting
 * in it, and the one lo may lie in (scan_gaps() asks a page at a time,
 * and a block of many pages is no root on any of them). */
static void scan_blocks_out(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	uintptr_t at = lo;
	size_t k = first_block_from(s, lo);
	if (k > 0 && s->b[k - 1].end > at)
		at = s->b[k - 1].end;
	for (; k < s->n && s->b[k].start < hi; k++) {
		if (s->b[k].start > at)
			scan_range(s, at, s->b[k].start, 1);
		if (s->b[k].end > at)
			at = s->b[k].end;
	}
	if (at < hi)
		scan_range(s, at, hi, 1);
}

/* The most pages whose state one call reads. */
enum { PAGEMAP_BATCH = 4096 };

/* pagemap's entries for n pages from address at, into e: got of them.
 * System calls only, so that it may run where a descriptor is free
 * (ward__with_descriptor). */
struct pagemap_read {
	uint64_t *e;
	uintptr_t at;
	size_t n, got;
};

static int pagemap_job(void *arg)
{
	struct pagemap_read *r = arg;
	int fd = ward__open_proc_self("pagemap");
	if (fd < 0)
		return -errno;
	r->got = 0;
	while (r->got < r->n) {
		long got = syscall(SYS_pread64, fd, r->e + r->got,
				   (r->n - r->got) * sizeof(*r->e),
				   (off_t)((r->at / 4096 + r->got) *
					   sizeof(*r->e)));
		if (got < (long)sizeof(*r->e))
			break;
		r->got += (size_t)got / sizeof(*r->e);
	}
	syscall(SYS_close, fd);
	return 0;
}

/* /proc/self/pagemap's entries for up to PAGEMAP_BATCH of the n pages
 * from address at, into e: how many were read, 0 when none could be.
 * Once the program has used up its descriptors (*elsewhere), they are
 * read where one is free. */
static size_t pagemap_batch(uint64_t *e, uintptr_t at, size_t n,
			    bool *elsewhere)
{
	struct pagemap_read r = { e, at, n < PAGEMAP_BATCH ? n : PAGEMAP_BATCH,
				  0 };
	int rc = *elsewhere ? ward__with_descriptor(pagemap_job, &r)
			    : pagemap_job(&r);
	if (rc == -EMFILE && !*elsewhere) {
		*elsewhere = true;
		rc = ward__with_descriptor(pagemap_job, &r);
	}
	return rc < 0 ? 0 : r.got;
}

/*
 * Whether mincore() may be asked: no seccomp filter is on the process
 * (/proc/self/status, "Seccomp:\t0"). A filter may end the process for
 * it: systemd's @system-service set, a hardened service's, leaves it out.
 * Read with system calls only, once a scan: a program may put itself in
 * a filter between two (in library mode, nothing tells ward).
 */
static bool may_ask_mincore(struct scan *s)
{
	if (!s->mincore_ok) {
		static char text[4096]; /* one scan at a time */
		ward__read_proc_self("status", text, sizeof(text));
		const char *at = strstr(text, "\nSeccomp:\t");
		s->mincore_ok = at && at[10] == '0' ? 1 : 2;
	}
	return s->mincore_ok == 1;
}

/* mincore()'s answer for up to PAGEMAP_BATCH of the n pages from at, as
 * pagemap's entries (present or not): how many, 0 when it cannot. */
static size_t mincore_batch(uint64_t *e, uintptr_t at, size_t n)
{
	static unsigned char vec[PAGEMAP_BATCH]; /* one scan at a time */
	n = n < PAGEMAP_BATCH ? n : PAGEMAP_BATCH;
	if (mincore((void *)at, n * 4096, vec) != 0)
		return 0;
	for (size_t k = 0; k < n; k++)
		e[k] = vec[k] & 1 ? (uint64_t)1 << 63 : 0;
	return n;
}

/*
 * Which of up to PAGEMAP_BATCH of the n pages from at were ever touched,
 * into e as pagemap's entries: how many were told, 0 when none could be.
 * The process's own memory asks pagemap, which tells a swapped page from
 * one never touched (mincore() does not); shared memory asks mincore()
 * first, which tells a page another process wrote (pagemap shows only
 * this process's page tables). Each asks the other where it cannot
 * answer: pagemap is closed to a process that is not dumpable
 * (PR_SET_DUMPABLE 0, or one that changed its user) and not root; and
 * mincore() is asked only where no seccomp filter may forbid it.
 */
static size_t touched_batch(struct scan *s, uint64_t *e, uintptr_t at,
			    size_t n, bool *elsewhere)
{
	size_t got = 0;
	if (s->gaps_shared && may_ask_mincore(s))
		got = mincore_batch(e, at, n);
	if (!got)
		got = pagemap_batch(e, at, n, elsewhere);
	if (!got && !s->gaps_shared && may_ask_mincore(s))
		got = mincore_batch(e, at, n);
	return got;
}

/* The number of a /proc/self/smaps field's line ("Rss:    12 kB"), in
 * bytes. */
static uint64_t smaps_bytes(const char *line)
{
	const char *p = strchr(line, ':');
	return p ? strtoull(p + 1, NULL, 10) * 1024 : 0;
}

struct smaps_reading {
	struct scan *s;
	struct held_range *m; /* the mapping whose lines these are */
};

static void smaps_line(void *arg, char *p)
{
	struct smaps_reading *r = arg;
	struct scan *s = r->s;
	char *e;
	uintptr_t lo = strtoull(p, &e, 16), hi = 0;
	if (e > p && *e == '-') { /* a mapping's first line */
		hi = strtoull(e + 1, &e, 16);
		r->m = NULL;
		if (*e == ' ' && hi > lo && s->nheld_maps < MAX_MAPS) {
			r->m = &s->held_maps[s->nheld_maps++];
			*r->m = (struct held_range){ lo, hi, 0, 0 };
		}
	} else if (r->m && (strncmp(p, "Rss:", 4) == 0 ||
			    strncmp(p, "Swap:", 5) == 0)) {
		r->m->held += smaps_bytes(p);
	} else if (r->m && strncmp(p, "Anonymous:", 10) == 0) {
		r->m->written = smaps_bytes(p);
	}
}

/* /proc/self/smaps into s->held_maps. */
static int read_smaps_job(void *arg)
{
	struct smaps_reading r = { arg, NULL };
	r.s->nheld_maps = 0;
	int rc = each_line("smaps", smaps_line, &r);
	return rc < 0 ? rc : r.s->nheld_maps ? 0 : -ENODATA;
}

/* What /proc/self/smaps tells of the mapping holding at; NULL when it
 * cannot be read. Read once a scan, when first wanted. */
static const struct held_range *held_map_of(struct scan *s, uintptr_t at)
{
	if (!s->held_maps_read) {
		s->held_maps = map_pages(MAX_MAPS * sizeof(*s->held_maps));
		int rc = s->held_maps ? read_smaps_job(s) : -ENOMEM;
		if (rc == -EMFILE)
			rc = ward__with_descriptor(read_smaps_job, s);
		s->held_maps_read = rc == 0 ? 1 : 2;
	}
	if (s->held_maps_read != 1)
		return NULL;
	size_t a = 0, b = s->nheld_maps; /* in address order */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (s->held_maps[mid].hi <= at)
			a = mid + 1;
		else
			b = mid;
	}
	return a < s->nheld_maps && s->held_maps[a].lo <= at
		       ? &s->held_maps[a]
		       : NULL;
}

/* The most bytes scan_untold() reads of pages that may never have been
 * touched, in a scan: about half a second of faults. */
enum { BLIND_MOST = 64 << 20 };

/*
 * Scan [lo, hi) of a mapping of which no page can be told touched or not:
 * neither pagemap nor mincore() answers (a process that is not dumpable
 * and not root, under a seccomp filter). Reading it whole would fault in
 * every page never touched: in shared memory, a page of zeros allocated
 * in the segment, which outlives the scan (a 2 GiB SysV segment and 2 GiB
 * of shared anonymous memory: 4 GiB more in use, and 14 s); in private
 * memory the zero page, at a cost in time and page tables (8 GiB: 49 s).
 * /proc/self/smaps, which such a process may read, tells how much of the
 * mapping is in memory or swapped: none of its private memory, nothing is
 * read (none was ever written); all of it, all is read (nothing faults
 * in); part of it, private memory is read while what it may fault in
 * stays within BLIND_MOST, and shared memory is not, nor a file's shared
 * mapping (its pages not in memory would be read from storage). What is
 * not read is counted: a block only it held shows as lost, and the report
 * says so.
 */
static void scan_untold(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	const struct held_range *m = held_map_of(s, lo);
	uint64_t size = m ? m->hi - m->lo : 0;
	if (m && m->held == 0 && !s->gaps_shared)
		return;
	if (m && m->held >= size) {
		scan_blocks_out(s, lo, hi);
		return;
	}
	uint64_t blind = m && size - m->held < hi - lo ? size - m->held
						      : hi - lo;
	if (!s->gaps_shared && !s->gaps_file && blind <= s->blind_left) {
		s->blind_left -= blind;
		scan_blocks_out(s, lo, hi);
		return;
	}
	s->unread += hi - lo;
}

/* Scan [lo, hi) as a root, less ward's own mappings and live blocks, and
 * less pages never touched (touched_batch()): reading them would fault in
 * pages of zeros, a cost in time and page tables for memory a program
 * reserved and never used. */
static void scan_gaps(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	static uint64_t e[PAGEMAP_BATCH]; /* one scan at a time */
	uintptr_t olo, ohi;
	bool elsewhere = false;
	while (lo < hi && ward__map_first_own(lo, hi, &olo, &ohi)) {
		if (olo > lo)
			scan_gaps(s, lo, olo);
		lo = ohi;
	}
	for (uintptr_t at = lo & ~(uintptr_t)4095; at < hi;) {
		size_t got = touched_batch(s, e, at, (hi - at + 4095) / 4096,
					   &elsewhere);
		if (got == 0) {
			scan_untold(s, at < lo ? lo : at, hi);
			return;
		}
		for (size_t k = 0; k < got; k++) {
			uintptr_t a = at + k * 4096, b = a + 4096;
			if (!(e[k] >> 62 & 3)) /* neither swapped nor present */
				continue;
			scan_blocks_out(s, a < lo ? lo : a, b > hi ? hi : b);
		}
		at += got * 4096;
	}
}

static int by_lo(const void *a, const void *b)
{
	const struct ward__range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The allocator's own memory (allocator.c): its blocks are read as
 * blocks, and the rest is its bookkeeping and free space, never roots —
 * as glibc's heaps are not. */
static void note_books(struct scan *s)
{
	static struct ward__range v[4096]; /* one scan at a time */
	s->nbooks = ward__scan_allocator_ranges(v, sizeof(v) / sizeof(*v));
	qsort(v, s->nbooks, sizeof(*v), by_lo);
	s->books = v;
}

/* Scan [lo, hi) of the program's own memory as a root, less glibc heaps,
 * ward's mappings and live blocks. */
static void scan_glibc_outside_heaps(struct scan *s, uintptr_t lo,
				     uintptr_t hi)
{
	uintptr_t at = lo;
	while (at < hi) {
		uintptr_t end = hi, next = hi;
		uintptr_t a = (at + GLIBC_HEAP_MAX - 1) &
			      ~(uintptr_t)(GLIBC_HEAP_MAX - 1);
		for (; a >= at && a < hi; a += GLIBC_HEAP_MAX) {
			uintptr_t w = glibc_heap_at(s, a);
			if (w) {
				end = a;
				next = a + w;
				break;
			}
		}
		scan_gaps(s, at, end);
		at = next;
	}
}

/* The same, less the allocator's own memory too. */
static void scan_program_memory(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	for (size_t i = 0; i < s->nbooks && lo < hi; i++) {
		const struct ward__range *r = &s->books[i];
		if (r->hi <= lo || r->lo >= hi)
			continue;
		if (r->lo > lo)
			scan_glibc_outside_heaps(s, lo, r->lo);
		lo = r->hi;
	}
	if (lo < hi)
		scan_glibc_outside_heaps(s, lo, hi);
}

/*
 * A module with thread-local storage: its block in static TLS lies the
 * same distance below the thread pointer in every thread, and this
 * thread's shows how far (a block in dynamic TLS lies elsewhere). The
 * farthest is where the static TLS in use begins: reading below it would
 * read the top of the thread's stack, which for a thread that has ended
 * holds only stale words — a block one of them named would read as still
 * reachable. Summed here, settled in tls_settle().
 */
static void tls_module(struct scan *s, const struct dl_phdr_info *info,
		       const ElfW(Phdr) *ph)
{
	s->tls_below += ph->p_memsz + ph->p_align;
	uintptr_t tp = (uintptr_t)pthread_self();
	uintptr_t at = (uintptr_t)info->dlpi_tls_data;
	if (at && at < tp && tp - at > s->tls_static)
		s->tls_static = tp - at;
}

/*
 * A thread's TLS, settled: below the thread pointer exactly to the
 * farthest module block, when one was seen within the sizes' bound (else
 * that bound, read with a slack below); above it, the descriptor, whose
 * size glibc publishes for debuggers (_thread_db_sizeof_pthread) — not a
 * page: a thread glibc made has its descriptor at the top of its mapping,
 * and the memory above may be anything, a malloc arena's header naming
 * free chunks next to live blocks among it.
 */
static void tls_settle(struct scan *s)
{
	static _Atomic uint32_t descriptor; /* 0: not looked up; 1: none */
	uint32_t size = atomic_load_explicit(&descriptor, memory_order_relaxed);
	if (!size) {
		const uint32_t *p = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
		size = p && *p > 1 && *p <= TLS_ABOVE ? *p : 1;
		atomic_store_explicit(&descriptor, size, memory_order_relaxed);
	}
	s->tls_above = size > 1 ? size : TLS_ABOVE;
	if (s->tls_static && s->tls_static <= s->tls_below + TLS_SLACK) {
		s->tls_below = s->tls_static;
		s->tls_slack = 0;
	} else {
		s->tls_slack = TLS_SLACK;
	}
}

/* The thread pointer of the unjoined thread tid (its descriptor holds
 * tid), 0 when none is known. */
static uintptr_t tp_of_tid(const struct scan *s, int tid)
{
	for (size_t i = 0; i < s->ntps; i++)
		if (ward__tid_of(s->tps[i]) == tid)
			return s->tps[i];
	return 0;
}

/*
 * A stopped thread's stack as the scan reads it: from its stack pointer,
 * less the 128-byte red zone, to the end of its mapping — which may have
 * merged with the anonymous mapping above it (scan_root() leaves ward's
 * out) — or, on a stack glibc made, to the end of the thread's
 * descriptor, the top of the stack: what lies above is not the thread's.
 */
static bool stack_of(const struct scan *s, const struct ward__stopped *t,
		     uintptr_t *lo, uintptr_t *hi)
{
	if (t->held && !t->sp) {
		/* Running with ward's signal blocked: where its stack pointer
		 * is cannot be known, so its stack is read whole, to its
		 * descriptor's end — dead frames too, which may keep a lost
		 * block reachable, rather than call lost what its live frames
		 * hold. A stack glibc made: the descriptor ends within a page
		 * of its mapping's top (not the main thread's, elsewhere). */
		uintptr_t tp = tp_of_tid(s, t->tid), top;
		if (!tp || !mapping_of(s, tp, lo, &top))
			return false;
		*hi = tp + s->tls_above;
		return *hi <= top && top - *hi < 4096;
	}
	*lo = t->sp - 128;
	if (!t->sp || !readable(s, *lo, *lo + 8, hi))
		return false;
	uintptr_t tp = t->stack.self;
	if (tp > *lo && tp < *hi && *hi - tp > s->tls_above)
		*hi = tp + s->tls_above;
	return true;
}

/* Remember the writable segments of every loaded object as roots. */
static int root_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	(void)size;
	bool loader = info->dlpi_addr == getauxval(AT_BASE) && info->dlpi_addr;
	const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
	base = base ? base + 1 : info->dlpi_name ? info->dlpi_name : "";
	bool libc = loader || strncmp(base, "libc.so", 7) == 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_TLS)
			tls_module(s, info, ph);
		if (loader && ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			s->loader_lo = info->dlpi_addr + ph->p_vaddr;
			s->loader_hi = s->loader_lo + ph->p_memsz;
		}
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_memsz;
		if (lo >= s->skip_lo && hi <= s->skip_hi)
			continue; /* ward's own tables name every block */
		if (s->nroots < MAX_ROOTS) {
			s->root_libc[s->nroots] = libc;
			s->roots[s->nroots++] = (struct range){ lo, hi };
		}
	}
	return 0;
}

/*
 * glibc malloc's main arena (its malloc_state, in libc's data) names
 * chunks by their headers: the top chunk, the first and last free chunk
 * of each bin. A chunk's header lies in the last 8 bytes of the block
 * before it whenever that block's size leaves them to it (malloc(24),
 * malloc(100): half of all sizes), so the arena, read as a root, holds the
 * block just before the top chunk or a free chunk it names: such a block,
 * lost, read as still reachable. The arena holds no pointer of the
 * program's: its words are taken out of the roots.
 *
 * Found by what it holds (libc keeps it static, under no symbol): a word
 * naming the top chunk, the chunk whose size reaches the program break,
 * and 16 bytes on the 127 bins, each empty (naming itself) or naming
 * chunks below the break. glibc lays the state out so since 2.26 (top at
 * 96, bins at 112, 2,200 bytes); another layout does not match, and the
 * arena stays a root.
 */
enum { ARENA_TOP = 96, ARENA_BINS = 112, ARENA_NBINS = 127, ARENA_SIZE = 2200 };

WARD__READS_ANYTHING
static bool is_main_arena(uintptr_t a, uintptr_t heap_lo, uintptr_t brk)
{
	bool empty = false;
	for (int k = 0; k < ARENA_NBINS; k++) {
		uintptr_t bin = a + ARENA_BINS + 16 * (uintptr_t)k;
		uintptr_t fd = ((const uintptr_t *)bin)[0];
		uintptr_t bk = ((const uintptr_t *)bin)[1];
		if (fd == bin - 16 && bk == bin - 16)
			empty = true;
		else if (fd < heap_lo || fd >= brk || bk < heap_lo || bk >= brk)
			return false;
	}
	return empty;
}

WARD__READS_ANYTHING
static void drop_main_arena(struct scan *s)
{
	uintptr_t brk = (uintptr_t)sbrk(0), heap_lo = 0;
	for (size_t i = 0; i < s->nmaps; i++)
		if (s->maps[i].lo < brk && brk <= s->maps[i].hi)
			heap_lo = s->maps[i].lo;
	if (!heap_lo)
		return;
	for (size_t r = 0; r < s->nroots; r++) {
		uintptr_t lo = s->roots[r].lo, hi = s->roots[r].hi;
		if (!readable(s, lo, hi, NULL))
			continue;
		for (uintptr_t x = (lo + ARENA_TOP + 7) & ~(uintptr_t)7;
		     x + ARENA_SIZE - ARENA_TOP <= hi; x += 8) {
			uintptr_t top = *(const uintptr_t *)x, head[2];
			if (top < heap_lo || top >= brk || brk - top < 16 ||
			    (top & 15) ||
			    !read_words(s, head, top, 2) ||
			    top + (head[1] & ~(uintptr_t)7) != brk ||
			    !is_main_arena(x - ARENA_TOP, heap_lo, brk))
				continue;
			uintptr_t a = x - ARENA_TOP;
			s->roots[r].hi = a;
			if (a + ARENA_SIZE < hi && s->nroots < MAX_ROOTS) {
				s->root_libc[s->nroots] = s->root_libc[r];
				s->roots[s->nroots++] =
					(struct range){ a + ARENA_SIZE, hi };
			}
			return;
		}
	}
}

static void thread_tp(uintptr_t h, uint32_t site, uint64_t size, void *opaque)
{
	struct scan *s = opaque;
	(void)site;
	(void)size;
	if (s->ntps < MAX_TPS)
		s->tps[s->ntps++] = h;
}

/* [*lo, *hi) cut down to the readable run of mappings holding `at`. */
static bool clip(const struct scan *s, uintptr_t at, uintptr_t *lo,
		 uintptr_t *hi)
{
	size_t i = 0;
	while (i < s->nmaps && s->maps[i].hi <= at)
		i++;
	if (i == s->nmaps || s->maps[i].lo > at)
		return false;
	size_t first = i, last = i;
	while (first > 0 && s->maps[first - 1].hi == s->maps[first].lo)
		first--;
	while (last + 1 < s->nmaps && s->maps[last + 1].lo == s->maps[last].hi)
		last++;
	if (*lo < s->maps[first].lo)
		*lo = s->maps[first].lo;
	if (*hi > s->maps[last].hi)
		*hi = s->maps[last].hi;
	return *lo < *hi;
}

/* The lowest of the loaded objects' writable data (their .bss to its
 * page's end) overlapping [lo, hi) — roots already, or ward's own — in
 * *olo and *ohi; false when none does. (The main arena taken out of
 * libc's leaves no page between the two parts: it is smaller than one.) */
_Static_assert(ARENA_SIZE < 4096, "the main arena is smaller than a page");
static bool first_object_data(const struct scan *s, uintptr_t lo, uintptr_t hi,
			      uintptr_t *olo, uintptr_t *ohi)
{
	bool found = false;
	for (size_t r = 0; r <= s->nroots; r++) {
		uintptr_t a = r < s->nroots ? s->roots[r].lo : s->skip_lo;
		uintptr_t b = r < s->nroots ? s->roots[r].hi : s->skip_hi;
		if (a >= b)
			continue;
		a &= ~(uintptr_t)4095;
		b = (b + 4095) & ~(uintptr_t)4095;
		if (a < hi && lo < b && (!found || a < *olo)) {
			*olo = a;
			*ohi = b;
			found = true;
		}
	}
	return found;
}

/* The program's anonymous memory [lo, hi) as a root, less the loaded
 * objects' data in it: mappings that touch merge, so one line of
 * /proc/self/maps may hold an object's .bss (ward's own, whose tables
 * name every block) and, next to it, an arena the program mapped. */
static void scan_anon_outside_objects(struct scan *s, uintptr_t lo,
				      uintptr_t hi)
{
	uintptr_t olo = 0, ohi = 0;
	while (lo < hi && first_object_data(s, lo, hi, &olo, &ohi)) {
		if (olo > lo)
			scan_program_memory(s, lo, olo);
		lo = ohi;
	}
	if (lo < hi)
		scan_program_memory(s, lo, hi);
}

/*
 * The pages of a file's private mapping [lo, hi) the program wrote: the
 * kernel copied them from the file, and /proc/self/pagemap shows them as
 * the process's own (present or swapped, not the file's page). Each run
 * of them is read as the program's memory; a page never written is the
 * file's data, which reading could bring in from disk, and holds nothing
 * of this run's. pagemap is read where a descriptor is free when the
 * program has used up its own; nothing is read when it cannot be.
 */
static void scan_written_pages(struct scan *s, uintptr_t lo, uintptr_t hi)
{
	static uint64_t e[PAGEMAP_BATCH]; /* one scan at a time */
	uintptr_t at = lo & ~(uintptr_t)4095, run = 0;
	bool elsewhere = false;
	while (at < hi) {
		size_t got = pagemap_batch(e, at, (hi - at + 4095) / 4096,
					   &elsewhere);
		if (got == 0) { /* unread: what the program wrote, if any */
			const struct held_range *m = held_map_of(s, at);
			s->unread += m ? m->written : hi - at;
			break;
		}
		for (size_t k = 0; k < got; k++, at += 4096) {
			bool swapped = e[k] >> 62 & 1, present = e[k] >> 63 & 1;
			bool own = swapped || (present && !(e[k] >> 61 & 1));
			if (own && !run)
				run = at;
			if (!own && run) {
				scan_anon_outside_objects(s, run, at);
				run = 0;
			}
		}
	}
	if (run)
		scan_anon_outside_objects(s, run, at < hi ? at : hi);
}

static void unmap_all(struct scan *s)
{
	unmap_pages(s->b, s->cap * sizeof(*s->b));
	unmap_pages(s->sorted, s->cap * sizeof(*s->sorted));
	unmap_pages(s->segs, s->cap * sizeof(*s->segs));
	unmap_pages(s->first, s->nfirst * sizeof(*s->first));
	unmap_pages(s->work, s->cap * sizeof(*s->work));
	unmap_pages(s->via, s->cap * sizeof(*s->via));
	unmap_pages(s->roots, MAX_ROOTS * sizeof(*s->roots));
	unmap_pages(s->root_libc, MAX_ROOTS * sizeof(*s->root_libc));
	unmap_pages(s->maps, MAX_MAPS * sizeof(*s->maps));
	unmap_pages(s->anon, MAX_MAPS * sizeof(*s->anon));
	unmap_pages(s->tps, MAX_TPS * sizeof(*s->tps));
	unmap_pages(s->copy, COPY_WORDS * sizeof(*s->copy));
	unmap_pages((void *)s->want, s->nwant);
	unmap_pages(s->paths, WARD__PATHS_MAX * sizeof(*s->paths));
	unmap_pages(s->stacks, (size_t)s->nstacks * sizeof(*s->stacks));
	unmap_pages(s->held_maps, MAX_MAPS * sizeof(*s->held_maps));
}

/* Stop the other threads with the heap's shard locks free (and those of
 * kind `also`, when >= 0), and take them. Returns the threads stopped, or
 * -errno: why they could not be (ward__threads_stop), or -EAGAIN when one
 * stayed inside the books through fifty tries. */
static int quiesce(const struct ward__stopped **threads, int also)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		int n = ward__threads_stop(threads);
		if (n < 0)
			return n;
		if (ward__registry_trylock(WARD_KIND_HEAP)) {
			if (also < 0 || ward__registry_trylock(also))
				return n;
			ward__registry_unlock(WARD_KIND_HEAP);
		}
		ward__threads_resume(); /* one was inside the registry */
		struct timespec ms = { 0, 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	return -EAGAIN;
}

/*
 * The lost blocks, into definitely and indirectly lost: each lost block
 * not yet claimed, in address order, heads a clique (3) and claims what
 * it reaches of the lost (2); a head a later one reaches joins it. What
 * only other lost blocks point to is indirectly lost, and a lost cycle has
 * one head, definitely lost (its first block by address), as valgrind
 * leads cliques; every lost block is read once.
 */
static void lost_cliques(struct scan *s)
{
	s->nwork = s->nlarge = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->b[i].state != 0)
			continue;
		s->b[i].state = 3;
		s->leader = i;
		queue(s, i);
		for (size_t k; (k = next_queued(s)) != SIZE_MAX;)
			scan_block(s, &s->b[k], 2);
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->b[i].state == 3)
			s->b[i].state = 0;
}

/* The loaded objects' data, the C library's (libc) or the rest. */
static void scan_roots(struct scan *s, bool libc)
{
	for (size_t i = 0; i < s->nroots; i++)
		if (s->root_libc[i] == libc)
			scan_range_as(s, s->roots[i].lo, s->roots[i].hi, 1,
				      s->held || !readable(s, s->roots[i].lo,
							   s->roots[i].hi,
							   NULL));
}

/* The scan proper, with every other thread stopped. */
static void mark(struct scan *s, const struct ward__scan_self *self,
		 const struct ward__stopped *threads, int nthreads)
{
	/* A page of a global segment the program made inaccessible is
	 * passed over, the rest read. */
	s->cur_root = WARD__ROOT_GLOBAL;
	scan_roots(s, false);
	/* Saved registers: words like any other; then the stacks, before
	 * TLS, whose slack below a thread's static TLS may reach into the
	 * top of its stack: a block held there is held by the stack. */
	s->cur_root = WARD__ROOT_REGISTER;
	scan_range(s, (uintptr_t)self->regs,
		   (uintptr_t)(self->regs + WARD__SELF_REGS), 1);
	s->cur_root = WARD__ROOT_STACK;
	if (self->stack_hi > self->stack_lo &&
	    readable(s, self->stack_lo, self->stack_hi, NULL))
		scan_range(s, self->stack_lo, self->stack_hi, 1);
	if (self->other_hi > self->other_lo &&
	    readable(s, self->other_lo, self->other_hi, NULL))
		scan_range(s, self->other_lo, self->other_hi, 1);
	for (int t = 0; t < nthreads; t++) {
		s->cur_root = WARD__ROOT_REGISTER;
		scan_range(s, (uintptr_t)threads[t].regs,
			   (uintptr_t)(threads[t].regs + WARD__STOPPED_REGS), 1);
		scan_range(s, (uintptr_t)threads[t].vec,
			   (uintptr_t)(threads[t].vec + threads[t].nvec), 1);
		s->cur_root = WARD__ROOT_STACK;
		uintptr_t lo, end;
		if (stack_of(s, &threads[t], &lo, &end))
			scan_root(s, lo, end);
	}
	/* Thread-local storage: glibc's x86-64 threads keep static TLS just
	 * below the thread pointer and the thread descriptor (with the
	 * pointer to the dynamic TLS vector) at it. */
	s->cur_root = WARD__ROOT_TLS;
	for (size_t i = 0; i < s->ntps; i++) {
		uintptr_t lo = s->tps[i] - s->tls_below - s->tls_slack;
		uintptr_t hi = s->tps[i] + s->tls_above;
		if (clip(s, s->tps[i], &lo, &hi))
			scan_root(s, lo, hi);
	}
	/* What the dynamic loader allocated for itself (threads' TLS vectors,
	 * dlopen bookkeeping) it still holds, though often only through
	 * memory that is no block (the descriptors of cached thread stacks):
	 * a root, as valgrind's default suppressions and LeakSanitizer treat
	 * it. */
	for (size_t i = 0; i < s->n && s->loader_hi; i++) {
		const struct ward__site_rec *r = ward__site_get(s->b[i].site);
		if (r && r->depth > 0 && r->pcs[0] - 1 >= s->loader_lo &&
		    r->pcs[0] - 1 < s->loader_hi && s->b[i].state != 1) {
			s->b[i].state = 1;
			s->nreached++;
			s->b[i].root = WARD__ROOT_LOADER;
			queue(s, i);
		}
	}
	/* The program's own anonymous and shared memory — another
	 * allocator's arenas (pymalloc's), a custom allocator's, a segment
	 * it shares with its children — as valgrind scans every mapping
	 * that is not a block: but not glibc malloc's own heaps
	 * (their free chunks hold stale pointers), not the live blocks in
	 * it (they count only once reached), not ward's tables, not a
	 * running thread's stack. */
	s->cur_root = WARD__ROOT_MAPPED;
	for (size_t i = 0; i < s->nanon; i++) {
		uintptr_t lo = s->anon[i].lo, hi = s->anon[i].hi;
		if (self->stack_lo < hi && lo < self->stack_hi + 1)
			continue;
		bool stack = false;
		for (int t = 0; t < nthreads && !stack; t++)
			stack = threads[t].sp >= lo && threads[t].sp < hi;
		s->reading_copied = s->anon[i].kind != OWN_PRIVATE;
		s->gaps_shared = s->anon[i].kind == OWN_SHARED;
		s->gaps_file = s->anon[i].kind == OWN_FILE;
		/* A terabyte and more is a reservation, not data: a
		 * sanitizer's shadow memory, an allocator's address space. */
		if (!stack && hi - lo < ((uintptr_t)1 << 40)) {
			if (s->anon[i].kind == OWN_WRITTEN)
				scan_written_pages(s, lo, hi);
			else
				scan_anon_outside_objects(s, lo, hi);
		}
		s->reading_copied = false;
		s->gaps_shared = false;
		s->gaps_file = false;
	}
	/* The C library's and the loader's own data last: a block the
	 * program holds too is the program's, and what only they hold —
	 * locale tables, stdio buffers, the environment — is told apart. */
	s->cur_root = WARD__ROOT_LIBC;
	scan_roots(s, true);
	/* The blocks ward has no record of (see read_unrecorded). */
	for (size_t i = 0; i < nunrecorded; i++) {
		uintptr_t lo = unrecorded[i].start, hi = unrecorded[i].end;
		s->cur_root = unrecorded[i].root;
		if (hi > lo)
			scan_range_as(s, lo, hi, 1,
				      s->held || !readable(s, lo, hi, NULL));
	}
	/* What a block reaches, its chain's root reaches. */
	for (size_t i; !all_reached(s) && (i = next_queued(s)) != SIZE_MAX;) {
		struct block *b = &s->b[i];
		s->cur_root = b->root;
		scan_block(s, b, 1);
	}
	lost_cliques(s);
}

/* ---- Who holds it ------------------------------------------------------ */

/* The scanned thread's frames, from where the report was asked for up
 * (WARD__SCAN_SELF()): pcs and frame addresses. */
static int self_frames(const struct ward__scan_self *self, uintptr_t *pcs,
		       uintptr_t *cfas, int max)
{
	return ward__capture_frames(self->pc, self->sp, self->bp, pcs, cfas,
				    max);
}

/* The function whose frame holds stack word w, of a stack walked into
 * pcs/cfas: the innermost frame whose frame address is above w. */
static uintptr_t frame_of(const uintptr_t *pcs, const uintptr_t *cfas,
			  int n, uintptr_t w)
{
	for (int i = 0; i < n; i++)
		if (w < cfas[i])
			return pcs[i];
	return 0;
}

static const char *const self_reg_names[WARD__SELF_REGS] = {
	"rbx", "rbp", "r12", "r13", "r14", "r15",
};
static const char *const greg_names[WARD__STOPPED_REGS] = {
	"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
	"rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx", "rsp",
	"rip", "efl", "csgsfs", "err", "trapno", "oldmask", "cr2",
};

/* The thread pointer whose TLS (and descriptor) holds v, the TLS taken
 * `slack` bytes lower; 0 when none. */
static uintptr_t tls_of(const struct scan *s, uintptr_t v, uintptr_t slack)
{
	for (size_t i = 0; i < s->ntps; i++)
		if (v >= s->tps[i] - s->tls_below - slack &&
		    v < s->tps[i] + s->tls_above)
			return s->tps[i];
	return 0;
}

/* What root word v is (ranges as mark() scanned them). */
static void name_root(struct scan *s, const struct ward__scan_self *self,
		      const struct ward__stopped *threads, int nthreads,
		      struct ward__scan_path *p, uintptr_t v)
{
	enum { DEPTH = 128 };
	uintptr_t pcs[DEPTH], cfas[DEPTH];

	p->word = v;
	p->root = WARD__ROOT_MAPPED;
	if (!v) {
		p->root = WARD__ROOT_LOADER;
		return;
	}
	uintptr_t r = (uintptr_t)self->regs;
	if (v >= r && v < r + sizeof(self->regs)) {
		p->root = WARD__ROOT_REGISTER;
		snprintf(p->reg, sizeof(p->reg), "%s", self_reg_names[(v - r) / 8]);
		return;
	}
	for (int t = 0; t < nthreads; t++) {
		r = (uintptr_t)threads[t].regs;
		if (v >= r && v < r + sizeof(threads[t].regs)) {
			p->root = WARD__ROOT_REGISTER;
			p->tid = threads[t].tid;
			snprintf(p->reg, sizeof(p->reg), "%s",
				 greg_names[(v - r) / 8]);
			return;
		}
		r = (uintptr_t)threads[t].vec;
		if (v >= r && v < r + sizeof(threads[t].vec)) {
			p->root = WARD__ROOT_REGISTER;
			p->tid = threads[t].tid;
			ward__vector_reg_name(threads[t].vec_reg[(v - r) / 8],
					      p->reg, sizeof(p->reg));
			return;
		}
	}
	/* Static TLS and the descriptor exactly, then the stacks (a thread's
	 * first frames lie just below its TLS, in the slack mark() scans
	 * with it), then that slack. */
	if ((p->tp = tls_of(s, v, 0))) {
		p->root = WARD__ROOT_TLS;
		return;
	}
	if ((v >= self->stack_lo && v < self->stack_hi) ||
	    (v >= self->other_lo && v < self->other_hi)) {
		p->root = WARD__ROOT_STACK;
		int n = self_frames(self, pcs, cfas, DEPTH);
		p->pc = frame_of(pcs, cfas, n, v);
		return;
	}
	for (int t = 0; t < nthreads; t++) {
		uintptr_t lo, end;
		if (!stack_of(s, &threads[t], &lo, &end) || v < lo || v >= end)
			continue;
		p->root = WARD__ROOT_STACK;
		p->tid = threads[t].tid;
#if defined(__x86_64__)
		const uintptr_t *g = threads[t].regs;
		if (!threads[t].held) {
			int n = ward__capture_frames(g[REG_RIP], g[REG_RSP],
						     g[REG_RBP], pcs, cfas, DEPTH);
			p->pc = frame_of(pcs, cfas, n, v);
		}
#endif
		return;
	}
	if ((p->tp = tls_of(s, v, s->tls_slack))) {
		p->root = WARD__ROOT_TLS;
		return;
	}
	for (size_t i = 0; i < s->nroots; i++)
		if (v >= s->roots[i].lo && v < s->roots[i].hi) {
			p->root = s->root_libc[i] ? WARD__ROOT_LIBC
						  : WARD__ROOT_GLOBAL;
			return;
		}
	for (size_t i = 0; i < nunrecorded; i++)
		if (v >= unrecorded[i].start && v < unrecorded[i].end) {
			p->root = unrecorded[i].root;
			return;
		}
}

/* Paths for the reachable blocks of the wanted sites, a few a site, with
 * every other thread still stopped: nothing here allocates. */
static void build_paths(struct scan *s, const struct ward__scan_self *self,
			const struct ward__stopped *threads, int nthreads)
{
	enum { PER_SITE = 3 };

	for (size_t i = 0; i < s->n && s->npaths < WARD__PATHS_MAX; i++) {
		const struct block *b = &s->b[i];
		if (b->state != 1 || b->site >= s->nwant || !s->want[b->site])
			continue;
		int taken = 0;
		for (size_t k = 0; k < s->npaths; k++)
			taken += s->paths[k].hop[s->paths[k].n - 1].site == b->site;
		if (taken >= PER_SITE)
			continue;
		struct ward__scan_path *p = &s->paths[s->npaths++];
		memset(p, 0, sizeof(*p));
		/* From the block back to its root, then reversed. */
		size_t chain[WARD__PATH_MAX];
		int n = 0;
		size_t cur = i;
		chain[n++] = cur;
		uintptr_t v = s->via[i];
		for (;;) {
			struct block *up = v ? find(s, v) : NULL;
			if (!up)
				break;
			size_t j = (size_t)(up - s->b);
			bool seen = false;
			for (int k = 0; k < n && !seen; k++)
				seen = chain[k] == j;
			if (seen)
				break;
			if (n == WARD__PATH_MAX) {
				p->cut = true;
				break;
			}
			chain[n++] = j;
			v = s->via[j];
		}
		name_root(s, self, threads, nthreads, p, v);
		p->n = n;
		for (int k = 0; k < n; k++) {
			const struct block *h = &s->b[chain[n - 1 - k]];
			p->hop[k].start = h->start;
			p->hop[k].size = h->empty ? 0 : h->end - h->start;
			p->hop[k].site = h->site;
			/* Where in it the pointer to the next block lies. */
			p->hop[k].off = k + 1 < n
				? s->via[chain[n - 2 - k]] - h->start : 0;
		}
	}
}

int ward__scan_heap(const struct ward__scan_self *self,
		    struct ward__scan_result *out)
{
	return ward__scan_heap_why(self, -1, NULL, NULL, out);
}

/* The blocks of the heap (and of kind `also`), with the kinds' locks
 * held: false when out of memory. */
static bool take_blocks(struct scan *s, int also)
{
	s->cap = ward__registry_count_locked(WARD_KIND_HEAP) +
		 (also >= 0 ? ward__registry_count_locked(also) : 0);
	s->b = map_pages(s->cap * sizeof(*s->b));
	s->sorted = map_pages(s->cap * sizeof(*s->sorted));
	s->segs = map_pages(s->cap * sizeof(*s->segs));
	s->work = map_pages(s->cap * sizeof(*s->work));
	if (s->want)
		s->via = map_pages(s->cap * sizeof(*s->via));
	ward__map_populate(s->b, s->cap * sizeof(*s->b), true);
	ward__map_populate(s->sorted, s->cap * sizeof(*s->sorted), true);
	if (!s->b || !s->sorted || !s->segs || !s->work || (s->want && !s->via))
		return false;
	ward__registry_each_locked(WARD_KIND_HEAP, collect, s);
	if (also >= 0)
		ward__registry_each_locked(also, collect, s);
	return true;
}

/* What the scan found, into out's arrays. They take over the radix sort's
 * spare half (24 bytes a block, faulted in by take_blocks(); the arrays
 * need 22): nothing is allocated or faulted in now, with a million blocks
 * a third of the scan's time. 0, or -ENOMEM. */
static int give_result(struct scan *s, struct ward__scan_result *out)
{
	size_t n = s->n;
	char *m = (char *)s->sorted;
	out->mapped = m;
	out->mapped_len = s->cap * sizeof(*s->sorted);
	s->sorted = NULL; /* out's now */
	out->blocks = n;
	out->handle = (uintptr_t *)(void *)m;
	out->size = (uint64_t *)(void *)(m + n * 8);
	out->site = (uint32_t *)(void *)(m + n * 16);
	out->state = (uint8_t *)(m + n * 20);
	out->root = (uint8_t *)(m + n * 21);
	out->stacks = s->stacks; /* out's now */
	out->nstacks = s->nstacks;
	s->stacks = NULL;
	s->nstacks = 0;
	if (s->npaths) {
		out->paths = malloc(s->npaths * sizeof(*s->paths));
		if (!out->paths) {
			ward__scan_free(out);
			return -ENOMEM;
		}
		memcpy(out->paths, s->paths, s->npaths * sizeof(*s->paths));
		out->npaths = s->npaths;
	}
	for (size_t i = 0; i < n; i++) {
		const struct block *b = &s->b[i];
		out->site[i] = b->site;
		out->handle[i] = b->start;
		out->size[i] = b->empty ? 0 : b->end - b->start;
		out->state[i] = b->state == 1	? WARD_LEAK_REACHABLE
				: b->state == 2 ? WARD_LEAK_INDIRECT
						: WARD_LEAK_DEFINITE;
		out->root[i] = b->root;
	}
	return 0;
}

/* Both kinds' locks: taken by quiesce(), dropped here. */
static void unlock_kinds(int also)
{
	ward__registry_unlock(WARD_KIND_HEAP);
	if (also >= 0)
		ward__registry_unlock(also);
}

/* Which sites' blocks get a path from a root: the ones want() picks,
 * asked before any thread is stopped (naming sites may allocate). */
static void choose_sites(struct scan *s, int also,
			 bool (*want)(uint32_t site, void *arg), void *arg)
{
	uint32_t nsites = ward__site_count() + 1;
	uint8_t *w = map_pages(nsites);
	s->paths = map_pages(WARD__PATHS_MAX * sizeof(*s->paths));
	if (!w || !s->paths) { /* no paths, then: the scan goes on */
		unmap_pages(w, nsites);
		return;
	}
	for (uint32_t id = 1; id < nsites; id++) {
		const struct ward__site_rec *r = ward__site_get(id);
		w[id] = r && (r->kind == WARD_KIND_HEAP || (int)r->kind == also) &&
			want(id, arg);
	}
	s->want = w;
	s->nwant = nsites;
}

/*
 * What can be found before any thread is stopped: the scan's arrays, the
 * sites asked about, the roots in loaded objects and the threads'
 * pointers. Before stopping anyone: the loader's lock may be held by a
 * thread that would then be stopped. In the static library the "object"
 * is the program itself: then its globals are roots and ward's tables,
 * on the heap, are not scanned. False when out of memory.
 */
static bool prepare(struct scan *s, int also,
		    bool (*want)(uint32_t site, void *arg), void *arg)
{
	s->roots = map_pages(MAX_ROOTS * sizeof(*s->roots));
	s->root_libc = map_pages(MAX_ROOTS * sizeof(*s->root_libc));
	s->maps = map_pages(MAX_MAPS * sizeof(*s->maps));
	s->anon = map_pages(MAX_MAPS * sizeof(*s->anon));
	s->tps = map_pages(MAX_TPS * sizeof(*s->tps));
	s->copy = map_pages(COPY_WORDS * sizeof(*s->copy));
	s->blind_left = BLIND_MOST;
	if (!s->roots || !s->root_libc || !s->maps || !s->anon || !s->tps ||
	    !s->copy)
		return false;
	if (want)
		choose_sites(s, also, want, arg);
	if (!ward__own_object(&s->skip_lo, &s->skip_hi) ||
	    s->skip_hi - s->skip_lo > ((uintptr_t)1 << 30))
		s->skip_lo = s->skip_hi = 0;
	dl_iterate_phdr(root_object, s);
	tls_settle(s);
#if defined(__x86_64__)
	s->tps[s->ntps++] = (uintptr_t)pthread_self(); /* the thread pointer */
	/* The main thread's, when another thread calls exit(). */
	if (ward__main_thread && ward__main_thread != (uintptr_t)pthread_self())
		s->tps[s->ntps++] = ward__main_thread;
	ward__registry_each(WARD_KIND_THREAD, thread_tp, s);
#endif
	return true;
}

/* The stopped threads' stacks, copied before they are let go. */
static void keep_stacks(struct scan *s, const struct ward__stopped *threads,
			int nthreads)
{
	int n = 0;
	for (int t = 0; t < nthreads; t++)
		n += !threads[t].held && threads[t].stack.n > 0;
	if (!n || !(s->stacks = map_pages((size_t)n * sizeof(*s->stacks))))
		return;
	for (int t = 0; t < nthreads; t++)
		if (!threads[t].held && threads[t].stack.n > 0)
			s->stacks[s->nstacks++] = threads[t].stack;
}

/*
 * With every other thread stopped: the live blocks taken, sorted and
 * indexed, then marked from the roots. A held thread (one stopped while
 * ward's books were its to change) that wakes and frees a block waits for
 * the heap's books before the memory goes: they stay locked while
 * marking. 0, or -errno: -ENOMEM, or why the mappings could not be read
 * (the threads resumed either way).
 */
static int mark_stopped(struct scan *s, const struct ward__scan_self *self,
			int also, const struct ward__stopped *threads,
			int nthreads)
{
	for (int t = 0; t < nthreads; t++)
		s->held += threads[t].held;
	int rc = take_blocks(s, also) ? 0 : -ENOMEM;
	if (!s->held)
		unlock_kinds(also);
	if (rc == 0 && s->n > 0) {
		sort_blocks(s);
		if (!index_blocks(s))
			rc = -ENOMEM;
	}
	if (rc == 0 && s->n > 0) {
		VALGRIND_DISABLE_ERROR_REPORTING;
		rc = read_maps(s);
		if (rc == 0) {
			flag_unreadable(s);
			flag_stdio_buffers(s);
			drop_main_arena(s);
			note_books(s);
			/* Its own stack whole, from the low end of its
			 * mapping, when where the thread left it is not
			 * known; from there too when where it left it is
			 * not mapped (a stack that overflowed: the pointer
			 * went past the mapping's end, and the frames that
			 * hold what the thread had are all above). */
			struct ward__scan_self me = *self;
			uintptr_t lo, hi, at_lo, at_hi;
			bool top = mapping_of(s, me.stack_hi - 8, &lo, &hi);
			if (!me.stack_lo ||
			    (top && !mapping_of(s, me.stack_lo, &at_lo, &at_hi)))
				me.stack_lo = top ? lo : me.stack_hi;
			mark(s, &me, threads, nthreads);
			if (s->want)
				build_paths(s, &me, threads, nthreads);
		}
		VALGRIND_ENABLE_ERROR_REPORTING;
	}
	if (s->held)
		unlock_kinds(also);
	keep_stacks(s, threads, nthreads);
	ward__threads_resume();
	return rc;
}

int ward__scan_heap_why(const struct ward__scan_self *self, int also,
			bool (*want)(uint32_t site, void *arg), void *arg,
			struct ward__scan_result *out)
{
	struct scan s;
	const struct ward__stopped *threads;

	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
#if !defined(__x86_64__)
	/* Elsewhere the stopped threads' registers and the threads' TLS are
	 * not read: blocks only they point to would be called lost. No
	 * classification is better than a wrong one (docs/layout.md). */
	(void)self;
	(void)threads;
	return -ENOTSUP;
#endif
	/* Nothing to classify when no block is live (a forked child that
	 * only execs or exits): no thread stopped, nothing read. */
	if (!any_live(WARD_KIND_HEAP) && (also < 0 || !any_live(also)))
		return 0;
	read_unrecorded();
	int nthreads = -1, rc = 0;
	if (!prepare(&s, also, want, arg))
		rc = -ENOMEM;
	else if ((nthreads = quiesce(&threads, also)) < 0)
		rc = nthreads;
	else
		rc = mark_stopped(&s, self, also, threads, nthreads);
	if (rc < 0) {
		unmap_all(&s);
		return rc;
	}
	out->held = s.held;
	out->unread = s.unread;
	rc = give_result(&s, out);
	unmap_all(&s);
	return rc;
}

const char *ward__scan_failure(int rc, char *buf, size_t len)
{
	const char *why;
	char limit[192];
	switch (rc) {
	case -ENOTSUP:
		return "the reachability scan runs on x86-64 only";
	case -ENOMEM:
		return ward__no_memory_for("the scan", buf, len);
	case -ENODATA:
		return "the process's memory map (/proc/self/maps) read empty";
	case -EBUSY:
		why = "the program has its own action for ward's signal "
		      "(SIGRTMAX-1)";
		break;
	case -ETIMEDOUT:
		why = "one did not answer ward's signal within a second";
		break;
	case -E2BIG:
		why = "too many of them";
		break;
	case -EAGAIN:
		why = "new ones kept starting, or one stayed inside ward's "
		      "books";
		break;
	case -ENOBUFS: {
		char n[64] = "";
		struct rlimit rl;
		if (getrlimit(RLIMIT_SIGPENDING, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY)
			snprintf(n, sizeof(n), " or `ulimit -i`, is %llu and",
				 (unsigned long long)rl.rlim_cur);
		snprintf(limit, sizeof(limit),
			 "ward's signal could not be queued to them (the limit "
			 "of pending signals, RLIMIT_SIGPENDING%s was reached)",
			 n);
		why = limit;
		break;
	}
	default:
		snprintf(buf, len, "cannot read /proc/self (the memory map, "
			 "the threads): %s", strerror(-rc));
		return buf;
	}
	snprintf(buf, len, "the program's other threads could not be stopped "
		 "to read their stacks: %s", why);
	return buf;
}

void ward__scan_free(struct ward__scan_result *r)
{
	free(r->paths);
	unmap_pages(r->mapped, r->mapped_len);
	unmap_pages(r->stacks, (size_t)r->nstacks * sizeof(*r->stacks));
	memset(r, 0, sizeof(*r));
}
