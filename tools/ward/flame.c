/*
 * flame.c — a profile drawn as a flame graph: one box per function on each
 * stack, as wide as the value (bytes or objects) of the samples under it,
 * callers below callees. The SVG carries its own script: click a box to
 * zoom to it, click the bottom bar to zoom out, press "Search" to mark the
 * boxes whose names match.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flame.h"

struct node {
	char *name;
	int64_t value;
	struct node *child, *next;
};

static struct node *child_named(struct node *parent, const char *name)
{
	for (struct node *c = parent->child; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	struct node *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(name)))
		return NULL;
	c->next = parent->child;
	parent->child = c;
	return c;
}

static void free_tree(struct node *n)
{
	while (n) {
		struct node *next = n->next;
		free_tree(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

static int depth_of(const struct node *n)
{
	int best = 0;
	for (const struct node *c = n->child; c; c = c->next) {
		int d = depth_of(c);
		if (d > best)
			best = d;
	}
	return best + 1;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

enum { WIDTH = 1200, ROW = 17, TOP = 40 };

static unsigned color_of(const char *name)
{
	unsigned h = 2166136261u;
	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	unsigned r = 205 + h % 50, g = 80 + (h >> 8) % 120, b = 40 + (h >> 16) % 50;
	return r << 16 | g << 8 | b;
}

/* Boxes carry their extent as fractions of the total (data-x, data-w), so
 * the script can zoom without knowing the tree. */
static void draw(FILE *f, const struct node *n, double x, int level,
		 int levels, int64_t total, const char *unit)
{
	double w = (double)n->value / (double)total;
	double y = TOP + (double)(levels - level - 1) * ROW;
	fprintf(f, "<g class=\"f\" data-x=\"%.6f\" data-w=\"%.6f\" data-n=\"",
		x, w);
	xml_text(f, n->name);
	fprintf(f, "\"><title>");
	xml_text(f, n->name);
	fprintf(f, " (%" PRId64 " %s, %.2f%%)</title>", n->value, unit,
		100.0 * w);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" "
		   "fill=\"#%06x\" rx=\"2\"/>",
		x * WIDTH, y, w * WIDTH, ROW - 1, color_of(n->name));
	/* The label is cut to the box, as FlameGraph cuts it: 11px
	 * monospace is about 6.6 px a character. */
	char label[512];
	size_t fits = w * WIDTH > 6 ? (size_t)((w * WIDTH - 6) / 6.6) : 0;
	size_t len = strlen(n->name);
	if (fits < 3)
		label[0] = '\0';
	else if (len <= fits)
		snprintf(label, sizeof(label), "%s", n->name);
	else
		snprintf(label, sizeof(label), "%.*s..",
			 (int)(fits - 2 < sizeof(label) - 3 ? fits - 2
							    : sizeof(label) - 3),
			 n->name);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x * WIDTH + 3, y + ROW - 5);
	xml_text(f, label);
	fprintf(f, "</text></g>\n");
	double cx = x;
	for (const struct node *c = n->child; c; c = c->next) {
		if (c->value <= 0)
			continue;
		draw(f, c, cx, level + 1, levels, total, unit);
		cx += (double)c->value / (double)total;
	}
}

static const char script[] =
	"<script><![CDATA[\n"
	"var W=1200;\n"
	"function boxes(){return document.querySelectorAll('g.f');}\n"
	"function zoom(g){var x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w');\n"
	" var y=+g.querySelector('rect').getAttribute('y');\n"
	" boxes().forEach(function(b){var bx=+b.getAttribute('data-x'),bw=+b.getAttribute('data-w');\n"
	"  var r=b.querySelector('rect'),t=b.querySelector('text');\n"
	"  var by=+r.getAttribute('y');\n"
	"  var inside=bx>=x-1e-9&&bx+bw<=x+w+1e-9;\n"
	"  var below=by>y&&bx<=x+1e-9&&bx+bw>=x+w-1e-9;\n"
	"  if(!inside&&!below){b.style.display='none';return;}\n"
	"  b.style.display='';\n"
	"  var nx=below?0:(bx-x)/w*W,nw=below?W:bw/w*W;\n"
	"  r.setAttribute('x',nx);r.setAttribute('width',nw);\n"
	"  t.setAttribute('x',nx+3);t.textContent=fit(b.getAttribute('data-n'),nw);});}\n"
	"function fit(s,px){var n=Math.floor((px-6)/6.6);if(n<3)return '';\n"
	" return s.length<=n?s:s.slice(0,n-2)+'..';}\n"
	"function reset(){zoom(boxes()[0]);}\n"
	"function search(){var q=prompt('Search for (a regular expression):');\n"
	" if(q===null)return;var re=new RegExp(q);\n"
	" boxes().forEach(function(b){var r=b.querySelector('rect');\n"
	"  if(!r.hasAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));\n"
	"  r.setAttribute('fill',q&&re.test(b.getAttribute('data-n'))?'#e040e0':r.getAttribute('data-fill'));});}\n"
	"document.addEventListener('click',function(e){var g=e.target.closest('g.f');if(g)zoom(g);});\n"
	"]]></script>\n";

struct svg {
	struct node *root;
	const char *title, *unit;
};

/* Write the SVG of s to fd (ward_save_atomic()'s temporary file). */
static int fill_svg(int fd, void *ctx)
{
	const struct svg *s = ctx;
	const struct node *root = s->root;
	int dupfd = dup(fd), rc = 0;
	FILE *f = dupfd >= 0 ? fdopen(dupfd, "w") : NULL;
	if (!f) {
		rc = -errno;
		if (dupfd >= 0)
			close(dupfd);
		return rc;
	}
	int levels = root->value > 0 ? depth_of(root) : 1;
	int height = TOP + levels * ROW + 10;
	fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		   "<svg version=\"1.1\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n"
		   "<style>text{font:11px monospace;pointer-events:none}"
		   "g.f:hover rect{stroke:#000;stroke-width:0.5}"
		   "g.f{cursor:pointer}</style>\n",
		WIDTH, height, WIDTH, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fdf6e3\"/>\n"
		   "<text x=\"10\" y=\"20\" style=\"font-size:15px\">ward: ");
	xml_text(f, s->title);
	fprintf(f, " (%s, %" PRId64 " %s)</text>\n", s->unit, root->value,
		s->unit);
	fprintf(f, "<text x=\"%d\" y=\"20\" id=\"search\" "
		   "style=\"pointer-events:all;cursor:pointer\" "
		   "onclick=\"search()\">Search</text>\n",
		WIDTH - 60);
	fprintf(f, "<text x=\"%d\" y=\"20\" id=\"reset\" "
		   "style=\"pointer-events:all;cursor:pointer\" "
		   "onclick=\"reset()\">Reset zoom</text>\n",
		WIDTH - 160);
	if (root->value > 0)
		draw(f, root, 0, 0, levels, root->value, s->unit);
	else
		fprintf(f, "<text x=\"10\" y=\"%d\">nothing to show</text>\n",
			TOP + 12);
	fputs(script, f);
	fputs("</svg>\n", f);
	if (fflush(f) != 0 || ferror(f))
		rc = -(errno ? errno : EIO);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* One line per stack, root first, frames joined by ';', then the value
 * of what is live at that stack itself (Brendan Gregg's folded format). */
static int fold(FILE *f, const struct node *n, char *path, size_t len,
		size_t at)
{
	int64_t below = 0;
	for (const struct node *c = n->child; c; c = c->next)
		below += c->value;
	if (at > 0 && n->value > below)
		fprintf(f, "%.*s %" PRId64 "\n", (int)at, path, n->value - below);
	for (const struct node *c = n->child; c; c = c->next) {
		size_t k = at;
		if (k > 0 && k < len)
			path[k++] = ';';
		for (const char *s = c->name; *s && k < len; s++)
			path[k++] = *s == ';' || *s == '\n' ? ':' : *s;
		fold(f, c, path, len, k);
	}
	return 0;
}

static int fill_folded(int fd, void *ctx)
{
	const struct svg *s = ctx;
	int dupfd = dup(fd), rc = 0;
	FILE *f = dupfd >= 0 ? fdopen(dupfd, "w") : NULL;
	char *path = malloc(1 << 16);
	if (!f || !path) {
		rc = -(errno ? errno : ENOMEM);
		if (f)
			fclose(f);
		else if (dupfd >= 0)
			close(dupfd);
		free(path);
		return rc;
	}
	fold(f, s->root, path, 1 << 16, 0);
	free(path);
	if (fflush(f) != 0 || ferror(f))
		rc = -(errno ? errno : EIO);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

int flame_write_svg(const ward_profile_t *p, enum flame_value v,
		    const char *title, const char *path)
{
	return flame_write(p, v, title, path, false);
}

int flame_write(const ward_profile_t *p, enum flame_value v,
		const char *title, const char *path, bool folded)
{
	struct node root = { "all", 0, NULL, NULL };
	struct ward_frame fr[WARD_MAX_INLINE];
	const char *unit = v == FLAME_INUSE_SPACE || v == FLAME_ALLOC_SPACE
				   ? "bytes"
				   : "objects";
	int rc = 0;

	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		int64_t val = v == FLAME_INUSE_SPACE     ? s->live_bytes
			      : v == FLAME_INUSE_OBJECTS ? s->live_count
			      : v == FLAME_ALLOC_SPACE   ? s->alloc_bytes
							 : s->alloc_count;
		if (val <= 0)
			continue;
		root.value += val;
		struct node *n = &root;
		for (int d = s->depth - 1; d >= 0 && n; d--) {
			/* Outermost first: the function, then what was
			 * inlined into it. */
			int k = ward_profile_frames(p, s->pcs[d], fr, WARD_MAX_INLINE);
			for (int j = k - 1; j >= 0 && n; j--) {
				ward_frame_function(fr[j].text, true);
				n = child_named(n, fr[j].text);
				if (n)
					n->value += val;
			}
		}
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
	}

	struct svg s = { &root, title, unit };
	/* "-": standard output, a stream (into flamegraph.pl, say); a file
	 * is replaced whole. */
	if (strcmp(path, "-") == 0)
		rc = (folded ? fill_folded : fill_svg)(STDOUT_FILENO, &s);
	else
		rc = ward_save_atomic(path, folded ? fill_folded : fill_svg,
				      &s);
out:
	free_tree(root.child);
	return rc;
}
