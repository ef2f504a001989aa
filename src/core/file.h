/*
 * Reading a whole small file (file.c): suppressions, cached source
 * positions; this process's own files under /proc; and a descriptor when
 * the program has used up its own.
 */
#ifndef WARD_CORE_FILE_H
#define WARD_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The regular file at path, whole and NUL-terminated, into *out (to be
 * freed): its length, or -errno: -EINVAL when it is not a regular file,
 * -EFBIG when it holds more than max bytes. Opened without blocking, so
 * a FIFO named by mistake does not hang the caller.
 */
ssize_t ward__read_file(const char *path, size_t max, char **out);

/*
 * /proc/thread-self/NAME opened read-only with system calls (safe in a
 * signal handler), or /proc/self/NAME where the former is missing: a
 * descriptor, or -1. The calling thread's view, not the main thread's:
 * once the main thread has called pthread_exit() while others run on,
 * /proc/self/maps reads empty and /proc/self/exe names nothing.
 */
int ward__open_proc_self(const char *name);

/* Each descriptor open in this process to fn(arg, fd), listed from
 * /proc/self/fd with system calls only (the listing's own left out;
 * where the process has used up its descriptors, listed by a helper
 * that has one free): 0, or -errno when the list cannot be read. */
int ward__proc_self_fds(void (*fn)(void *arg, int fd), void *arg);

/*
 * Each line of the same file to line(arg, text), NUL-terminated, read
 * with system calls only into buf[size] (a line longer than that is
 * skipped): 0, or -errno when it cannot be opened.
 */
int ward__proc_lines(const char *name, char *buf, size_t size,
		     void (*line)(void *arg, char *text), void *arg);

/* The same file's first len - 1 bytes into buf, NUL-terminated, with
 * system calls only: how many, or -1 when it cannot be read. */
ssize_t ward__read_proc_self(const char *name, char *buf, size_t len);

/* The running program's path into buf (NUL-terminated, "" when unknown):
 * its length. From /proc/self/exe, else (the main thread has ended)
 * /proc/thread-self/exe, else (no /proc) the path it was run by. */
size_t ward__exe_path(char *buf, size_t len);

/*
 * fn(arg) run where one descriptor is free though the program has used up
 * its own (open() failed with EMFILE — the very case of a descriptor
 * leak): in a helper that shares this process's memory but has its own
 * copy of the descriptor table (clone(CLONE_VM | CLONE_VFORK), no
 * CLONE_FILES), in which it closes one descriptor first (and raises its
 * own copy of RLIMIT_NOFILE when that allows none). Also where a file
 * must be written past the program's file size limit (a write that
 * failed with EFBIG): the helper raises its own copy of RLIMIT_FSIZE, to
 * none where the privilege allows, else to the hard limit. The
 * program's descriptors and limits are not touched and ward keeps none;
 * the helper sends no SIGCHLD, so the program's wait() never sees it. fn
 * runs on a 64 KiB stack, is the only one running of this thread's work
 * meanwhile (the caller waits), and must make system calls only: no
 * interposer, no lock, no allocation. In the helper, getpid() and
 * /proc/self are its own; the memory, /proc/self/maps included, is this
 * process's. Returns fn's value, or -errno when the helper could not
 * start.
 */
int ward__with_descriptor(int (*fn)(void *), void *arg);

#endif
