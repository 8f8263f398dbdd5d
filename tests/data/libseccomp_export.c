/*
 * Differential-test helper for tests/seccomp.rs: builds a filter with libseccomp the
 * way runc's libcontainer/seccomp does (rules equal to the default action skipped,
 * names resolved for the native ABI and skipped when unknown, two conditions on one
 * argument split into one rule each) and prints, one per line:
 *
 *   stub <arch-token> <highest number named>   (runc's -ENOSYS stub input)
 *   bpf <code> <jt> <jf> <k>                    (seccomp_export_bpf output)
 *
 * or "error <rc>" and exit 3 when libseccomp refuses a rule (runc then fails). With the
 * argument "pfc" it prints libseccomp's pseudo filter code (its rule database as
 * text) instead of the program.
 *
 * Input on stdin, one item per line:
 *   default <action>
 *   arch x86 | arch x32 | arch x86_64
 *   rule <action> <name> <nargs> { <index> <op 1..7> <value> <valueTwo> }
 */
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

#define MAXR 4096
static char names[MAXR][64];
static int nnames;

int main(int argc, char **argv)
{
	char word[64];
	unsigned int def = 0;
	scmp_filter_ctx ctx = NULL;
	uint32_t listed[3];
	int nlisted = 0;

	while (scanf("%63s", word) == 1) {
		if (strcmp(word, "default") == 0) {
			if (scanf("%u", &def) != 1)
				return 2;
			ctx = seccomp_init(def);
			if (ctx == NULL)
				return 2;
		} else if (strcmp(word, "arch") == 0) {
			char a[16];
			uint32_t t;
			if (scanf("%15s", a) != 1 || ctx == NULL)
				return 2;
			t = strcmp(a, "x86") == 0 ? SCMP_ARCH_X86 :
			    strcmp(a, "x32") == 0 ? SCMP_ARCH_X32 : SCMP_ARCH_X86_64;
			listed[nlisted++] = t;
			if (t != SCMP_ARCH_X86_64 && seccomp_arch_add(ctx, t) != 0)
				return 2;
		} else if (strcmp(word, "rule") == 0) {
			unsigned int act, n, i, j, dup = 0;
			char name[64];
			struct scmp_arg_cmp c[6];
			int nr, rc = 0;
			if (scanf("%u %63s %u", &act, name, &n) != 3 || n > 6 || ctx == NULL)
				return 2;
			for (i = 0; i < n; i++) {
				unsigned int idx, op;
				unsigned long long a, b;
				if (scanf("%u %u %llu %llu", &idx, &op, &a, &b) != 4)
					return 2;
				c[i].arg = idx;
				c[i].op = op;
				c[i].datum_a = a;
				c[i].datum_b = op == SCMP_CMP_MASKED_EQ ? b : 0;
			}
			if (nnames < MAXR)
				strcpy(names[nnames++], name);
			if (act == def)
				continue;
			nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue;
			for (i = 0; i < n; i++)
				for (j = 0; j < i; j++)
					if (c[i].arg == c[j].arg)
						dup = 1;
			if (n == 0)
				rc = seccomp_rule_add(ctx, act, nr, 0);
			else if (dup)
				for (i = 0; i < n && rc == 0; i++)
					rc = seccomp_rule_add_array(ctx, act, nr, 1, &c[i]);
			else
				rc = seccomp_rule_add_array(ctx, act, nr, n, c);
			if (rc != 0) {
				printf("error %d\n", rc);
				return 3;
			}
		}
	}
	if (ctx == NULL)
		return 2;
	for (int k = 0; k < nlisted; k++) {
		int largest = 0;
		for (int r = 0; r < nnames; r++) {
			int s = seccomp_syscall_resolve_name_arch(listed[k], names[r]);
			if (s > largest)
				largest = s;
		}
		if (largest != 0)
			printf("stub %u %d\n", listed[k], largest);
	}
	if (argc > 1 && strcmp(argv[1], "pfc") == 0) {
		fflush(stdout);
		return seccomp_export_pfc(ctx, 1) == 0 ? 0 : 2;
	}
	{
		char path[] = "/tmp/berth-libseccomp-XXXXXX";
		int fd = mkstemp(path);
		unsigned char buf[8];
		if (fd < 0)
			return 2;
		unlink(path);
		if (seccomp_export_bpf(ctx, fd) != 0)
			return 2;
		lseek(fd, 0, SEEK_SET);
		while (read(fd, buf, 8) == 8) {
			uint16_t code;
			uint32_t k;
			memcpy(&code, buf, 2);
			memcpy(&k, buf + 4, 4);
			printf("bpf %u %u %u %u\n", code, buf[2], buf[3], k);
		}
	}
	return 0;
}
