// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bridge: the process ExaBGP runs (`process ... { run ampguard
 * upstream bridge SOCKET; encoder json; }`). It relays ExaBGP's messages
 * (its stdin) to the daemon's socket and the daemon's commands back to
 * ExaBGP (its stdout). While no daemon listens it keeps reading stdin and
 * drops what it reads (ExaBGP must never block on a full pipe) and tries
 * again every second; it exits when ExaBGP closes its stdin, or when its
 * parent dies.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "upstream.h"

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* 1: stdin closed (ExaBGP is gone); 0: the daemon went away. */
static int relay(int sock)
{
	struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
				 { .fd = sock, .events = POLLIN } };
	char buf[16384];
	ssize_t n;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fds[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0)
				return 1;
			if (write_all(sock, buf, n))
				return 0;
		}
		if (fds[1].revents) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return 0;
			if (write_all(STDOUT_FILENO, buf, n))
				return 1;
		}
	}
}

/* Waits a second for the daemon, draining stdin; 1 when stdin closed. */
static int idle(void)
{
	struct pollfd fd = { .fd = STDIN_FILENO, .events = POLLIN };
	double until = ag_mono_s() + 1;
	char buf[16384];
	int left;

	while ((left = (int)((until - ag_mono_s()) * 1000)) > 0) {
		if (poll(&fd, 1, left) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
			return 1;
	}
	return 0;
}

int ag_bridge_run(const char *sock_path)
{
	bool said = false;
	int sock;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		sock = ag_unix_connect(sock_path);
		if (sock < 0) {
			if (!said)
				ag_log("bridge: no daemon on %s yet: %s; retrying every second",
				       sock_path, strerror(-sock));
			said = true;
			if (idle())
				return 0;
			continue;
		}
		said = false;
		if (relay(sock)) {
			close(sock);
			return 0;
		}
		close(sock);
		ag_log("bridge: the daemon went away; waiting for the next one");
	}
}
