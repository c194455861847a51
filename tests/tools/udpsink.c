// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpsink: counts the UDP datagrams that reach a set of ports, for the
 * end-to-end tests.
 *
 *   udpsink [-6] -p PORT[,PORT...] -t SECONDS [-a BINDADDR] [-r FILE] [-e PORT]
 *
 * Prints "PORT COUNT" per port, in the order given, then "total COUNT".
 * -r FILE  writes "ready" to FILE once every socket is bound
 * -e PORT  end marker: once a datagram has come on PORT (one of the -p
 *          ports), the run ends when no datagram has come for a short
 *          linger, which lets in-flight datagrams land; -t still bounds
 *          the run
 * SIGINT and SIGTERM end the run early; the counts are printed all the same.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 64
#define LINGER_SECONDS 0.3
#define RCVBUF_BYTES (4 << 20)

struct port_sock {
	unsigned int port;
	int fd;
	unsigned long count;
};

struct sink {
	int family;
	const char *bind_addr;
	const char *ready_file;
	double seconds;
	int end_port; /* -1: none */
	struct port_sock socks[MAX_PORTS];
	unsigned int nr;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "udpsink: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_port(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -1;
	return v;
}

static void parse_ports(struct sink *s, char *list)
{
	char *tok, *save = NULL;
	int port;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		port = parse_port(tok);
		if (port < 0)
			die("bad port '%s': use 1-65535", tok);
		if (s->nr == MAX_PORTS)
			die("too many ports (at most %d)", MAX_PORTS);
		s->socks[s->nr].port = port;
		s->socks[s->nr].fd = -1;
		s->nr++;
	}
}

static void parse_args(struct sink *s, int argc, char **argv)
{
	char *end;
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, "6p:t:a:r:e:")) != -1) {
		switch (c) {
		case '6':
			s->family = AF_INET6;
			break;
		case 'p':
			parse_ports(s, optarg);
			break;
		case 't':
			s->seconds = strtod(optarg, &end);
			if (end == optarg || *end || !(s->seconds > 0 && s->seconds <= 3600))
				die("bad timeout '%s': use seconds, more than 0, at most 3600",
				    optarg);
			break;
		case 'a':
			s->bind_addr = optarg;
			break;
		case 'r':
			s->ready_file = optarg;
			break;
		case 'e':
			s->end_port = parse_port(optarg);
			if (s->end_port < 0)
				die("bad end marker port '%s': use 1-65535", optarg);
			break;
		default:
			die("bad option '%s'; usage: udpsink [-6] -p PORT[,PORT...] -t SECONDS [-a BINDADDR] [-r FILE] [-e PORT]",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s'", argv[optind]);
	if (!s->nr || s->seconds <= 0)
		die("-p PORTS and -t SECONDS are required");
}

static int open_socket(const struct sink *s, unsigned int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int fd, one = 1, buf = RCVBUF_BYTES;
	const char *addr = s->bind_addr;
	void *dst;

	fd = socket(s->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (s->family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_any;
		dst = &sin6->sin6_addr;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		dst = &sin->sin_addr;
	}
	if (addr && inet_pton(s->family, addr, dst) != 1)
		die("bad bind address '%s'", addr);
	if (bind(fd, (struct sockaddr *)&ss, sizeof(ss)))
		die("bind: %s", strerror(errno));
	return fd;
}

static void write_ready(const char *file)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp))
		die("ready file name too long: %s", file);
	f = fopen(tmp, "w");
	if (!f || fputs("ready\n", f) < 0 || fclose(f))
		die("cannot write %s", tmp);
	if (rename(tmp, file))
		die("cannot rename to %s", file);
}

/* Counts every datagram queued on the socket; true if any came. */
static bool drain(struct port_sock *ps)
{
	char buf[65536];
	bool any = false;

	while (recv(ps->fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0) {
		ps->count++;
		any = true;
	}
	return any;
}

static void run(struct sink *s)
{
	struct pollfd pfd[MAX_PORTS];
	double end = now() + s->seconds, deadline = end, left;
	bool marked = false;
	unsigned int i;
	int n;

	for (i = 0; i < s->nr; i++)
		pfd[i] = (struct pollfd){ .fd = s->socks[i].fd, .events = POLLIN };
	while (!stop) {
		left = deadline - now();
		if (left <= 0)
			break;
		n = poll(pfd, s->nr, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; n > 0 && i < s->nr; i++) {
			if (!(pfd[i].revents & POLLIN) || !drain(&s->socks[i]))
				continue;
			marked = marked || (int)s->socks[i].port == s->end_port;
			if (marked && end - now() > LINGER_SECONDS)
				deadline = now() + LINGER_SECONDS;
		}
	}
	for (i = 0; i < s->nr; i++)
		drain(&s->socks[i]);
}

int main(int argc, char **argv)
{
	struct sink s = { .family = AF_INET, .end_port = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long total = 0;
	unsigned int i;
	bool end_known = false;

	parse_args(&s, argc, argv);
	for (i = 0; i < s.nr; i++)
		end_known |= (int)s.socks[i].port == s.end_port;
	if (s.end_port >= 0 && !end_known)
		die("-e PORT must be one of the -p ports");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < s.nr; i++)
		s.socks[i].fd = open_socket(&s, s.socks[i].port);
	if (s.ready_file)
		write_ready(s.ready_file);

	run(&s);
	for (i = 0; i < s.nr; i++) {
		printf("%u %lu\n", s.socks[i].port, s.socks[i].count);
		total += s.socks[i].count;
		close(s.socks[i].fd);
	}
	printf("total %lu\n", total);
	return 0;
}
