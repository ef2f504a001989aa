/*
 * preload.c — libward_preload.so: interposers only. Each one makes the
 * libc call and reports what it acquired or released to src/intercept.c,
 * which decides what to record.
 *
 * The malloc family is interposed together (malloc, calloc, realloc,
 * reallocarray, free, aligned_alloc, posix_memalign, memalign, valloc,
 * pvalloc, malloc_usable_size) and calls glibc's own __libc_* entry points,
 * so no dlsym() is needed for it and allocations made before ward is set up
 * (dlsym itself allocates) simply are not recorded. Everything else finds
 * the next definition with dlsym(RTLD_NEXT) on first use.
 *
 * A program that defines malloc itself keeps its own: the executable's
 * symbols come before LD_PRELOAD's, and ward then sees no heap events.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "internal/intercept.h"
#include "internal/unwind.h"
#include "internal/registry.h"
#include "internal/symbolize.h"
#include "ward/track.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* The executable segment holding this file's interposers. */
static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo &&
		    me < lo + ph->p_memsz) {
			ward__stack_hide(lo, lo + ph->p_memsz);
			return 1;
		}
	}
	return 0;
}

__attribute__((constructor)) static void start(void)
{
	/* Stacks show the program's frames, not the interposers'. */
	dl_iterate_phdr(find_self, (void *)(uintptr_t)find_self);
	ward__intercept_init();
}

/* The next definition of a symbol, looked up once. */
#define NEXT(type, name)                                                      \
	static __typeof__(type) real_##name;                                   \
	if (!real_##name)                                                      \
		real_##name = (type)dlsym(RTLD_NEXT, #name)

/* ---- The malloc family ------------------------------------------------- */

EXPORT void *malloc(size_t n)
{
	void *p = __libc_malloc(n);
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);
	if (!ward__alloc_unsampled(n * size))
		ward__intercept_alloc(p, n * size);
	return p;
}

EXPORT void *realloc(void *old, size_t n)
{
	if (!old) {
		void *p = __libc_realloc(NULL, n);
		if (!ward__alloc_unsampled(n))
			ward__intercept_alloc(p, n);
		return p;
	}
	/* Release first: once the old block is freed its address may be
	 * handed to another thread. On failure the old block is still the
	 * program's, and is recorded again (from this stack). */
	if (!ward__free_unsampled(old))
		ward__intercept_free(old);
	void *p = __libc_realloc(old, n);
	if (p) {
		if (!ward__alloc_unsampled(n))
			ward__intercept_alloc(p, n);
	} else if (n && !ward__sample_rate) {
		ward__intercept_alloc(old, malloc_usable_size(old));
	}
	return p;
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = realloc(old, total);
	__asm__ volatile("" ::: "memory");
	return p;
}

EXPORT void free(void *p)
{
	if (!ward__free_unsampled(p))
		ward__intercept_free(p);
	__libc_free(p);
}

EXPORT void *memalign(size_t align, size_t n)
{
	void *p = __libc_memalign(align, n);
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	return p;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	void *p = __libc_memalign(align, n);
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	*out = p;
	return 0;
}

EXPORT void *valloc(size_t n)
{
	void *p = __libc_valloc(n);
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	return p;
}

EXPORT void *pvalloc(size_t n)
{
	void *p = __libc_pvalloc(n);
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	return p;
}

/* ---- Descriptors ------------------------------------------------------- */

static inline __attribute__((always_inline)) int fd_result(int fd)
{
	if (fd >= 0)
		ward__intercept_acquire(WARD_KIND_FD, (uintptr_t)fd);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* The open family: a mode argument follows only with O_CREAT or
 * O_TMPFILE. */
#define OPEN_CALL(name, params, args)                                         \
	EXPORT int name params                                                 \
	{                                                                      \
		NEXT(int(*) params, name);                                     \
		va_list ap;                                                    \
		va_start(ap, flags);                                           \
		mode_t mode = mode_arg(flags, ap);                             \
		va_end(ap);                                                    \
		int ret_ = fd_result(real_##name args);                        \
		__asm__ volatile("" ::: "memory");                             \
		return ret_;                                                   \
	}

OPEN_CALL(open, (const char *path, int flags, ...), (path, flags, mode))
OPEN_CALL(open64, (const char *path, int flags, ...), (path, flags, mode))
OPEN_CALL(openat, (int dir, const char *path, int flags, ...),
	  (dir, path, flags, mode))
OPEN_CALL(openat64, (int dir, const char *path, int flags, ...),
	  (dir, path, flags, mode))

/* fd-returning calls with fixed arguments: one macro each. */
#define FD_CALL(name, params, args)                                           \
	EXPORT int name params                                                 \
	{                                                                      \
		NEXT(int(*) params, name);                                     \
		int ret_ = fd_result(real_##name args);                        \
		__asm__ volatile("" ::: "memory");                             \
		return ret_;                                                   \
	}

FD_CALL(creat, (const char *path, mode_t mode), (path, mode))
FD_CALL(creat64, (const char *path, mode_t mode), (path, mode))
FD_CALL(socket, (int d, int t, int p), (d, t, p))
FD_CALL(accept, (int s, struct sockaddr *a, socklen_t *l), (s, a, l))
FD_CALL(accept4, (int s, struct sockaddr *a, socklen_t *l, int f), (s, a, l, f))
FD_CALL(dup, (int old), (old))
FD_CALL(eventfd, (unsigned int v, int f), (v, f))
FD_CALL(timerfd_create, (int c, int f), (c, f))
FD_CALL(signalfd, (int sfd, const sigset_t *m, int f), (sfd, m, f))
FD_CALL(epoll_create, (int n), (n))
FD_CALL(epoll_create1, (int f), (f))
FD_CALL(inotify_init, (void), ())
FD_CALL(inotify_init1, (int f), (f))
FD_CALL(memfd_create, (const char *n, unsigned int f), (n, f))

EXPORT int dup2(int old, int fd)
{
	NEXT(int (*)(int, int), dup2);
	int r = real_dup2(old, fd);
	if (r >= 0 && old != fd)
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	fd_result(r);
	__asm__ volatile("" ::: "memory");
	return r;
}

EXPORT int dup3(int old, int fd, int flags)
{
	NEXT(int (*)(int, int, int), dup3);
	int r = real_dup3(old, fd, flags);
	if (r >= 0)
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	fd_result(r);
	__asm__ volatile("" ::: "memory");
	return r;
}

static inline __attribute__((always_inline)) int
pair_result(int rc, int fds[2])
{
	if (rc == 0) {
		ward__intercept_acquire(WARD_KIND_FD, (uintptr_t)fds[0]);
		ward__intercept_acquire(WARD_KIND_FD, (uintptr_t)fds[1]);
	}
	return rc;
}

EXPORT int pipe(int fds[2])
{
	NEXT(int (*)(int *), pipe);
	int rc = pair_result(real_pipe(fds), fds);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int pipe2(int fds[2], int flags)
{
	NEXT(int (*)(int *, int), pipe2);
	int rc = pair_result(real_pipe2(fds, flags), fds);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int socketpair(int d, int t, int p, int fds[2])
{
	NEXT(int (*)(int, int, int, int *), socketpair);
	int rc = pair_result(real_socketpair(d, t, p, fds), fds);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	NEXT(int (*)(int, int, ...), fcntl);
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int r = real_fcntl(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0)
		fd_result(r);
	__asm__ volatile("" ::: "memory");
	return r;
}

EXPORT int close(int fd)
{
	NEXT(int (*)(int), close);
	ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	return real_close(fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	NEXT(int (*)(unsigned int, unsigned int, int), close_range);
	int rc = real_close_range(first, last, flags);
	if (rc == 0 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC */)) {
		unsigned int top = last > 65535 ? 65535 : last;
		for (unsigned int fd = first; fd <= top; fd++)
			ward__intercept_release(WARD_KIND_FD, fd);
	}
	return rc;
}

/* ---- FILE and DIR ------------------------------------------------------ */

static inline __attribute__((always_inline)) FILE *file_result(FILE *f)
{
	if (f)
		ward__intercept_acquire(WARD_KIND_FILE, (uintptr_t)f);
	return f;
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	NEXT(FILE * (*)(const char *, const char *), fopen);
	FILE *f = file_result(real_fopen(path, mode));
	__asm__ volatile("" ::: "memory");
	return f;
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	NEXT(FILE * (*)(const char *, const char *), fopen64);
	FILE *f = file_result(real_fopen64(path, mode));
	__asm__ volatile("" ::: "memory");
	return f;
}

EXPORT FILE *fdopen(int fd, const char *mode)
{
	NEXT(FILE * (*)(int, const char *), fdopen);
	FILE *f = real_fdopen(fd, mode);
	if (f) /* the FILE now owns the descriptor */
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	file_result(f);
	__asm__ volatile("" ::: "memory");
	return f;
}

EXPORT FILE *freopen(const char *path, const char *mode, FILE *old)
{
	NEXT(FILE * (*)(const char *, const char *, FILE *), freopen);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)old);
	FILE *f = file_result(real_freopen(path, mode, old));
	__asm__ volatile("" ::: "memory");
	return f;
}

EXPORT int fclose(FILE *f)
{
	NEXT(int (*)(FILE *), fclose);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)f);
	return real_fclose(f);
}

EXPORT DIR *opendir(const char *path)
{
	NEXT(DIR * (*)(const char *), opendir);
	DIR *d = real_opendir(path);
	if (d)
		ward__intercept_acquire(WARD_KIND_FILE, (uintptr_t)d);
	__asm__ volatile("" ::: "memory");
	return d;
}

EXPORT DIR *fdopendir(int fd)
{
	NEXT(DIR * (*)(int), fdopendir);
	DIR *d = real_fdopendir(fd);
	if (d) {
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
		ward__intercept_acquire(WARD_KIND_FILE, (uintptr_t)d);
	}
	__asm__ volatile("" ::: "memory");
	return d;
}

EXPORT int closedir(DIR *d)
{
	NEXT(int (*)(DIR *), closedir);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)d);
	return real_closedir(d);
}

/* ---- Threads ----------------------------------------------------------- */

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	NEXT(int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
		     void *),
	     pthread_create);
	int rc = real_pthread_create(th, attr, fn, arg);
	int detached = 0;
	if (rc == 0 && attr)
		pthread_attr_getdetachstate(attr, &detached);
	if (rc == 0 && detached != PTHREAD_CREATE_DETACHED)
		ward__intercept_acquire(WARD_KIND_THREAD, (uintptr_t)*th);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int pthread_join(pthread_t th, void **ret)
{
	NEXT(int (*)(pthread_t, void **), pthread_join);
	int rc = real_pthread_join(th, ret);
	if (rc == 0)
		ward__intercept_release(WARD_KIND_THREAD, (uintptr_t)th);
	return rc;
}

EXPORT int pthread_detach(pthread_t th)
{
	NEXT(int (*)(pthread_t), pthread_detach);
	int rc = real_pthread_detach(th);
	if (rc == 0)
		ward__intercept_release(WARD_KIND_THREAD, (uintptr_t)th);
	return rc;
}

/* ---- Libraries --------------------------------------------------------- */

EXPORT int dlclose(void *handle)
{
	NEXT(int (*)(void *), dlclose);
	struct link_map *lm = NULL;
	if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm)
		ward__symbolize_remember((uintptr_t)lm->l_addr);
	int rc = real_dlclose(handle);
	ward__unwind_code_unmapped();
	return rc;
}

/* ---- Exit -------------------------------------------------------------- */

EXPORT void _exit(int status)
{
	NEXT(void (*)(int), _exit);
	ward__intercept_report();
	real__exit(status);
	__builtin_unreachable();
}
