/* hasentinelctl's views: the daemon's JSON answers as tables and trees for
 * people. One printer per command; every field may be missing (printed as
 * "-" or left out), and text from the network is made printable. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "view.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tk.h"
#include "util.h"

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("hasentinelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ JSON helpers */

const char *
view_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s;
}

static int
jint(const json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	return -1;
}

/* "yes", "no", or "-" when missing. */
static const char *
jyesno(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return "-";
	return json_is_true(v) ? "yes" : "no";
}

/* Back up to the start of a UTF-8 sequence so a cut never splits one. */
static size_t
utf8_floor(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Shorten dst (a NUL-terminated string) to at most max bytes, ending in
 * "..." when something was cut. */
static void
ellipsize(char *dst, size_t max)
{
	size_t n;

	if (strlen(dst) <= max)
		return;
	if (max < 4) {
		dst[max] = '\0';
		return;
	}
	n = utf8_floor(dst, max - 3);
	memcpy(dst + n, "...", 4);
}

/* A printable copy: control characters from the network become '?', empty
 * or missing becomes "-"; too long ends in "...". */
void
view_clean(char *dst, size_t len, const char *src)
{
	size_t i;

	if (!src || !*src)
		src = "-";
	for (i = 0; src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
	if (src[i] && len > 4)
		memcpy(dst + utf8_floor(dst, len - 4), "...", 4);
}

static const char *
fmt_int(char *buf, size_t len, const json_t *o, const char *key)
{
	int64_t v;

	if (jint(o, key, &v) < 0)
		return "-";
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

/* 120 ms, 12 s, 5 m 3 s, 2 h 5 m, 3 d 4 h */
static const char *
fmt_duration(char *buf, size_t len, int64_t ms)
{
	int64_t s;

	if (ms < 0)
		ms = 0;
	s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%" PRId64 " ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRId64 " s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 " m %" PRId64 " s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 " h %" PRId64 " m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 " d %" PRId64 " h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* ------------------------------------------------------------ tables */

#define TABLE_COLS 8
#define CELL_MAX 256

/* Rows of up to TABLE_COLS cells, left-aligned in columns two spaces apart.
 * keep_empty: an empty cell stays empty (else "-"). fit_last: the last
 * column is cut to the terminal width (60 bytes when not a terminal). */
struct table {
	size_t ncol, nrow, cap;
	int keep_empty, fit_last;
	char (*cells)[TABLE_COLS][CELL_MAX];
};

static void
table_row(struct table *t, ...)
{
	va_list ap;

	if (tk_grow(&t->cells, &t->cap, t->nrow + 1, sizeof(*t->cells)) < 0)
		return;
	va_start(ap, t);
	for (size_t c = 0; c < t->ncol; c++) {
		const char *v = va_arg(ap, const char *);

		if (t->keep_empty && (!v || !*v))
			t->cells[t->nrow][c][0] = '\0';
		else
			view_clean(t->cells[t->nrow][c], CELL_MAX, v);
	}
	va_end(ap);
	t->nrow++;
}

/* Columns of the terminal on stdout, else $COLUMNS, else 0 (unknown). */
static int
term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long v;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env && parse_long(env, 20, 10000, &v) == 0)
		return (int)v;
	return 0;
}

/* Print and empty the table; no trailing blanks. */
static void
table_print(struct table *t, const char *indent)
{
	size_t w[TABLE_COLS] = { 0 }, used, last_max = 0;

	for (size_t r = 0; r < t->nrow; r++)
		for (size_t c = 0; c < t->ncol; c++) {
			size_t l = strlen(t->cells[r][c]);
			if (l > w[c])
				w[c] = l;
		}
	if (t->fit_last && t->ncol > 0) {
		int tw = term_width();

		used = strlen(indent);
		for (size_t c = 0; c + 1 < t->ncol; c++)
			used += w[c] + 2;
		last_max = tw <= 0 ? 60 : (size_t)tw > used + 20 ? (size_t)tw - used : 20;
	}
	for (size_t r = 0; r < t->nrow; r++) {
		size_t last = 0;

		for (size_t c = 0; c < t->ncol; c++)
			if (t->cells[r][c][0])
				last = c;
		if (last_max && last == t->ncol - 1)
			ellipsize(t->cells[r][last], last_max);
		fputs(indent, stdout);
		for (size_t c = 0; c <= last; c++) {
			if (c < last)
				printf("%-*s  ", (int)w[c], t->cells[r][c]);
			else
				printf("%s\n", t->cells[r][c]);
		}
	}
	free(t->cells);
	t->cells = NULL;
	t->nrow = t->cap = 0;
}

/* ------------------------------------------------------------ status view */

static void
print_sentinels(const json_t *arr)
{
	struct table t = { .ncol = 5 };
	size_t i;
	json_t *s;

	printf("\nSENTINELS\n");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		printf("  none\n");
		return;
	}
	table_row(&t, "ADDR", "COMMAND LINK", "PUBSUB LINK", "TILT", "LAST ERROR");
	json_array_foreach(arr, i, s)
		table_row(&t, view_str(s, "addr"), view_str(s, "cmd_link"), view_str(s, "pubsub_link"),
			  jyesno(s, "tilt"), view_str(s, "last_error"));
	table_print(&t, "  ");
}

static void
print_haproxy(const json_t *h)
{
	char sock[CELL_MAX], link[64], err[CELL_MAX], b1[32], b2[32], b3[32], b4[32];

	if (!json_is_object(h))
		return;
	view_clean(sock, sizeof(sock), view_str(h, "socket"));
	view_clean(link, sizeof(link), view_str(h, "link"));
	view_clean(err, sizeof(err), view_str(h, "last_error"));
	printf("\nHAProxy %s  link %s  pid %s  reloads seen %s  commands sent %s failed %s"
	       "  last error %s\n", sock, link,
	       fmt_int(b1, sizeof(b1), h, "pid"), fmt_int(b2, sizeof(b2), h, "reloads_seen"),
	       fmt_int(b3, sizeof(b3), h, "commands_sent"),
	       fmt_int(b4, sizeof(b4), h, "commands_failed"), err);
}

/* "a, b" from an array of strings; "none" when empty or missing. */
static const char *
join_strings(char *buf, size_t len, const json_t *arr)
{
	size_t i, off = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		char c[CELL_MAX];

		if (!json_is_string(v))
			continue;
		view_clean(c, sizeof(c), json_string_value(v));
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
					off ? ", " : "", c);
		if (off >= len)
			break;
	}
	return buf[0] ? buf : "none";
}

/* "  fenced X" while fenced, "  write lease held (2 of 3 Sentinels, 500 ms)"
 * while write-lease is on. */
static void
print_fence_lease(const json_t *m)
{
	const json_t *l = json_object_get(m, "write_lease");
	char c[64], d[32];
	int64_t votes, known, ms;

	if (view_str(m, "fenced") && strcmp(view_str(m, "fenced"), "none") != 0) {
		view_clean(c, sizeof(c), view_str(m, "fenced"));
		printf("  fenced %s", c);
	}
	if (!json_is_object(l) || !view_str(l, "state") || strcmp(view_str(l, "state"), "off") == 0)
		return;
	view_clean(c, sizeof(c), view_str(l, "state"));
	if (jint(l, "confirmed_by", &votes) < 0 || jint(l, "known_sentinels", &known) < 0 ||
	    jint(l, "lease_ms", &ms) < 0) {
		printf("  write lease %s", c);
		return;
	}
	printf("  write lease %s (%lld of %lld Sentinels, %s)", c, (long long)votes, (long long)known,
	       fmt_duration(d, sizeof(d), ms));
}

static void
print_master(const json_t *m)
{
	char name[CELL_MAX], master[CELL_MAX], state[64], wb[CELL_MAX], rb[CELL_MAX];
	char ready[1024], ep[32], b1[32], b2[32];
	const json_t *arr, *ls;
	json_t *v;
	size_t i;

	view_clean(name, sizeof(name), view_str(m, "name"));
	view_clean(master, sizeof(master), view_str(m, "master"));
	if (!view_str(m, "master") || !*view_str(m, "master"))
		str_copy(master, "none", sizeof(master));
	view_clean(state, sizeof(state), view_str(m, "state"));
	printf("\n%s  master %s  epoch %s  confirmed %s", name, master,
	       fmt_int(ep, sizeof(ep), m, "config_epoch"), jyesno(m, "role_confirmed"));
	if (view_str(m, "write_backend")) {
		view_clean(wb, sizeof(wb), view_str(m, "write_backend"));
		printf("  write %s: %s", wb, join_strings(ready, sizeof(ready),
							 json_object_get(m, "write_ready")));
	}
	printf("\n  state %s", state);
	/* The early fence (topo.h F1-F2): why the master is out of writes. */
	if (view_str(m, "fenced") && strcmp(view_str(m, "fenced"), "none") != 0) {
		char f[64];

		view_clean(f, sizeof(f), view_str(m, "fenced"));
		printf("  fenced %s", f);
	}
	if (view_str(m, "read_backend")) {
		view_clean(rb, sizeof(rb), view_str(m, "read_backend"));
		printf("  read %s", rb);
	}
	print_fence_lease(m);
	printf("\n");

	arr = json_object_get(m, "replicas");
	if (json_is_array(arr) && json_array_size(arr) > 0) {
		struct table t = { .ncol = 5 };

		table_row(&t, "ADDR", "FLAGS", "LINK", "ROLE", "READ READY");
		json_array_foreach(arr, i, v)
			table_row(&t, view_str(v, "addr"), view_str(v, "flags"), view_str(v, "link"),
				  view_str(v, "role"), jyesno(v, "read_ready"));
		table_print(&t, "  ");
	} else {
		printf("  no replicas\n");
	}

	arr = json_object_get(m, "sentinel_views");
	if (json_is_array(arr) && json_array_size(arr) > 0) {
		struct table t = { .ncol = 4 };

		table_row(&t, "SENTINEL", "SEES MASTER", "EPOCH", "AGE");
		json_array_foreach(arr, i, v) {
			int64_t age;
			const char *a = jint(v, "age_ms", &age) < 0 ? "-" :
					fmt_duration(b2, sizeof(b2), age);
			table_row(&t, view_str(v, "sentinel"), view_str(v, "master"),
				  fmt_int(b1, sizeof(b1), v, "epoch"), a);
		}
		table_print(&t, "  ");
	}

	ls = json_object_get(m, "last_switch");
	if (json_is_object(ls)) {
		char from[CELL_MAX], to[CELL_MAX], ago[48];
		int64_t at;

		view_clean(from, sizeof(from), view_str(ls, "from"));
		view_clean(to, sizeof(to), view_str(ls, "to"));
		if (jint(ls, "at_ms", &at) == 0)
			snprintf(ago, sizeof(ago), ", %s ago",
				 fmt_duration(b2, sizeof(b2), now_wall_ms() - at));
		else
			ago[0] = '\0';
		printf("  last switch %s -> %s epoch %s%s\n", from, to,
		       fmt_int(b1, sizeof(b1), ls, "epoch"), ago);
	}
}

/* 0 printed, -1 not a status document (the caller prints JSON). */
static int
print_status(const json_t *root)
{
	char ver[64], pid[32], up[48];
	const json_t *masters;
	json_t *m;
	int64_t upms;
	size_t i;

	if (!json_is_object(root) ||
	    !(json_object_get(root, "version") || json_object_get(root, "sentinels") ||
	      json_object_get(root, "haproxy") || json_object_get(root, "masters")))
		return -1;
	view_clean(ver, sizeof(ver), view_str(root, "version"));
	printf("hasentinel %s pid %s up %s\n", ver, fmt_int(pid, sizeof(pid), root, "pid"),
	       jint(root, "uptime_ms", &upms) == 0 ? fmt_duration(up, sizeof(up), upms) : "-");
	print_sentinels(json_object_get(root, "sentinels"));
	print_haproxy(json_object_get(root, "haproxy"));
	masters = json_object_get(root, "masters");
	if (json_is_array(masters)) {
		if (json_array_size(masters) == 0)
			printf("\nno masters\n");
		json_array_foreach(masters, i, m)
			if (json_is_object(m))
				print_master(m);
	}
	return 0;
}

void
view_pretty(const json_t *root)
{
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
}

/* ------------------------------------------------------------ operator views
 *
 * One printer per command. Each returns an exit code, or -1 when the answer
 * is not the shape it knows (the caller then prints the JSON indented). Any
 * field may be missing: it prints as "-" or is left out. */

/* HH:MM:SS.mmm local time of a wall-clock ms; "-" when unknown. */
static const char *
fmt_clock(char *buf, size_t len, int64_t ms, int with_date)
{
	time_t secs;
	struct tm tm;
	char hms[32];

	if (ms <= 0)
		return "-";
	secs = (time_t)(ms / 1000);
	if (!localtime_r(&secs, &tm) ||
	    strftime(hms, sizeof(hms), with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm) == 0)
		return "-";
	snprintf(buf, len, "%s.%03d", hms, (int)(ms % 1000));
	return buf;
}

static const char *
fmt_clock_of(char *buf, size_t len, const json_t *o, const char *key)
{
	int64_t ms;

	return jint(o, key, &ms) < 0 ? "-" : fmt_clock(buf, len, ms, 0);
}

/* "120 ms ago" from a wall-clock ms; "never" for 0, "-" when missing. */
static const char *
fmt_ago(char *buf, size_t len, const json_t *o, const char *key)
{
	char d[48];
	int64_t at;

	if (jint(o, key, &at) < 0)
		return "-";
	if (at <= 0)
		return "never";
	snprintf(buf, len, "%s ago", fmt_duration(d, sizeof(d), now_wall_ms() - at));
	return buf;
}

/* A short elapsed time with an optional sign: "+93 ms", "+1.06 s", "12.5 s". */
static const char *
fmt_elapsed(char *buf, size_t len, int64_t ms, int sign)
{
	const char *pfx = ms < 0 ? "-" : sign ? "+" : "";
	int64_t a = ms < 0 ? -ms : ms;
	char d[48];

	if (a < 1000)
		snprintf(buf, len, "%s%" PRId64 " ms", pfx, a);
	else if (a < 10000)
		snprintf(buf, len, "%s%" PRId64 ".%02" PRId64 " s", pfx, a / 1000, a % 1000 / 10);
	else if (a < 60000)
		snprintf(buf, len, "%s%" PRId64 ".%" PRId64 " s", pfx, a / 1000, a % 1000 / 100);
	else
		snprintf(buf, len, "%s%s", pfx, fmt_duration(d, sizeof(d), a));
	return buf;
}

/* Drop blanks at the end of s. */
static void
rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

/* 1 when the array holds the string s. */
static int
array_has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/* --- topology */

/* "   sentinels: A -> M @E (AGE ago), ..." wrapped at the terminal width. */
static void
print_views(const json_t *views)
{
	static const char head[] = "   sentinels: ";
	int width = term_width();
	size_t i, col, hl = sizeof(head) - 1;
	json_t *v;

	if (!json_is_array(views) || json_array_size(views) == 0)
		return;
	if (width <= 0)
		width = 80;
	fputs(head, stdout);
	col = hl;
	json_array_foreach(views, i, v) {
		char s[CELL_MAX], m[CELL_MAX], ep[32], age[48], item[3 * CELL_MAX];
		int64_t a;
		size_t l;

		view_clean(s, sizeof(s), view_str(v, "sentinel"));
		view_clean(m, sizeof(m), view_str(v, "master"));
		if (jint(v, "age_ms", &a) == 0) {
			char d[32];

			snprintf(age, sizeof(age), " (%s ago)", fmt_duration(d, sizeof(d), a));
		} else {
			age[0] = '\0';
		}
		snprintf(item, sizeof(item), "%s -> %s @%s%s%s", s, m,
			 fmt_int(ep, sizeof(ep), v, "epoch"), age,
			 i + 1 < json_array_size(views) ? "," : "");
		l = strlen(item);
		if (col > hl && col + 1 + l > (size_t)width) {
			printf("\n%*s", (int)hl, "");
			col = hl;
		} else if (col > hl) {
			putchar(' ');
			col++;
		}
		fputs(item, stdout);
		col += l;
	}
	putchar('\n');
}

static void
print_topology_master(const json_t *m)
{
	static const char *const tee = "\u251c\u2500 ", *const elbow = "\u2514\u2500 ";
	char name[CELL_MAX], state[64], ep[32], role[32];
	const char *master = view_str(m, "master"), *confirmed = "", *write = "write ?";
	const json_t *reps = json_object_get(m, "replicas"), *wr = json_object_get(m, "write_ready");
	struct table t = { .ncol = 4, .keep_empty = 1 };
	size_t i, nrep = 0, k = 0;
	json_t *r, *rc = json_object_get(m, "role_confirmed"), *v;

	view_clean(name, sizeof(name), view_str(m, "name"));
	view_clean(state, sizeof(state), view_str(m, "state"));
	printf("%s  epoch %s  %s\n", name, fmt_int(ep, sizeof(ep), m, "config_epoch"), state);
	json_array_foreach(reps, i, r)
		nrep += json_is_object(r);

	/* The branch is part of the first cell: every branch has the same
	 * byte length, so the byte-counted columns stay aligned. */
	if (json_is_boolean(rc))
		confirmed = json_is_true(rc) ? "ROLE confirmed" : "ROLE unconfirmed";
	if (master && *master && json_is_array(wr))
		write = array_has_string(wr, master) ? "write ready" : "write maint";
	snprintf(role, sizeof(role), "%smaster", nrep ? tee : elbow);
	table_row(&t, role, master && *master ? master : "none", master && *master ? write : "",
		  confirmed);
	json_array_foreach(reps, i, r) {
		json_t *rr = json_object_get(r, "read_ready");
		const char *link = view_str(r, "link"), *flags = view_str(r, "flags");
		char extra[CELL_MAX];

		if (!json_is_object(r))
			continue;
		snprintf(extra, sizeof(extra), "%s%s%s%s", link && *link ? "link " : "",
			 link && *link ? link : "", link && *link && flags && *flags ? "  " : "",
			 flags && *flags ? flags : "");
		snprintf(role, sizeof(role), "%sreplica", ++k < nrep ? tee : elbow);
		table_row(&t, role, view_str(r, "addr") ? view_str(r, "addr") : "-",
			  !json_is_boolean(rr) ? "read ?" : json_is_true(rr) ? "read ready" : "read maint",
			  extra);
	}
	table_print(&t, "");
	/* HAProxy sending writes somewhere else than the master: say so. */
	json_array_foreach(wr, i, v) {
		char a[CELL_MAX];

		if (!json_is_string(v) || (master && strcmp(json_string_value(v), master) == 0))
			continue;
		view_clean(a, sizeof(a), json_string_value(v));
		printf("   write ready on %s, not the master\n", a);
	}
	print_views(json_object_get(m, "sentinel_views"));
}

/* Each object of root[key] printed by one, a blank line between them;
 * none_msg when there is none. -1 when root[key] is not an array. */
static int
print_each(const json_t *root, const char *key, void (*one)(const json_t *o), const char *none_msg)
{
	const json_t *arr = json_object_get(root, key);
	size_t i, n = 0;
	json_t *o;

	if (!json_is_array(arr))
		return -1;
	json_array_foreach(arr, i, o) {
		if (!json_is_object(o))
			continue;
		if (n++)
			putchar('\n');
		one(o);
	}
	if (n == 0)
		printf("%s\n", none_msg);
	return CTL_EXIT_OK;
}

static int
print_topology(const json_t *root)
{
	return print_each(root, "masters", print_topology_master, "no masters");
}

/* --- sentinels */

static int
print_sentinel_table(const json_t *root)
{
	const json_t *arr = json_object_get(root, "sentinels");
	struct table t = { .ncol = 8 };
	char usable[32], ago[64], ev[32];
	size_t i;
	json_t *s;

	if (!json_is_array(arr))
		return -1;
	printf("%zu sentinels, %s usable\n", json_array_size(arr),
	       fmt_int(usable, sizeof(usable), root, "usable"));
	if (json_array_size(arr) == 0)
		return CTL_EXIT_OK;
	table_row(&t, "ADDR", "CMD LINK", "PUBSUB LINK", "SUBSCRIBED", "TILT", "LAST OK", "EVENTS",
		  "LAST ERROR");
	json_array_foreach(arr, i, s)
		if (json_is_object(s))
			table_row(&t, view_str(s, "addr"), view_str(s, "cmd_link"), view_str(s, "pubsub_link"),
				  json_is_string(json_object_get(s, "events_mode")) &&
				  strcmp(view_str(s, "events_mode"), "polling") == 0 ? "no (polling)" :
				  jyesno(s, "subscribed"), jyesno(s, "tilt"),
				  fmt_ago(ago, sizeof(ago), s, "last_ok_ms"),
				  fmt_int(ev, sizeof(ev), s, "events"), view_str(s, "last_error"));
	table_print(&t, "");
	return CTL_EXIT_OK;
}

/* --- haproxy */

/* An HAProxy reply on one line: line breaks become " / ", trailing ones go. */
static void
one_line(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	if (!src)
		src = "";
	while (*src && o + 1 < len) {
		if (*src == '\n' || *src == '\r') {
			while (*src == '\n' || *src == '\r')
				src++;
			if (*src && o + 4 < len) {
				memcpy(dst + o, " / ", 3);
				o += 3;
			}
			continue;
		}
		dst[o++] = *src++;
	}
	dst[o] = '\0';
	if (o == 0)
		str_copy(dst, "(empty)", len);
}

static int
print_haproxy_view(const json_t *h)
{
	static const char *const counters[][2] = {
		{ "pid", "pid" }, { "reloads_seen", "reloads seen" },
		{ "commands_sent", "commands sent" }, { "commands_failed", "commands failed" },
		{ "drift_corrections", "drift corrections" }, { "reconciles", "reconciles" },
	};
	const json_t *cmds;
	struct table kv = { .ncol = 2 };
	char b[64];
	int64_t v;
	size_t i;
	json_t *c;

	if (!json_is_object(h) || !(json_object_get(h, "socket") || json_object_get(h, "link") ||
				    json_object_get(h, "last_commands")))
		return -1;
	table_row(&kv, "socket", view_str(h, "socket"));
	table_row(&kv, "link", view_str(h, "link"));
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		table_row(&kv, counters[i][1], fmt_int(b, sizeof(b), h, counters[i][0]));
	if (json_object_get(h, "switches"))
		table_row(&kv, "switches", fmt_int(b, sizeof(b), h, "switches"));
	table_row(&kv, "last reload", fmt_ago(b, sizeof(b), h, "last_reload_ms"));
	table_row(&kv, "last ok", fmt_ago(b, sizeof(b), h, "last_ok_ms"));
	table_row(&kv, "last switch applied in",
		  jint(h, "last_switch_apply_ms", &v) < 0 ? "-" :
		  v < 0 ? "never" : fmt_elapsed(b, sizeof(b), v, 0));
	table_row(&kv, "last error", view_str(h, "last_error"));
	table_print(&kv, "");

	cmds = json_object_get(h, "last_commands");
	if (!json_is_array(cmds))
		return CTL_EXIT_OK;
	printf("\nLAST COMMANDS\n");
	if (json_array_size(cmds) == 0) {
		printf("  none\n");
		return CTL_EXIT_OK;
	}
	{
		struct table t = { .ncol = 4, .fit_last = 1 };

		table_row(&t, "TIME", "RESULT", "COMMAND", "REPLY");
		json_array_foreach(cmds, i, c) {
			json_t *ok = json_object_get(c, "ok");
			char reply[CELL_MAX];

			if (!json_is_object(c))
				continue;
			one_line(reply, sizeof(reply), view_str(c, "reply"));
			table_row(&t, fmt_clock_of(b, sizeof(b), c, "at_ms"),
				  !json_is_boolean(ok) ? "-" : json_is_true(ok) ? "OK" : "FAIL",
				  view_str(c, "command"), reply);
		}
		table_print(&t, "  ");
	}
	return CTL_EXIT_OK;
}

/* --- events and subscribe */

struct event_cells {
	char at[32], source[CELL_MAX], master[CELL_MAX], type[CELL_MAX], text[1024];
};

/* A Sentinel's event shows the Sentinel's address as its source. */
static void
event_cells(const json_t *e, struct event_cells *c)
{
	const char *src = view_str(e, "source"), *sen = view_str(e, "sentinel");
	char b[32];
	size_t len;

	str_copy(c->at, fmt_clock_of(b, sizeof(b), e, "at_ms"), sizeof(c->at));
	if (sen && *sen && (!src || !*src || strcmp(src, "sentinel") == 0))
		src = sen;
	view_clean(c->source, sizeof(c->source), src);
	view_clean(c->master, sizeof(c->master), view_str(e, "master"));
	view_clean(c->type, sizeof(c->type), view_str(e, "type"));
	view_clean(c->text, sizeof(c->text), view_str(e, "text"));
	/* Sentinel's messages start with their type: not twice on a line. */
	len = strlen(c->type);
	if (strcmp(c->type, "-") != 0 && strncmp(c->text, c->type, len) == 0 && c->text[len] == ' ')
		memmove(c->text, c->text + len + 1, strlen(c->text + len + 1) + 1);
}

int
view_is_event(const json_t *e)
{
	return json_is_object(e) && (json_object_get(e, "type") || json_object_get(e, "text")) &&
	       !json_object_get(e, "error");
}

static int
print_events(const json_t *root)
{
	const json_t *arr = json_object_get(root, "events");
	struct table t = { .ncol = 5 };
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return -1;
	if (json_array_size(arr) == 0) {
		printf("no events\n");
		return CTL_EXIT_OK;
	}
	json_array_foreach(arr, i, e) {
		struct event_cells c;

		if (!json_is_object(e))
			continue;
		event_cells(e, &c);
		table_row(&t, c.at, c.source, c.master, c.type, c.text);
	}
	table_print(&t, "");
	return CTL_EXIT_OK;
}

/* One streamed event: fixed minimum widths, since later lines are unknown. */
void
view_event_line(const json_t *e)
{
	struct event_cells c;
	char line[2048];

	event_cells(e, &c);
	snprintf(line, sizeof(line), "%-12s  %-15s  %-10s  %-20s  %s", c.at, c.source, c.master,
		 c.type, c.text);
	rtrim(line);
	printf("%s\n", line);
}

/* --- timeline */

#define BAR_MAX 30

static void
print_timeline(const json_t *tl)
{
	const json_t *stages = json_object_get(tl, "stages");
	size_t n = json_is_array(stages) ? json_array_size(stages) : 0, i, wname = 0, woff = 0, wdel = 0;
	char name[CELL_MAX], from[CELL_MAX], to[CELL_MAX], ep[32], when[48], tot[32];
	int64_t start = -1, total = -1, span = 0, v;
	int64_t *off = n ? calloc(n, sizeof(*off)) : NULL;
	char *have = n ? calloc(n, 1) : NULL;
	json_t *st, *complete = json_object_get(tl, "complete");
	int width = term_width(), bar_max;

	view_clean(name, sizeof(name), view_str(tl, "master"));
	view_clean(from, sizeof(from), view_str(tl, "from"));
	view_clean(to, sizeof(to), view_str(tl, "to"));
	if (!off || !have)
		n = 0;  /* out of memory (or no stages): the header alone */
	/* The first stage is the origin: offsets from it. */
	if (jint(tl, "start_ms", &v) == 0 && v > 0)
		start = v;
	for (i = 0; start < 0 && i < n; i++)
		if (jint(json_array_get(stages, i), "at_ms", &v) == 0 && v > 0)
			start = v;
	for (i = 0; i < n; i++) {
		st = json_array_get(stages, i);
		if (jint(st, "offset_ms", &v) == 0) {
			off[i] = v;
			have[i] = 1;
		} else if (start > 0 && jint(st, "at_ms", &v) == 0 && v > 0) {
			off[i] = v - start;
			have[i] = 1;
		}
		if (have[i] && off[i] > span)
			span = off[i];
	}
	if (jint(tl, "total_ms", &v) == 0 && v >= 0)
		total = v;
	else if (n && have[n - 1])
		total = off[n - 1];
	if (total > span)
		span = total;

	/* No failover: the same master back (fence ended, or -sdown). */
	if (view_str(tl, "outcome") && strcmp(view_str(tl, "outcome"), "no-failover") == 0)
		printf("%s  %s  %s  total %s  (fence ended, master back, no failover)\n", name, from,
		       start > 0 ? fmt_clock(when, sizeof(when), start, 1) : "-",
		       total >= 0 ? fmt_elapsed(tot, sizeof(tot), total, 0) : "-");
	else
		printf("%s  %s -> %s  epoch %s  %s  total %s%s\n", name, from, to,
		       fmt_int(ep, sizeof(ep), tl, "epoch"),
		       start > 0 ? fmt_clock(when, sizeof(when), start, 1) : "-",
		       total >= 0 ? fmt_elapsed(tot, sizeof(tot), total, 0) : "-",
		       json_is_false(complete) ? "  (incomplete)" : "");
	if (n == 0) {
		printf("  no stages\n");
		goto out;
	}

	/* Column widths, then the bar gets what is left of the line. */
	for (i = 0; i < n; i++) {
		char s[CELL_MAX], b[32];
		int64_t prev = -1;

		view_clean(s, sizeof(s), view_str(json_array_get(stages, i), "stage"));
		if (strlen(s) > wname)
			wname = strlen(s);
		if (!have[i])
			continue;
		if (strlen(fmt_elapsed(b, sizeof(b), off[i], 1)) > woff)
			woff = strlen(b);
		for (size_t k = i; k-- > 0;)
			if (have[k]) {
				prev = off[k];
				break;
			}
		if (prev >= 0 && strlen(fmt_elapsed(b, sizeof(b), off[i] - prev, 1)) > wdel)
			wdel = strlen(b);
	}
	bar_max = (width > 0 ? width : 80) - 1 - (int)(2 + wname + 2 + woff + 2 + wdel + 2);
	if (bar_max > BAR_MAX)
		bar_max = BAR_MAX;
	if (bar_max < 10)
		bar_max = 10;

	for (i = 0; i < n; i++) {
		char s[CELL_MAX], o[32] = "?", d[32] = "", bar[BAR_MAX + 1] = "", line[512];
		int64_t prev = -1;

		st = json_array_get(stages, i);
		view_clean(s, sizeof(s), view_str(st, "stage"));
		if (have[i]) {
			fmt_elapsed(o, sizeof(o), off[i], 1);
			for (size_t k = i; k-- > 0;)
				if (have[k]) {
					prev = off[k];
					break;
				}
			if (prev >= 0)
				fmt_elapsed(d, sizeof(d), off[i] - prev, 1);
			if (span > 0 && off[i] > 0) {
				int64_t nb = (off[i] * bar_max + span / 2) / span;

				if (nb < 1)
					nb = 1;
				if (nb > bar_max)
					nb = bar_max;
				memset(bar, '#', (size_t)nb);
				bar[nb] = '\0';
			}
		}
		snprintf(line, sizeof(line), "  %-*s  %*s  %*s  %s", (int)wname, s, (int)woff, o,
			 (int)wdel, d, bar);
		rtrim(line);
		printf("%s\n", line);
	}
out:
	free(off);
	free(have);
}

static int
print_timelines(const json_t *root)
{
	return print_each(root, "timelines", print_timeline, "no failovers recorded");
}

/* --- metrics, resync, check */

static int
print_metrics(const json_t *root)
{
	const json_t *text = json_object_get(root, "text");
	size_t len;

	if (!json_is_string(text))
		return -1;
	len = json_string_length(text);
	fwrite(json_string_value(text), 1, len, stdout);
	if (len > 0 && json_string_value(text)[len - 1] != '\n')
		putchar('\n');
	return CTL_EXIT_OK;
}

static int
print_resync(const json_t *root)
{
	const json_t *ok = json_object_get(root, "ok");

	if (!json_is_boolean(ok))
		return -1;
	if (json_is_true(ok)) {
		printf("resync started\n");
		return CTL_EXIT_OK;
	}
	ctl_err("resync refused");
	return CTL_EXIT_ERROR;
}

static int
print_check(const json_t *root)
{
	const json_t *ok = json_object_get(root, "ok"), *probs = json_object_get(root, "problems");
	size_t i, n = 0;
	json_t *p;

	if (!json_is_boolean(ok) && !json_is_array(probs))
		return -1;
	json_array_foreach(probs, i, p) {
		char c[1024];

		view_clean(c, sizeof(c), json_is_string(p) ? json_string_value(p) : NULL);
		printf("%s\n", c);
		n++;
	}
	if (json_is_true(ok)) {
		printf("OK\n");  /* after any warnings */
		return CTL_EXIT_OK;
	}
	if (n == 0)
		printf("NOT OK\n");
	return CTL_EXIT_ERROR;
}

/* The human view of each command; the rest print indented JSON. */
static const struct {
	const char *cmd;
	int (*print)(const json_t *root);
} views[] = {
	{ "status", print_status },
	{ "topology", print_topology },
	{ "sentinels", print_sentinel_table },
	{ "haproxy", print_haproxy_view },
	{ "events", print_events },
	{ "timeline", print_timelines },
	{ "metrics", print_metrics },
	{ "resync", print_resync },
	{ "check", print_check },
};

/* Exit code; JSON indented when the command or the shape is unknown. */
int
view_print(const char *cmd, const json_t *root)
{
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		int rc;

		if (strcmp(views[i].cmd, cmd) != 0)
			continue;
		rc = json_is_object(root) ? views[i].print(root) : -1;
		if (rc >= 0)
			return rc;
		break;
	}
	view_pretty(root);
	return CTL_EXIT_OK;
}
