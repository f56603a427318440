/* HAProxy runtime API text: parsers for the replies. Pure, no I/O.
 *
 * Every parser works on (pointer, length) and never reads past len: the
 * texts come straight from a socket buffer and are not NUL-terminated. */
#include "hapapi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

/* A bound on what one "show servers state" may add: a runaway or hostile
 * reply must not make the daemon allocate without limit. */
#define HAP_STATE_MAX_ROWS 100000
#define HAP_STATE_MIN_CAP 16

/* A piece of the input text: pointer and length, not NUL-terminated. */
struct hap_span {
	const char *p;
	size_t len;
};

/* Next line of [*pos, end): the line without "\n" and a trailing "\r".
 * Returns 0 when there is no more text. *complete is 1 when the line ended
 * with "\n". */
static int
hap_next_line(const char **pos, const char *end, struct hap_span *line, int *complete)
{
	const char *s = *pos, *nl;

	if (s >= end)
		return 0;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (nl) {
		line->p = s;
		line->len = (size_t)(nl - s);
		*pos = nl + 1;
		if (complete)
			*complete = 1;
	} else {
		line->p = s;
		line->len = (size_t)(end - s);
		*pos = end;
		if (complete)
			*complete = 0;
	}
	if (line->len && line->p[line->len - 1] == '\r')
		line->len--;
	return 1;
}

static int
hap_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int
hap_is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!hap_is_space(s[i]))
			return 0;
	return 1;
}

/* Next field separated by spaces or tabs; 0 when none is left. (What
 * tk_token(" \t") does, without a strchr() per byte: a full "show servers
 * state" is some 160 000 fields at 1000 groups.) */
static int
hap_next_field(struct hap_span *rest, struct hap_span *field)
{
	const char *p = rest->p, *end = rest->p + rest->len;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end) {
		rest->p = end;
		rest->len = 0;
		return 0;
	}
	field->p = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	field->len = (size_t)(p - field->p);
	rest->len = (size_t)(end - p);
	rest->p = p;
	return 1;
}

static int
hap_span_eq(const struct hap_span *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == n && memcmp(s->p, lit, n) == 0;
}

/* Digits only (no sign, no spaces), value <= max. 0 or -1. */
static int
hap_span_ulong(const struct hap_span *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (!s->len || s->len > 19)
		return -1;
	for (i = 0; i < s->len; i++) {
		unsigned d;

		if (s->p[i] < '0' || s->p[i] > '9')
			return -1;
		d = (unsigned)(s->p[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Copy a field into a fixed buffer; -1 when it does not fit or holds a NUL. */
static int
hap_span_copy(const struct hap_span *s, char *dst, size_t dstlen)
{
	if (s->len >= dstlen || memchr(s->p, '\0', s->len))
		return -1;
	memcpy(dst, s->p, s->len);
	dst[s->len] = '\0';
	return 0;
}

/* ------------------------------------------------------------ show servers state */

enum hap_col {
	HAP_COL_BE_ID,
	HAP_COL_BE_NAME,
	HAP_COL_SRV_ID,
	HAP_COL_SRV_NAME,
	HAP_COL_SRV_ADDR,
	HAP_COL_OP_STATE,
	HAP_COL_ADMIN_STATE,
	HAP_COL_SRV_PORT,
	HAP_COL_COUNT
};

static const char *const hap_col_names[HAP_COL_COUNT] = {
	[HAP_COL_BE_ID] = "be_id",
	[HAP_COL_BE_NAME] = "be_name",
	[HAP_COL_SRV_ID] = "srv_id",
	[HAP_COL_SRV_NAME] = "srv_name",
	[HAP_COL_SRV_ADDR] = "srv_addr",
	[HAP_COL_OP_STATE] = "srv_op_state",
	[HAP_COL_ADMIN_STATE] = "srv_admin_state",
	[HAP_COL_SRV_PORT] = "srv_port",
};

/* Column indexes from the header "# be_id be_name ...". 0, or -1 with err. */
static int
hap_state_header(const struct hap_span *line, size_t idx[HAP_COL_COUNT], size_t *need,
		 char *err, size_t errlen)
{
	struct hap_span rest = { line->p + 1, line->len - 1 }, f;
	size_t col = 0;
	int c;

	for (c = 0; c < HAP_COL_COUNT; c++)
		idx[c] = (size_t)-1;
	while (hap_next_field(&rest, &f)) {
		for (c = 0; c < HAP_COL_COUNT; c++)
			if (idx[c] == (size_t)-1 && hap_span_eq(&f, hap_col_names[c]))
				idx[c] = col;
		col++;
	}
	*need = 0;
	for (c = 0; c < HAP_COL_COUNT; c++) {
		if (idx[c] == (size_t)-1) {
			tk_errf(err, errlen, "show servers state: header lacks column '%s'",
				hap_col_names[c]);
			return -1;
		}
		if (idx[c] + 1 > *need)
			*need = idx[c] + 1;
	}
	return 0;
}

static int
hap_state_grow(struct hap_state *out)
{
	size_t need = out->n + 1 < HAP_STATE_MIN_CAP ? HAP_STATE_MIN_CAP : out->n + 1;

	return tk_grow(&out->srv, &out->cap, need, sizeof(*out->srv));
}

/* A server on a unix socket (or any address that is not IPv4/IPv6):
 * HAProxy shows it with srv_addr "-" and srv_port 0. Such a server is not
 * a slot: the agent only ever sets IP addresses, and haproxy.cfg's write
 * backend uses two of them (backups looping into the hold), which must stay
 * as they are. A slot without an address yet (init-addr none) keeps its
 * port, so it still counts. */
static int
hap_server_is_socket(const struct hap_server *s)
{
	return strcmp(s->addr, "-") == 0 && s->port == 0;
}

/* A name of the row being parsed, as a string of out's arena; prev (the
 * row before, or NULL) lends its copy when the name is the same. NULL with
 * err filled when it is too long or memory is out. */
static const char *
hap_state_name(struct hap_state *out, const struct hap_span *f, const char *prev, const char *what,
	       size_t lineno, char *err, size_t errlen)
{
	const char *p;

	if (f->len >= HAP_NAME_MAX) {
		tk_errf(err, errlen, "show servers state line %zu: %s name longer than %d bytes", lineno,
			what, HAP_NAME_MAX - 1);
		return NULL;
	}
	if (prev && strncmp(prev, f->p, f->len) == 0 && prev[f->len] == '\0')
		return prev;
	p = tk_arena_strndup(&out->names, f->p, f->len);
	if (!p)
		tk_errf(err, errlen, "show servers state: out of memory");
	return p;
}

/* One data row into s (the next slot of out); the fields of interest are
 * in f[] (by column). */
static int
hap_state_row(const struct hap_span f[HAP_COL_COUNT], size_t lineno, struct hap_state *out,
	      struct hap_server *s, char *err, size_t errlen)
{
	const struct hap_server *prev = out->n ? &out->srv[out->n - 1] : NULL;
	unsigned long v;

	memset(s, 0, sizeof(*s));
	if (hap_span_ulong(&f[HAP_COL_BE_ID], INT_MAX, &v) < 0) {
		tk_errf(err, errlen, "show servers state line %zu: bad be_id", lineno);
		return -1;
	}
	s->be_id = (int)v;
	if (hap_span_ulong(&f[HAP_COL_SRV_ID], INT_MAX, &v) < 0) {
		tk_errf(err, errlen, "show servers state line %zu: bad srv_id", lineno);
		return -1;
	}
	s->srv_id = (int)v;
	s->backend = hap_state_name(out, &f[HAP_COL_BE_NAME], prev ? prev->backend : NULL, "backend",
				    lineno, err, errlen);
	if (!s->backend)
		return -1;
	s->name = hap_state_name(out, &f[HAP_COL_SRV_NAME], NULL, "server", lineno, err, errlen);
	if (!s->name)
		return -1;
	if (hap_span_copy(&f[HAP_COL_SRV_ADDR], s->addr, sizeof(s->addr)) < 0) {
		tk_errf(err, errlen, "show servers state line %zu: address longer than %d bytes",
			lineno, ADDR_IP_MAX - 1);
		return -1;
	}
	if (hap_span_ulong(&f[HAP_COL_OP_STATE], HAP_OP_STOPPING, &v) < 0) {
		tk_errf(err, errlen, "show servers state line %zu: bad srv_op_state", lineno);
		return -1;
	}
	s->op_state = (int)v;
	if (hap_span_ulong(&f[HAP_COL_ADMIN_STATE], 0xffffUL, &v) < 0) {
		tk_errf(err, errlen, "show servers state line %zu: bad srv_admin_state", lineno);
		return -1;
	}
	s->admin_state = (unsigned)v;
	if (hap_span_ulong(&f[HAP_COL_SRV_PORT], 65535UL, &v) < 0) {
		tk_errf(err, errlen, "show servers state line %zu: bad srv_port", lineno);
		return -1;
	}
	s->port = (int)v;
	return 0;
}

int
hap_state_parse(const char *text, size_t len, struct hap_state *out, char *err, size_t errlen)
{
	const char *pos = text, *end = text ? text + len : text;
	struct hap_span line, rest, field, f[HAP_COL_COUNT];
	size_t idx[HAP_COL_COUNT], need = 0, lineno = 0, col;
	int have_header = 0, ended = 0, c;

	/* New rows may move the array the index points into. */
	free(out->index);
	out->index = NULL;
	out->nindex = 0;
	if (!text || !len || !hap_next_line(&pos, end, &line, NULL)) {
		tk_errf(err, errlen, "show servers state: empty reply");
		return -1;
	}
	lineno = 1;
	if (!hap_span_eq(&line, "1")) {
		tk_errf(err, errlen, "show servers state: format version is not 1: '%.*s'",
			(int)(line.len > 40 ? 40 : line.len), line.p);
		return -1;
	}
	while (hap_next_line(&pos, end, &line, NULL)) {
		lineno++;
		if (!line.len) {
			/* The terminating empty line: only blank text may follow. */
			ended = 1;
			continue;
		}
		if (ended) {
			tk_errf(err, errlen, "show servers state line %zu: text after the end of the reply",
				lineno);
			return -1;
		}
		if (line.p[0] == '#') {
			if (have_header)
				continue;   /* a later comment line */
			if (hap_state_header(&line, idx, &need, err, errlen) < 0)
				return -1;
			have_header = 1;
			continue;
		}
		if (!have_header) {
			tk_errf(err, errlen, "show servers state line %zu: row before the '#' header line",
				lineno);
			return -1;
		}
		if (memchr(line.p, '\0', line.len)) {
			tk_errf(err, errlen, "show servers state line %zu: NUL byte", lineno);
			return -1;
		}
		rest.p = line.p;
		rest.len = line.len;
		col = 0;
		while (col < need && hap_next_field(&rest, &field)) {
			for (c = 0; c < HAP_COL_COUNT; c++)
				if (idx[c] == col)
					f[c] = field;
			col++;
		}
		if (col < need) {
			tk_errf(err, errlen,
				"show servers state line %zu: %zu fields, the header needs at least %zu",
				 lineno, col, need);
			return -1;
		}
		if (out->n >= HAP_STATE_MAX_ROWS) {
			tk_errf(err, errlen, "show servers state line %zu: more than %d servers",
				lineno, HAP_STATE_MAX_ROWS);
			return -1;
		}
		if (hap_state_grow(out) < 0) {
			tk_errf(err, errlen, "show servers state: out of memory");
			return -1;
		}
		if (hap_state_row(f, lineno, out, &out->srv[out->n], err, errlen) < 0)
			return -1;
		if (hap_server_is_socket(&out->srv[out->n]))
			continue;
		out->n++;
	}
	if (!have_header) {
		tk_errf(err, errlen, "show servers state: no '#' header line");
		return -1;
	}
	return 0;
}

void
hap_state_free(struct hap_state *st)
{
	if (!st)
		return;
	free(st->index);
	st->index = NULL;
	st->nindex = 0;
	free(st->srv);
	st->srv = NULL;
	st->n = 0;
	st->cap = 0;
	tk_arena_free(&st->names);
}

int
hap_server_is_ready(const struct hap_server *s)
{
	return !(s->admin_state & HAP_ADMF_MAINT) && !(s->admin_state & HAP_ADMF_DRAIN);
}

int
hap_state_backend(const struct hap_state *st, const char *backend, size_t *first, size_t *count)
{
	size_t i, j;

	if (st->index) {
		size_t lo = 0, hi = st->nindex;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(st->index[mid].name, backend);

			if (c == 0) {
				*first = st->index[mid].first;
				*count = st->index[mid].count;
				return 0;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return -1;
	}

	for (i = 0; i < st->n; i++) {
		if (strcmp(st->srv[i].backend, backend) != 0)
			continue;
		for (j = i + 1; j < st->n && strcmp(st->srv[j].backend, backend) == 0; j++)
			;
		*first = i;
		*count = j - i;
		return 0;
	}
	return -1;
}

static int
span_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hap_backend_span *)a)->name, ((const struct hap_backend_span *)b)->name);
}

int
hap_state_index(struct hap_state *st)
{
	struct hap_backend_span *ix;
	size_t n = 0;

	free(st->index);
	st->index = NULL;
	st->nindex = 0;
	if (st->n == 0)
		return 0;
	ix = malloc(st->n * sizeof(*ix));
	if (!ix)
		return -1;
	for (size_t i = 0; i < st->n; i++) {
		/* The first run of a name wins, as in the scan. */
		if (n && strcmp(ix[n - 1].name, st->srv[i].backend) == 0) {
			ix[n - 1].count++;
			continue;
		}
		ix[n].name = st->srv[i].backend;
		ix[n].first = i;
		ix[n].count = 1;
		n++;
	}
	/* A name whose rows are not contiguous keeps its first run only. */
	qsort(ix, n, sizeof(*ix), span_cmp);
	{
		size_t w = 0;

		for (size_t r = 0; r < n; r++) {
			if (w && strcmp(ix[w - 1].name, ix[r].name) == 0) {
				if (ix[r].first < ix[w - 1].first)
					ix[w - 1] = ix[r];
				continue;
			}
			ix[w++] = ix[r];
		}
		n = w;
	}
	st->index = ix;
	st->nindex = n;
	return 0;
}

/* ------------------------------------------------------------ show info */

/* "Key: value" -> value when the line's key is key. */
static int
hap_info_field(const struct hap_span *line, const char *key, struct hap_span *val)
{
	size_t k = strlen(key);

	if (line->len < k + 1 || memcmp(line->p, key, k) != 0 || line->p[k] != ':')
		return 0;
	val->p = line->p + k + 1;
	val->len = line->len - k - 1;
	while (val->len && (*val->p == ' ' || *val->p == '\t')) {
		val->p++;
		val->len--;
	}
	while (val->len && hap_is_space(val->p[val->len - 1]))
		val->len--;
	return 1;
}

static void
hap_info_str(const struct hap_span *v, char *dst, size_t dstlen)
{
	size_t n = v->len < dstlen - 1 ? v->len : dstlen - 1;
	const char *nul = memchr(v->p, '\0', n);

	if (nul)
		n = (size_t)(nul - v->p);
	memcpy(dst, v->p, n);
	dst[n] = '\0';
}

int
hap_info_parse(const char *text, size_t len, struct hap_info *out)
{
	const char *pos, *end;
	struct hap_span line, v;
	unsigned long u;
	int have_pid = 0, have_uptime = 0, have_version = 0, have_node = 0;

	memset(out, 0, sizeof(*out));
	if (!text)
		return -1;
	pos = text;
	end = text + len;
	while (hap_next_line(&pos, end, &line, NULL)) {
		if (!have_pid && hap_info_field(&line, "Pid", &v)) {
			if (hap_span_ulong(&v, INT_MAX, &u) < 0 || u == 0)
				return -1;
			out->pid = (long)u;
			have_pid = 1;
		} else if (!have_uptime && hap_info_field(&line, "Uptime_sec", &v)) {
			if (hap_span_ulong(&v, LONG_MAX, &u) < 0)
				return -1;
			out->uptime_sec = (long)u;
			have_uptime = 1;
		} else if (!have_version && hap_info_field(&line, "Version", &v)) {
			hap_info_str(&v, out->version, sizeof(out->version));
			have_version = 1;
		} else if (!have_node && hap_info_field(&line, "node", &v)) {
			hap_info_str(&v, out->node, sizeof(out->node));
			have_node = 1;
		}
	}
	return have_pid ? 0 : -1;
}

/* ------------------------------------------------------------ replies */

size_t
hap_reply_split(const char *buf, size_t len, struct hap_reply *out, size_t max)
{
	const char *pos, *end, *start, *last_end;
	struct hap_span line;
	size_t n = 0;
	int complete;

	if (!buf)
		return 0;
	pos = start = last_end = buf;
	end = buf + len;
	while (n < max && hap_next_line(&pos, end, &line, &complete)) {
		if (!complete)
			break;           /* a line still being received */
		if (line.len == 0) {
			out[n].text = start;
			out[n].len = (size_t)(last_end - start);
			n++;
			start = pos;
		}
		last_end = pos;
	}
	return n;
}

size_t
hap_prompt_strip(char *buf, size_t len)
{
	const char *pos, *end, *ls;
	struct hap_span line;
	size_t w = 0;
	int first = 1;      /* still in the prompt command's own answer */
	int start = 1;      /* at the start of a command's answer */
	int complete;

	if (!buf)
		return 0;
	pos = buf;
	end = buf + len;
	while (pos < end) {
		if (start) {
			/* The prompt before an answer (at the very end: the
			 * one after the last answer, whole or cut). */
			start = 0;
			if (*pos == '>' && (pos + 1 == end || pos[1] == ' ')) {
				pos += pos + 1 == end ? 1 : 2;
				continue;
			}
		}
		ls = pos;
		(void)hap_next_line(&pos, end, &line, &complete);
		if (!first) {
			memmove(buf + w, ls, (size_t)(pos - ls));
			w += (size_t)(pos - ls);
		}
		if (complete && line.len == 0) {
			/* an empty line: this answer is over */
			first = 0;
			start = 1;
		}
	}
	return w;
}

static char
hap_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive literal prefix (the wording is meant for humans and its
 * case could change); advances s on a match. */
static int
hap_eat(struct hap_span *s, const char *lit)
{
	size_t n = strlen(lit), i;

	if (s->len < n)
		return 0;
	for (i = 0; i < n; i++)
		if (hap_lower(s->p[i]) != hap_lower(lit[i]))
			return 0;
	s->p += n;
	s->len -= n;
	return 1;
}

/* "'X' to 'Y'" -> Y; advances s. */
static int
hap_eat_from_to(struct hap_span *s, struct hap_span *to)
{
	const char *q;

	if (!hap_eat(s, "'"))
		return 0;
	q = memchr(s->p, '\'', s->len);
	if (!q)
		return 0;
	s->len -= (size_t)(q + 1 - s->p);
	s->p = q + 1;
	if (!hap_eat(s, " to '"))
		return 0;
	q = memchr(s->p, '\'', s->len);
	if (!q)
		return 0;
	to->p = s->p;
	to->len = (size_t)(q - s->p);
	s->len -= (size_t)(q + 1 - s->p);
	s->p = q + 1;
	return 1;
}

/* The "addr IP [port P]" arguments of a command we built. */
static int
hap_cmd_addr(const char *cmd, char *ip, size_t iplen, long *port)
{
	const char *a = strstr(cmd, " addr ");
	struct hap_span rest, f;

	if (!a)
		return -1;
	rest.p = a + 6;
	rest.len = strlen(rest.p);
	if (!hap_next_field(&rest, &f) || hap_span_copy(&f, ip, iplen) < 0)
		return -1;
	*port = -1;
	if (!hap_next_field(&rest, &f))
		return 0;
	if (!hap_span_eq(&f, "port") || !hap_next_field(&rest, &f))
		return -1;
	{
		unsigned long u;

		if (hap_span_ulong(&f, 65535UL, &u) < 0)
			return -1;
		*port = (long)u;
	}
	return hap_next_field(&rest, &f) ? -1 : 0;
}

/* The answer to "set server B/S addr IP [port P]" in HAProxy 2.6 is one line:
 *   ADDR [", " PORT] [" by '<updater>'"]
 *   ADDR = "IP changed from 'X' to 'Y'" | "no need to change the addr"
 *   PORT = "port changed from 'X' to 'Y'" | "no need to change the port"
 * Errors share the prefix ("no need to change the addr, problem converting
 * port ..."), and HAProxy silently wraps "port 70000" to 4464, so the reply is
 * parsed whole and the new values are checked against the command. */
static int
hap_addr_reply_ok(const char *cmd, const char *reply, size_t len)
{
	char ip[ADDR_IP_MAX], got[ADDR_IP_MAX];
	struct hap_span s = { reply, len }, to;
	unsigned long u;
	long port;

	if (hap_cmd_addr(cmd, ip, sizeof(ip), &port) < 0)
		return 0;
	while (s.len && hap_is_space(s.p[s.len - 1]))
		s.len--;
	if (memchr(s.p, '\n', s.len))
		return 0;
	if (hap_eat(&s, "IP changed from ")) {
		if (!hap_eat_from_to(&s, &to) || hap_span_copy(&to, got, sizeof(got)) < 0 ||
		    !addr_ip_equal(got, ip))
			return 0;
	} else if (!hap_eat(&s, "no need to change the addr")) {
		return 0;
	}
	if (port >= 0) {
		if (!hap_eat(&s, ", "))
			return 0;
		if (hap_eat(&s, "port changed from ")) {
			if (!hap_eat_from_to(&s, &to) || hap_span_ulong(&to, 65535UL, &u) < 0 ||
			    (long)u != port)
				return 0;
		} else if (!hap_eat(&s, "no need to change the port")) {
			return 0;
		}
	}
	if (!s.len)
		return 1;
	/* " by '<updater>'" and nothing else */
	if (!hap_eat(&s, " by '") || s.len < 1 || s.p[s.len - 1] != '\'')
		return 0;
	return memchr(s.p, '\'', s.len - 1) == NULL;
}

static int
hap_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------ master CLI */

int
hap_proc_parse(const char *text, size_t len, long *old, size_t max)
{
	const char *pos = text, *end = text + len;
	struct hap_span line, rest, f;
	int header = 0, in_old = 0;
	size_t n = 0;
	unsigned long pid;

	if (!text)
		return -1;
	while (hap_next_line(&pos, end, &line, NULL)) {
		if (line.len && line.p[0] == '#') {
			if (line.len >= 6 && memcmp(line.p, "#<PID>", 6) == 0)
				header = 1;
			in_old = line.len >= 13 && memcmp(line.p, "# old workers", 13) == 0;
			continue;
		}
		if (!header || !in_old)
			continue;
		rest = line;
		if (!hap_next_field(&rest, &f) || hap_span_ulong(&f, 0x7fffffffUL, &pid) < 0 || pid == 0)
			continue;
		if (!hap_next_field(&rest, &f) || !hap_span_eq(&f, "worker"))
			continue;
		if (n < max)
			old[n] = (long)pid;
		n++;
	}
	if (!header)
		return -1;
	return (int)(n < max ? n : max);
}

/* The value of "key=" among the fields of a "show sess" line. */
static int
hap_sess_field(struct hap_span line, const char *key, struct hap_span *v)
{
	struct hap_span f;
	size_t kl = strlen(key);

	while (hap_next_field(&line, &f))
		if (f.len >= kl && memcmp(f.p, key, kl) == 0) {
			v->p = f.p + kl;
			v->len = f.len - kl;
			return 1;
		}
	return 0;
}

long
hap_sess_parse(const char *text, size_t len, struct hap_sess **out)
{
	const char *pos = text, *end = text + len;
	struct hap_sess *a = NULL, *t;
	struct hap_span line, id, be, srv;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!text)
		return 0;
	while (hap_next_line(&pos, end, &line, NULL)) {
		struct hap_sess s;
		const char *colon;

		/* "0x55f796906040: proto=tcpv4 src=... fe=f be=b srv=s1 ..." */
		if (line.len < 4 || line.p[0] != '0' || line.p[1] != 'x')
			continue;
		colon = memchr(line.p, ':', line.len);
		if (!colon)
			continue;
		id.p = line.p;
		id.len = (size_t)(colon - line.p);
		for (size_t i = 2; i < id.len; i++)
			if (!((id.p[i] >= '0' && id.p[i] <= '9') || (id.p[i] >= 'a' && id.p[i] <= 'f')))
				id.len = 0;
		if (id.len <= 2 || hap_span_copy(&id, s.id, sizeof(s.id)) < 0)
			continue;
		line.len -= (size_t)(colon + 1 - line.p);
		line.p = colon + 1;
		if (!hap_sess_field(line, "be=", &be) || !hap_sess_field(line, "srv=", &srv))
			continue;
		if (hap_span_copy(&be, s.backend, sizeof(s.backend)) < 0 ||
		    hap_span_copy(&srv, s.server, sizeof(s.server)) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			t = realloc(a, cap * sizeof(*a));
			if (!t) {
				free(a);
				return -1;
			}
			a = t;
		}
		a[n++] = s;
	}
	*out = a;
	return (long)n;
}

int
hap_reply_ok(const char *cmd, const char *reply, size_t len)
{
	const char *pos, *end;
	struct hap_span line, v;

	if (!cmd || (!reply && len))
		return 0;
	if (!reply)
		reply = "";
	pos = reply;
	end = reply + len;
	if (hap_starts(cmd, "set server ") && strstr(cmd, " addr "))
		return hap_addr_reply_ok(cmd, reply, len);
	if (hap_starts(cmd, "show servers state")) {
		if (!hap_next_line(&pos, end, &line, NULL))
			return 0;
		return hap_span_eq(&line, "1") && pos <= end && pos[-1] == '\n';
	}
	if (hap_starts(cmd, "show info")) {
		while (hap_next_line(&pos, end, &line, NULL))
			if (hap_info_field(&line, "Pid", &v) && v.len)
				return 1;
		return 0;
	}
	/* "set server ... state", "shutdown sessions server", and every other
	 * command we send succeed silently. */
	return hap_is_blank(reply, len);
}
