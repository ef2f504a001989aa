/*
 * demangle.c — function names as their source spells them.
 *
 * C++ names (and Rust's legacy ones, which are C++-mangled) go to the C++
 * runtime's own __cxa_demangle. Rust's v0 names ("_R...", rustc's own
 * and any crate built with -C symbol-mangling-version=v0) are read here:
 * the grammar is small and fixed (the Rust reference's "v0 symbol
 * format"). A crate's name prints without its disambiguating hash
 * (`<std::sys::thread::unix::Thread>::new`, not `<std[e28293b1aa0f68bd]::
 * ...>`), as rustc-demangle's alternate form does: a leak report names
 * code, and the hash names a build. A name the reader does not take whole
 * stays as it was.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/symbolize.h"

/* ---- Rust v0 ------------------------------------------------------------ */

/* Nesting at most MAX_DEPTH deep, and MAX_STEPS productions read in all:
 * backrefs may name a production that names two more, and a name made to
 * double at each of 64 levels would otherwise take forever. */
enum { MAX_DEPTH = 64, MAX_STEPS = 1 << 16 };

struct rd {
	const char *s; /* the name after "_R" */
	size_t n, at;
	char *out;
	size_t len, used;
	int quiet; /* > 0: parse without printing (an impl's own path) */
	int depth, steps;
	uint64_t bound; /* lifetimes bound by the binders around (for<'a>) */
	bool bad;
};

static char peek(const struct rd *r)
{
	return r->at < r->n ? r->s[r->at] : '\0';
}

static bool eat(struct rd *r, char c)
{
	if (peek(r) != c)
		return false;
	r->at++;
	return true;
}

static void put_n(struct rd *r, const char *p, size_t k)
{
	if (r->quiet || r->bad)
		return;
	for (size_t i = 0; i < k && r->used + 1 < r->len; i++)
		r->out[r->used++] = p[i];
}

static void put(struct rd *r, const char *p)
{
	put_n(r, p, strlen(p));
}

/* {0-9a-zA-Z} "_": "_" alone is 0, digits d are d + 1. */
static uint64_t base62(struct rd *r)
{
	if (eat(r, '_'))
		return 0;
	uint64_t v = 0;
	for (char c; (c = peek(r)) != '_';) {
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'z' ? c - 'a' + 10
			: c >= 'A' && c <= 'Z' ? c - 'A' + 36
					       : -1;
		if (d < 0 || v > (UINT64_MAX - 61) / 62) {
			r->bad = true;
			return 0;
		}
		v = v * 62 + (uint64_t)d;
		r->at++;
	}
	r->at++;
	return v + 1;
}

static uint64_t decimal(struct rd *r)
{
	char c = peek(r);
	if (c < '0' || c > '9') {
		r->bad = true;
		return 0;
	}
	if (c == '0') { /* "0" alone: what follows is the next token */
		r->at++;
		return 0;
	}
	uint64_t v = 0;
	while ((c = peek(r)) >= '0' && c <= '9' && v < UINT32_MAX) {
		v = v * 10 + (uint64_t)(c - '0');
		r->at++;
	}
	return v;
}

/* ["s" base62] — the disambiguator: 0 when absent, else its value + 1. */
static uint64_t disambiguator(struct rd *r)
{
	return eat(r, 's') ? base62(r) + 1 : 0;
}

/* ["u"] decimal ["_"] bytes: the identifier's bytes in *at, *k. */
static void undisambiguated(struct rd *r, const char **at, size_t *k,
			    bool *puny)
{
	*puny = eat(r, 'u');
	uint64_t len = decimal(r);
	eat(r, '_');
	if (r->bad || len > r->n - r->at) {
		r->bad = true;
		*at = "";
		*k = 0;
		return;
	}
	*at = r->s + r->at;
	*k = (size_t)len;
	r->at += (size_t)len;
}

static void put_ident(struct rd *r, const char *at, size_t k, bool puny)
{
	if (puny)
		put(r, "punycode{");
	put_n(r, at, k);
	if (puny)
		put(r, "}");
}

static void path(struct rd *r, bool in_value);
static void type(struct rd *r);

static bool enter(struct rd *r)
{
	if (r->bad || ++r->depth > MAX_DEPTH || ++r->steps > MAX_STEPS) {
		r->bad = true;
		return false;
	}
	return true;
}

/* "B" base62, its "B" read: go to the earlier place it names (never
 * this one or later); *back gets where to come back to. */
static bool jump_back(struct rd *r, size_t *back)
{
	size_t from = r->at - 1;
	uint64_t to = base62(r);
	if (r->bad || to >= from) {
		r->bad = true;
		return false;
	}
	*back = r->at;
	r->at = (size_t)to;
	return true;
}

/* The same production again, from an earlier place. */
static void backref(struct rd *r, void (*fn)(struct rd *, bool), bool arg)
{
	size_t back;
	if (!jump_back(r, &back))
		return;
	fn(r, arg);
	r->at = back;
}

static void type_of(struct rd *r, bool unused)
{
	(void)unused;
	type(r);
}

/* A lifetime by its index: 0 is erased ('_), i names the i-th binder
 * out ('a the outermost). */
static void put_lifetime(struct rd *r, uint64_t i)
{
	char name[32] = "'_";
	if (i > r->bound) {
		r->bad = true;
		return;
	}
	uint64_t depth = r->bound - i;
	if (i && depth < 26)
		snprintf(name, sizeof(name), "'%c", (char)('a' + depth));
	else if (i)
		snprintf(name, sizeof(name), "'_%llu", (unsigned long long)depth);
	put(r, name);
}

/* ["G" base62]: the lifetimes it binds, printed "for<'a, 'b> ". */
static uint64_t binder(struct rd *r)
{
	uint64_t n = eat(r, 'G') ? base62(r) + 1 : 0;
	if (n > 64) {
		r->bad = true;
		return 0;
	}
	if (n)
		put(r, "for<");
	for (uint64_t i = 0; i < n; i++) {
		if (i)
			put(r, ", ");
		r->bound++;
		put_lifetime(r, 1);
	}
	if (n)
		put(r, "> ");
	return n;
}

static void constant(struct rd *r, bool unused);

/* Items up to an "E", sep between them: how many. */
static int list(struct rd *r, const char *sep, void (*item)(struct rd *))
{
	int k = 0;
	for (; !r->bad && !eat(r, 'E'); k++) {
		if (r->at >= r->n) {
			r->bad = true;
			break;
		}
		if (k)
			put(r, sep);
		item(r);
	}
	return k;
}

static void generic_arg(struct rd *r)
{
	if (eat(r, 'L'))
		put_lifetime(r, base62(r));
	else if (eat(r, 'K'))
		constant(r, false);
	else
		type(r);
}

static void generic_args(struct rd *r)
{
	list(r, ", ", generic_arg);
}

static void path(struct rd *r, bool in_value)
{
	if (!enter(r))
		return;
	char c = peek(r);
	r->at++;
	const char *at;
	size_t k;
	bool puny;
	switch (c) {
	case 'C': /* a crate's root */
		disambiguator(r);
		undisambiguated(r, &at, &k, &puny);
		put_ident(r, at, k, puny);
		break;
	case 'N': { /* a path within another */
		char ns = peek(r);
		r->at++;
		if (!((ns >= 'a' && ns <= 'z') || (ns >= 'A' && ns <= 'Z'))) {
			r->bad = true;
			break;
		}
		path(r, in_value);
		uint64_t dis = disambiguator(r);
		undisambiguated(r, &at, &k, &puny);
		if (ns >= 'a' && ns <= 'z') { /* a constructor's may be empty */
			if (k) {
				put(r, "::");
				put_ident(r, at, k, puny);
			}
			break;
		}
		char num[32];
		put(r, "::{");
		put(r, ns == 'C' ? "closure" : ns == 'S' ? "shim" : "");
		if (ns != 'C' && ns != 'S')
			put_n(r, &ns, 1);
		if (k) {
			put(r, ":");
			put_ident(r, at, k, puny);
		}
		snprintf(num, sizeof(num), "#%llu}", (unsigned long long)dis);
		put(r, num);
		break;
	}
	case 'M': /* <T>: an inherent impl */
	case 'X': /* <T as Trait>: a trait's impl */
		disambiguator(r);
		r->quiet++;
		path(r, false); /* where the impl is: not printed */
		r->quiet--;
		if (c == 'M') {
			put(r, "<");
			type(r);
			put(r, ">");
			break;
		}
		__attribute__((fallthrough)); /* X prints as Y does */
	case 'Y': /* <T as Trait>: the trait's own definition */
		put(r, "<");
		type(r);
		put(r, " as ");
		path(r, false);
		put(r, ">");
		break;
	case 'I': /* generic arguments */
		path(r, in_value);
		put(r, in_value ? "::<" : "<");
		generic_args(r);
		put(r, ">");
		break;
	case 'B':
		backref(r, path, in_value);
		break;
	default:
		r->bad = true;
	}
	r->depth--;
}

static const char *basic(char c)
{
	switch (c) {
	case 'a': return "i8";
	case 'b': return "bool";
	case 'c': return "char";
	case 'd': return "f64";
	case 'e': return "str";
	case 'f': return "f32";
	case 'h': return "u8";
	case 'i': return "isize";
	case 'j': return "usize";
	case 'l': return "i32";
	case 'm': return "u32";
	case 'n': return "i128";
	case 'o': return "u128";
	case 's': return "i16";
	case 't': return "u16";
	case 'u': return "()";
	case 'v': return "...";
	case 'x': return "i64";
	case 'y': return "u64";
	case 'z': return "!";
	case 'p': return "_";
	default: return NULL;
	}
}

static void fn_sig(struct rd *r)
{
	uint64_t bound = binder(r);
	if (eat(r, 'U'))
		put(r, "unsafe ");
	if (eat(r, 'K')) {
		put(r, "extern \"");
		if (eat(r, 'C')) {
			put(r, "C");
		} else {
			const char *at;
			size_t k;
			bool puny;
			undisambiguated(r, &at, &k, &puny);
			for (size_t i = 0; i < k; i++)
				put_n(r, at[i] == '_' ? "-" : &at[i], 1);
		}
		put(r, "\" ");
	}
	put(r, "fn(");
	list(r, ", ", type);
	put(r, ")");
	if (!eat(r, 'u')) {
		put(r, " -> ");
		type(r);
	}
	r->bound -= bound;
}

/* One trait of a dyn type: its path, with the associated types it fixes
 * among its generic arguments (Fn<(A,), Output = B>). */
static void dyn_trait(struct rd *r)
{
	bool open = false;
	size_t back = 0; /* a backref to the path: followed there */
	if (eat(r, 'B') && !jump_back(r, &back))
		return;
	if (eat(r, 'I')) { /* its generic arguments, left open */
		path(r, false);
		put(r, "<");
		generic_args(r);
		open = true;
	} else {
		path(r, false);
	}
	if (back)
		r->at = back;
	while (!r->bad && eat(r, 'p')) {
		const char *at;
		size_t k;
		bool puny;
		put(r, open ? ", " : "<");
		open = true;
		undisambiguated(r, &at, &k, &puny);
		put_ident(r, at, k, puny);
		put(r, " = ");
		type(r);
	}
	if (open)
		put(r, ">");
}

static void dyn_bounds(struct rd *r)
{
	put(r, "dyn ");
	uint64_t bound = binder(r);
	list(r, " + ", dyn_trait);
	r->bound -= bound;
	if (!eat(r, 'L')) {
		r->bad = true;
		return;
	}
	uint64_t lt = base62(r);
	if (lt) {
		put(r, " + ");
		put_lifetime(r, lt);
	}
}

static void type(struct rd *r)
{
	if (!enter(r))
		return;
	char c = peek(r);
	const char *b = basic(c);
	if (b) {
		r->at++;
		put(r, b);
		r->depth--;
		return;
	}
	r->at++;
	switch (c) {
	case 'A':
	case 'S':
		put(r, "[");
		type(r);
		if (c == 'A') {
			put(r, "; ");
			constant(r, false);
		}
		put(r, "]");
		break;
	case 'T':
		put(r, "(");
		put(r, list(r, ", ", type) == 1 ? ",)" : ")");
		break;
	case 'R':
	case 'Q':
		put(r, "&");
		if (eat(r, 'L')) {
			uint64_t lt = base62(r);
			if (lt) {
				put_lifetime(r, lt);
				put(r, " ");
			}
		}
		put(r, c == 'R' ? "" : "mut ");
		type(r);
		break;
	case 'P':
	case 'O':
		put(r, c == 'P' ? "*const " : "*mut ");
		type(r);
		break;
	case 'F':
		fn_sig(r);
		break;
	case 'D':
		dyn_bounds(r);
		break;
	case 'B':
		backref(r, type_of, false);
		break;
	default:
		r->at--;
		path(r, false);
	}
	r->depth--;
}

/* A constant generic argument: its type, then its value in hex. */
static void constant(struct rd *r, bool unused)
{
	(void)unused;
	if (!enter(r))
		return;
	if (eat(r, 'p')) {
		put(r, "_");
	} else if (eat(r, 'B')) {
		backref(r, constant, false);
	} else {
		char t = peek(r);
		r->at++;
		bool neg = eat(r, 'n');
		uint64_t v = 0;
		int digits = 0;
		for (char c; !r->bad && (c = peek(r)) != '_'; digits++) {
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : -1;
			if (d < 0 || digits >= 16)
				r->bad = true;
			v = v * 16 + (uint64_t)(d < 0 ? 0 : d);
			r->at++;
		}
		eat(r, '_');
		char num[48];
		if (t == 'b' && v <= 1)
			snprintf(num, sizeof(num), "%s: bool",
				 v ? "true" : "false");
		else if (t == 'c' && v >= 0x20 && v < 0x7f && v != '\'' &&
			 v != '\\')
			snprintf(num, sizeof(num), "'%c': char", (char)v);
		else if (t && strchr("ahijlmnostxy", t))
			snprintf(num, sizeof(num), "%s%llu: %s", neg ? "-" : "",
				 (unsigned long long)v, basic(t));
		else
			r->bad = true; /* str, tuples, structs: not read */
		put(r, num);
	}
	r->depth--;
}

/* The v0 name in, demangled into out (len bytes): false when it is not
 * one this reads whole. */
static bool rust_v0(const char *in, char *out, size_t len)
{
	if (strncmp(in, "_R", 2) != 0 || len < 2)
		return false;
	struct rd r = { .s = in + 2, .n = strlen(in + 2), .out = out,
			.len = len };
	/* The name may carry a suffix of the compiler's (".llvm.123"). */
	const char *dot = memchr(r.s, '.', r.n);
	if (dot)
		r.n = (size_t)(dot - r.s);
	if (peek(&r) >= '0' && peek(&r) <= '9')
		return false; /* an encoding version: none is defined */
	path(&r, true);
	if (!r.bad && r.at < r.n) { /* the instantiating crate */
		r.quiet++;
		path(&r, false);
		r.quiet--;
	}
	if (r.bad || r.at != r.n)
		return false;
	out[r.used] = '\0';
	return true;
}

/* ---- Rust legacy --------------------------------------------------------- */

/* A legacy name's path, as __cxa_demangle leaves it, with Rust's escapes
 * read in place: "$LT$" <, "$GT$" >, "$u7b$" {, ".." ::, a leading "_$"
 * its "$" (drop_in_place$LT$leak..Cache$GT$ reads
 * drop_in_place<leak::Cache>). An escape not known stays as it is. */
static void rust_legacy_escapes(char *p)
{
	static const struct {
		const char *from, *to;
	} esc[] = {
		{ "$SP$", "@" },  { "$BP$", "*" },  { "$RF$", "&" },
		{ "$LT$", "<" },  { "$GT$", ">" },  { "$LP$", "(" },
		{ "$RP$", ")" },  { "$C$", "," },
	};
	char *out = p;
	for (const char *in = p; *in;) {
		if (in[0] == '_' && in[1] == '$' &&
		    (in == p || (in >= p + 2 && in[-1] == ':' && in[-2] == ':'))) {
			in++; /* "_$": a component that begins with an escape */
			continue;
		}
		if (in[0] == '.' && in[1] == '.') {
			*out++ = ':';
			*out++ = ':';
			in += 2;
			continue;
		}
		size_t i = 0, n = sizeof(esc) / sizeof(esc[0]);
		while (in[0] == '$' && i < n &&
		       strncmp(in, esc[i].from, strlen(esc[i].from)) != 0)
			i++;
		if (in[0] == '$' && i < n) {
			*out++ = esc[i].to[0];
			in += strlen(esc[i].from);
			continue;
		}
		/* "$u7b$": a character by its code, printable ASCII only. */
		char *end;
		unsigned long c = in[0] == '$' && in[1] == 'u' &&
					  isxdigit((unsigned char)in[2])
				  ? strtoul(in + 2, &end, 16)
				  : 0;
		if (c >= 0x20 && c < 0x7f && *end == '$') {
			*out++ = (char)c;
			in = end + 1;
			continue;
		}
		*out++ = *in++;
	}
	*out = '\0';
}

/* ---- Both ---------------------------------------------------------------- */

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

void ward__demangle(char *name, size_t len)
{
	static demangle_fn fn;
	static int tried;
	if (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return;
	if (name[1] == 'R') {
		char plain[1024];
		if (rust_v0(name, plain, sizeof(plain)))
			snprintf(name, len, "%s", plain);
		return;
	}
	/* Found in the process when it has libstdc++ already (a C++
	 * program), else opened the first time a mangled name is met
	 * (`ward report` on a C++ program's profile). Without it, names
	 * stay mangled. */
	if (!tried) {
		tried = 1;
		fn = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
		if (!fn) {
			void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
			if (h)
				fn = (demangle_fn)dlsym(h, "__cxa_demangle");
		}
	}
	int status = -1;
	char *plain = fn ? fn(name, NULL, NULL, &status) : NULL;
	if (plain && status == 0) {
		/* Rust's legacy names end in their hash, "17h" and 16 hex
		 * digits: dropped, as from a v0 name's crates. */
		size_t n = strlen(name), k = strlen(plain);
		if (n > 21 && strncmp(name + n - 20, "17h", 3) == 0 &&
		    name[n - 1] == 'E' && k > 19 &&
		    strncmp(plain + k - 19, "::h", 3) == 0 &&
		    strspn(plain + k - 16, "0123456789abcdef") == 16) {
			plain[k - 19] = '\0';
			rust_legacy_escapes(plain);
		}
		snprintf(name, len, "%s", plain);
	}
	free(plain);
}
