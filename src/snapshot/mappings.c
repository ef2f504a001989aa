/*
 * mappings.c — the objects a snapshot's addresses lie in: each loaded
 * object's executable segments (file, load range, file offset, GNU build
 * id), and those of libraries dlclose() has unloaded since. A snapshot
 * keeps them, so it names its frames the same when it is written after
 * the objects moved, and a profile read from a file keeps its own.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "core/grow.h"
#include "snapshot/profile.h"
#include "snapshot/symbolize.h"

struct maps {
	struct ward_profile *p;
	size_t cap;
	int err;
};

static void find_build_id(struct dl_phdr_info *info, char *out, size_t len)
{
	out[0] = '\0';
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE &&
		    ward__note_build_id((const uint8_t *)(info->dlpi_addr +
							  ph->p_vaddr),
					ph->p_memsz, out, len))
			return;
	}
}

/* Append a mapping (page-aligned start and offset); 0 or -ENOMEM. */
static int add(struct maps *m, uint64_t start, uint64_t limit,
	       uint64_t offset, const char *file, const char *build_id)
{
	struct ward_profile *p = m->p;
	struct ward__mapping *nv = ward__grow(p->maps, &m->cap, p->nmaps + 1,
					      sizeof(*nv), 32);
	if (!nv)
		return -ENOMEM;
	p->maps = nv;
	struct ward__mapping *mp = &p->maps[p->nmaps];
	mp->start = start & ~(uint64_t)4095;
	mp->limit = limit;
	mp->offset = offset & ~(uint64_t)4095;
	mp->file = strdup(file);
	mp->build_id = build_id[0] ? strdup(build_id) : NULL;
	p->nmaps++;
	if (!mp->file || (build_id[0] && !mp->build_id))
		return -ENOMEM;
	return 0;
}

static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct maps *m = arg;
	char build_id[80], exe[512];
	bool first = true;

	(void)size;
	const char *name = info->dlpi_name;
	if (!name || !*name) {
		ward__exe_path(exe, sizeof(exe));
		name = exe;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (first) {
			find_build_id(info, build_id, sizeof(build_id));
			first = false;
		}
		m->err = add(m, info->dlpi_addr + ph->p_vaddr,
			     info->dlpi_addr + ph->p_vaddr + ph->p_memsz,
			     ph->p_offset, name, build_id);
		if (m->err)
			return 1;
	}
	return 0;
}

int ward__profile_map_process(struct ward_profile *p)
{
	struct maps m = { p, 0, 0 };
	dl_iterate_phdr(add_object, &m);
	if (m.err)
		return m.err;
	struct ward__unloaded u[64];
	size_t n = ward__symbolize_unloaded(u, 64);
	for (size_t i = 0; i < n; i++)
		if (add(&m, u[i].start, u[i].limit, u[i].offset, u[i].path,
			"") < 0)
			return -ENOMEM;
	return 0;
}
