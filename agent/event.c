/* Sentinel Pub/Sub message parser: pure, no I/O.
 *
 * Sentinel builds every message with one printf-like call (sentinelEvent()
 * in sentinel.c): "%@" expands to the instance description
 *   <type> <name> <ip> <port>[ @ <master-name> <master-ip> <master-port>]
 * and the rest of the format follows, so the payload is single-space
 * separated tokens with optional free text at the end. The parser is strict:
 * anything Sentinel would not have produced is refused with -1, and no field
 * is ever truncated (a cut address is a wrong address).
 *
 * Accepted bytes: channel "+" or "-" then [a-z0-9-]; payload printable ASCII
 * (0x20..0x7e), so NUL, control characters and non-ASCII master names are
 * refused. Tokens are separated by exactly one space.
 *
 * Payload shapes (see tests/data/sentinel-events.txt for captured ones):
 *   instance events   %@[ extra]      master: master = name, address = own
 *                                     slave/sentinel: "@" part required
 *   +switch-master    <name> <old-ip> <old-port> <new-ip> <new-port>
 *   +new-epoch        <epoch>
 *   +vote-for-leader  <runid> <epoch>  runid goes to extra (no instance, no
 *                                      master: the payload names neither)
 *   +tilt, -tilt      free text ("#tilt mode entered") into extra
 *   unknown channels  %@[ extra] when it parses as such, else the whole
 *                     payload into extra */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SEV_PAYLOAD_MAX 4096

enum sev_shape {
	SHAPE_INST,     /* %@ [extra] */
	SHAPE_SWITCH,   /* +switch-master */
	SHAPE_EPOCH,    /* +new-epoch */
	SHAPE_VOTE,     /* +vote-for-leader */
	SHAPE_TEXT,     /* +tilt, -tilt */
	SHAPE_ANY,      /* unknown channel */
};

struct sev_channel {
	const char *name;
	int prefix;     /* 1: name is a prefix, a non-empty suffix must follow */
	enum sev_type type;
	enum sev_shape shape;
};

static const struct sev_channel sev_channels[] = {
	{ "+switch-master", 0, SEV_SWITCH_MASTER, SHAPE_SWITCH },
	{ "+sdown", 0, SEV_SDOWN, SHAPE_INST },
	{ "-sdown", 0, SEV_SDOWN_CLEAR, SHAPE_INST },
	{ "+odown", 0, SEV_ODOWN, SHAPE_INST },
	{ "-odown", 0, SEV_ODOWN_CLEAR, SHAPE_INST },
	{ "+slave", 0, SEV_SLAVE, SHAPE_INST },
	{ "+convert-to-slave", 0, SEV_CONVERT_TO_SLAVE, SHAPE_INST },
	{ "+role-change", 0, SEV_ROLE_CHANGE, SHAPE_INST },
	{ "-role-change", 0, SEV_ROLE_CHANGE_CLEAR, SHAPE_INST },
	{ "+reboot", 0, SEV_REBOOT, SHAPE_INST },
	{ "+failover-end", 0, SEV_FAILOVER_END, SHAPE_INST },
	{ "+failover-end-for-timeout", 0, SEV_FAILOVER_END, SHAPE_INST },
	{ "+new-epoch", 0, SEV_NEW_EPOCH, SHAPE_EPOCH },
	{ "-failover-abort-", 1, SEV_FAILOVER_ABORT, SHAPE_INST },
	{ "+try-failover", 0, SEV_TRY_FAILOVER, SHAPE_INST },
	{ "+elected-leader", 0, SEV_ELECTED_LEADER, SHAPE_INST },
	{ "+failover-state-", 1, SEV_FAILOVER_STATE, SHAPE_INST },
	{ "+selected-slave", 0, SEV_SELECTED_SLAVE, SHAPE_INST },
	{ "+promoted-slave", 0, SEV_PROMOTED_SLAVE, SHAPE_INST },
	{ "+slave-reconf-sent", 0, SEV_SLAVE_RECONF, SHAPE_INST },
	{ "+slave-reconf-inprog", 0, SEV_SLAVE_RECONF, SHAPE_INST },
	{ "+slave-reconf-done", 0, SEV_SLAVE_RECONF, SHAPE_INST },
	{ "+sentinel", 0, SEV_SENTINEL, SHAPE_INST },
	{ "+config-update-from", 0, SEV_CONFIG_UPDATE, SHAPE_INST },
	{ "+tilt", 0, SEV_TILT, SHAPE_TEXT },
	{ "-tilt", 0, SEV_TILT_CLEAR, SHAPE_TEXT },
	{ "+monitor", 0, SEV_MONITOR, SHAPE_INST },
	{ "-monitor", 0, SEV_REMOVE, SHAPE_INST },
	{ "+reset-master", 0, SEV_RESET_MASTER, SHAPE_INST },
	{ "+fix-slave-config", 0, SEV_FIX_SLAVE_CONFIG, SHAPE_INST },
	{ "+vote-for-leader", 0, SEV_VOTE_FOR_LEADER, SHAPE_VOTE },
};

static const char *const sev_names[SEV_TYPE_COUNT] = {
	[SEV_UNKNOWN] = "?",
	[SEV_SWITCH_MASTER] = "+switch-master",
	[SEV_SDOWN] = "+sdown",
	[SEV_SDOWN_CLEAR] = "-sdown",
	[SEV_ODOWN] = "+odown",
	[SEV_ODOWN_CLEAR] = "-odown",
	[SEV_SLAVE] = "+slave",
	[SEV_CONVERT_TO_SLAVE] = "+convert-to-slave",
	[SEV_ROLE_CHANGE] = "+role-change",
	[SEV_ROLE_CHANGE_CLEAR] = "-role-change",
	[SEV_REBOOT] = "+reboot",
	[SEV_FAILOVER_END] = "+failover-end",
	[SEV_NEW_EPOCH] = "+new-epoch",
	[SEV_FAILOVER_ABORT] = "-failover-abort-*",
	[SEV_TRY_FAILOVER] = "+try-failover",
	[SEV_ELECTED_LEADER] = "+elected-leader",
	[SEV_FAILOVER_STATE] = "+failover-state-*",
	[SEV_SELECTED_SLAVE] = "+selected-slave",
	[SEV_PROMOTED_SLAVE] = "+promoted-slave",
	[SEV_SLAVE_RECONF] = "+slave-reconf-*",
	[SEV_SENTINEL] = "+sentinel",
	[SEV_CONFIG_UPDATE] = "+config-update-from",
	[SEV_TILT] = "+tilt",
	[SEV_TILT_CLEAR] = "-tilt",
	[SEV_MONITOR] = "+monitor",
	[SEV_REMOVE] = "-monitor",
	[SEV_RESET_MASTER] = "+reset-master",
	[SEV_FIX_SLAVE_CONFIG] = "+fix-slave-config",
	[SEV_VOTE_FOR_LEADER] = "+vote-for-leader",
};

const char *
sev_type_name(enum sev_type t)
{
	if ((int)t < 0 || t >= SEV_TYPE_COUNT || !sev_names[t])
		return "?";
	return sev_names[t];
}

/* ---------------------------------------------------------------- tokens */

struct sev_tok {
	const char *p;
	size_t n;
};

/* A cursor over the payload: [pos, len). */
struct sev_cur {
	const char *s;
	size_t len;
	size_t pos;
};

/* Next space-separated token. 1 with *t set, 0 at the end, -1 when the
 * separator is not exactly one space between two non-empty tokens. */
static int
cur_next(struct sev_cur *c, struct sev_tok *t)
{
	size_t start = c->pos;

	if (c->pos >= c->len)
		return 0;
	while (c->pos < c->len && c->s[c->pos] != ' ')
		c->pos++;
	if (c->pos == start)
		return -1;  /* leading or double space */
	t->p = c->s + start;
	t->n = c->pos - start;
	if (c->pos < c->len) {
		c->pos++;  /* the one space */
		if (c->pos >= c->len)
			return -1;  /* trailing space */
	}
	return 1;
}

/* Must be followed by a token. */
static int
cur_need(struct sev_cur *c, struct sev_tok *t)
{
	return cur_next(c, t) == 1 ? 0 : -1;
}

static int
tok_is(const struct sev_tok *t, const char *lit)
{
	size_t n = strlen(lit);

	return t->n == n && memcmp(t->p, lit, n) == 0;
}

/* Copy a token into a fixed field; -1 when it does not fit. */
static int
tok_copy(char *dst, size_t dstlen, const struct sev_tok *t)
{
	if (t->n >= dstlen)
		return -1;
	if (t->n)
		memcpy(dst, t->p, t->n);
	dst[t->n] = '\0';
	return 0;
}

/* A name (master name, replica "ip:port", sentinel run id): 1..max-1
 * printable non-space bytes, and not "@", which would make the instance
 * description ambiguous. */
static int
tok_name(char *dst, size_t dstlen, const struct sev_tok *t)
{
	if (t->n == 0 || tok_is(t, "@"))
		return -1;
	return tok_copy(dst, dstlen, t);
}

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* An address as Sentinel announces it: an IPv4 literal, a bare IPv6 literal
 * with an optional %zone, or a hostname. Anything else is refused, so that
 * what reaches HAProxy's runtime API is never more than an address. */
static int
tok_ip(char *dst, size_t dstlen, const struct sev_tok *t)
{
	char buf[ADDR_IP_MAX];
	size_t i, zone = 0;
	int colon = 0, only_dots_digits = 1;

	if (t->n == 0 || tok_copy(buf, sizeof(buf), t) < 0 || t->n >= dstlen)
		return -1;
	for (i = 0; i < t->n; i++) {
		char ch = buf[i];

		if (ch == ':') {
			colon = 1;
		} else if (ch == '%') {
			if (zone)
				return -1;
			zone = i;
		} else if (!is_alnum(ch) && ch != '.' && ch != '-' && ch != '_') {
			return -1;
		}
		if (!is_digit(ch) && ch != '.')
			only_dots_digits = 0;
	}
	if (colon) {
		/* IPv6: literal before the zone, non-empty zone of [A-Za-z0-9._-]. */
		if (zone) {
			if (zone + 1 == t->n)
				return -1;
			for (i = zone + 1; i < t->n; i++)
				if (buf[i] == ':')
					return -1;
			buf[zone] = '\0';
		}
		if (!addr_is_ip(buf) || !strchr(buf, ':'))
			return -1;
	} else {
		if (zone)
			return -1;
		/* Digits and dots only must be a real IPv4 literal; a hostname
		 * neither starts nor ends with '-' or '.'. */
		if (only_dots_digits) {
			if (!addr_is_ip(buf))
				return -1;
		} else if (buf[0] == '-' || buf[0] == '.' ||
			   buf[t->n - 1] == '-' || buf[t->n - 1] == '.') {
			return -1;
		}
	}
	return tok_copy(dst, dstlen, t);
}

/* 1..65535, decimal digits only, no sign, no leading zero. */
static int
tok_port(int *out, const struct sev_tok *t)
{
	size_t i;
	long v = 0;

	if (t->n == 0 || t->n > 5 || t->p[0] == '0')
		return -1;
	for (i = 0; i < t->n; i++) {
		if (!is_digit(t->p[i]))
			return -1;
		v = v * 10 + (t->p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

/* An unsigned 64-bit decimal, no sign, no leading zero (but "0"). */
static int
tok_epoch(unsigned long long *out, const struct sev_tok *t)
{
	unsigned long long v = 0;
	size_t i;

	if (t->n == 0 || (t->p[0] == '0' && t->n > 1))
		return -1;
	for (i = 0; i < t->n; i++) {
		unsigned d;

		if (!is_digit(t->p[i]))
			return -1;
		d = (unsigned)(t->p[i] - '0');
		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* The rest of the payload, verbatim, into extra. */
static int
rest_extra(struct sentinel_event *out, const struct sev_cur *c)
{
	struct sev_tok t = { c->s + c->pos, c->len - c->pos };

	return tok_copy(out->extra, sizeof(out->extra), &t);
}

/* ---------------------------------------------------------------- shapes */

static int
parse_inst(struct sentinel_event *out, struct sev_cur *c)
{
	struct sev_inst *in = &out->inst;
	struct sev_tok t;
	int r;

	if (cur_need(c, &t) < 0)
		return -1;
	if (tok_is(&t, "master"))
		in->type = SEV_INST_MASTER;
	else if (tok_is(&t, "slave"))
		in->type = SEV_INST_SLAVE;
	else if (tok_is(&t, "sentinel"))
		in->type = SEV_INST_SENTINEL;
	else
		return -1;
	if (cur_need(c, &t) < 0 || tok_name(in->name, sizeof(in->name), &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_ip(in->ip, sizeof(in->ip), &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_port(&in->port, &t) < 0)
		return -1;

	/* "@" starts the master part; anything else is extra text. */
	{
		struct sev_cur peek = *c;

		r = cur_next(&peek, &t);
		if (r < 0)
			return -1;
		if (r == 1 && tok_is(&t, "@"))
			*c = peek;
		else
			r = 0;
	}
	if (r == 1) {
		if (in->type == SEV_INST_MASTER)
			return -1;
		if (cur_need(c, &t) < 0 || tok_name(out->master, sizeof(out->master), &t) < 0)
			return -1;
		if (cur_need(c, &t) < 0 || tok_ip(out->master_ip, sizeof(out->master_ip), &t) < 0)
			return -1;
		if (cur_need(c, &t) < 0 || tok_port(&out->master_port, &t) < 0)
			return -1;
	} else {
		if (in->type != SEV_INST_MASTER)
			return -1;  /* a replica or sentinel without its master */
		memcpy(out->master, in->name, sizeof(out->master));
		memcpy(out->master_ip, in->ip, sizeof(out->master_ip));
		out->master_port = in->port;
	}
	return rest_extra(out, c);
}

static int
parse_switch(struct sentinel_event *out, struct sev_cur *c)
{
	struct sev_tok t;

	if (cur_need(c, &t) < 0 || tok_name(out->master, sizeof(out->master), &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_ip(out->master_ip, sizeof(out->master_ip), &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_port(&out->master_port, &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_ip(out->new_ip, sizeof(out->new_ip), &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_port(&out->new_port, &t) < 0)
		return -1;
	return cur_next(c, &t) == 0 ? 0 : -1;
}

static int
parse_epoch(struct sentinel_event *out, struct sev_cur *c)
{
	struct sev_tok t;

	if (cur_need(c, &t) < 0 || tok_epoch(&out->epoch, &t) < 0)
		return -1;
	return cur_next(c, &t) == 0 ? 0 : -1;
}

static int
parse_vote(struct sentinel_event *out, struct sev_cur *c)
{
	struct sev_tok t;

	if (cur_need(c, &t) < 0 || tok_name(out->extra, sizeof(out->extra), &t) < 0)
		return -1;
	if (cur_need(c, &t) < 0 || tok_epoch(&out->epoch, &t) < 0)
		return -1;
	return cur_next(c, &t) == 0 ? 0 : -1;
}

static const struct sev_channel *
channel_lookup(const char *ch, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(sev_channels) / sizeof(sev_channels[0]); i++) {
		const struct sev_channel *sc = &sev_channels[i];
		size_t k = strlen(sc->name);

		if (sc->prefix ? (n > k && memcmp(ch, sc->name, k) == 0)
			       : (n == k && memcmp(ch, sc->name, k) == 0))
			return sc;
	}
	return NULL;
}

static int
channel_valid(const char *ch, size_t n)
{
	size_t i;

	if (n < 2 || (ch[0] != '+' && ch[0] != '-'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((ch[i] >= 'a' && ch[i] <= 'z') || is_digit(ch[i]) || ch[i] == '-'))
			return 0;
	return 1;
}

static int
payload_valid(const char *p, size_t n)
{
	size_t i;

	if (n > SEV_PAYLOAD_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

static int
parse(const char *channel, size_t chlen, const char *payload, size_t plen,
      struct sentinel_event *out)
{
	const struct sev_channel *sc;
	struct sev_cur c = { payload, plen, 0 };

	if (!channel || (!payload && plen) || !out)
		return -1;
	if (chlen >= sizeof(out->channel) || !channel_valid(channel, chlen))
		return -1;
	if (!payload_valid(payload, plen))
		return -1;
	memcpy(out->channel, channel, chlen);
	out->channel[chlen] = '\0';

	sc = channel_lookup(channel, chlen);
	out->type = sc ? sc->type : SEV_UNKNOWN;
	switch (sc ? sc->shape : SHAPE_ANY) {
	case SHAPE_INST:
		return parse_inst(out, &c);
	case SHAPE_SWITCH:
		return parse_switch(out, &c);
	case SHAPE_EPOCH:
		return parse_epoch(out, &c);
	case SHAPE_VOTE:
		return parse_vote(out, &c);
	case SHAPE_TEXT:
		return rest_extra(out, &c);
	case SHAPE_ANY:
		if (parse_inst(out, &c) == 0)
			return 0;
		/* Not an instance description: keep it all as text. */
		memset(out, 0, sizeof(*out));
		memcpy(out->channel, channel, chlen);
		out->type = SEV_UNKNOWN;
		c.pos = 0;
		return rest_extra(out, &c);
	}
	return -1;
}

int
sev_parse(const char *channel, size_t chlen, const char *payload, size_t plen,
	  struct sentinel_event *out)
{
	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	if (parse(channel, chlen, payload, plen, out) < 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- format */

struct sev_buf {
	char *p;
	size_t len;
	size_t pos;
};

static void sb_add(struct sev_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_add(struct sev_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->pos >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->pos, b->len - b->pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->pos += (size_t)n;
	if (b->pos >= b->len)
		b->pos = b->len;  /* truncated: a log line, not an address */
}

/* Fields are bounded by their arrays even if a caller forgot the NUL. */
static int
field_len(const char *s, size_t cap)
{
	const char *z = memchr(s, '\0', cap);

	return (int)(z ? (size_t)(z - s) : cap);
}
#define FIELD(f) field_len((f), sizeof(f)), (f)

void
sev_format(const struct sentinel_event *ev, char *buf, size_t len)
{
	struct sev_buf b = { buf, len, 0 };
	char a1[ADDR_IP_MAX + 16], a2[ADDR_IP_MAX + 16], ip[ADDR_IP_MAX];

	if (!buf || !len)
		return;
	buf[0] = '\0';
	if (!ev)
		return;
	if (ev->channel[0])
		sb_add(&b, "%.*s", FIELD(ev->channel));
	else
		sb_add(&b, "%s", sev_type_name(ev->type));

	switch (ev->type) {
	case SEV_SWITCH_MASTER:
		snprintf(ip, sizeof(ip), "%.*s", FIELD(ev->master_ip));
		addr_format(a1, sizeof(a1), ip, ev->master_port);
		snprintf(ip, sizeof(ip), "%.*s", FIELD(ev->new_ip));
		addr_format(a2, sizeof(a2), ip, ev->new_port);
		sb_add(&b, " %.*s %s -> %s", FIELD(ev->master), a1, a2);
		return;
	case SEV_NEW_EPOCH:
		sb_add(&b, " %llu", ev->epoch);
		return;
	case SEV_VOTE_FOR_LEADER:
		sb_add(&b, " %.*s epoch %llu", FIELD(ev->extra), ev->epoch);
		return;
	default:
		break;
	}
	if (ev->inst.type != SEV_INST_NONE) {
		static const char *const tn[] = { "none", "master", "slave", "sentinel" };
		unsigned it = (unsigned)ev->inst.type;

		snprintf(ip, sizeof(ip), "%.*s", FIELD(ev->inst.ip));
		addr_format(a1, sizeof(a1), ip, ev->inst.port);
		sb_add(&b, " %s %.*s", it < 4 ? tn[it] : "?", FIELD(ev->inst.name));
		if (strncmp(a1, ev->inst.name, sizeof(ev->inst.name)) != 0)
			sb_add(&b, " %s", a1);
		if (ev->inst.type != SEV_INST_MASTER)
			sb_add(&b, " @ %.*s", FIELD(ev->master));
	}
	if (ev->extra[0])
		sb_add(&b, " %.*s", FIELD(ev->extra));
}
