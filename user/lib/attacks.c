// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the daemon knows that must outlive it, kept as files in the state
 * directory (bpffs holds only maps and programs): attacks.json, the attack
 * record of every interface x vector and the vectors it escalated, and
 * events.jsonl, the bounded event history. A file is replaced whole
 * (written aside, then renamed), so a reader or a daemon killed midway
 * sees the old version or the new one, never a mix. Readers (status,
 * events, metrics) need no lock; only the daemon writes.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "state.h"

#define ATTACKS_FILE "attacks.json"
#define EVENTS_FILE "events.jsonl"

static const char *state_dir_override;

void ag_set_state_dir(const char *dir)
{
	state_dir_override = dir;
}

const char *ag_state_dir(void)
{
	const char *env = getenv(AG_STATE_DIR_ENV);

	if (state_dir_override)
		return state_dir_override;
	if (env && *env)
		return env;
	return AG_DEFAULT_STATE_DIR;
}

static int state_path(char *buf, size_t len, const char *name)
{
	return ag_path(buf, len, "%s/%s", ag_state_dir(), name);
}

/* Replaces a file whole: readers see the old content or the new. */
static int write_whole(const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t len = strlen(text);
	FILE *f;
	int err = 0;

	if (mkdir(ag_state_dir(), 0755) && errno != EEXIST)
		return -errno;
	if (state_path(path, sizeof(path), name) || ag_path(tmp, sizeof(tmp), "%s.new", path))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len)
		err = -EIO;
	if (fflush(f) || fsync(fileno(f)))
		err = err ?: -errno;
	if (fclose(f))
		err = err ?: -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int ag_state_file_write(const char *name, const char *text)
{
	return write_whole(name, text);
}

/* A whole file of the state directory, NUL-terminated, malloc'd. */
int ag_state_file_read(const char *name, char **text)
{
	char path[PATH_MAX];
	long len;
	FILE *f;
	int err = 0;

	*text = NULL;
	if (state_path(path, sizeof(path), name))
		return -ENAMETOOLONG;
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		err = -EIO;
	if (!err && !(*text = malloc(len + 1)))
		err = -ENOMEM;
	if (!err && fread(*text, 1, len, f) != (size_t)len)
		err = -EIO;
	if (!err)
		(*text)[len] = '\0';
	fclose(f);
	if (err) {
		free(*text);
		*text = NULL;
	}
	return err;
}

/*
 * The daemon's upstream record (config.h's AG_UP_RECORD, by name here: the
 * state layer knows files, not their schema), only while the daemon that
 * wrote it runs: -ENOENT without one, -EINVAL unreadable, -ESRCH when its
 * writer is gone (nothing is announced by it any more).
 */
int ag_daemon_record_read(const char *name, json_object **out)
{
	json_object *o, *pid;
	char *text;
	int err = ag_state_file_read(name, &text);

	*out = NULL;
	if (err)
		return err;
	o = json_tokener_parse(text);
	free(text);
	if (!o || !json_object_object_get_ex(o, "pid", &pid)) {
		json_object_put(o);
		return -EINVAL;
	}
	if (kill(json_object_get_int(pid), 0) && errno == ESRCH) {
		json_object_put(o);
		return -ESRCH;
	}
	*out = o;
	return 0;
}

/* A policy as hex: restored byte for byte by the same ABI. */
static json_object *policy_json(const struct ag_policy *p)
{
	const unsigned char *b = (const unsigned char *)p;
	char hex[2 * sizeof(*p) + 1];
	size_t i;

	for (i = 0; i < sizeof(*p); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	return json_object_new_string(hex);
}

static int policy_parse(json_object *o, struct ag_policy *p)
{
	const char *hex = json_object_get_string(o);
	unsigned char *b = (unsigned char *)p;
	unsigned int v;
	size_t i;

	if (!hex || strlen(hex) != 2 * sizeof(*p))
		return -EINVAL;
	for (i = 0; i < sizeof(*p); i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		b[i] = v;
	}
	return 0;
}

static json_object *attack_json(const struct ag_attack *a)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "interface", json_object_new_string(a->ifname));
	json_object_object_add(o, "vector", json_object_new_string(a->vector));
	json_object_object_add(o, "slot", json_object_new_int(a->slot));
	json_object_object_add(o, "port", json_object_new_int(a->port));
	json_object_object_add(o, "active", json_object_new_boolean(a->active));
	json_object_object_add(o, "since", json_object_new_int64(a->since));
	json_object_object_add(o, "peak_pps", json_object_new_double(a->peak_pps));
	json_object_object_add(o, "peak_bps", json_object_new_double(a->peak_bps));
	json_object_object_add(o, "attacks_total", json_object_new_int64(a->attacks_total));
	json_object_object_add(o, "dropped_base", json_object_new_int64(a->dropped_base));
	return o;
}

int ag_attacks_write(const struct ag_attacks *a)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array(), *esc, *e;
	size_t i;
	int err;

	json_object_object_add(root, "abi", json_object_new_int(AG_ABI_VERSION));
	for (i = 0; i < a->n; i++)
		json_object_array_add(arr, attack_json(&a->v[i]));
	json_object_object_add(root, "attacks", arr);
	esc = json_object_new_array();
	for (i = 0; i < a->nr_esc; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "slot", json_object_new_int(a->esc[i].slot));
		json_object_object_add(e, "interface", json_object_new_string(a->esc[i].ifname));
		json_object_object_add(e, "base", policy_json(&a->esc[i].base));
		json_object_object_add(e, "set", policy_json(&a->esc[i].set));
		json_object_array_add(esc, e);
	}
	json_object_object_add(root, "escalations", esc);
	err = write_whole(ATTACKS_FILE,
			  json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return err;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static long long int_field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static double double_field(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static void attack_parse(json_object *o, struct ag_attack *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->ifname, sizeof(a->ifname), "%s", str_field(o, "interface"));
	snprintf(a->vector, sizeof(a->vector), "%s", str_field(o, "vector"));
	a->slot = int_field(o, "slot");
	a->port = int_field(o, "port");
	a->active = int_field(o, "active");
	a->since = int_field(o, "since");
	a->peak_pps = double_field(o, "peak_pps");
	a->peak_bps = double_field(o, "peak_bps");
	a->attacks_total = int_field(o, "attacks_total");
	a->dropped_base = int_field(o, "dropped_base");
}

static int parse_escalations(json_object *arr, struct ag_attacks *a)
{
	json_object *e, *base, *set;
	size_t i, n;

	if (!json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	for (i = 0; i < n && a->nr_esc < AG_MAX_VECTORS; i++) {
		struct ag_escalation *x = &a->esc[a->nr_esc];

		e = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(e, "base", &base) ||
		    !json_object_object_get_ex(e, "set", &set) || policy_parse(base, &x->base) ||
		    policy_parse(set, &x->set))
			return -EINVAL;
		x->slot = int_field(e, "slot");
		snprintf(x->ifname, sizeof(x->ifname), "%s", str_field(e, "interface"));
		if (x->slot >= AG_MAX_VECTORS)
			return -EINVAL;
		a->nr_esc++;
	}
	return 0;
}

/* The daemon's records; none (and 0) when it never ran. */
int ag_attacks_read(struct ag_attacks *a)
{
	char path[PATH_MAX];
	json_object *root, *arr;
	size_t i, n;
	int err = 0;

	memset(a, 0, sizeof(*a));
	if (state_path(path, sizeof(path), ATTACKS_FILE))
		return -ENAMETOOLONG;
	if (access(path, F_OK))
		return errno == ENOENT ? 0 : -errno;
	root = json_object_from_file(path);
	if (!root)
		return -EINVAL;
	/* Records of another ABI describe policies this build cannot restore. */
	if (int_field(root, "abi") != AG_ABI_VERSION) {
		json_object_put(root);
		return 0;
	}
	if (json_object_object_get_ex(root, "attacks", &arr)) {
		if (!json_object_is_type(arr, json_type_array)) {
			json_object_put(root);
			return -EINVAL;
		}
		n = json_object_array_length(arr);
		a->v = calloc(n ? n : 1, sizeof(*a->v));
		if (!a->v)
			err = -ENOMEM;
		for (i = 0; !err && i < n; i++)
			attack_parse(json_object_array_get_idx(arr, i), &a->v[a->n++]);
	}
	if (!err && json_object_object_get_ex(root, "escalations", &arr))
		err = parse_escalations(arr, a);
	json_object_put(root);
	if (err)
		ag_attacks_free(a);
	return err;
}

void ag_attacks_free(struct ag_attacks *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

bool ag_attacks_escalated(const struct ag_attacks *a, unsigned int slot)
{
	size_t i;

	for (i = 0; i < a->nr_esc; i++)
		if (a->esc[i].slot == slot)
			return true;
	return false;
}

/* Rewrites the history with only its newest AG_EVENTS_KEPT lines. */
static int keep_newest(char **lines, size_t n)
{
	size_t total = 0, i;
	char *text, *p;
	int err;

	for (i = n - AG_EVENTS_KEPT; i < n; i++)
		total += strlen(lines[i]) + 1;
	text = malloc(total + 1);
	if (!text)
		return -ENOMEM;
	p = text;
	*p = '\0';
	for (i = n - AG_EVENTS_KEPT; i < n; i++)
		p += sprintf(p, "%s\n", lines[i]);
	err = write_whole(EVENTS_FILE, text);
	free(text);
	return err;
}

/*
 * The event history, newest last. Appending is one write of one line; the
 * file is cut back to the newest AG_EVENTS_KEPT lines once it holds twice
 * that many, so it stays bounded without rewriting it on every event.
 */
int ag_events_append(const char *line)
{
	char path[PATH_MAX], **lines = NULL;
	size_t n = 0, len = strlen(line);
	FILE *f;
	int err = 0;

	if (mkdir(ag_state_dir(), 0755) && errno != EEXIST)
		return -errno;
	if (state_path(path, sizeof(path), EVENTS_FILE))
		return -ENAMETOOLONG;
	f = fopen(path, "a");
	if (!f)
		return -errno;
	if (fprintf(f, "%s\n", line) != (int)len + 1)
		err = -EIO;
	if (fclose(f))
		err = err ?: -errno;
	if (!err && !ag_events_read(&lines, &n) && n >= 2 * AG_EVENTS_KEPT)
		err = keep_newest(lines, n);
	ag_events_free(lines, n);
	return err;
}

/* Every line of the history (none when there is none yet). */
int ag_events_read(char ***out, size_t *n_out)
{
	char path[PATH_MAX], *line = NULL, **v = NULL, **grown;
	size_t cap = 0, n = 0, llen = 0;
	ssize_t got;
	FILE *f;

	*out = NULL;
	*n_out = 0;
	if (state_path(path, sizeof(path), EVENTS_FILE))
		return -ENAMETOOLONG;
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while ((got = getline(&line, &llen, f)) > 0) {
		if (line[got - 1] == '\n')
			line[got - 1] = '\0';
		if (!*line)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown)
				break;
			v = grown;
		}
		v[n] = strdup(line);
		if (!v[n])
			break;
		n++;
	}
	free(line);
	fclose(f);
	*out = v;
	*n_out = n;
	return 0;
}

void ag_events_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}
