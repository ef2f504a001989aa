/*
 * figures.c — the figures modules keep of their objects (a pool's cached
 * objects and hits, the finalizer queue), copied into a profile when it is
 * taken, so reports and exports of it read them as they were then.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/grow.h"
#include "core/guard.h"
#include "registry/registry.h"
#include "snapshot/profile.h"

int ward__profile_add_figure(struct ward_profile *p, const char *what,
			     const char *name, const char *figure,
			     const char *help, bool counter, uint64_t value)
{
	struct ward_figure f = {
		.what = ward__profile_label(p, what),
		.name = ward__profile_label(p, name ? name : ""),
		.figure = ward__profile_label(p, figure),
		.help = help ? ward__profile_label(p, help) : NULL,
		.counter = counter,
		.value = value,
	};
	if (!f.what || !f.name || !f.figure || (help && !f.help))
		return -ENOMEM;
	struct ward_figure *v = ward__grow(p->figures, &p->capfigures,
					   p->nfigures + 1, sizeof(*v), 16);
	if (!v)
		return -ENOMEM;
	p->figures = v;
	p->figures[p->nfigures++] = f;
	return 0;
}

struct take {
	struct ward_profile *p;
	int err;
};

static void take_one(const char *what, const char *name, const char *figure,
		     const char *help, bool counter, uint64_t value,
		     void *opaque)
{
	struct take *t = opaque;
	if (!t->err)
		t->err = ward__profile_add_figure(t->p, what, name, figure, help,
						  counter, value);
}

int ward__profile_take_figures(struct ward_profile *p)
{
	struct take t = { p, 0 };
	ward__guard_raise();
	ward__figures_each(take_one, &t);
	ward__guard_lower();
	return t.err;
}

struct ward_profile *ward__profile_figures_now(void)
{
	ward__guard_raise();
	struct ward_profile *p = ward__profile_new(0);
	ward__guard_lower();
	if (p && ward__profile_take_figures(p) < 0) {
		ward_profile_free(p);
		return NULL;
	}
	return p;
}

WARD_API size_t ward_profile_figure_count(const ward_profile_t *p)
{
	return p ? p->nfigures : 0;
}

WARD_API const struct ward_figure *ward_profile_figure(const ward_profile_t *p,
						       size_t i)
{
	return p && i < p->nfigures ? &p->figures[i] : NULL;
}
