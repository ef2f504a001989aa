/*
 * ref_cycle.c — three reference-counted objects that hold each other, so
 * none is ever finalized, and ward_ref_cycles() that finds them.
 *
 * A document keeps its pages, each page keeps a reference back to its
 * document (for "which document am I in?"), and the last page links to
 * the first. When the program lets go of the document, every count is
 * still one: the cycle keeps itself alive. Reference counting cannot free
 * it (CPython's cycle collector would); a C program never learns of it.
 *
 *     $ ./ref_cycle
 *     finalized: 0 of 3
 *     ward: a cycle of 3 refs that nothing reaches, so none is ever
 *     finalized: ref 0x55b1c4d1e2c0 (24 bytes, acquired at
 *     node_new+0x1f (ref_cycle) ref_cycle.c:51) → +0x8 → ref 0x55b1c4d1e340
 *     (24 bytes, acquired at node_new+0x1f (ref_cycle) ref_cycle.c:51) →
 *     +0x8 → ref 0x55b1c4d1e3c0 (24 bytes, acquired at node_new+0x1d
 *     (ref_cycle) ref_cycle.c:51) → +0x8 → back to ref 0x55b1c4d1e2c0
 *
 * (One line; addresses differ from run to run.) With `broken` the last
 * link is a weak reference instead: the chain is freed, all three
 * finalized, and no cycle is reported.
 *
 * Usage: ref_cycle [broken]
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <ward.h>

struct node {
	const char *name;
	struct node *next; /* a strong reference, at +0x8 */
	ward_weak_t *weak_next;
};

static int finalized;

static void node_finalize(void *obj, void *arg)
{
	(void)arg;
	struct node *n = obj;
	ward_ref_release(n->next);
	ward_weak_free(n->weak_next);
	finalized++;
}

static __attribute__((noinline)) struct node *node_new(const char *name)
{
	struct node *n = ward_ref_new(sizeof(*n), node_finalize, NULL);
	n->name = name;
	return n;
}

static void write_stdout(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	fwrite(buf, 1, len, stdout);
}

/* Build the document and let go of it. */
static __attribute__((noinline)) void open_and_close(bool broken)
{
	struct node *doc = node_new("document");
	struct node *page1 = node_new("page 1");
	struct node *page2 = node_new("page 2");
	doc->next = ward_ref_retain(page1);
	page1->next = ward_ref_retain(page2);
	if (broken)
		page2->weak_next = ward_weak_new(doc);
	else
		page2->next = ward_ref_retain(doc);
	ward_ref_release(page2);
	ward_ref_release(page1);
	ward_ref_release(doc); /* the program is done with all of it */
}

int main(int argc, char **argv)
{
	open_and_close(argc > 1 && strcmp(argv[1], "broken") == 0);
	printf("finalized: %d of 3\n", finalized);
	fflush(stdout);
	int n = ward_ref_cycles(write_stdout, NULL);
	if (n < 0)
		printf("ref cycles: %s\n", ward_strerror(n));
	else if (n == 0)
		printf("no cycle\n");
	return 0;
}
