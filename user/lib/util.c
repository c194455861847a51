// SPDX-License-Identifier: GPL-2.0-only
/* Error reporting, path building, number parsing and human units. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "base.h"

static void vreport(const char *level, const char *fmt, va_list ap)
{
	fprintf(stderr, "ampguard: %s", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ag_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
}

/* A line of the daemon's log (stderr: the journal under systemd). */
void ag_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
	fflush(stderr);
}

void ag_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

/* One line for a failed bpf() operation, with the fix for the usual causes. */
int ag_bpf_err(int err, const char *what)
{
	err = err < 0 ? -err : err;
	if (err == EPERM || err == EACCES)
		ag_err("%s: permission denied: run as root (needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)",
		       what);
	else
		ag_err("%s: %s", what, strerror(err));
	return -err;
}

int ag_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int ag_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void fmt_scaled(char *buf, size_t len, double v, const char *unit)
{
	static const char *const prefix[] = { "", "k", "M", "G", "T" };
	unsigned int i = 0;

	while (v >= 1000.0 && i < 4) {
		v /= 1000.0;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f %s", v, unit);
	else
		snprintf(buf, len, "%.2f %s%s", v, prefix[i], unit);
}

void ag_fmt_rate(char *buf, size_t len, double value, const char *unit)
{
	fmt_scaled(buf, len, value, unit);
}

void ag_fmt_count(char *buf, size_t len, double value)
{
	fmt_scaled(buf, len, value, "");
}

/* "500ms", "5s", "2m", or plain seconds; "off" is 0. */
int ag_parse_duration_ms(const char *s, unsigned long *ms)
{
	static const struct {
		const char *suffix;
		unsigned long mult;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "", 1000 } };
	unsigned long v;
	unsigned int i;
	char *end;

	if (!strcmp(s, "off")) {
		*ms = 0;
		return 0;
	}
	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		if (v > AG_TRACK_TIMEOUT_MAX_MS / units[i].mult)
			return -ERANGE;
		*ms = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

void ag_fmt_duration(char *buf, size_t len, unsigned long ms)
{
	if (!ms)
		snprintf(buf, len, "off");
	else if (ms % 1000)
		snprintf(buf, len, "%lums", ms);
	else
		snprintf(buf, len, "%lus", ms / 1000);
}

/* qsort() that accepts an empty array (qsort's base must not be NULL, even for 0). */
void ag_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Prints and frees a JSON document: pretty for people, one line for streams. */
void ag_json_print(json_object *o, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN);

	puts(json_object_to_json_string_ext(o, flags));
	json_object_put(o);
}

/* RFC 3339, UTC, whole seconds: 2019-09-02T03:04:05Z. */
void ag_fmt_time(char *buf, size_t len, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* http://host[:port][/path], host a name, an IPv4 address or [IPv6]. */
int ag_url_parse(const char *s, struct ag_url *u)
{
	const char *h = s + 7, *end, *slash;
	unsigned long port;
	size_t hl;

	if (strncmp(s, "http://", 7))
		return -EINVAL;
	slash = strchr(h, '/');
	snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/");
	end = slash ? slash : h + strlen(h);
	snprintf(u->port, sizeof(u->port), "80");
	if (*h == '[') {
		const char *close = memchr(h, ']', end - h);

		if (!close)
			return -EINVAL;
		hl = close - h - 1;
		memcpy(u->host, h + 1, hl < sizeof(u->host) ? hl : 0);
		if (close[1] == ':')
			snprintf(u->port, sizeof(u->port), "%.*s", (int)(end - close - 2),
				 close + 2);
		else if (close + 1 != end)
			return -EINVAL;
	} else {
		const char *colon = memchr(h, ':', end - h);

		hl = (colon ? colon : end) - h;
		memcpy(u->host, h, hl < sizeof(u->host) ? hl : 0);
		if (colon)
			snprintf(u->port, sizeof(u->port), "%.*s", (int)(end - colon - 1),
				 colon + 1);
	}
	if (!hl || hl >= sizeof(u->host) || ag_parse_uint(u->port, 65535, &port) || !port)
		return -EINVAL;
	u->host[hl] = '\0';
	return 0;
}

/* CLOCK_MONOTONIC in seconds: intervals, rates and deadlines. */
double ag_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A listening Unix stream socket at path (replacing a stale one), mode 0600. */
int ag_unix_listen(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, backlog)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* A blocking connection to the Unix stream socket at path. */
int ag_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
