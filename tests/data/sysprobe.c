/*
 * A static probe for tests/seccomp.rs, run inside containers:
 *
 *   sysprobe abis            getpid through the x86_64, i386 (int $0x80, eax 20) and
 *                            x32 (nr 39 | 0x40000000) ABIs, each in its own child:
 *                            "<abi>: ret <value>", "<abi>: errno <n>" or
 *                            "<abi>: signal <n>" (SECURITY.md attack 20)
 *   sysprobe call NR [ARGS]  one raw system call: "ret <value>" or "errno <n>"
 *   sysprobe trap NR         the call with a SIGSYS handler: "trapped <si_syscall>"
 *                            or the result
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long int80(long nr)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
	return (int)ret; /* the i386 ABI returns in eax */
}

static void report(const char *who, long ret)
{
	if (ret < 0 && ret > -4096)
		printf("%s%serrno %ld\n", who, *who ? ": " : "", -ret);
	else
		printf("%s%sret %ld\n", who, *who ? ": " : "", ret);
}

static long raw(long nr, long a[6])
{
	long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return r == -1 ? -errno : r;
}

static void child(const char *who, int abi)
{
	pid_t p;
	int st;
	fflush(stdout);
	p = fork();
	if (p == 0) {
		long a[6] = {0};
		long r = abi == 32 ? int80(20) : raw(abi == 64 ? 39 : (39 | 0x40000000), a);
		report(who, r);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(p, &st, 0) == p && WIFSIGNALED(st))
		printf("%s: signal %d\n", who, WTERMSIG(st));
}

static void on_sys(int sig, siginfo_t *si, void *uc)
{
	char b[64];
	int n;
	(void)sig;
	(void)uc;
	n = snprintf(b, sizeof b, "trapped %d\n", si->si_syscall);
	if (write(1, b, n) < 0)
		_exit(2);
	_exit(0);
}

int main(int argc, char **argv)
{
	long a[6] = {0};
	int i;
	if (argc >= 2 && strcmp(argv[1], "abis") == 0) {
		child("x86_64", 64);
		child("i386", 32);
		child("x32", 0);
		return 0;
	}
	if (argc >= 3 && (strcmp(argv[1], "call") == 0 || strcmp(argv[1], "trap") == 0)) {
		for (i = 0; i < 6 && i + 3 < argc; i++)
			a[i] = (long)strtoull(argv[i + 3], NULL, 0);
		if (argv[1][0] == 't') {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_sigaction = on_sys;
			sa.sa_flags = SA_SIGINFO;
			sigaction(SIGSYS, &sa, NULL);
		}
		report("", raw(strtol(argv[2], NULL, 0), a));
		return 0;
	}
	fprintf(stderr, "usage: sysprobe abis | call NR [ARGS] | trap NR [ARGS]\n");
	return 2;
}
