/* The planner: the targets of one backend + its slots in HAProxy -> the
 * runtime API commands that make HAProxy match, in a safe order. Pure. */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MIN_CAP 16

/* One distinct target, as the planner sees it. */
struct plan_tgt {
	const struct plan_target *t;   /* borrowed from the caller */
	int ready;                     /* after merging duplicates and the write limit */
	long slot;                     /* index into slots, -1 none */
};

/* Per slot: which target claims it and what happens to it. */
struct plan_slot {
	long tgt;         /* index into the planner's targets, -1 unclaimed */
	int reassign;     /* its address changes */
	int want_ready;
};

void
plan_init(struct plan *p)
{
	p->cmds = NULL;
	p->n = 0;
	p->cap = 0;
	p->text = NULL;
	p->tlen = p->tcap = 0;
	p->errors = 0;
}

void
plan_free(struct plan *p)
{
	if (!p)
		return;
	free(p->cmds);
	free(p->text);
	plan_init(p);
}

void
plan_clear(struct plan *p)
{
	p->n = 0;
	p->tlen = 0;
	p->errors = 0;
}

static void plan_err_add(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append a message to err, "; " between messages. */
static void
plan_err_add(char *err, size_t errlen, const char *fmt, ...)
{
	const char *nul;
	size_t used;
	va_list ap;

	if (!err || !errlen)
		return;
	nul = memchr(err, '\0', errlen);
	used = nul ? (size_t)(nul - err) : errlen - 1;
	if (used && used + 2 < errlen) {
		memcpy(err + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

static int plan_emit(struct plan *out, enum plan_cmd_kind kind, size_t slot, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Append one command about the slot of that index. -1 when memory runs out
 * or the text does not fit. */
static int
plan_emit(struct plan *out, enum plan_cmd_kind kind, size_t slot, const char *fmt, ...)
{
	char buf[PLAN_CMD_MAX];
	struct plan_cmd *c;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : PLAN_MIN_CAP;

		c = realloc(out->cmds, cap * sizeof(*c));
		if (!c)
			return -1;
		out->cmds = c;
		out->cap = cap;
	}
	if (out->tcap - out->tlen < (size_t)n + 1) {
		size_t tcap = out->tcap ? out->tcap : PLAN_MIN_CAP * 64;
		char *t;

		while (tcap - out->tlen < (size_t)n + 1)
			tcap *= 2;
		t = realloc(out->text, tcap);
		if (!t)
			return -1;
		out->text = t;
		out->tcap = tcap;
		for (size_t i = 0; i < out->n; i++)
			out->cmds[i].text = t + out->cmds[i].off;
	}
	memcpy(out->text + out->tlen, buf, (size_t)n + 1);
	c = &out->cmds[out->n];
	c->kind = kind;
	c->off = out->tlen;
	c->text = out->text + c->off;
	c->stays_maint = 0;
	c->slot = (int)slot;
	c->target = -1;
	out->tlen += (size_t)n + 1;
	out->n++;
	return 0;
}

static int
plan_target_valid(const struct plan_target *t)
{
	return memchr(t->ip, '\0', sizeof(t->ip)) && addr_is_ip(t->ip) &&
		t->port >= 1 && t->port <= 65535;
}

static int
plan_slot_has(const struct hap_server *s, const struct plan_target *t)
{
	return s->port == t->port && addr_ip_equal(s->addr, t->ip);
}

/* Slot for a target that already has its address: the first unclaimed slot
 * with it, preferring one whose readiness is already right (so a duplicate
 * slot does not make the serving one flap). -1 none. */
static long
plan_find_same(const struct hap_server *slots, const struct plan_slot *ps, size_t nslots,
	       const struct plan_tgt *tg)
{
	long best = -1;
	size_t i;

	for (i = 0; i < nslots; i++) {
		if (ps[i].tgt >= 0 || !plan_slot_has(&slots[i], tg->t))
			continue;
		if (hap_server_is_ready(&slots[i]) == tg->ready)
			return (long)i;
		if (best < 0)
			best = (long)i;
	}
	return best;
}

/* A slot for a target without one: an unclaimed slot, or with steal, one
 * held by a target that does not want ready (for a ready target when slots
 * run short). In maint first, then the lowest srv_id. -1 none. */
static long
plan_pick_slot(const struct hap_server *slots, const struct plan_slot *ps,
	       const struct plan_tgt *tg, size_t nslots, int steal)
{
	long best = -1;
	int best_maint = 0;
	size_t i;

	for (i = 0; i < nslots; i++) {
		int maint = (slots[i].admin_state & HAP_ADMF_MAINT) != 0;

		if (steal ? ps[i].tgt < 0 || tg[ps[i].tgt].ready : ps[i].tgt >= 0)
			continue;
		if (best < 0 || maint > best_maint ||
		    (maint == best_maint && slots[i].srv_id < slots[best].srv_id)) {
			best = (long)i;
			best_maint = maint;
		}
	}
	return best;
}

/* Distinct, valid targets in tg (ready merged over duplicates); invalid ones
 * are counted as errors. Returns how many. */
static size_t
plan_collect(const char *backend, const struct plan_target *targets, size_t ntargets,
	     struct plan_tgt *tg, struct plan *out, char *err, size_t errlen, int *rc)
{
	size_t i, j, nt = 0;

	for (i = 0; i < ntargets; i++) {
		const struct plan_target *t = &targets[i];

		if (!plan_target_valid(t)) {
			out->errors++;
			*rc = -1;
			plan_err_add(err, errlen, "backend %s: target %.*s port %d is not an IP address and port",
				     backend, ADDR_IP_MAX - 1, t->ip, t->port);
			continue;
		}
		for (j = 0; j < nt; j++)
			if (tg[j].t->port == t->port && addr_ip_equal(tg[j].t->ip, t->ip))
				break;
		if (j < nt) {
			tg[j].ready |= t->ready != 0;
			continue;
		}
		tg[nt].t = t;
		tg[nt].ready = t->ready != 0;
		tg[nt].slot = -1;
		nt++;
	}
	return nt;
}

/* In a write backend only the first ready target stays ready. */
static void
plan_limit_write(const char *backend, struct plan_tgt *tg, size_t nt, char *err, size_t errlen,
		 int *rc)
{
	char buf[ADDR_IP_MAX + 16];
	size_t i, nready = 0, first = 0;

	for (i = 0; i < nt; i++) {
		if (!tg[i].ready)
			continue;
		if (nready++ == 0)
			first = i;
		else
			tg[i].ready = 0;
	}
	if (nready > 1) {
		*rc = -1;
		plan_err_add(err, errlen,
			     "backend %s: %zu targets want ready in a write backend, only %s is made ready",
			     backend, nready, addr_format(buf, sizeof(buf), tg[first].t->ip, tg[first].t->port));
	}
}

static int
plan_emit_all(const char *backend, const struct hap_server *slots, const struct plan_slot *ps,
	      const struct plan_tgt *tg, size_t nslots, int is_write, const struct plan_target *targets,
	      struct plan *out)
{
	size_t i;
	int sure = is_write == PLAN_WRITE_SURE, readies = 0;

	/* Sure: does the plan make a slot ready? */
	for (i = 0; sure && i < nslots; i++)
		if (ps[i].want_ready && (ps[i].reassign || !hap_server_is_ready(&slots[i])))
			readies = 1;
	/* (a) everything that leaves service, ready or draining, goes to maint
	 * first; in a write backend its sessions go right after. Sure: also
	 * a slot whose address changes, and when a slot is made ready every
	 * other one, even if the slots say it is in maint already. */
	for (i = 0; i < nslots; i++) {
		int in_maint = (slots[i].admin_state & HAP_ADMF_MAINT) != 0;

		if (ps[i].want_ready && !ps[i].reassign)
			continue;
		if (in_maint && !(sure && (readies || ps[i].reassign)))
			continue;
		if (plan_emit(out, PLAN_MAINT, i, "set server %s/%s state maint",
			      backend, slots[i].name) < 0)
			return -1;
		if (in_maint)
			continue;
		if (is_write && plan_emit(out, PLAN_SHUTDOWN, i, "shutdown sessions server %s/%s",
					  backend, slots[i].name) < 0)
			return -1;
	}
	/* (b) addresses, while nothing new takes traffic */
	for (i = 0; i < nslots; i++) {
		const struct plan_target *t;

		if (!ps[i].reassign)
			continue;
		t = tg[ps[i].tgt].t;
		if (plan_emit(out, PLAN_ADDR, i, "set server %s/%s addr %s port %d",
			      backend, slots[i].name, t->ip, t->port) < 0)
			return -1;
		/* in maint now ((a) or before), and (c) does not make it ready */
		out->cmds[out->n - 1].stays_maint = !ps[i].want_ready;
		out->cmds[out->n - 1].target = (int)(t - targets);
	}
	/* (c) then the slots that must serve */
	for (i = 0; i < nslots; i++) {
		if (!ps[i].want_ready)
			continue;
		if (hap_server_is_ready(&slots[i]) && !ps[i].reassign)
			continue;
		if (plan_emit(out, PLAN_READY, i, "set server %s/%s state ready",
			      backend, slots[i].name) < 0)
			return -1;
	}
	return 0;
}

int
plan_backend(const char *backend, const struct hap_server *slots, size_t nslots,
	     const struct plan_target *targets, size_t ntargets, int is_write,
	     struct plan *out, char *err, size_t errlen)
{
	struct plan_tgt *tg = NULL;
	struct plan_slot *ps = NULL;
	size_t *order = NULL;
	size_t i, k, nt, no = 0, start_n = out->n, start_t = out->tlen, missing = 0, first_missing = 0;
	int pass, rc = 0;

	if (err && errlen)
		err[0] = '\0';
	tg = calloc(ntargets ? ntargets : 1, sizeof(*tg));
	order = calloc(ntargets ? ntargets : 1, sizeof(*order));
	ps = calloc(nslots ? nslots : 1, sizeof(*ps));
	if (!tg || !order || !ps) {
		plan_err_add(err, errlen, "backend %s: out of memory", backend);
		rc = -1;
		goto done;
	}
	for (i = 0; i < nslots; i++)
		ps[i].tgt = -1;

	nt = plan_collect(backend, targets, ntargets, tg, out, err, errlen, &rc);
	if (is_write)
		plan_limit_write(backend, tg, nt, err, errlen, &rc);

	/* Ready targets first, each group in the caller's order. */
	for (pass = 1; pass >= 0; pass--)
		for (i = 0; i < nt; i++)
			if (tg[i].ready == pass)
				order[no++] = i;

	/* 1. adopt the slots that already hold a target's address */
	for (k = 0; k < nt; k++) {
		struct plan_tgt *t = &tg[order[k]];
		long s = plan_find_same(slots, ps, nslots, t);

		if (s >= 0) {
			t->slot = s;
			ps[s].tgt = (long)order[k];
		}
	}
	/* 2. the others take free slots */
	for (k = 0; k < nt; k++) {
		struct plan_tgt *t = &tg[order[k]];
		long s;

		if (t->slot >= 0)
			continue;
		s = plan_pick_slot(slots, ps, tg, nslots, 0);
		if (s < 0)
			continue;
		t->slot = s;
		ps[s].tgt = (long)order[k];
		ps[s].reassign = 1;
	}
	/* 3. when slots run short, ready targets take them from the others */
	for (k = 0; k < nt; k++) {
		struct plan_tgt *t = &tg[order[k]];
		long s;

		if (!t->ready || t->slot >= 0)
			continue;
		s = plan_pick_slot(slots, ps, tg, nslots, 1);
		if (s < 0)
			break;
		tg[ps[s].tgt].slot = -1;
		t->slot = s;
		ps[s].tgt = (long)order[k];
		ps[s].reassign = !plan_slot_has(&slots[s], t->t);
	}
	for (k = 0; k < nt; k++)
		if (tg[order[k]].slot < 0 && missing++ == 0)
			first_missing = order[k];
	if (missing) {
		char buf[ADDR_IP_MAX + 16];
		const struct plan_target *t = tg[first_missing].t;
		char more[48] = "";

		if (missing > 1)
			snprintf(more, sizeof(more), " and %zu more", missing - 1);
		out->errors += (int)missing;
		rc = -1;
		plan_err_add(err, errlen, "backend %s: no free server slot for %s%s (%zu slots)",
			     backend, addr_format(buf, sizeof(buf), t->ip, t->port), more, nslots);
	}
	for (i = 0; i < nslots; i++)
		if (ps[i].tgt >= 0)
			ps[i].want_ready = tg[ps[i].tgt].ready;

	/* 3. commands */
	if (plan_emit_all(backend, slots, ps, tg, nslots, is_write, targets, out) < 0) {
		/* never hand out half a plan: it could break the order */
		out->n = start_n;
		out->tlen = start_t;
		plan_err_add(err, errlen, "backend %s: out of memory or command longer than %d bytes",
			     backend, PLAN_CMD_MAX - 1);
		rc = -1;
	}
done:
	free(tg);
	free(order);
	free(ps);
	return rc;
}

void
plan_apply(struct hap_server *slots, size_t nslots, const struct plan_target *targets, size_t ntargets,
	   const struct plan_cmd *cmds, size_t ncmds)
{
	for (size_t i = 0; i < ncmds; i++) {
		const struct plan_cmd *c = &cmds[i];
		struct hap_server *s;

		if (c->slot < 0 || (size_t)c->slot >= nslots)
			continue;
		s = &slots[c->slot];
		switch (c->kind) {
		case PLAN_MAINT:
			/* HAProxy: forced maintenance replaces a forced drain */
			s->admin_state = (s->admin_state & ~(unsigned)HAP_ADMF_FDRAIN) | HAP_ADMF_FMAINT;
			break;
		case PLAN_READY:
			s->admin_state &= ~(unsigned)(HAP_ADMF_FMAINT | HAP_ADMF_FDRAIN);
			break;
		case PLAN_ADDR:
			if (c->target >= 0 && (size_t)c->target < ntargets) {
				str_copy(s->addr, targets[c->target].ip, sizeof(s->addr));
				s->port = targets[c->target].port;
			}
			break;
		case PLAN_SHUTDOWN:
			break;
		}
	}
}
