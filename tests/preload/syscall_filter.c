/*
 * syscall_filter.c — run a program as a hardened service runs: under a
 * seccomp filter that allows the listed system calls and kills the
 * process for any other, as systemd's SystemCallFilter= does.
 *
 *   syscall_filter NR[,NR...] PROGRAM [ARGS...]
 *
 * The filter outlives exec, so ward's tracer starts inside it.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "syscall_filter: name this architecture's AUDIT_ARCH"
#endif

enum { MOST = 1000 };

static struct sock_filter insn(unsigned short code, unsigned k,
			       unsigned char jt, unsigned char jf)
{
	struct sock_filter f = { code, jt, jf, k };
	return f;
}

int main(int argc, char **argv)
{
	static struct sock_filter f[2 * MOST + 8];
	int n = 0, calls = 0;
	if (argc < 3) {
		fprintf(stderr, "usage: syscall_filter NR[,NR...] PROGRAM [ARGS...]\n");
		return 125;
	}
	f[n++] = insn(BPF_LD | BPF_W | BPF_ABS,
		      offsetof(struct seccomp_data, arch), 0, 0);
	f[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
	f[n++] = insn(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	f[n++] = insn(BPF_LD | BPF_W | BPF_ABS,
		      offsetof(struct seccomp_data, nr), 0, 0);
	for (char *s = strtok(argv[1], ","); s; s = strtok(NULL, ",")) {
		char *end;
		errno = 0;
		long nr = strtol(s, &end, 10);
		if (errno || *end || nr < 0 || ++calls > MOST) {
			fprintf(stderr, "syscall_filter: bad call number '%s'\n", s);
			return 125;
		}
		f[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
		f[n++] = insn(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	}
	f[n++] = insn(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	struct sock_fprog prog = { (unsigned short)n, f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("syscall_filter: seccomp");
		return 125;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "syscall_filter: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
