// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics server: /metrics over HTTP (libmicrohttpd), on a thread of
 * its own, polling with epoll and at most AG_HTTP_MAX_CONNS connections
 * (idle ones time out after 10 s), so a crowd of idle clients neither
 * crashes it nor keeps a scrape out. Each scrape reads the pins afresh, so it works whichever
 * process attached and follows interfaces as they come and go.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "config.h"

#define AG_HTTP_MAX_CONNS 4096

static const char index_page[] = "<html><head><title>ampguard exporter</title></head>"
				 "<body><p><a href=\"/metrics\">/metrics</a></p></body></html>\n";

/* "127.0.0.1:9717", "[::1]:9717", "0.0.0.0:9717" or "[::]:9717". */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	unsigned long port;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return -EINVAL;
		hlen = colon - s - 1;
		colon++;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = colon - s;
	}
	if (hlen == 0 || hlen >= sizeof(host) || ag_parse_uint(colon + 1, 65535, &port) || !port)
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

/* Binds here rather than in libmicrohttpd, to report why a bind failed. */
static int listen_on(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_listen(spec, &ss, &len)) {
		ag_err("bad --listen '%s': use ADDRESS:PORT, e.g. 127.0.0.1:9717 or [::1]:9717",
		       spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ag_bpf_err(errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		ag_err("cannot listen on %s: %s%s", spec, strerror(errno),
		       errno == EADDRINUSE ? " (is another exporter running?)" : "");
		close(fd);
		return -EADDRINUSE;
	}
	return fd;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_len, void **state)
{
	static const char not_found[] = "not found: try /metrics\n";
	static const char failed[] = "reading ampguard state failed\n";
	char *body = NULL;
	size_t len = 0;
	int err;

	(void)cls, (void)version, (void)data, (void)data_len, (void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", (void *)not_found,
			     sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, "text/html", (void *)index_page,
			     sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", (void *)not_found,
			     sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
	err = ag_metrics_render(&body, &len);
	if (err) {
		free(body);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", (void *)failed,
			     sizeof(failed) - 1, MHD_RESPMEM_PERSISTENT);
	}
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

/*
 * Idle connections cost a descriptor each: room for the connection limit,
 * whatever the limit the process was started with.
 */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return;
	if (r.rlim_max < AG_HTTP_MAX_CONNS + 256)
		r.rlim_max = AG_HTTP_MAX_CONNS + 256; /* root may raise it */
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) && !getrlimit(RLIMIT_NOFILE, &r)) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

struct ag_exporter {
	struct MHD_Daemon *d;
	int fd;
};

/* Serves until ag_exporter_stop(); NULL after saying why it cannot. */
struct ag_exporter *ag_exporter_start(const char *listen_spec)
{
	struct ag_exporter *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->fd = listen_on(listen_spec);
	if (e->fd < 0) {
		free(e);
		return NULL;
	}
	raise_fd_limit();
	/* epoll, not select(): no FD_SETSIZE ceiling on connections. */
	e->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				handle, NULL, MHD_OPTION_LISTEN_SOCKET, e->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)AG_HTTP_MAX_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	if (!e->d) {
		/* Not closed here: libmicrohttpd may have closed it already. */
		ag_err("starting the HTTP server on %s failed", listen_spec);
		free(e);
		return NULL;
	}
	return e;
}

void ag_exporter_stop(struct ag_exporter *e)
{
	if (!e)
		return;
	MHD_stop_daemon(e->d); /* closes the listening socket it was given */
	free(e);
}
