#include "rlink.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/adapters/libev.h>

#include "log.h"

struct rlink {
	struct ev_loop *loop;
	char name[96];
	char ip[ADDR_IP_MAX];
	int port;
	struct rlink_opts opts;
	rlink_up_fn on_up;
	rlink_down_fn on_down;
	void *arg;

	enum rlink_state state;
	redisAsyncContext *ac;
	ev_timer connect_timer;
	ev_timer retry_timer;
	ev_timer cmd_timer;
	int pending;             /* deadline-covered commands in flight */
	int backoff_ms;
	int freeing;
	int closing;             /* rlink_close() asked for it: not a failure */
	char last_error[128];
};

/* One per deadline-covered command. */
struct rl_cmd {
	struct rlink *rl;
	redisCallbackFn *fn;
	void *priv;
};

static const char *const state_names[] = { "idle", "connecting", "up", "closed" };

const char *
rlink_state_name(enum rlink_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "?";
}

static void
set_state(struct rlink *rl, enum rlink_state s)
{
	if (rl->state == s)
		return;
	log_debug("%s: %s -> %s", rl->name, state_names[rl->state], state_names[s]);
	rl->state = s;
}

static void
schedule_retry(struct rlink *rl)
{
	double delay;

	if (!rl->opts.reconnect || rl->freeing) {
		set_state(rl, RLINK_CLOSED);
		return;
	}
	if (rl->backoff_ms <= 0)
		rl->backoff_ms = rl->opts.backoff_min_ms;
	else if (rl->backoff_ms < rl->opts.backoff_max_ms)
		rl->backoff_ms *= 2;
	if (rl->backoff_ms > rl->opts.backoff_max_ms)
		rl->backoff_ms = rl->opts.backoff_max_ms;
	/* Full jitter over the upper half: spreads reconnects of many links. */
	delay = (rl->backoff_ms / 2 + (double)(rand() % (rl->backoff_ms / 2 + 1))) / 1000.0;
	ev_timer_stop(rl->loop, &rl->retry_timer);
	ev_timer_set(&rl->retry_timer, delay, 0.);
	ev_timer_start(rl->loop, &rl->retry_timer);
}

/* The one "link lost" path: never frees the context (hiredis does). */
static void
link_lost(struct rlink *rl, const char *why)
{
	int was_up = rl->state == RLINK_UP;

	rl->ac = NULL;
	rl->pending = 0;
	ev_timer_stop(rl->loop, &rl->connect_timer);
	ev_timer_stop(rl->loop, &rl->cmd_timer);
	str_copy(rl->last_error, why, sizeof(rl->last_error));
	if (rl->closing)
		log_debug("%s: closed: %s", rl->name, why);
	else if (was_up)
		log_warn("%s: link down: %s", rl->name, why);
	else
		log_debug("%s: connect failed: %s", rl->name, why);
	rl->closing = 0;
	set_state(rl, RLINK_IDLE);
	if (rl->freeing)
		return;
	schedule_retry(rl);
	if (rl->on_down)
		rl->on_down(rl, rl->arg, why);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct rlink *rl = ac->data;

	if (!rl || rl->ac != ac)
		return;
	if (status != REDIS_OK) {
		link_lost(rl, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	ev_timer_stop(rl->loop, &rl->connect_timer);
	rl->backoff_ms = 0;
	rl->last_error[0] = '\0';
	set_state(rl, RLINK_UP);
	log_debug("%s: connected", rl->name);
	if (rl->on_up)
		rl->on_up(rl, rl->arg);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rlink *rl = ac->data;

	if (!rl || rl->ac != ac)
		return;
	link_lost(rl, status == REDIS_OK ? (rl->last_error[0] ? rl->last_error : "closed") :
		  (ac->errstr[0] ? ac->errstr : "connection lost"));
}

static void
connect_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rlink *rl = w->data;
	redisAsyncContext *ac = rl->ac;

	(void)loop;
	(void)revents;
	if (!ac)
		return;
	/* Not connected yet: hiredis calls no callback on this free. */
	rl->ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac);
	link_lost(rl, "connect timeout");
}

static void
cmd_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rlink *rl = w->data;

	(void)loop;
	(void)revents;
	rlink_close(rl, "command timeout");
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	rlink_start(w->data);
}

struct rlink *
rlink_new(struct ev_loop *loop, const char *name, const char *ip, int port,
	  const struct rlink_opts *opts, rlink_up_fn up, rlink_down_fn down, void *arg)
{
	struct rlink *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	rl->loop = loop;
	str_copy(rl->name, name, sizeof(rl->name));
	str_copy(rl->ip, ip, sizeof(rl->ip));
	rl->port = port;
	rl->opts = *opts;
	if (rl->opts.backoff_min_ms < 10)
		rl->opts.backoff_min_ms = 10;
	if (rl->opts.backoff_max_ms < rl->opts.backoff_min_ms)
		rl->opts.backoff_max_ms = rl->opts.backoff_min_ms;
	rl->on_up = up;
	rl->on_down = down;
	rl->arg = arg;
	ev_timer_init(&rl->connect_timer, connect_timeout_cb, 0., 0.);
	ev_timer_init(&rl->retry_timer, retry_cb, 0., 0.);
	ev_timer_init(&rl->cmd_timer, cmd_timeout_cb, 0., 0.);
	rl->connect_timer.data = rl;
	rl->retry_timer.data = rl;
	rl->cmd_timer.data = rl;
	return rl;
}

static void
auth_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rlink *rl = ac->data;
	redisReply *r = reply;

	(void)privdata;
	if (!r || !rl || rl->ac != ac)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		char why[160];

		/* The server's text names no secret ("WRONGPASS invalid username-password pair"). */
		snprintf(why, sizeof(why), "AUTH refused: %.120s", r->str);
		log_err("%s: %s", rl->name, why);
		rlink_close(rl, why);
	}
}

void
rlink_start(struct rlink *rl)
{
	redisAsyncContext *ac;

	if (rl->ac || rl->freeing || rl->state == RLINK_CLOSED)
		return;
	ev_timer_stop(rl->loop, &rl->retry_timer);
	set_state(rl, RLINK_CONNECTING);
	/* IP literals only: hiredis would resolve a name with a blocking call. */
	ac = redisAsyncConnect(rl->ip, rl->port);
	if (!ac) {
		link_lost(rl, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];

		str_copy(why, ac->errstr, sizeof(why));
		redisAsyncFree(ac);
		link_lost(rl, why);
		return;
	}
	if (rl->opts.arena)
		rreply_attach(ac->c.reader, rl->opts.reply_keys);
	ac->data = rl;
	rl->ac = ac;
	if (redisLibevAttach(rl->loop, ac) != REDIS_OK) {
		rl->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
		link_lost(rl, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	ev_timer_set(&rl->connect_timer, rl->opts.connect_timeout_ms / 1000.0, 0.);
	ev_timer_start(rl->loop, &rl->connect_timer);

	/* AUTH is queued now: hiredis sends it first once connected. */
	if (rl->opts.password) {
		int rc;

		if (rl->opts.user)
			rc = redisAsyncCommand(ac, auth_reply, NULL, "AUTH %s %s", rl->opts.user, rl->opts.password);
		else
			rc = redisAsyncCommand(ac, auth_reply, NULL, "AUTH %s", rl->opts.password);
		if (rc != REDIS_OK)
			log_warn("%s: cannot queue AUTH", rl->name);
	}
}

/* A connected link about to be freed by us: reset, if so configured. */
static void
reset_prep(const struct rlink *rl, const redisAsyncContext *ac)
{
	if (rl->opts.reset_on_close && rl->state == RLINK_UP && ac->c.fd >= 0)
		fd_reset_on_close(ac->c.fd);
}

void
rlink_close(struct rlink *rl, const char *why)
{
	redisAsyncContext *ac = rl->ac;

	if (!ac)
		return;
	str_copy(rl->last_error, why, sizeof(rl->last_error));
	rl->closing = 1;
	if (rl->state == RLINK_CONNECTING) {
		rl->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
		link_lost(rl, why);
		return;
	}
	/* Connected: hiredis calls the pending callbacks with NULL and then
	 * the disconnect callback, which takes the link-lost path (deferred by
	 * hiredis until the current callback returns when called from one). */
	reset_prep(rl, ac);
	redisAsyncFree(ac);
}

void
rlink_stop(struct rlink *rl)
{
	if (rl->ac)
		return;
	ev_timer_stop(rl->loop, &rl->retry_timer);
}

void
rlink_free(struct rlink *rl)
{
	if (!rl)
		return;
	rl->freeing = 1;
	ev_timer_stop(rl->loop, &rl->connect_timer);
	ev_timer_stop(rl->loop, &rl->retry_timer);
	ev_timer_stop(rl->loop, &rl->cmd_timer);
	if (rl->ac) {
		redisAsyncContext *ac = rl->ac;

		rl->ac = NULL;
		if (rl->state != RLINK_UP)
			ac->data = NULL;
		reset_prep(rl, ac);
		redisAsyncFree(ac);
	}
	free(rl);
}

static void
cmd_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rl_cmd *c = privdata;
	struct rlink *rl = c->rl;

	if (rl && !rl->freeing && rl->ac == ac) {
		if (rl->pending > 0)
			rl->pending--;
		ev_timer_stop(rl->loop, &rl->cmd_timer);
		if (rl->pending > 0 && rl->opts.command_timeout_ms > 0) {
			/* Progress: the deadline restarts for what is left. */
			ev_timer_set(&rl->cmd_timer, rl->opts.command_timeout_ms / 1000.0, 0.);
			ev_timer_start(rl->loop, &rl->cmd_timer);
		}
	}
	if (c->fn)
		c->fn(ac, reply, c->priv);
	free(c);
}

int
rlink_command(struct rlink *rl, redisCallbackFn *fn, void *priv, const char *fmt, ...)
{
	struct rl_cmd *c;
	va_list ap;
	int rc;

	if (!rl->ac || rl->state != RLINK_UP)
		return -1;
	c = malloc(sizeof(*c));
	if (!c)
		return -1;
	c->rl = rl;
	c->fn = fn;
	c->priv = priv;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(rl->ac, cmd_reply, c, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		free(c);
		return -1;
	}
	if (rl->pending++ == 0 && rl->opts.command_timeout_ms > 0) {
		ev_timer_set(&rl->cmd_timer, rl->opts.command_timeout_ms / 1000.0, 0.);
		ev_timer_start(rl->loop, &rl->cmd_timer);
	}
	return 0;
}

int
rlink_subscribe(struct rlink *rl, redisCallbackFn *fn, void *priv, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!rl->ac || rl->state != RLINK_UP)
		return -1;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(rl->ac, fn, priv, fmt, ap);
	va_end(ap);
	return rc == REDIS_OK ? 0 : -1;
}

enum rlink_state
rlink_state(const struct rlink *rl)
{
	return rl->state;
}

const char *
rlink_last_error(const struct rlink *rl)
{
	return rl->last_error;
}
