// SPDX-License-Identifier: GPL-2.0-only
/*
 * Webhooks: each event is POSTed as JSON to every configured http:// URL
 * by one thread of its own, so a dead or slow receiver never delays
 * detection. Bounded everywhere: the queue holds AG_WEBHOOK_QUEUE events
 * (the oldest is dropped, and logged, when it overflows), each attempt has
 * WEBHOOK_TIMEOUT_MS for connecting, sending and the status line, and an
 * event is tried WEBHOOK_TRIES times per URL with a growing pause between.
 * Any 2xx status is success.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "daemon.h"

#define AG_WEBHOOK_QUEUE 256
#define WEBHOOK_TIMEOUT_MS 2000
#define WEBHOOK_TRIES 3
#define STOP_DRAIN_MS 3000

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ag_url urls[AG_MAX_WEBHOOKS];
	char raw[AG_MAX_WEBHOOKS][256]; /* as configured, to tell a reload that changes nothing */
	unsigned int nr_urls;
	long long stop_by; /* monotonic ms: what is still queued then is dropped */
	char *queue[AG_WEBHOOK_QUEUE];
	unsigned int head, len;
	bool running, stopping;
} wh = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until the deadline: 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left = deadline - now_ms();

	if (left <= 0 || poll(&p, 1, (int)left) != 1)
		return -ETIMEDOUT;
	return 0;
}

static int connect_by(const struct ag_url *u, long long deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, err;
	socklen_t el = sizeof(err);

	if (getaddrinfo(u->host, u->port, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen) ||
		    (errno == EINPROGRESS && !wait_fd(fd, POLLOUT, deadline) &&
		     !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) && !err))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd < 0 ? -ECONNREFUSED : fd;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	ssize_t n;

	while (len) {
		if (wait_fd(fd, POLLOUT, deadline))
			return -ETIMEDOUT;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n > 0) {
			buf += n;
			len -= n;
		}
	}
	return 0;
}

/* One POST: the HTTP status, or a negative errno. */
static int post_once(const struct ag_url *u, const char *body)
{
	long long deadline = now_ms() + WEBHOOK_TIMEOUT_MS;
	char head[768], reply[64];
	int fd, len, status = -EPROTO;
	ssize_t n;

	fd = connect_by(u, deadline);
	if (fd < 0)
		return fd;
	len = snprintf(head, sizeof(head),
		       "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: ampguard/" AG_VERSION
		       "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		       "Connection: close\r\n\r\n",
		       u->path, strchr(u->host, ':') ? "[" : "", u->host,
		       strchr(u->host, ':') ? "]" : "", u->port, strlen(body));
	if (send_all(fd, head, len, deadline) || send_all(fd, body, strlen(body), deadline)) {
		close(fd);
		return -EIO;
	}
	if (!wait_fd(fd, POLLIN, deadline)) {
		n = recv(fd, reply, sizeof(reply) - 1, 0);
		if (n > 0) {
			reply[n] = '\0';
			if (sscanf(reply, "HTTP/%*d.%*d %d", &status) != 1)
				status = -EPROTO;
		}
	} else {
		status = -ETIMEDOUT;
	}
	close(fd);
	return status;
}

static bool stopping(void)
{
	bool v;

	pthread_mutex_lock(&wh.lock);
	v = wh.stopping;
	pthread_mutex_unlock(&wh.lock);
	return v;
}

static void deliver(const char *body)
{
	unsigned int i, try;
	int st = 0;

	for (i = 0; i < wh.nr_urls; i++) {
		for (try = 0; try < WEBHOOK_TRIES; try++) {
			if (try && stopping())
				break; /* shutting down: one try each */
			if (try)
				sleep(try);
			st = post_once(&wh.urls[i], body);
			if (st >= 200 && st < 300)
				break;
		}
		if (st < 200 || st >= 300)
			ag_log("webhook http://%s:%s%s: %s after %u tries", wh.urls[i].host,
			       wh.urls[i].port, wh.urls[i].path,
			       st > 0 ? "HTTP error" : strerror(-st), WEBHOOK_TRIES);
	}
}

static void *worker(void *unused)
{
	char *body;

	(void)unused;
	pthread_mutex_lock(&wh.lock);
	for (;;) {
		while (!wh.len && !wh.stopping)
			pthread_cond_wait(&wh.cond, &wh.lock);
		if (!wh.len)
			break;
		if (wh.stopping && now_ms() > wh.stop_by) {
			ag_log("webhooks: stopping, %u events not delivered", wh.len);
			while (wh.len) {
				free(wh.queue[wh.head]);
				wh.head = (wh.head + 1) % AG_WEBHOOK_QUEUE;
				wh.len--;
			}
			break;
		}
		body = wh.queue[wh.head];
		wh.head = (wh.head + 1) % AG_WEBHOOK_QUEUE;
		wh.len--;
		pthread_mutex_unlock(&wh.lock);
		deliver(body);
		free(body);
		pthread_mutex_lock(&wh.lock);
	}
	pthread_mutex_unlock(&wh.lock);
	return NULL;
}

/* Same URLs as running: nothing to restart (a reload must not wait on a drain). */
static bool same_urls(const char (*urls)[256], unsigned int n)
{
	unsigned int i;

	if (!wh.running || n != wh.nr_urls)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(urls[i], wh.raw[i]))
			return false;
	return true;
}

int ag_webhooks_start(const char (*urls)[256], unsigned int n)
{
	unsigned int i;

	if (n > AG_MAX_WEBHOOKS)
		n = AG_MAX_WEBHOOKS;
	if (same_urls(urls, n))
		return 0;
	ag_webhooks_stop();
	wh.nr_urls = 0;
	for (i = 0; i < n && i < AG_MAX_WEBHOOKS; i++) {
		if (ag_url_parse(urls[i], &wh.urls[wh.nr_urls])) {
			ag_err("webhook '%s': use http://HOST[:PORT][/PATH]", urls[i]);
			wh.nr_urls = 0;
			return -EINVAL;
		}
		snprintf(wh.raw[wh.nr_urls], sizeof(wh.raw[0]), "%s", urls[i]);
		wh.nr_urls++;
	}
	if (!wh.nr_urls)
		return 0;
	wh.stopping = false;
	if (pthread_create(&wh.thread, NULL, worker, NULL))
		return -EAGAIN;
	wh.running = true;
	return 0;
}

void ag_webhooks_post(const char *body)
{
	char *copy;

	if (!wh.running)
		return;
	copy = strdup(body);
	if (!copy)
		return;
	pthread_mutex_lock(&wh.lock);
	if (wh.len == AG_WEBHOOK_QUEUE) {
		free(wh.queue[wh.head]);
		wh.head = (wh.head + 1) % AG_WEBHOOK_QUEUE;
		wh.len--;
		ag_log("webhooks: %d events waiting, the oldest dropped", AG_WEBHOOK_QUEUE);
	}
	wh.queue[(wh.head + wh.len) % AG_WEBHOOK_QUEUE] = copy;
	wh.len++;
	pthread_cond_signal(&wh.cond);
	pthread_mutex_unlock(&wh.lock);
}

/*
 * Delivers what is queued, one try per event and URL, for at most
 * STOP_DRAIN_MS (plus the attempt under way), drops the rest, and stops
 * the thread.
 */
void ag_webhooks_stop(void)
{
	if (!wh.running)
		return;
	pthread_mutex_lock(&wh.lock);
	wh.stopping = true;
	wh.stop_by = now_ms() + STOP_DRAIN_MS;
	pthread_cond_signal(&wh.cond);
	pthread_mutex_unlock(&wh.lock);
	pthread_join(wh.thread, NULL);
	wh.running = false;
}
