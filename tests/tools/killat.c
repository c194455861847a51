// SPDX-License-Identifier: GPL-2.0-only
/*
 * killat: an LD_PRELOAD library that kills its process with SIGKILL at a
 * chosen step, so the fault tests can crash ampguard at exact points
 * rather than after a lucky delay.
 *
 *   LD_PRELOAD=killat.so KILLAT=STEP[:N] ampguard ...
 *
 * STEP is one of
 *   mkdir       just after the Nth mkdir() of an attach's staging directory
 *   pin         just before the Nth bpf(BPF_OBJ_PIN)
 *   rename      just before the Nth rename() of a staging directory into place
 *   unlink      just before the Nth unlink() (detach removing pins)
 *   membarrier  just before the Nth membarrier(): a commit has flipped the
 *               active generation and waits for the old one to go idle
 * N defaults to 1. Without KILLAT, or when the step never comes, nothing
 * happens. libbpf makes its bpf() calls through the C library's
 * syscall(), which is how this library sees them.
 *
 * Build: cc -shared -fPIC killat.c -o killat.so -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

enum step { NONE, MKDIR, PIN, RENAME, UNLINK, MEMBARRIER };

static enum step target = NONE;
static long nth = 1, seen;
static int parsed;

static void parse(void)
{
	static const struct {
		const char *name;
		enum step step;
	} steps[] = {
		{ "mkdir", MKDIR },           { "pin", PIN },
		{ "rename", RENAME },         { "unlink", UNLINK },
		{ "membarrier", MEMBARRIER },
	};
	const char *spec = getenv("KILLAT"), *colon;
	size_t len, i;

	parsed = 1;
	if (!spec)
		return;
	colon = strchr(spec, ':');
	len = colon ? (size_t)(colon - spec) : strlen(spec);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strlen(steps[i].name) == len && !strncmp(spec, steps[i].name, len))
			target = steps[i].step;
	if (colon)
		nth = strtol(colon + 1, NULL, 10);
}

/* Counts one occurrence of step; the Nth is the process's last moment. */
static void reached(enum step step)
{
	if (!parsed)
		parse();
	if (step != target || ++seen != nth)
		return;
	kill(getpid(), SIGKILL);
	pause();
}

int mkdir(const char *path, mode_t mode)
{
	int (*real)(const char *, mode_t) =
		(int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	int ret = real(path, mode);

	if (ret == 0 && strstr(path, "/staging:"))
		reached(MKDIR);
	return ret;
}

int rename(const char *from, const char *to)
{
	int (*real)(const char *, const char *) =
		(int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");

	if (strstr(from, "/staging:"))
		reached(RENAME);
	return real(from, to);
}

int unlink(const char *path)
{
	int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");

	reached(UNLINK);
	return real(path);
}

long syscall(long nr, ...)
{
	long (*real)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	long a[6];
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == __NR_bpf && a[0] == BPF_OBJ_PIN)
		reached(PIN);
	else if (nr == __NR_membarrier)
		reached(MEMBARRIER);
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
