/*
 * unwind.c — a stack walker that is correct through code built without
 * frame pointers and nearly as cheap as following them: the .eh_frame rule
 * for each return address is computed once and cached.
 *
 * For a return address, the rule says where the caller's frame is: the CFA
 * (canonical frame address) is RSP or RBP of the current frame plus an
 * offset; the return address is at CFA-8 (x86-64); the caller's RBP, if
 * this frame saved it, is at CFA plus another offset. The rule comes from
 * running the CIE's and FDE's call-frame instructions up to the address.
 * libgcc's _Unwind_Find_FDE finds the FDE (it knows every loaded object's
 * .eh_frame_hdr); the interpreter here handles the instructions compilers
 * emit for ordinary functions. Frames it cannot describe (expressions, as
 * in PLT stubs and signal trampolines) fall back to the frame pointer, and
 * if that does not look sound either, the walk ends.
 *
 * The cache is per thread (no locks, no races): 4096 direct-mapped entries
 * keyed by return address, 16 bytes each, allocated on a thread's first
 * walk.
 *
 * x86-64 only. Elsewhere ward__cfi_capture returns -1 and callers use another
 * walker.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "capture/cfi.h"
#include "core/guard.h"
#include "core/map.h"

#if defined(__x86_64__)

struct dwarf_eh_bases {
	void *tbase, *dbase, *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };
enum { NO_SAVE = -32768 };

struct rule {
	uintptr_t pc;     /* return address this rule is for; 0 = empty */
	int32_t cfa_off;
	int16_t rbp_off;  /* where RBP was saved, from the CFA */
	uint8_t flags;    /* RULE_*: each a test of one bit in the walk */
};

enum {
	RULE_CODE = 1,      /* an FDE covers the call: pc is a return address
			     * into code, not a stray word */
	RULE_CFA = 2,       /* the CFA is a register plus cfa_off (else: no
			     * usable rule, follow the frame pointer) */
	RULE_CFA_RBP = 4,   /* that register is RBP (else RSP) */
	RULE_RBP_SAVED = 8, /* RBP was saved at the CFA plus rbp_off */
	RULE_END = 16,      /* the outermost frame: the walk ends here */
};

/*
 * Each thread's rules: 2^12 sets of two ways, the newer first, a set in
 * one cache line; 128 KiB at most, touched where used. A rule costs ~2,300
 * instructions to compute, and cc1 on a large file calls from ~5,000
 * return addresses: one way in 4,096 slots missed 1% of its 12M lookups,
 * two in these 8,192 miss a fifth as often.
 */
enum { CACHE_BITS = 13 };
static __thread struct rule *cache;
_Static_assert(sizeof(struct rule) == 16, "a set of two rules is 32 bytes");

/*
 * Rules describe code at an address; when code is unmapped (dlclose),
 * other code may be mapped there later. Each thread drops its rules at its
 * next walk after the count of unmappings moves.
 */
static _Atomic uint32_t unmapped;
static __thread uint32_t unmapped_seen;

void ward__unwind_code_unmapped(void)
{
	atomic_fetch_add_explicit(&unmapped, 1, memory_order_release);
}

static inline void drop_stale_rules(void)
{
	uint32_t now = atomic_load_explicit(&unmapped, memory_order_acquire);
	if (__builtin_expect(now != unmapped_seen, 0)) {
		if (cache)
			memset(cache, 0, sizeof(struct rule) << CACHE_BITS);
		unmapped_seen = now;
	}
}

/* ---- Reading .eh_frame ------------------------------------------------- */

/* .eh_frame fields are not aligned: read them byte-wise. */
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint64_t uleb(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	int shift = 0;
	while (*p < end) {
		uint8_t b = *(*p)++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	return v;
}

static int64_t sleb(const uint8_t **p, const uint8_t *end)
{
	int64_t v = 0;
	int shift = 0;
	uint8_t b = 0;
	while (*p < end) {
		b = *(*p)++;
		if (shift < 64)
			v |= (int64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (shift < 64 && (b & 0x40))
		v |= -((int64_t)1 << shift);
	return v;
}

/* Size of a pointer in encoding `enc` (0 for uleb128/sleb128 forms). */
static int enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return 8; /* absptr */
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	case 0x04: case 0x0c: return 8;
	default: return 0;
	}
}

static bool skip_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc)
{
	if (enc == 0xff) /* DW_EH_PE_omit */
		return true;
	int n = enc_size(enc);
	if (n == 0) {
		if ((enc & 0x0f) == 0x01)
			uleb(p, end);
		else if ((enc & 0x0f) == 0x09)
			sleb(p, end);
		else
			return false;
		return true;
	}
	if (end - *p < n)
		return false;
	*p += n;
	return true;
}

/* Only what decides where the caller's frame is. */
struct state {
	uint8_t cfa_reg;
	int64_t cfa_off;
	int64_t rbp_off; /* NO_SAVE when RBP is not saved */
	bool bad;        /* a rule we cannot follow */
	bool last;       /* the return address is undefined: outermost frame */
};

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	bool has_aug;
	const uint8_t *insns, *end;
};

static bool parse_cie(const uint8_t *c, struct cie *out)
{
	uint32_t len = rd32(c);
	if (len == 0 || len == 0xffffffff)
		return false;
	const uint8_t *p = c + 4, *end = c + 4 + len;
	if (rd32(p) != 0) /* CIE id */
		return false;
	p += 4;
	uint8_t version = *p++;
	const char *aug = (const char *)p;
	size_t alen = strnlen(aug, (size_t)(end - p));
	p += alen + 1;
	if (version >= 4)
		p += 2; /* address size, segment size */
	out->code_align = uleb(&p, end);
	out->data_align = sleb(&p, end);
	if (version == 1)
		p++;
	else
		uleb(&p, end);
	out->fde_enc = 0;
	out->has_aug = aug[0] == 'z';
	if (out->has_aug) {
		uint64_t n = uleb(&p, end);
		const uint8_t *a = p, *aend = p + n;
		if (aend > end)
			return false;
		for (const char *s = aug + 1; *s && a < aend; s++) {
			if (*s == 'R')
				out->fde_enc = *a++;
			else if (*s == 'P') {
				uint8_t enc = *a++;
				if (!skip_encoded(&a, aend, enc))
					return false;
			} else if (*s == 'L')
				a++;
			else if (*s == 'S' || *s == 'B')
				;
			else
				return false;
		}
		p = aend;
	}
	out->insns = p;
	out->end = end;
	return p <= end;
}

/* An advance_loc instruction's distance in code units; -1 for any other
 * instruction (then *pp is left alone). */
static int64_t advance_of(uint8_t op, const uint8_t **pp)
{
	const uint8_t *p = *pp;
	int64_t units;

	if ((op & 0xc0) == 0x40)
		units = op & 0x3f;
	else if (op == 0x02)
		units = *p++;
	else if (op == 0x03) {
		units = rd16(p);
		p += 2;
	} else if (op == 0x04) {
		units = rd32(p);
		p += 4;
	} else
		return -1;
	*pp = p;
	return units;
}

/* Where a rule says a register is saved: only rbp's and the return
 * address's matter to the walker. Returns false for an instruction that
 * is not a register rule (*pp then left alone). */
static bool register_rule(uint8_t op, const uint8_t **pp, const uint8_t *end,
			  const struct cie *cie, struct state *st,
			  const struct state *initial)
{
	const uint8_t *p = *pp;
	uint8_t hi = op & 0xc0, lo = op & 0x3f;
	uint64_t reg;
	int64_t off;

	if (hi == 0x80) { /* offset */
		off = (int64_t)uleb(&p, end) * cie->data_align;
		if (lo == REG_RBP)
			st->rbp_off = off;
	} else if (hi == 0xc0) { /* restore */
		if (lo == REG_RBP)
			st->rbp_off = initial->rbp_off;
	} else if (op == 0x05 || op == 0x11 || op == 0x2f) {
		/* offset_extended, _sf, GNU_negative_offset_extended */
		reg = uleb(&p, end);
		off = op == 0x05   ? (int64_t)uleb(&p, end) * cie->data_align
		      : op == 0x11 ? sleb(&p, end) * cie->data_align
				   : -(int64_t)uleb(&p, end) * cie->data_align;
		if (reg == REG_RBP)
			st->rbp_off = off;
	} else if (op == 0x06) { /* restore_extended */
		if (uleb(&p, end) == REG_RBP)
			st->rbp_off = initial->rbp_off;
	} else if (op == 0x07) { /* undefined */
		reg = uleb(&p, end);
		if (reg == REG_RA)
			st->last = true; /* _start, thread entry */
		else if (reg == REG_RBP)
			st->rbp_off = NO_SAVE;
	} else if (op == 0x08) { /* same_value */
		if (uleb(&p, end) == REG_RBP)
			st->rbp_off = NO_SAVE;
	} else if (op == 0x09 || op == 0x14 || op == 0x15 || op == 0x10 ||
		   op == 0x16) {
		/* register (saved in another), val_offset(_sf), expression,
		 * val_expression: rules the walker does not follow */
		reg = uleb(&p, end);
		if (op == 0x15)
			sleb(&p, end);
		else if (op == 0x10 || op == 0x16)
			p += uleb(&p, end);
		else
			uleb(&p, end);
		if (reg == REG_RBP || reg == REG_RA)
			st->bad = true;
	} else {
		return false;
	}
	*pp = p;
	return true;
}

/* The rule for the canonical frame address. Returns false for an
 * instruction that is not one (*pp then left alone). */
static bool cfa_rule(uint8_t op, const uint8_t **pp, const uint8_t *end,
		     const struct cie *cie, struct state *st)
{
	const uint8_t *p = *pp;

	switch (op) {
	case 0x0c: /* def_cfa */
		st->cfa_reg = (uint8_t)uleb(&p, end);
		st->cfa_off = (int64_t)uleb(&p, end);
		break;
	case 0x0d: /* def_cfa_register */
		st->cfa_reg = (uint8_t)uleb(&p, end);
		break;
	case 0x0e: /* def_cfa_offset */
		st->cfa_off = (int64_t)uleb(&p, end);
		break;
	case 0x12: /* def_cfa_sf */
		st->cfa_reg = (uint8_t)uleb(&p, end);
		st->cfa_off = sleb(&p, end) * cie->data_align;
		break;
	case 0x13: /* def_cfa_offset_sf */
		st->cfa_off = sleb(&p, end) * cie->data_align;
		break;
	case 0x0f: /* def_cfa_expression */
		st->bad = true;
		break;
	default:
		return false;
	}
	*pp = p;
	return true;
}

/* Run call-frame instructions [p, end) up to address `target`. */
static void run(struct state *st, const struct cie *cie, const uint8_t *p,
		const uint8_t *end, uintptr_t loc, uintptr_t target,
		const struct state *initial)
{
	struct state saved[8];
	int nsaved = 0;

	while (p < end && !st->bad) {
		uint8_t op = *p++;
		int64_t units = advance_of(op, &p);
		if (units >= 0) {
			loc += (uintptr_t)units * cie->code_align;
			if (loc > target)
				return;
			continue;
		}
		if (register_rule(op, &p, end, cie, st, initial) ||
		    cfa_rule(op, &p, end, cie, st))
			continue;
		switch (op) {
		case 0x00: /* nop */
			break;
		case 0x2e: /* GNU_args_size */
			uleb(&p, end);
			break;
		case 0x0a: /* remember_state */
			if (nsaved == 8)
				st->bad = true;
			else
				saved[nsaved++] = *st;
			break;
		case 0x0b: /* restore_state */
			if (nsaved == 0)
				st->bad = true;
			else
				*st = saved[--nsaved];
			break;
		default: /* set_loc (never with .eh_frame_hdr), and unknown */
			st->bad = true;
		}
	}
}

/* Compute the rule for return address ra (the call is at ra - 1). Out of
 * line: the walk looks a rule up for every frame and finds it cached,
 * and a lookup that saved the registers compute() needs cost twice as
 * much as the lookup itself. */
static __attribute__((noinline)) void compute(uintptr_t ra, struct rule *r)
{
	struct dwarf_eh_bases bases;
	r->pc = ra;
	ward__guard_raise();
	const uint8_t *fde = _Unwind_Find_FDE((void *)(ra - 1), &bases);
	ward__guard_lower();
	r->flags = fde ? RULE_CODE : 0;
	if (!fde)
		return;
	uint32_t len = rd32(fde);
	if (len == 0 || len == 0xffffffff)
		return;
	const uint8_t *fend = fde + 4 + len;
	int32_t cie_delta = (int32_t)rd32(fde + 4);
	const uint8_t *cie_p = fde + 4 - cie_delta;
	struct cie cie;
	if (!parse_cie(cie_p, &cie))
		return;
	const uint8_t *p = fde + 8;
	/* pc_begin (we have it: bases.func), pc_range. */
	if (!skip_encoded(&p, fend, cie.fde_enc) ||
	    !skip_encoded(&p, fend, cie.fde_enc & 0x0f))
		return;
	if (cie.has_aug)
		p += uleb(&p, fend);
	if (p > fend)
		return;

	struct state st = { REG_RSP, 8, NO_SAVE, false, false };
	uintptr_t start = (uintptr_t)bases.func;
	run(&st, &cie, cie.insns, cie.end, start, ra - 1, &st);
	struct state initial = st;
	run(&st, &cie, p, fend, start, ra - 1, &initial);
	if (st.bad || (st.cfa_reg != REG_RSP && st.cfa_reg != REG_RBP) ||
	    st.cfa_off < 0 || st.cfa_off > INT32_MAX ||
	    (st.rbp_off != NO_SAVE && (st.rbp_off < -32767 || st.rbp_off > 32767)))
		return;
	r->cfa_off = (int32_t)st.cfa_off;
	r->rbp_off = (int16_t)st.rbp_off;
	r->flags |= RULE_CFA | (st.cfa_reg == REG_RBP ? RULE_CFA_RBP : 0) |
		    (st.rbp_off != NO_SAVE ? RULE_RBP_SAVED : 0) |
		    (st.last ? RULE_END : 0);
}

/* This thread's rules, made on first use; NULL when they cannot be. */
static inline struct rule *rules_here(void)
{
	if (__builtin_expect(!cache, 0)) {
		void *m = ward__map(sizeof(struct rule) << CACHE_BITS);
		if (!m)
			return NULL;
		cache = m;
	}
	return cache;
}

/* The rule for return address ra, from the thread's rules c. */
static inline const struct rule *rule_for(struct rule *c, uintptr_t ra)
{
	size_t k = (size_t)((ra * 0x9e3779b97f4a7c15ull) >> (65 - CACHE_BITS));
	struct rule *set = &c[k * 2];
	if (set[0].pc == ra)
		return &set[0];
	if (set[1].pc == ra)
		return &set[1];
	set[1] = set[0];
	compute(ra, &set[0]);
	return &set[0];
}

/* Where a thread has no rules (no memory for them): no frame is known
 * to be code, and the walk ends after its first. */
static const struct rule no_rule = { .flags = 0 };

/*
 * The inputs a walk consumed, so that a later walk from the same place can
 * be shown to give the same stack without being done again: a walk is a
 * function of where it starts (the stack pointer, the return address the
 * walk begins with, and the frame pointer if a rule uses it before any
 * frame reloads it) and of the stack words it reads. Saved frame pointers
 * are logged only when a later rule uses them: code built without frame
 * pointers keeps loop counters in RBP, and a walk that never looks at
 * them must not depend on them.
 */
enum { LOG_READS = 80 };

struct walk_log {
	uintptr_t sp, bp;   /* where the walk started, */
	uintptr_t pc;       /* from which call */
	ward__walk_fn fn;   /* what made the id, */
	uint32_t key, id;   /* from what */
	uint16_t max, skip;
	uint16_t nreads;    /* not a char: its stores alias nothing else */
	bool bp_used;       /* the starting bp is an input */
	bool rules;         /* .eh_frame rules, or frame pointers only */
	bool valid;
	/* Each word read, where and what: side by side, so that checking
	 * four reads touches one cache line. */
	struct walk_read {
		uintptr_t addr, val;
	} read[LOG_READS];
};

/* Log a read as the nr-th of log (counted in a register by the walk,
 * stored when it ends). */
static inline bool log_read(struct walk_log *log, unsigned *nr,
			    uintptr_t addr, uintptr_t val)
{
	if (*nr == LOG_READS)
		return false;
	log->read[*nr].addr = addr;
	log->read[(*nr)++].val = val;
	return true;
}

/*
 * The walk proper, from the state (sp, bp, pc) of some frame. With a log,
 * records what it reads; returns the count, and sets *complete to whether
 * the log holds every input. The stack's word at address a is read at
 * a + delta: 0, or a copy's distance from the stack (another thread's,
 * copied).
 */
static inline __attribute__((always_inline)) int
walk(uintptr_t sp, uintptr_t bp, uintptr_t pc, uintptr_t *pcs, int max,
     int skip, uintptr_t lo, uintptr_t hi, bool rules, struct walk_log *log,
     bool *complete, uintptr_t *cfas, bool interrupted, uintptr_t delta)
{
	uintptr_t bp_src = 0; /* where bp was loaded from; 0: the register */
	bool bp_logged = false, ok = true;
	int n = 0;
	unsigned nr = log ? log->nreads : 0;
	struct rule *rc = rules_here();
	/* A frame's CFA lies in [lo + 8, hi] (it is read 8 bytes below): one
	 * of len values from lo8, none when the range is empty. */
	uintptr_t lo8 = lo + 8, len = hi >= lo8 ? hi - lo8 + 1 : 0;

#define USE_BP()                                                              \
	do {                                                                  \
		if (log && !bp_logged) {                                      \
			if (bp_src)                                           \
				ok &= log_read(log, &nr, bp_src, bp);         \
			else {                                                \
				log->bp_used = true;                          \
				log->bp = bp;                                 \
			}                                                     \
			bp_logged = true;                                     \
		}                                                             \
	} while (0)

	for (bool first = true; n < max && pc >= 4096; first = false) {
		/* Rules are looked up for a return address, whose call is the
		 * byte before; an interrupted context's pc is the instruction
		 * itself, which may be its function's first (the byte before
		 * is another function's). */
		const struct rule *r =
			rc ? rule_for(rc, first && interrupted ? pc + 1 : pc)
			   : &no_rule;
		/* A word that is no return address into code (a frame-pointer
		 * chain through code built without one reads text or heap
		 * addresses) ends the walk: it is never a frame. The first pc
		 * is where the walk starts, code by construction. */
		unsigned f = r->flags;
		if (!first && !(f & RULE_CODE))
			break;
		if (skip > 0)
			skip--;
		else {
			if (cfas) /* until this frame's own is known */
				cfas[n] = hi;
			pcs[n++] = pc;
		}
		if (!rules)
			f = RULE_CODE; /* frame pointers only */
		if (f & RULE_END)
			break;
		uintptr_t cfa;
		if (f & RULE_CFA) {
			if (f & RULE_CFA_RBP) {
				USE_BP();
				cfa = bp + (uintptr_t)r->cfa_off;
			} else {
				cfa = sp + (uintptr_t)r->cfa_off;
			}
		} else {
			USE_BP();
			cfa = bp + 16; /* frame-pointer convention */
		}
		if (cfa <= sp || cfa - lo8 >= len)
			break;
		if (cfas && n > 0 && skip == 0)
			cfas[n - 1] = cfa;
		uintptr_t next_pc = *(uintptr_t *)(cfa - 8 + delta);
		if (log)
			ok &= log_read(log, &nr, cfa - 8, next_pc);
		if (f & RULE_CFA) {
			if (f & RULE_RBP_SAVED) {
				uintptr_t at = cfa + (uintptr_t)(intptr_t)r->rbp_off;
				if (at + 8 - lo8 >= len) /* not in [lo, hi - 8] */
					break;
				bp = *(uintptr_t *)(at + delta);
				bp_src = at;
				bp_logged = false;
			}
		} else {
			bp = *(uintptr_t *)(cfa - 16 + delta);
			bp_src = cfa - 16;
			bp_logged = false;
		}
		sp = cfa;
		pc = next_pc;
	}
#undef USE_BP
	if (log)
		log->nreads = (uint16_t)nr;
	if (complete)
		*complete = ok;
	return n;
}

/*
 * Remembered walks, per thread: 64 sets of 4, the set picked by the stack
 * pointer the walk starts from (the same call path in a loop starts from
 * the same place; two call sites in one function share a set and take a
 * way each).
 */
enum { MEMO_SETS = 64, MEMO_WAYS = 4 };
static __thread struct walk_log *memo;
static __thread uint8_t memo_next[MEMO_SETS];
static __thread bool memo_busy;
/* The walk's return addresses, beside the memo rather than on the stack:
 * an allocation in a signal handler runs on the program's alternate
 * stack, often SIGSTKSZ (8 KiB, of which the kernel's frame takes up to
 * half), and ward must not need more of it than the program does. */
enum { WALK_MAX = 256 };
static __thread uintptr_t *memo_pcs;

static bool still_valid(const struct walk_log *m, uintptr_t bp)
{
	if (m->bp_used && m->bp != bp)
		return false;
	/* Eight reads at a time, then a branch: the ways of a set often
	 * share a start and their first frames (two callers of one
	 * allocating function), and a way that is not the walk stops at the
	 * first difference instead of reading the whole log. */
	const struct walk_read *r = m->read, *end = r + m->nreads;
#define CHANGED(k) (*(const uintptr_t *)r[k].addr ^ r[k].val)
	for (; end - r >= 8; r += 8)
		if (CHANGED(0) | CHANGED(1) | CHANGED(2) | CHANGED(3) |
		    CHANGED(4) | CHANGED(5) | CHANGED(6) | CHANGED(7))
			return false;
	if (end - r >= 4) {
		if (CHANGED(0) | CHANGED(1) | CHANGED(2) | CHANGED(3))
			return false;
		r += 4;
	}
	uintptr_t diff = 0;
	for (; r < end; r++)
		diff |= CHANGED(0);
#undef CHANGED
	return diff == 0;
}

static bool memo_init(void)
{
	size_t logs = sizeof(struct walk_log) * MEMO_SETS * MEMO_WAYS;
	void *m = ward__map(logs + WALK_MAX * sizeof(uintptr_t));
	if (!m)
		return false;
	memo_pcs = (uintptr_t *)((char *)m + logs);
	memo = m;
	return true;
}

static struct walk_log *memo_find(uintptr_t sp, uintptr_t bp, uintptr_t pc,
				  uint32_t key, ward__walk_fn fn, int max,
				  int skip, bool rules, size_t set)
{
	struct walk_log *ways = &memo[set * MEMO_WAYS];
	for (int w = 0; w < MEMO_WAYS; w++) {
		struct walk_log *m = &ways[w];
		if (m->valid && m->sp == sp && m->pc == pc && m->key == key &&
		    m->fn == fn && m->rules == rules &&
		    m->max == (uint16_t)max &&
		    m->skip == (uint16_t)skip && still_valid(m, bp))
			return m;
	}
	return NULL;
}

int ward__capture_frames(uintptr_t pc, uintptr_t sp, uintptr_t bp,
			 uintptr_t *pcs, uintptr_t *cfas, int max)
{
	uintptr_t hi = ward__stack_top_of(sp);
	if (!hi || sp >= hi || max <= 0)
		return 0;
	drop_stale_rules();
	return walk(sp, bp, pc, pcs, max, 0, sp, hi, true, NULL, NULL, cfas,
		    true, 0);
}

int ward__capture_asleep(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, int max)
{
	/* The red zone below sp, where a walk may read a frame pointer's
	 * slot, and up to COPY of the stack above. */
	enum { BELOW = 128, COPY = 256 << 10 };
	uintptr_t hi = ward__stack_top_of(sp);
	if (!hi || sp >= hi || sp < BELOW || max <= 0)
		return 0;
	size_t want = hi - sp + BELOW < COPY ? hi - sp + BELOW : COPY;
	char *copy = ward__map(COPY);
	if (!copy)
		return 0;
	struct iovec local = { copy, want },
		     remote = { (void *)(sp - BELOW), want };
	ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	int n = 0;
	if (got > BELOW) {
		drop_stale_rules();
		n = walk(sp, 0, pc, pcs, max, 0, sp, sp - BELOW + (uintptr_t)got,
			 true, NULL, NULL, NULL, true,
			 (uintptr_t)copy - (sp - BELOW));
	}
	ward__unmap(copy, COPY);
	return n;
}

int ward__capture_context(uintptr_t pc, uintptr_t sp, uintptr_t bp,
			  uintptr_t *pcs, int max)
{
	uintptr_t hi = ward__stack_top_known();
	if (!hi || sp >= hi) /* a thread that never walked before */
		hi = ward__stack_top_of(sp);
	if (!hi || sp >= hi || max <= 0)
		return 0;
	drop_stale_rules();
	return walk(sp, bp, pc, pcs, max, 0, sp, hi, true, NULL, NULL, NULL,
		    true, 0);
}

/* A walk remembered nowhere: a signal handler's that interrupted this
 * thread in ward__cfi_capture() (whose memo entry and buffer may be half
 * written), or a thread with no memory for a memo. Its own buffer is on
 * the stack, so it is kept short. */
static __attribute__((noinline)) uint32_t
walk_unremembered(uintptr_t sp, uintptr_t bp, uintptr_t pc, uint32_t key,
		  int max, int skip, uintptr_t lo, uintptr_t hi, bool rules,
		  ward__walk_fn fn)
{
	enum { SHORT = 64 };
	uintptr_t pcs[SHORT];
	int n = walk(sp, bp, pc, pcs, max < SHORT ? max : SHORT, skip, lo, hi,
		     rules, NULL, NULL, NULL, false, 0);
	return fn(key, pcs, ward__unhide(pcs, n));
}

__attribute__((noinline)) int ward__cfi_capture(uint32_t key, int max,
					       int skip, uintptr_t lo,
					       uintptr_t hi, bool rules,
					       ward__walk_fn fn, uint32_t *id)
{
	uintptr_t *fp = __builtin_frame_address(0);
	uintptr_t sp = (uintptr_t)(fp + 2), bp = fp[0], pc = fp[1];

	drop_stale_rules();
	if (lo < (uintptr_t)fp)
		lo = (uintptr_t)fp;
	if (__builtin_expect(memo_busy || (!memo && !memo_init()), 0)) {
		*id = walk_unremembered(sp, bp, pc, key, max, skip, lo, hi,
					rules, fn);
		return 0;
	}
	memo_busy = true;
	__asm__ volatile("" ::: "memory");
	size_t set = (size_t)(((sp >> 3) * 0x9e3779b97f4a7c15ull) >> 58);
	struct walk_log *m = memo_find(sp, bp, pc, key, fn, max, skip, rules,
				       set);
	if (m) {
		*id = m->id;
		__asm__ volatile("" ::: "memory");
		memo_busy = false;
		return 0;
	}
	m = &memo[set * MEMO_WAYS + memo_next[set]++ % MEMO_WAYS];
	m->valid = false;
	m->nreads = 0;
	m->bp_used = false;
	bool complete;
	uintptr_t *pcs = memo_pcs;
	int n = walk(sp, bp, pc, pcs, max < WALK_MAX ? max : WALK_MAX, skip,
		     lo, hi, rules, m, &complete, NULL, false, 0);
	*id = fn(key, pcs, ward__unhide(pcs, n));
	if (complete && *id) {
		m->sp = sp;
		m->pc = pc;
		m->key = key;
		m->fn = fn;
		m->id = *id;
		m->max = (uint16_t)max;
		m->skip = (uint16_t)skip;
		m->rules = rules;
		m->valid = true;
	}
	__asm__ volatile("" ::: "memory");
	memo_busy = false;
	return 0;
}

#else

void ward__unwind_code_unmapped(void)
{
}

int ward__capture_context(uintptr_t pc, uintptr_t sp, uintptr_t bp,
			  uintptr_t *pcs, int max)
{
	(void)pc; (void)sp; (void)bp; (void)pcs; (void)max;
	return 0;
}

int ward__capture_frames(uintptr_t pc, uintptr_t sp, uintptr_t bp,
			 uintptr_t *pcs, uintptr_t *cfas, int max)
{
	(void)pc; (void)sp; (void)bp; (void)pcs; (void)cfas; (void)max;
	return 0;
}

int ward__capture_asleep(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, int max)
{
	(void)pc; (void)sp; (void)pcs; (void)max;
	return 0;
}

int ward__cfi_capture(uint32_t key, int max, int skip, uintptr_t lo,
		      uintptr_t hi, bool rules, ward__walk_fn fn, uint32_t *id)
{
	(void)key; (void)max; (void)skip; (void)lo; (void)hi; (void)rules;
	(void)fn; (void)id;
	return -1;
}

#endif
