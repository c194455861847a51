// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpecho: answers every UDP datagram to PORT with the same payload, from
 * PORT, to its sender: a server whose replies the protected host asked
 * for (solicited traffic at a rate a script could not keep up with).
 *
 *   udpecho [-6] -p PORT -t SECONDS [-r FILE]
 *
 * -r FILE  writes "ready" to FILE once bound. Prints "echoed COUNT" at the
 * end (after SECONDS, or on SIGINT or SIGTERM).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: udpecho [-6] -p PORT -t SECONDS [-r FILE]\n");
	exit(2);
}

static int bind_port(bool v6, unsigned int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0), big = 4 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (v6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6)) :
		 bind(fd, (struct sockaddr *)&a4, sizeof(a4))) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	unsigned int port = 0, seconds = 0;
	struct sockaddr_storage from;
	const char *ready = NULL;
	unsigned long echoed = 0;
	char buf[2048];
	bool v6 = false;
	struct pollfd p;
	time_t end;
	socklen_t fl;
	ssize_t n;
	int c, fd;
	FILE *f;

	while ((c = getopt(argc, argv, "6p:t:r:")) != -1) {
		switch (c) {
		case '6':
			v6 = true;
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 't':
			seconds = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			ready = optarg;
			break;
		default:
			usage();
		}
	}
	if (!port || port > 65535 || !seconds)
		usage();
	fd = bind_port(v6, port);
	if (fd < 0) {
		perror("udpecho: bind");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (ready && (f = fopen(ready, "w"))) {
		fputs("ready\n", f);
		fclose(f);
	}
	end = time(NULL) + seconds;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (!stop && time(NULL) < end) {
		if (poll(&p, 1, 200) != 1)
			continue;
		for (;;) { /* drain what is queued before polling again */
			fl = sizeof(from);
			n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &fl);
			if (n < 0)
				break;
			if (sendto(fd, buf, n, 0, (struct sockaddr *)&from, fl) == n)
				echoed++;
		}
	}
	printf("echoed %lu\n", echoed);
	return 0;
}
