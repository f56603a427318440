#include "journal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"
#include "util.h"

static const char *const stage_names[TL_NSTAGES] = {
	"sdown", "odown", "failover-start", "promoted", "switch-master-seen",
	"decision", "role-confirmed", "haproxy-sent", "haproxy-acked", "fenced", "master-back",
};

const char *
tl_stage_name(enum tl_stage st)
{
	return (unsigned)st < TL_NSTAGES ? stage_names[st] : "?";
}

const char *
tl_outcome_name(int outcome)
{
	return outcome == TL_SWITCHED ? "switch" : outcome == TL_NO_FAILOVER ? "no-failover" : "in-progress";
}

void
journal_init(struct journal *j)
{
	memset(j, 0, sizeof(*j));
}

static void
jevent_clear(struct jevent *e)
{
	free(e->mem);
	memset(e, 0, sizeof(*e));
	e->source = e->sentinel = e->master = e->type = e->text = "";
}

void
journal_free(struct journal *j)
{
	for (size_t i = 0; i < JOURNAL_EVENTS; i++)
		free(j->ev[i].mem);
	journal_init(j);
}

/* s truncated to max - 1 bytes, appended at *p with its NUL. */
static const char *
put_str(char **p, const char *s, size_t len)
{
	char *at = *p;

	memcpy(at, s, len);
	at[len] = '\0';
	*p += len + 1;
	return at;
}

static size_t
cap_len(const char *s, size_t max)
{
	return s ? strnlen(s, max - 1) : 0;
}

void
journal_add(struct journal *j, int64_t at_ms, const char *source, const char *sentinel,
	    const char *master, const char *type, const char *fmt, ...)
{
	struct jevent *e = &j->ev[tk_ring_push(&j->ev_head, &j->ev_count, JOURNAL_EVENTS)];
	char text[JEVENT_TEXT_MAX];
	size_t l_src = cap_len(source, JEVENT_SOURCE_MAX), l_sen = cap_len(sentinel, JEVENT_SENTINEL_MAX);
	size_t l_mas = cap_len(master, JEVENT_MASTER_MAX), l_typ = cap_len(type, JEVENT_TYPE_MAX), l_txt;
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	l_txt = strlen(text);
	jevent_clear(e);
	e->at_ms = at_ms;
	e->seq = ++j->ev_total;
	e->mem = malloc(l_src + l_sen + l_mas + l_typ + l_txt + 5);
	if (e->mem) {
		p = e->mem;
		e->source = put_str(&p, source ? source : "", l_src);
		e->sentinel = put_str(&p, sentinel ? sentinel : "", l_sen);
		e->master = put_str(&p, master ? master : "", l_mas);
		e->type = put_str(&p, type ? type : "", l_typ);
		e->text = put_str(&p, text, l_txt);
	}
	if (j->on_event)
		j->on_event(j->on_event_arg, e);
}

const struct jevent *
journal_event(const struct journal *j, size_t i)
{
	size_t k = tk_ring_at(j->ev_head, j->ev_count, JOURNAL_EVENTS, i);

	return k == TK_RING_NONE ? NULL : &j->ev[k];
}

void
journal_cmd(struct journal *j, int64_t at_ms, const char *command, const char *reply,
	    size_t reply_len, int ok)
{
	struct jcmd *c = &j->cmds[tk_ring_push(&j->cmd_head, &j->cmd_count, JOURNAL_CMDS)];
	size_t n = reply_len < sizeof(c->reply) - 1 ? reply_len : sizeof(c->reply) - 1;

	c->at_ms = at_ms;
	c->ok = ok;
	str_copy(c->command, command, sizeof(c->command));
	memcpy(c->reply, reply ? reply : "", reply ? n : 0);
	c->reply[reply ? n : 0] = '\0';
	/* One line: newlines of multi-line replies become spaces. */
	for (char *p = c->reply; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

const struct jcmd *
journal_cmd_at(const struct journal *j, size_t i)
{
	size_t k = tk_ring_at(j->cmd_head, j->cmd_count, JOURNAL_CMDS, i);

	return k == TK_RING_NONE ? NULL : &j->cmds[k];
}

int64_t
tl_start(const struct tl_record *r)
{
	int64_t s = 0;

	for (int i = 0; i < TL_NSTAGES; i++)
		if (r->at[i] && (!s || r->at[i] < s))
			s = r->at[i];
	return s;
}

int64_t
tl_end(const struct tl_record *r)
{
	int64_t e = 0;

	for (int i = 0; i < TL_NSTAGES; i++)
		if (r->at[i] > e)
			e = r->at[i];
	return e;
}

static struct tl_record *
newest_record(struct journal *j, const char *master)
{
	for (size_t i = 0; i < j->tl_count; i++) {
		struct tl_record *r = &j->tl[tk_ring_at(j->tl_head, j->tl_count, JOURNAL_TIMELINES, i)];

		if (strcmp(r->master, master) == 0)
			return r;
	}
	return NULL;
}

static struct tl_record *
open_record(struct journal *j, const char *master, int64_t now)
{
	for (size_t i = 0; i < j->tl_count; i++) {
		struct tl_record *r = &j->tl[tk_ring_at(j->tl_head, j->tl_count, JOURNAL_TIMELINES, i)];

		if (strcmp(r->master, master) != 0)
			continue;
		/* The newest record of this master decides. */
		if (r->complete || now - tl_start(r) > JOURNAL_TL_OPEN_MS)
			return NULL;
		return r;
	}
	return NULL;
}

struct tl_record *
journal_stage(struct journal *j, const char *master, enum tl_stage st, int64_t at_ms,
	      const char *from, const char *to, uint64_t epoch)
{
	struct tl_record *r;

	if ((unsigned)st >= TL_NSTAGES || st == TL_MASTER_BACK || !master || !*master)
		return NULL;
	r = open_record(j, master, at_ms);
	if (!r) {
		/* Other Sentinels announce a switch after it is done: an echo
		 * of the newest failover, not a new one. */
		struct tl_record *last = newest_record(j, master);

		if (last && last->outcome == TL_SWITCHED && st != TL_SDOWN && st != TL_ODOWN && st != TL_FAILOVER_START && st != TL_FENCED &&
		    at_ms - tl_end(last) < JOURNAL_TL_ECHO_MS && (!to || !*to || strcmp(to, last->to) == 0))
			return last;
		if (st == TL_ROLE_CONFIRMED || st == TL_HAPROXY_SENT || st == TL_HAPROXY_ACKED)
			return NULL;
		r = &j->tl[tk_ring_push(&j->tl_head, &j->tl_count, JOURNAL_TIMELINES)];
		memset(r, 0, sizeof(*r));
		str_copy(r->master, master, sizeof(r->master));
	}
	if (!r->at[st])
		r->at[st] = at_ms;
	if (from && *from && !r->from[0])
		str_copy(r->from, from, sizeof(r->from));
	if (to && *to) {
		/* The decision names the address writes go to: it wins. */
		if (!r->to[0] || st == TL_DECISION)
			str_copy(r->to, to, sizeof(r->to));
	}
	if (epoch > r->epoch)
		r->epoch = epoch;
	if (r->at[TL_HAPROXY_ACKED] && r->at[TL_SWITCH_SEEN]) {
		r->complete = 1;
		r->outcome = TL_SWITCHED;
	}
	return r;
}

struct tl_record *
journal_master_back(struct journal *j, const char *master, int64_t at_ms, const char *addr)
{
	struct tl_record *r;

	if (!master || !*master)
		return NULL;
	r = open_record(j, master, at_ms);
	if (!r || r->at[TL_PROMOTED] || r->at[TL_SWITCH_SEEN] || r->at[TL_DECISION])
		return NULL;
	if (addr && *addr && r->from[0] && strcmp(addr, r->from) != 0)
		return NULL;
	if (at_ms < tl_end(r))
		at_ms = tl_end(r);
	r->at[TL_MASTER_BACK] = at_ms;
	if (addr && *addr && !r->from[0])
		str_copy(r->from, addr, sizeof(r->from));
	str_copy(r->to, r->from, sizeof(r->to));
	r->complete = 1;
	r->outcome = TL_NO_FAILOVER;
	return r;
}

const struct tl_record *
journal_timeline(const struct journal *j, size_t i)
{
	size_t k = tk_ring_at(j->tl_head, j->tl_count, JOURNAL_TIMELINES, i);

	return k == TK_RING_NONE ? NULL : &j->tl[k];
}
