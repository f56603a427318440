/* bench_parse: throughput of the agent's pure cores, for `make bench`.
 *
 *   bench_parse EVENTS_FILE [SECONDS] [GROUPS]
 *
 * Each measurement runs for about SECONDS (default 1.0), in 10 slices, and
 * reports the best slice (the machine is shared: the best slice is the one
 * least disturbed by other processes). One "key value" line each:
 *
 *   sev_events_per_s   sev_parse() over every message of EVENTS_FILE
 *                      (tests/data/sentinel-events.txt: channel<TAB>payload)
 *   state_rows_per_s   hap_state_parse() of a generated "show servers state"
 *                      reply: GROUPS groups (default 1000), a write and a
 *                      read backend each, 4 slots per backend
 *   state_rows         rows in that reply
 *   plans_per_s        plan_backend() per backend, every slot in maint (the
 *                      resync after an HAProxy restart: addr + ready needed)
 *   plans_steady_per_s plan_backend() per backend when nothing is to change
 *   state_index_ms     hap_state_index() over that reply, once (ms)
 *   lookup_plan_run_ms one reconcile pass as reconcile.c does it: for every
 *                      group, hap_state_backend() for its write and read
 *                      backend (the index's binary search), then
 *                      plan_backend() (ms, fastest pass)
 *   lookup_only_run_ms the hap_state_backend() lookups of that pass alone
 *
 * Pure CPU: no sockets. Links with agent/libhasentinel.a. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* getline, strdup under -std=c11 */
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "hapapi.h"
#include "plan.h"

struct msg {
	char *chan, *payload;
	size_t chlen, plen;
};

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
load_events(const char *path, struct msg **out)
{
	FILE *f = fopen(path, "r");
	struct msg *v = NULL;
	size_t n = 0, cap = 0, sz = 0;
	char *line = NULL;
	ssize_t len;

	if (!f) {
		perror(path);
		exit(2);
	}
	while ((len = getline(&line, &sz, f)) > 0) {
		char *tab;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		tab = strchr(line, '\t');
		if (!tab)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				exit(1);
		}
		*tab = '\0';
		v[n].chan = strdup(line);
		v[n].payload = strdup(tab + 1);
		if (!v[n].chan || !v[n].payload)
			exit(1);
		v[n].chlen = strlen(v[n].chan);
		v[n].plen = strlen(v[n].payload);
		n++;
	}
	free(line);
	fclose(f);
	*out = v;
	return n;
}

/* A growing text buffer. */
struct text {
	char *s;
	size_t len, cap;
};

static void
text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
text_addf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap ? t->cap * 2 : 65536;
		t->s = realloc(t->s, t->cap);
		if (!t->s)
			exit(1);
	}
}

#define SLOTS 4
#define SLICES 10

/* What HAProxy answers right after a restart without a state file: every
 * slot of every backend in maintenance ("disabled", admin state 5). With
 * filled != 0: the steady state the agent leaves behind (write: slot 1 =
 * master ready; read: slot 1 = replica ready). */
static void
gen_state(struct text *t, int groups, int filled)
{
	int be = 3;

	t->len = 0;
	text_addf(t, "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
		  "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
		  "srv_check_result srv_check_health srv_check_state srv_agent_state "
		  "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
		  "srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
	for (int g = 0; g < groups; g++) {
		for (int w = 0; w < 2; w++, be++) {
			for (int s = 1; s <= SLOTS; s++) {
				int ready = filled && s == 1;
				int port = ready ? 61000 + 2 * g + (w ? 1 : 0) : 1;

				text_addf(t, "%d mymaster-%d_%s %d r%d 127.0.0.1 %d %d 1 1 %d 1 0 0 8 0 0 0 - %d - 0 0 - - 0\n",
					  be, g, w ? "read" : "write", s, s, ready ? 2 : 0, ready ? 4 : 5,
					  ready ? 0 : 9, port);
			}
		}
	}
}

static void
targets_for(int g, int write, struct plan_target *t, size_t *nt)
{
	/* As reconcile.c's build_targets(): the master first, then the nodes. */
	memset(t, 0, 2 * sizeof(*t));
	snprintf(t[0].ip, sizeof(t[0].ip), "127.0.0.1");
	snprintf(t[1].ip, sizeof(t[1].ip), "127.0.0.1");
	if (write) {
		t[0].port = 61000 + 2 * g;
		t[0].ready = 1;
		t[1].port = 61000 + 2 * g + 1;
		t[1].ready = 0;
		*nt = 2;
	} else {
		t[0].port = 61000 + 2 * g + 1;
		t[0].ready = 1;
		*nt = 1;
	}
}

int
main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	int groups = argc > 3 ? atoi(argv[3]) : 1000;
	struct msg *msgs;
	size_t nmsg;
	unsigned long long sink = 0, count = 0, passes = 0;
	double t0, t1, best, slice;
	struct text txt = { 0 };
	struct hap_state st = { 0 };
	char err[256];

	if (argc < 2 || secs <= 0 || groups < 1) {
		fprintf(stderr, "usage: bench_parse EVENTS_FILE [SECONDS] [GROUPS]\n");
		return 2;
	}
	slice = secs / SLICES;
	nmsg = load_events(argv[1], &msgs);
	if (nmsg == 0) {
		fprintf(stderr, "bench_parse: no events in %s\n", argv[1]);
		return 2;
	}

	/* ---- sev_parse */
	best = 0;
	for (int sl = 0; sl < SLICES; sl++) {
		count = 0;
		t0 = mono_s();
		do {
			for (size_t i = 0; i < nmsg; i++) {
				struct sentinel_event ev;

				if (sev_parse(msgs[i].chan, msgs[i].chlen, msgs[i].payload, msgs[i].plen, &ev) == 0)
					sink += (unsigned)ev.type + (unsigned)ev.inst.port;
			}
			count += nmsg;
			t1 = mono_s();
		} while (t1 - t0 < slice);
		if ((double)count / (t1 - t0) > best)
			best = (double)count / (t1 - t0);
	}
	printf("sev_messages %zu\n", nmsg);
	printf("sev_events_per_s %.0f\n", best);

	/* ---- hap_state_parse */
	gen_state(&txt, groups, 0);
	best = 0;
	for (int sl = 0; sl < SLICES; sl++) {
		count = 0;
		t0 = mono_s();
		do {
			hap_state_free(&st);
			memset(&st, 0, sizeof(st));
			if (hap_state_parse(txt.s, txt.len, &st, err, sizeof(err)) < 0) {
				fprintf(stderr, "bench_parse: hap_state_parse: %s\n", err);
				return 1;
			}
			count += st.n;
			t1 = mono_s();
		} while (t1 - t0 < slice);
		if ((double)count / (t1 - t0) > best)
			best = (double)count / (t1 - t0);
	}
	printf("state_rows %zu\n", st.n);
	printf("state_bytes %zu\n", txt.len);
	printf("state_rows_per_s %.0f\n", best);
	printf("state_parse_ms %.3f\n", (double)st.n / best * 1000.0);

	/* ---- plan_backend, per backend: from the all-maint state, and steady */
	for (int filled = 0; filled <= 1; filled++) {
		struct hap_state s2 = { 0 };

		gen_state(&txt, groups, filled);
		if (hap_state_parse(txt.s, txt.len, &s2, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_parse: hap_state_parse: %s\n", err);
			return 1;
		}
		best = 0;
		for (int sl = 0; sl < SLICES; sl++) {
			count = 0;
			t0 = mono_s();
			do {
				for (size_t b = 0; b + SLOTS <= s2.n; b += SLOTS) {
					struct plan_target t[2];
					struct plan pl;
					size_t nt;
					int g = (int)(b / (2 * SLOTS)), write = (b / SLOTS) % 2 == 0;

					targets_for(g, write, t, &nt);
					plan_init(&pl);
					if (plan_backend(s2.srv[b].backend, s2.srv + b, SLOTS, t, nt, write, &pl,
							 err, sizeof(err)) < 0) {
						fprintf(stderr, "bench_parse: plan_backend: %s\n", err);
						return 1;
					}
					sink += pl.n;
					plan_free(&pl);
					count++;
				}
				t1 = mono_s();
			} while (t1 - t0 < slice);
			if ((double)count / (t1 - t0) > best)
				best = (double)count / (t1 - t0);
		}
		printf("%s %.0f\n", filled ? "plans_steady_per_s" : "plans_per_s", best);
		hap_state_free(&s2);
	}

	/* ---- one reconcile pass as reconcile.c does it: the name index, then
	 * lookups (+ plans) */
	t0 = mono_s();
	if (hap_state_index(&st) < 0) {
		fprintf(stderr, "bench_parse: hap_state_index: out of memory\n");
		return 1;
	}
	printf("state_index_ms %.3f\n", (mono_s() - t0) * 1000.0);
	for (int with_plan = 1; with_plan >= 0; with_plan--) {
		double fastest = 0;

		for (int sl = 0; sl < SLICES; sl++) {
			passes = 0;
			t0 = mono_s();
			do {
				for (int g = 0; g < groups; g++) {
					for (int write = 1; write >= 0; write--) {
						char be[64];
						size_t first, n, nt;
						struct plan_target t[2];
						struct plan pl;

						snprintf(be, sizeof(be), "mymaster-%d_%s", g, write ? "write" : "read");
						if (hap_state_backend(&st, be, &first, &n) < 0) {
							fprintf(stderr, "bench_parse: no backend %s\n", be);
							return 1;
						}
						sink += first;
						if (!with_plan)
							continue;
						targets_for(g, write, t, &nt);
						plan_init(&pl);
						if (plan_backend(be, st.srv + first, n, t, nt, write, &pl, err,
								 sizeof(err)) < 0)
							return 1;
						sink += pl.n;
						plan_free(&pl);
					}
				}
				passes++;
				t1 = mono_s();
			} while (t1 - t0 < slice);
			if (fastest == 0 || (t1 - t0) / (double)passes < fastest)
				fastest = (t1 - t0) / (double)passes;
		}
		printf("%s %.3f\n", with_plan ? "lookup_plan_run_ms" : "lookup_only_run_ms", fastest * 1000.0);
	}
	printf("groups %d\n", groups);
	/* Keep the results observable so nothing is optimised away. */
	fprintf(stderr, "bench_parse: checksum %llu\n", sink);

	hap_state_free(&st);
	free(txt.s);
	for (size_t i = 0; i < nmsg; i++) {
		free(msgs[i].chan);
		free(msgs[i].payload);
	}
	free(msgs);
	return 0;
}
