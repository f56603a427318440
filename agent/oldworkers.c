/* Old HAProxy workers: cut their clients of a demoted master (oldworkers.h). */
#include "oldworkers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hapapi.h"
#include "haproxy.h"
#include "log.h"
#include "util.h"

enum oldw_step { OW_IDLE = 0, OW_PROC, OW_READ, OW_CUT };

struct oldworkers {
	struct ev_loop *loop;
	const struct config *cfg;
	const struct topo *topo;
	oldw_want_fn want;
	void *arg;
	struct hap_client *hc;
	enum oldw_step step;
	int again;                    /* kicked during a sweep */
	long pids[OLDW_MAX_WORKERS];   /* the first stats.old_workers are valid */
	ev_timer resweep;
	struct oldw_stats stats;
	/* the commands of the step in flight (hap_submit copies them) */
	char **cmds;
	size_t ncmds, capcmds;
};

static void sweep_start(struct oldworkers *ow);

static void
cmds_clear(struct oldworkers *ow)
{
	for (size_t i = 0; i < ow->ncmds; i++)
		free(ow->cmds[i]);
	ow->ncmds = 0;
}

static int cmds_add(struct oldworkers *ow, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
cmds_add(struct oldworkers *ow, const char *fmt, ...)
{
	char buf[HAP_NAME_MAX * 2 + 64], **t;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (ow->ncmds == ow->capcmds) {
		size_t cap = ow->capcmds ? ow->capcmds * 2 : 16;

		t = realloc(ow->cmds, cap * sizeof(*t));
		if (!t)
			return -1;
		ow->cmds = t;
		ow->capcmds = cap;
	}
	if (!(ow->cmds[ow->ncmds] = strdup(buf)))
		return -1;
	ow->ncmds++;
	return 0;
}

static void
sweep_error(struct oldworkers *ow, const char *what, const char *err)
{
	char msg[sizeof(ow->stats.last_error)];

	snprintf(msg, sizeof(msg), "%s: %s", what, err ? err : "no answer");
	if (strcmp(msg, ow->stats.last_error) != 0)
		log_warn("haproxy master CLI: %s", msg);
	else
		log_debug("haproxy master CLI: %s", msg);
	str_copy(ow->stats.last_error, msg, sizeof(ow->stats.last_error));
}

static void
sweep_done(struct oldworkers *ow)
{
	cmds_clear(ow);
	ow->step = OW_IDLE;
	ow->stats.sweeps++;
	ow->stats.last_sweep_wall_ms = now_wall_ms();
	ev_timer_stop(ow->loop, &ow->resweep);
	if (ow->again) {
		ow->again = 0;
		sweep_start(ow);
		return;
	}
	if (ow->stats.old_workers > 0) {
		ev_timer_set(&ow->resweep, OLDW_RESWEEP_MS / 1000.0, 0.);
		ev_timer_start(ow->loop, &ow->resweep);
	}
}

static int
submit(struct oldworkers *ow, hap_batch_cb cb)
{
	if (hap_submit(ow->hc, (const char *const *)ow->cmds, ow->ncmds, cb, ow) < 0) {
		sweep_error(ow, "cannot send", "a command does not fit a request line");
		return -1;
	}
	return 0;
}

/* Strip "@!PID " from a command sent through the master CLI. */
static const char *
unprefixed(const char *cmd)
{
	const char *sp = cmd[0] == '@' ? strchr(cmd, ' ') : NULL;

	return sp ? sp + 1 : cmd;
}

static void
cut_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
       const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct oldworkers *ow = arg;

	for (size_t i = 0; i < n_replies && i < n_cmds; i++) {
		if (hap_reply_ok(unprefixed(cmds[i]), replies[i].text, replies[i].len)) {
			ow->stats.sessions_cut++;
			log_info("haproxy old worker: %s", cmds[i]);
		} else {
			/* gone meanwhile: the stream ended or the worker exited */
			log_debug("haproxy old worker: '%s': %.*s", cmds[i],
				  (int)(replies[i].len > 120 ? 120 : replies[i].len), replies[i].text);
		}
	}
	if (status < 0)
		sweep_error(ow, "cutting streams", err);
	sweep_done(ow);
}

/* The slots of one old worker's write backends that must not serve: their
 * names, as "backend/server" lines in a sorted list for bsearch. */
struct bad_slot {
	char name[HAP_NAME_MAX * 2 + 2];
};

static int
bad_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bad_slot *)a)->name, ((const struct bad_slot *)b)->name);
}

/* Slots of g's write backend in st that are not the wanted target. */
static int
collect_bad(struct oldworkers *ow, const struct group *g, const struct hap_state *st,
	    struct bad_slot **bad, size_t *nbad, size_t *cap)
{
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX], want[ADDR_IP_MAX + 8], have[ADDR_IP_MAX + 8];
	size_t first, count;

	if (!config_backends(ow->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)))
		return 0;
	if (!ow->want(ow->arg, g, want, sizeof(want)))
		return 0;
	if (hap_state_backend(st, wb, &first, &count) < 0)
		return 0;
	for (size_t i = first; i < first + count; i++) {
		const struct hap_server *s = &st->srv[i];

		addr_format(have, sizeof(have), s->addr, s->port);
		if (want[0] && strcmp(have, want) == 0)
			continue;
		if (*nbad == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			struct bad_slot *t = realloc(*bad, c * sizeof(*t));

			if (!t)
				return -1;
			*bad = t;
			*cap = c;
		}
		snprintf((*bad)[*nbad].name, sizeof((*bad)[*nbad].name), "%s/%s", s->backend, s->name);
		(*nbad)++;
	}
	return 0;
}

/* One old worker's answers: plan its cuts. -1 when out of memory. */
static int
plan_worker(struct oldworkers *ow, long pid, const struct hap_reply *state, const struct hap_reply *sess)
{
	struct hap_state st = { 0 };
	struct hap_sess *ss = NULL;
	struct bad_slot *bad = NULL, key;
	size_t nbad = 0, cap = 0;
	long nss;
	char err[128];
	int rc = 0;

	if (hap_state_parse(state->text, state->len, &st, err, sizeof(err)) < 0) {
		/* "Can't find the target PID": it exited since "show proc" */
		log_debug("haproxy old worker %ld: no server state: %s", pid, err);
		hap_state_free(&st);
		return 0;
	}
	(void)hap_state_index(&st);
	for (size_t i = 0; i < ow->topo->n && rc == 0; i++)
		rc = collect_bad(ow, ow->topo->groups[i], &st, &bad, &nbad, &cap);
	hap_state_free(&st);
	if (rc < 0 || nbad == 0) {
		free(bad);
		return rc;
	}
	qsort(bad, nbad, sizeof(*bad), bad_cmp);
	nss = hap_sess_parse(sess->text, sess->len, &ss);
	for (long i = 0; i < nss && rc == 0; i++) {
		if (snprintf(key.name, sizeof(key.name), "%s/%s", ss[i].backend, ss[i].server) >=
		    (int)sizeof(key.name))
			continue;
		if (bsearch(&key, bad, nbad, sizeof(*bad), bad_cmp))
			rc = cmds_add(ow, "@!%ld shutdown session %s", pid, ss[i].id);
	}
	free(ss);
	free(bad);
	return nss < 0 ? -1 : rc;
}

static void
read_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct oldworkers *ow = arg;
	int npids = ow->stats.old_workers;

	(void)cmds;
	(void)n_cmds;
	if (status < 0) {
		sweep_error(ow, "reading the old workers", err);
		sweep_done(ow);
		return;
	}
	cmds_clear(ow);
	for (int i = 0; i < npids && (size_t)(2 * i + 1) < n_replies; i++)
		if (plan_worker(ow, ow->pids[i], &replies[2 * i], &replies[2 * i + 1]) < 0) {
			sweep_error(ow, "planning the cuts", "out of memory");
			break;
		}
	if (ow->ncmds == 0) {
		ow->stats.last_error[0] = '\0';
		sweep_done(ow);
		return;
	}
	ow->step = OW_CUT;
	if (submit(ow, cut_cb) < 0)
		sweep_done(ow);
}

static void
proc_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct oldworkers *ow = arg;
	int n;

	(void)cmds;
	(void)n_cmds;
	if (status < 0 || n_replies < 1) {
		ow->stats.old_workers = 0;
		sweep_error(ow, "show proc", err);
		sweep_done(ow);
		return;
	}
	n = hap_proc_parse(replies[0].text, replies[0].len, ow->pids, OLDW_MAX_WORKERS);
	if (n < 0) {
		ow->stats.old_workers = 0;
		sweep_error(ow, "show proc", "not a master CLI answer (is this the master socket, haproxy -S?)");
		sweep_done(ow);
		return;
	}
	if (n != ow->stats.old_workers)
		log_debug("haproxy master CLI: %d old worker(s)", n);
	ow->stats.old_workers = n;
	cmds_clear(ow);
	if (n == 0) {
		ow->stats.last_error[0] = '\0';
		sweep_done(ow);
		return;
	}
	for (int i = 0; i < n; i++)
		if (cmds_add(ow, "@!%ld show servers state", ow->pids[i]) < 0 ||
		    cmds_add(ow, "@!%ld show sess", ow->pids[i]) < 0) {
			sweep_error(ow, "show proc", "out of memory");
			sweep_done(ow);
			return;
		}
	ow->step = OW_READ;
	if (submit(ow, read_cb) < 0)
		sweep_done(ow);
}

static void
sweep_start(struct oldworkers *ow)
{
	cmds_clear(ow);
	if (cmds_add(ow, "show proc") < 0)
		return;
	ow->step = OW_PROC;
	if (submit(ow, proc_cb) < 0)
		sweep_done(ow);
}

static void
resweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct oldworkers *ow = w->data;

	(void)loop;
	(void)revents;
	oldw_kick(ow);
}

struct oldworkers *
oldw_new(struct ev_loop *loop, const struct config *cfg, const struct topo *topo,
	 oldw_want_fn want, void *arg, char *err, size_t errlen)
{
	struct oldworkers *ow = calloc(1, sizeof(*ow));

	if (!ow) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ow->hc = hap_client_new(loop, cfg->haproxy_master_socket, cfg->haproxy_timeout_ms, err, errlen);
	if (!ow->hc) {
		free(ow);
		return NULL;
	}
	hap_client_set_half_close(ow->hc, 1);
	ow->loop = loop;
	ow->cfg = cfg;
	ow->topo = topo;
	ow->want = want;
	ow->arg = arg;
	ev_timer_init(&ow->resweep, resweep_cb, 0., 0.);
	ow->resweep.data = ow;
	return ow;
}

void
oldw_free(struct oldworkers *ow)
{
	if (!ow)
		return;
	ev_timer_stop(ow->loop, &ow->resweep);
	hap_client_free(ow->hc);
	cmds_clear(ow);
	free(ow->cmds);
	free(ow);
}

void
oldw_kick(struct oldworkers *ow)
{
	if (!ow)
		return;
	if (ow->step != OW_IDLE) {
		ow->again = 1;
		return;
	}
	sweep_start(ow);
}

void
oldw_get_stats(const struct oldworkers *ow, struct oldw_stats *out)
{
	if (!ow) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = ow->stats;
}
