/* bench_sub: timestamps Sentinel events, for `make bench`.
 *
 *   bench_sub OUTFILE SECONDS PORT [PORT...]
 *
 * Subscribes (PSUBSCRIBE *) to every Sentinel on 127.0.0.1:PORT and writes
 * one line per event, as it arrives:
 *   <wall_ms> <sentinel_port> <channel> <payload>
 * wall_ms is CLOCK_REALTIME in milliseconds, the clock hs_writer and the
 * agent's log use. A lost link is reconnected every 100 ms. Prints "ready"
 * on stdout once every link is subscribed; stops after SECONDS or on
 * SIGTERM/SIGINT. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define MAX_LINKS 16

struct link {
	int port;
	redisContext *c;
	long long retry_at;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
link_open(struct link *l)
{
	struct timeval tv = { 1, 0 };
	redisReply *r;

	l->c = redisConnectWithTimeout("127.0.0.1", l->port, tv);
	if (!l->c || l->c->err)
		goto fail;
	r = redisCommand(l->c, "PSUBSCRIBE *");
	if (!r)
		goto fail;
	freeReplyObject(r);
	/* Replies come from the loop below: no read timeout from here on. */
	tv.tv_sec = 0;
	redisSetTimeout(l->c, tv);
	return 0;
fail:
	if (l->c)
		redisFree(l->c);
	l->c = NULL;
	l->retry_at = mono_ms() + 100;
	return -1;
}

static void
link_drop(struct link *l)
{
	redisFree(l->c);
	l->c = NULL;
	l->retry_at = mono_ms() + 100;
}

int
main(int argc, char **argv)
{
	struct link links[MAX_LINKS];
	int n = 0, announced = 0;
	long long deadline;
	FILE *out;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_sub OUTFILE SECONDS PORT [PORT...]\n");
		return 2;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 2;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	deadline = mono_ms() + 1000LL * atol(argv[2]);
	for (int i = 3; i < argc && n < MAX_LINKS; i++) {
		links[n].port = atoi(argv[i]);
		links[n].c = NULL;
		links[n].retry_at = 0;
		n++;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	while (!stop && mono_ms() < deadline) {
		struct pollfd pfd[MAX_LINKS];
		int map[MAX_LINKS], np = 0, up = 0;

		for (int i = 0; i < n; i++) {
			if (!links[i].c && mono_ms() >= links[i].retry_at)
				(void)link_open(&links[i]);
			if (!links[i].c)
				continue;
			up++;
			pfd[np].fd = links[i].c->fd;
			pfd[np].events = POLLIN;
			map[np++] = i;
		}
		if (!announced && up == n) {
			printf("ready\n");
			fflush(stdout);
			announced = 1;
		}
		if (poll(pfd, (nfds_t)np, 50) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int k = 0; k < np; k++) {
			struct link *l = &links[map[k]];
			void *rv;

			if (!pfd[k].revents)
				continue;
			if (redisBufferRead(l->c) != REDIS_OK) {
				link_drop(l);
				continue;
			}
			for (;;) {
				redisReply *r;
				long long now = wall_ms();

				if (redisGetReplyFromReader(l->c, &rv) != REDIS_OK) {
					link_drop(l);
					break;
				}
				if (!rv)
					break;
				r = rv;
				if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
				    r->element[2]->type == REDIS_REPLY_STRING &&
				    r->element[3]->type == REDIS_REPLY_STRING)
					fprintf(out, "%lld %d %s %s\n", now, l->port, r->element[2]->str,
						r->element[3]->str);
				freeReplyObject(r);
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (links[i].c)
			redisFree(links[i].c);
	fclose(out);
	return 0;
}
