// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BGP speaker: ExaBGP, driven through its process API. ExaBGP runs a
 * process of ours (`ampguard upstream bridge SOCKET`, see bridge.c) and
 * talks to it over that process's stdin and stdout; the bridge relays both
 * to a Unix socket in the state directory where the daemon listens. So the
 * daemon does not care who started ExaBGP: with `speaker: exabgp` it runs
 * ExaBGP itself from a generated configuration (and restarts it when it
 * dies); with `speaker: external` the operator's ExaBGP runs the bridge.
 *
 * Invariants:
 * - One bridge connection at a time; a new one replaces the old, and with
 *   it every route the old ExaBGP held is forgotten (ExaBGP keeps API
 *   routes only in memory): the caller re-sends them on on_sync().
 * - Commands are lines; with the API's acknowledgements on, ExaBGP answers
 *   each with "done" or "error" in order. pending counts the unanswered
 *   ones; an "error" is logged with its command and counted, never fatal.
 * - Writes never block the daemon: lines queue in out and leave as the
 *   socket takes them.
 * - A managed ExaBGP gets SIGTERM when the daemon dies, however it dies
 *   (PR_SET_PDEATHSIG), so a restarted daemon never finds a second speaker
 *   holding its sessions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <json-c/json.h>

#include "upstream.h"

#define CONF_FILE "exabgp.conf"
#define PENDING_MAX 4096 /* commands whose answer is awaited */
#define RESTART_MAX_S 30
#define STOP_WAIT_S 3

struct ag_speaker {
	struct ag_upstream_conf conf;
	char sock_path[PATH_MAX];
	char self[PATH_MAX]; /* this program, for the bridge */
	int listen_fd, conn_fd;
	char in[65536];
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
	/* the commands awaiting an answer, oldest first (a ring) */
	char *pending[PENDING_MAX];
	unsigned int pend_head, pend_n;
	unsigned long errors;
	int state[AG_UP_MAX_NEIGHBORS]; /* enum ag_bgp_state */
	pid_t child;
	double started_at, restart_at, backoff;
	void (*on_sync)(void *arg, int neighbor); /* -1: a new ExaBGP */
	void *arg;
	bool stopping; /* no more restarts */
};

static const char *const state_names[] = { "down", "connected", "up" };

const char *ag_bgp_state_name(int state)
{
	return state >= 0 && state <= AG_BGP_UP ? state_names[state] : "down";
}

/* ---- the managed ExaBGP ---------------------------------------------------- */

static int write_conf(const struct ag_speaker *sp, char *path, size_t len)
{
	const struct ag_upstream_conf *u = &sp->conf;
	FILE *f;
	unsigned int i;
	int err = 0;

	if (ag_path(path, len, "%s/%s", ag_state_dir(), CONF_FILE))
		return -ENAMETOOLONG;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"# Written by ampguard daemon at every start of ExaBGP: edit the daemon's\n"
		"# configuration file (upstream:), not this one.\n"
		"process ampguard {\n\trun %s upstream bridge %s;\n\tencoder json;\n}\n",
		sp->self, sp->sock_path);
	for (i = 0; i < u->nr_neighbors; i++)
		fprintf(f,
			"neighbor %s {\n\trouter-id %s;\n\tlocal-address %s;\n\tlocal-as %lu;\n"
			"\tpeer-as %lu;\n\tfamily {\n\t\tipv4 unicast;\n\t\tipv6 unicast;\n"
			"\t\tipv4 flow;\n\t\tipv6 flow;\n\t}\n"
			"\tapi {\n\t\tprocesses [ ampguard ];\n\t\tneighbor-changes;\n\t}\n}\n",
			u->neighbors[i].address, u->router_id, u->local_address, u->local_as,
			u->neighbors[i].peer_as);
	if (fflush(f) || ferror(f))
		err = -EIO;
	if (fclose(f))
		err = err ?: -errno;
	return err;
}

static void child_exec(const struct ag_speaker *sp, const char *conf)
{
	char *args[] = { (char *)sp->conf.exabgp, (char *)conf, NULL };
	sigset_t none;

	/* The daemon blocks its signals for sigwait; ExaBGP must get them. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* stdout carries the daemon's events: ExaBGP logs to its stdout, sent to stderr. */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	setenv("exabgp_daemon_user", "root", 1);
	setenv("exabgp_daemon_drop", "false", 1);
	setenv("exabgp_daemon_daemonize", "false", 1);
	setenv("exabgp_api_cli", "false", 1);
	setenv("exabgp_api_ack", "true", 1);
	execv(args[0], args);
	dprintf(STDERR_FILENO, "ampguard: cannot run %s: %s\n", args[0], strerror(errno));
	_exit(127);
}

static int child_start(struct ag_speaker *sp)
{
	char conf[PATH_MAX];
	pid_t pid;
	int err;

	err = write_conf(sp, conf, sizeof(conf));
	if (err) {
		ag_log("upstream: cannot write %s/%s: %s", ag_state_dir(), CONF_FILE,
		       strerror(-err));
		return err;
	}
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		child_exec(sp, conf);
	sp->child = pid;
	sp->started_at = ag_mono_s();
	ag_log("upstream: started ExaBGP (%s, pid %d) for %u neighbor(s)", sp->conf.exabgp, pid,
	       sp->conf.nr_neighbors);
	return 0;
}

static void child_stop(struct ag_speaker *sp)
{
	double until = ag_mono_s() + STOP_WAIT_S;

	if (sp->child <= 0)
		return;
	kill(sp->child, SIGTERM);
	while (waitpid(sp->child, NULL, WNOHANG) == 0) {
		if (ag_mono_s() > until) {
			kill(sp->child, SIGKILL);
			waitpid(sp->child, NULL, 0);
			break;
		}
		usleep(20000);
	}
	sp->child = 0;
}

static void all_down(struct ag_speaker *sp)
{
	memset(sp->state, 0, sizeof(sp->state));
}

/* Restarts a managed ExaBGP that died, backing off while it keeps dying. */
static void supervise(struct ag_speaker *sp)
{
	int status;
	double now = ag_mono_s();

	if (sp->conf.external || sp->stopping)
		return;
	if (sp->child > 0 && waitpid(sp->child, &status, WNOHANG) == sp->child) {
		sp->child = 0;
		sp->backoff = now - sp->started_at > 60 ? 1 : sp->backoff ? 2 * sp->backoff : 1;
		if (sp->backoff > RESTART_MAX_S)
			sp->backoff = RESTART_MAX_S;
		sp->restart_at = now + sp->backoff;
		all_down(sp);
		ag_log("upstream: ExaBGP exited (%s %d): restarting in %.0f s",
		       WIFSIGNALED(status) ? "signal" : "status",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), sp->backoff);
	}
	if (sp->child <= 0 && now >= sp->restart_at && child_start(sp))
		sp->restart_at = now + RESTART_MAX_S;
}

/* ---- the bridge connection ------------------------------------------------ */

static void pending_clear(struct ag_speaker *sp)
{
	while (sp->pend_n) {
		free(sp->pending[sp->pend_head]);
		sp->pend_head = (sp->pend_head + 1) % PENDING_MAX;
		sp->pend_n--;
	}
}

static void conn_close(struct ag_speaker *sp)
{
	if (sp->conn_fd < 0)
		return;
	close(sp->conn_fd);
	sp->conn_fd = -1;
	sp->in_len = sp->out_len = 0;
	pending_clear(sp);
	all_down(sp);
}

static int listen_start(struct ag_speaker *sp)
{
	int fd;

	if (mkdir(ag_state_dir(), 0755) && errno != EEXIST)
		return -errno;
	if (ag_path(sp->sock_path, sizeof(sp->sock_path), "%s/%s", ag_state_dir(),
		    AG_UP_BRIDGE_SOCK))
		return -ENAMETOOLONG;
	fd = ag_unix_listen(sp->sock_path, 4);
	if (fd < 0)
		return fd;
	sp->listen_fd = fd;
	return 0;
}

static void accept_bridge(struct ag_speaker *sp)
{
	int fd = accept4(sp->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (sp->conn_fd >= 0)
		ag_log("upstream: a new ExaBGP connected: the previous one's routes are forgotten");
	conn_close(sp);
	sp->conn_fd = fd;
	ag_log("upstream: ExaBGP connected");
	/* An ExaBGP that was already up tells states only when they change: ask. */
	ag_speaker_send(sp, "show neighbor summary");
	if (sp->on_sync)
		sp->on_sync(sp->arg, -1);
}

static int neighbor_index(const struct ag_speaker *sp, const char *peer)
{
	unsigned int i;

	for (i = 0; i < sp->conf.nr_neighbors; i++)
		if (ag_same_ip(sp->conf.neighbors[i].address, peer))
			return i;
	return -1;
}

/* A neighbor's state as ExaBGP told it (word: its own name for it); true when it changed. */
static bool set_state(struct ag_speaker *sp, int i, int st, const char *word)
{
	if (i < 0 || sp->state[i] == st)
		return false;
	sp->state[i] = st;
	ag_log("upstream: neighbor %s %s", sp->conf.neighbors[i].address, word);
	return true;
}

/* A JSON message: only neighbor state changes matter here. */
static void on_json(struct ag_speaker *sp, const char *line)
{
	json_object *o = json_tokener_parse(line), *nb, *addr, *peer, *state, *type;
	const char *t, *s;
	int i, st;

	if (!o)
		return;
	if (json_object_object_get_ex(o, "type", &type) && (t = json_object_get_string(type)) &&
	    !strcmp(t, "state") && json_object_object_get_ex(o, "neighbor", &nb) &&
	    json_object_object_get_ex(nb, "address", &addr) &&
	    json_object_object_get_ex(addr, "peer", &peer) &&
	    json_object_object_get_ex(nb, "state", &state)) {
		i = neighbor_index(sp, json_object_get_string(peer));
		s = json_object_get_string(state);
		st = !strcmp(s, "up")        ? AG_BGP_UP :
		     !strcmp(s, "connected") ? AG_BGP_CONNECTED :
					       AG_BGP_DOWN;
		if (i >= 0 && sp->state[i] != st) {
			sp->state[i] = st;
			ag_log("upstream: neighbor %s %s", sp->conf.neighbors[i].address, s);
			if (st == AG_BGP_UP && sp->on_sync)
				sp->on_sync(sp->arg, i);
		}
	}
	json_object_put(o);
}

static void on_ack(struct ag_speaker *sp, bool ok)
{
	char *cmd;

	if (!sp->pend_n)
		return;
	cmd = sp->pending[sp->pend_head];
	sp->pend_head = (sp->pend_head + 1) % PENDING_MAX;
	sp->pend_n--;
	if (!ok) {
		sp->errors++;
		ag_log("upstream: ExaBGP refused '%s' (its log above says why)", cmd);
	}
	free(cmd);
}

/* A row of "show neighbor summary": PEER AS UP/DOWN STATE #SENT #RECVD. */
static void on_summary(struct ag_speaker *sp, const char *line)
{
	char peer[64], as[16], updown[32], state[32];

	if (sscanf(line, "%63s %15s %31s %31s", peer, as, updown, state) != 4)
		return;
	set_state(sp, neighbor_index(sp, peer),
		  !strcmp(state, "established") ? AG_BGP_UP : AG_BGP_DOWN, state);
}

static void on_line(struct ag_speaker *sp, const char *line)
{
	if (*line == '{')
		on_json(sp, line);
	else if (*line && strcmp(line, "done") && strcmp(line, "error"))
		on_summary(sp, line);
	else if (!strcmp(line, "done"))
		on_ack(sp, true);
	else if (!strcmp(line, "error"))
		on_ack(sp, false);
}

static void conn_read(struct ag_speaker *sp)
{
	ssize_t n;
	char *nl, *start;

	n = read(sp->conn_fd, sp->in + sp->in_len, sizeof(sp->in) - 1 - sp->in_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		ag_log("upstream: ExaBGP disconnected");
		conn_close(sp);
		return;
	}
	if (n < 0)
		return;
	sp->in_len += n;
	sp->in[sp->in_len] = '\0';
	start = sp->in;
	while ((nl = strchr(start, '\n'))) {
		*nl = '\0';
		on_line(sp, start);
		start = nl + 1;
	}
	sp->in_len -= start - sp->in;
	memmove(sp->in, start, sp->in_len);
	/* A line longer than the buffer (a huge update) is dropped, not kept. */
	if (sp->in_len == sizeof(sp->in) - 1)
		sp->in_len = 0;
}

static void conn_write(struct ag_speaker *sp)
{
	ssize_t n;

	if (!sp->out_len || sp->conn_fd < 0)
		return;
	n = write(sp->conn_fd, sp->out, sp->out_len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			ag_log("upstream: writing to ExaBGP: %s", strerror(errno));
			conn_close(sp);
		}
		return;
	}
	sp->out_len -= n;
	memmove(sp->out, sp->out + n, sp->out_len);
}

int ag_speaker_send(struct ag_speaker *sp, const char *fmt, ...)
{
	char line[1024];
	size_t len;
	va_list ap;
	int n;

	if (sp->conn_fd < 0)
		return -ENOTCONN;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return -E2BIG;
	if (sp->pend_n == PENDING_MAX)
		return -ENOBUFS;
	len = n;
	if (sp->out_len + len + 1 > sp->out_cap) {
		size_t cap = (sp->out_len + len + 1) * 2;
		char *grown = realloc(sp->out, cap);

		if (!grown)
			return -ENOMEM;
		sp->out = grown;
		sp->out_cap = cap;
	}
	sp->pending[(sp->pend_head + sp->pend_n) % PENDING_MAX] = strdup(line);
	sp->pend_n++;
	memcpy(sp->out + sp->out_len, line, len);
	sp->out[sp->out_len + len] = '\n';
	sp->out_len += len + 1;
	conn_write(sp);
	return 0;
}

/* ---- life ------------------------------------------------------------------ */

static bool same_session(const struct ag_upstream_conf *a, const struct ag_upstream_conf *b)
{
	return a->local_as == b->local_as && !strcmp(a->router_id, b->router_id) &&
	       !strcmp(a->local_address, b->local_address) && a->nr_neighbors == b->nr_neighbors &&
	       !memcmp(a->neighbors, b->neighbors, a->nr_neighbors * sizeof(a->neighbors[0])) &&
	       a->external == b->external && !strcmp(a->exabgp, b->exabgp);
}

struct ag_speaker *ag_speaker_start(const struct ag_upstream_conf *u,
				    void (*on_sync)(void *arg, int neighbor), void *arg)
{
	struct ag_speaker *sp = calloc(1, sizeof(*sp));
	ssize_t n;
	int err;

	if (!sp)
		return NULL;
	if (!u->external && access(u->exabgp, X_OK)) {
		ag_log("upstream: cannot run %s: %s (install the exabgp package, set upstream: exabgp, or run your own with speaker: external)",
		       u->exabgp, strerror(errno));
		free(sp);
		return NULL;
	}
	sp->conf = *u;
	sp->listen_fd = sp->conn_fd = -1;
	sp->on_sync = on_sync;
	sp->arg = arg;
	n = readlink("/proc/self/exe", sp->self, sizeof(sp->self) - 1);
	if (n <= 0) {
		free(sp);
		return NULL;
	}
	sp->self[n] = '\0';
	err = listen_start(sp);
	if (err) {
		ag_log("upstream: cannot listen on %s: %s", sp->sock_path, strerror(-err));
		free(sp);
		return NULL;
	}
	if (u->external)
		ag_log("upstream: waiting for ExaBGP to run 'ampguard upstream bridge %s'",
		       sp->sock_path);
	else
		supervise(sp);
	return sp;
}

/* New settings: ExaBGP is restarted only when its sessions change. */
bool ag_speaker_configure(struct ag_speaker *sp, const struct ag_upstream_conf *u)
{
	bool restart = !same_session(&sp->conf, u);

	sp->conf = *u;
	if (!restart)
		return false;
	ag_log("upstream: BGP sessions changed: restarting the speaker");
	conn_close(sp);
	child_stop(sp);
	sp->restart_at = 0;
	sp->backoff = 0;
	supervise(sp);
	return true;
}

int ag_speaker_fds(const struct ag_speaker *sp, struct pollfd *fds)
{
	int n = 0;

	fds[n++] = (struct pollfd){ .fd = sp->listen_fd, .events = POLLIN };
	if (sp->conn_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = sp->conn_fd,
					    .events = POLLIN | (sp->out_len ? POLLOUT : 0) };
	return n;
}

void ag_speaker_events(struct ag_speaker *sp, const struct pollfd *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!fds[i].revents)
			continue;
		if (fds[i].fd == sp->listen_fd)
			accept_bridge(sp);
		else if (fds[i].fd == sp->conn_fd && (fds[i].revents & POLLOUT))
			conn_write(sp);
		if (fds[i].fd == sp->conn_fd && sp->conn_fd >= 0 &&
		    (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
			conn_read(sp);
	}
	supervise(sp);
}

bool ag_speaker_connected(const struct ag_speaker *sp)
{
	return sp->conn_fd >= 0;
}

int ag_speaker_state(const struct ag_speaker *sp, unsigned int neighbor)
{
	return neighbor < AG_UP_MAX_NEIGHBORS ? sp->state[neighbor] : AG_BGP_DOWN;
}

unsigned long ag_speaker_errors(const struct ag_speaker *sp)
{
	return sp->errors;
}

/* Waits up to STOP_WAIT_S for the answers to what was sent, then stops ExaBGP. */
void ag_speaker_stop(struct ag_speaker *sp)
{
	double until = ag_mono_s() + STOP_WAIT_S;
	struct pollfd fds[2];
	int n;

	if (!sp)
		return;
	sp->stopping = true;
	while (sp->conn_fd >= 0 && (sp->pend_n || sp->out_len) && ag_mono_s() < until) {
		n = ag_speaker_fds(sp, fds);
		if (poll(fds, n, 100) > 0)
			ag_speaker_events(sp, fds, n);
	}
	if (sp->pend_n)
		ag_log("upstream: %u command(s) unanswered at exit", sp->pend_n);
	conn_close(sp);
	child_stop(sp);
	close(sp->listen_fd);
	unlink(sp->sock_path);
	free(sp->out);
	free(sp);
}
