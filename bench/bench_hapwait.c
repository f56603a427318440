/* bench_hapwait: how long until HAProxy routes every group's writes to the
 * expected master, for the scale part of `make bench`.
 *
 *   bench_hapwait -s SOCKET -g GROUPS -b BASE_PORT -k K [-t TIMEOUT_MS]
 *                 [-i POLL_MS] [-u PID,PID,...] [-w WRAP] [-a]
 *
 * The groups are fake_sentinel's (-r 1): group g is "mymaster" when GROUPS
 * is 1, else "mymaster-g"; its nodes are 127.0.0.1:BASE_PORT+2g+k, k = 0
 * (the first master) or 1 (the master after one failover); with -w the
 * offset 2g+k is taken modulo WRAP (fake_sentinel -w). Done means: in
 * every backend "<group>_write" exactly one slot is ready (admin state not
 * maint/drain) and it holds 127.0.0.1:BASE_PORT+2g+K.
 *
 * Reading every backend ("show servers state") takes HAProxy about 23 ms
 * at 1000 groups, time it does not spend on the agent's commands; polling
 * that way every few milliseconds would slow down what is measured. So
 * every POLL_MS (default 2) it asks only the write backends of up to
 * PROBES groups not yet seen done, those of the highest index (the agent
 * fills groups in the order it learns them, which here is their index),
 * one short command each. Once every group it probed is done, it reads
 * every backend: done when every group is, else the groups that are not
 * become the ones probed. "done" is the end of that full read, an upper
 * bound. A socket that does not answer yet (HAProxy restarting) is retried
 * every millisecond. TIMEOUT_MS defaults to 30000. With -u, SIGUSR1 is
 * sent to each PID first (fake_sentinel: fail every group over) and t0 is
 * that moment. Prints one line, wall clock in ms (CLOCK_REALTIME):
 *   t0 T sock_up T first_ok T done T polls N ok N groups N poll_ms_max X
 * first_ok is the first poll where at least one group was done. Exit 0 when
 * done, 1 on timeout (the line still says how far it got).
 *
 * With -a, bench_hapwait does the write side's work itself, for HAProxy's
 * share of it with no agent running: its first poll reads every backend,
 * the agent's planner (plan_backend(), as from a read) plans each write
 * backend with the expected node as its only target, and the commands go
 * in the agent's batches (request lines of up to 8 KB, 4 lines per
 * interactive connection, one connection after the other); then it polls
 * as above, and the line ends with "sent N" (commands). sock_up is the end
 * of that first read. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hapapi.h"
#include "plan.h"

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#define PROBES 8

/* A connection to the admin socket at path, or -1. */
static int
connect_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One exchange on the admin socket: CMD (one line, ';' between commands),
 * the answer in *buf (owned, reused). -1 when the socket is not there or
 * the answer is cut. */
static int
ask(const char *path, const char *cmd, char **buf, size_t *cap, size_t *len)
{
	size_t cl = strlen(cmd);
	int fd = connect_unix(path);
	ssize_t r;

	if (fd < 0)
		return -1;
	if (write(fd, cmd, cl) != (ssize_t)cl) {
		close(fd);
		return -1;
	}
	*len = 0;
	for (;;) {
		if (*cap - *len < 65536) {
			*cap = *cap ? *cap * 2 : 1 << 20;
			*buf = realloc(*buf, *cap);
			if (!*buf)
				exit(1);
		}
		r = read(fd, *buf + *len, *cap - *len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*len += (size_t)r;
	}
	close(fd);
	(*buf)[*len] = '\0';
	/* A complete answer starts with the format version and ends with an
	 * empty line. */
	if (*len < 3 || (*buf)[0] != '1' || memcmp(*buf + *len - 2, "\n\n", 2) != 0)
		return -1;
	return 0;
}

static void
write_backend(char *dst, size_t len, int g, int groups)
{
	if (groups == 1)
		snprintf(dst, len, "mymaster_write");
	else
		snprintf(dst, len, "mymaster-%d_write", g);
}

#define APPLY_LINE_BYTES (8 * 1024)   /* the agent's request line */
#define APPLY_CONN_LINES 4             /* the agent's lines per batch (REC_APPLY_BIG) */

/* Send one interactive connection's worth of lines and read its answer to
 * the end. -1 when the socket fails. */
static int
apply_conn(const char *path, const char *req, size_t len)
{
	char buf[65536];
	size_t off = 0;
	ssize_t r;
	int fd = connect_unix(path);

	if (fd < 0)
		return -1;
	/* At most 4 lines of 8 KB: HAProxy reads it all before its answer
	 * could fill the socket. */
	while (off < len) {
		r = write(fd, req + off, len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)r;
	}
	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
	}
	close(fd);
	return r < 0 ? -1 : 0;
}

/* -a: plan every write backend of the state read (text) with the agent's
 * planner, the expected node as its only target, and send the commands in
 * the agent's batches. Commands sent, or -1. */
static long
apply_alone(const char *path, const char *text, size_t len, int groups, int base, int wrap, int k)
{
	struct hap_state st = { 0 };
	struct plan pl;
	char err[256], *req;
	size_t rcap = APPLY_CONN_LINES * APPLY_LINE_BYTES + 64, rlen = 0, llen = 0;
	int lines = 0;
	long sent = 0;

	if (hap_state_parse(text, len, &st, err, sizeof(err)) < 0 || hap_state_index(&st) < 0) {
		fprintf(stderr, "bench_hapwait: -a: %s\n", err);
		hap_state_free(&st);
		return -1;
	}
	plan_init(&pl);
	for (int g = 0; g < groups; g++) {
		struct plan_target t = { .port = base + (wrap > 0 ? (2 * g + k) % wrap : 2 * g + k), .ready = 1 };
		char be[64];
		size_t first, n;

		snprintf(t.ip, sizeof(t.ip), "127.0.0.1");
		write_backend(be, sizeof(be), g, groups);
		if (hap_state_backend(&st, be, &first, &n) < 0 ||
		    plan_backend(be, st.srv + first, n, &t, 1, 1, &pl, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_hapwait: -a: %s: %s\n", be, err);
			plan_free(&pl);
			hap_state_free(&st);
			return -1;
		}
	}
	hap_state_free(&st);
	req = malloc(rcap);
	if (!req) {
		plan_free(&pl);
		return -1;
	}
	for (size_t i = 0; i <= pl.n; i++) {
		size_t l = i < pl.n ? strlen(pl.cmds[i].text) : 0;

		/* end the line when this command does not fit, or at the end */
		if (llen && (i == pl.n || llen + l + 2 > APPLY_LINE_BYTES)) {
			req[rlen++] = '\n';
			llen = 0;
			if (++lines == APPLY_CONN_LINES || i == pl.n) {
				memcpy(req + rlen, "quit\n", 5);
				if (apply_conn(path, req, rlen + 5) < 0) {
					sent = -1;
					break;
				}
				rlen = 0;
				lines = 0;
			}
		}
		if (i == pl.n)
			break;
		if (!rlen) {
			memcpy(req, "prompt\n", 7);
			rlen = 7;
		}
		if (llen) {
			req[rlen++] = ';';
			llen++;
		}
		memcpy(req + rlen, pl.cmds[i].text, l);
		rlen += l;
		llen += l;
		sent++;
	}
	free(req);
	plan_free(&pl);
	return sent;
}

/* Group index of "<prefix>[-g]_write", or -1. */
static int
write_group(const char *be, int groups)
{
	const char *p;
	size_t n = strlen(be);
	char *end;
	long g;

	if (n < 6 || strcmp(be + n - 6, "_write") != 0 || strncmp(be, "mymaster", 8) != 0)
		return -1;
	if (groups == 1)
		return n == 14 ? 0 : -1;
	if (be[8] != '-')
		return -1;
	p = be + 9;
	g = strtol(p, &end, 10);
	if (end == p || strcmp(end, "_write") != 0 || g < 0 || g >= groups)
		return -1;
	return (int)g;
}


/* Rows of one or more "show servers state" answers: for each write group,
 * how many slots are ready (ready[]) and whether the expected node is one
 * of them (good[]). 0, or -1 on an answer that does not parse. */
static int
tally(const char *text, size_t len, int groups, int base, int wrap, int k, int *ready, int *good)
{
	struct hap_reply rep[PROBES + 1];
	size_t nrep = hap_reply_split(text, len, rep, PROBES + 1);
	char err[256];

	for (size_t r = 0; r < nrep; r++) {
		struct hap_state st = { 0 };

		if (hap_state_parse(rep[r].text, rep[r].len, &st, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_hapwait: %s\n", err);
			hap_state_free(&st);
			return -1;
		}
		for (size_t i = 0; i < st.n; i++) {
			int g = write_group(st.srv[i].backend, groups);

			if (g < 0 || !hap_server_is_ready(&st.srv[i]))
				continue;
			ready[g]++;
			if (st.srv[i].port == base + (wrap > 0 ? (2 * g + k) % wrap : 2 * g + k) &&
			    strcmp(st.srv[i].addr, "127.0.0.1") == 0)
				good[g] = 1;
		}
		hap_state_free(&st);
	}
	return nrep ? 0 : -1;
}

/* Group g is done: exactly one ready slot in its write backend, the
 * expected node. */
static int
group_done(const int *ready, const int *good, int g)
{
	return ready[g] == 1 && good[g];
}

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	char *pids = NULL, *buf = NULL;
	int groups = 0, base = 0, k = 0, opt, done = 0, nok = 0, wrap = 0, alone = 0;
	long applied = 0;
	long timeout = 30000, poll_iv = 2;
	long long t0, sock_up = 0, first_ok = 0, t_done = 0, polls = 0;
	double start, poll_max = 0;
	size_t cap = 0, len = 0, cmdcap = PROBES * 80 + 32;
	int *ready, *good, *pending, npending;
	char *cmd;

	while ((opt = getopt(argc, argv, "as:g:b:k:t:i:u:w:")) != -1) {
		switch (opt) {
		case 'a': alone = 1; break;
		case 's': sock = optarg; break;
		case 'g': groups = atoi(optarg); break;
		case 'b': base = atoi(optarg); break;
		case 'k': k = atoi(optarg); break;
		case 't': timeout = atol(optarg); break;
		case 'i': poll_iv = atol(optarg); break;
		case 'u': pids = optarg; break;
		case 'w': wrap = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_hapwait -s SOCKET -g GROUPS -b BASE_PORT -k K "
				"[-t TIMEOUT_MS] [-i POLL_MS] [-u PID,...] [-w WRAP] [-a]\n");
			return 2;
		}
	}
	if (!sock || groups < 1 || base < 1 || k < 0 || timeout < 1 || poll_iv < 0) {
		fprintf(stderr, "bench_hapwait: -s, -g and -b are required\n");
		return 2;
	}
	ready = calloc((size_t)groups, sizeof(*ready));
	good = calloc((size_t)groups, sizeof(*good));
	pending = calloc((size_t)groups, sizeof(*pending));
	cmd = malloc(cmdcap);
	if (!ready || !good || !pending || !cmd)
		return 1;

	start = mono_ms();
	t0 = wall_ms();
	if (pids) {
		for (char *p = strtok(pids, ","); p; p = strtok(NULL, ","))
			if (kill((pid_t)atol(p), SIGUSR1) < 0)
				perror("bench_hapwait: kill");
	}
	for (int g = 0; g < groups; g++)
		pending[g] = g;
	npending = alone ? 0 : groups;   /* -a: a full read first */
	while (mono_ms() - start < (double)timeout) {
		double p0 = mono_ms();
		int full = npending <= 0, probed[PROBES], nprobed = 0;

		if (full) {
			snprintf(cmd, cmdcap, "show servers state\n");
		} else {
			size_t off = 0;

			/* the pending groups of the highest index */
			for (int i = npending - 1; i >= 0 && nprobed < PROBES; i--) {
				char be[64];

				probed[nprobed++] = pending[i];
				write_backend(be, sizeof(be), pending[i], groups);
				off += (size_t)snprintf(cmd + off, cmdcap - off, "%sshow servers state %s",
							off ? ";" : "", be);
			}
			snprintf(cmd + off, cmdcap - off, "\n");
		}
		if (ask(sock, cmd, &buf, &cap, &len) < 0) {
			pause_ms(1);
			continue;
		}
		if (!sock_up) {
			sock_up = wall_ms();
			if (alone) {
				/* the first answer is a full read: plan from it */
				applied = apply_alone(sock, buf, len, groups, base, wrap, k);
				if (applied < 0) {
					fprintf(stderr, "bench_hapwait: -a: no commands sent\n");
					break;
				}
				npending = groups;
				continue;   /* poll from here */
			}
		}
		polls++;
		memset(ready, 0, (size_t)groups * sizeof(*ready));
		memset(good, 0, (size_t)groups * sizeof(*good));
		if (tally(buf, len, groups, base, wrap, k, ready, good) < 0) {
			pause_ms(1);
			continue;
		}
		if (mono_ms() - p0 > poll_max)
			poll_max = mono_ms() - p0;
		if (full) {
			nok = 0;
			for (int g = 0; g < groups; g++) {
				if (group_done(ready, good, g))
					nok++;
				else
					pending[npending++] = g;
			}
			if (nok > 0 && !first_ok)
				first_ok = wall_ms();
			if (nok == groups) {
				t_done = wall_ms();
				done = 1;
				break;
			}
		} else {
			int left = 0;

			for (int i = 0; i < nprobed; i++) {
				if (!group_done(ready, good, probed[i]))
					left++;
				else if (!first_ok)
					first_ok = wall_ms();
			}
			/* every probed group done: read them all */
			if (!left)
				npending = 0;
		}
		if (poll_iv > 0 && npending > 0)
			pause_ms(poll_iv);
	}
	printf("t0 %lld sock_up %lld first_ok %lld done %lld polls %lld ok %d groups %d poll_ms_max %.1f",
	       t0, sock_up, first_ok, t_done, polls, nok, groups, poll_max);
	if (alone)
		printf(" sent %ld", applied);
	printf("\n");
	free(buf);
	free(cmd);
	free(ready);
	free(good);
	free(pending);
	return done ? 0 : 1;
}
