/* hs_writer: a test client that writes unique keys through a port (HAProxy's
 * write port) and records which node acknowledged each write.
 *
 *   hs_writer HOST PORT PREFIX OUTFILE [SECONDS] [INTERVAL_MS] [incr|churn]
 *
 * Each connection first asks the server for its own port (CONFIG GET port
 * does not work on every setup; INFO server's tcp_port does), so every
 * acknowledgement is attributed to the node behind that TCP connection.
 * OUTFILE gets one line per event:
 *   A <wall_ms> <node_port> <key>     a SET acknowledged (+OK)
 *   E <wall_ms> <node_port> <reason>  a SET refused or failed
 *   C <wall_ms> <node_port>           connected (node_port 0: connect failed)
 * With "incr" it sends INCR PREFIX instead (one counter) and an "A" line
 * ends with the value the node answered: "A <wall_ms> <node_port> <key> <n>".
 * With "churn" every round is a new connection that only asks INFO server
 * and ROLE, then closes: "R <wall_ms> <node_port> <role>" (a burst of new
 * connections; role as the node answered it).
 * It stops after SECONDS (default 30) or on SIGTERM/SIGINT, then prints
 * "acked N errors M" on stdout.
 *
 * Environment (for servers in containers, which all listen on the same
 * port and have a password):
 *   HS_WRITER_NODE=run_id   identify nodes by INFO server's run_id instead
 *                           of tcp_port (a restarted server gets a new one);
 *                           <node_port> is then the run_id, "0" unknown
 *   HS_WRITER_PASSWORD      AUTH with it on each connection (never argv) */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

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

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop)
		;
}

/* The identity of the server behind C, written to ID: its tcp_port, or its
 * run_id when BY_RUN_ID. False when the server does not say (no server
 * behind the proxy, or AUTH needed). */
static bool
node_id(redisContext *c, bool by_run_id, char *id, size_t idlen)
{
	redisReply *r = redisCommand(c, "INFO server");
	const char *field = by_run_id ? "run_id:" : "tcp_port:";
	bool ok = false;

	if (r && r->type == REDIS_REPLY_STRING) {
		const char *p = strstr(r->str, field);

		if (p) {
			size_t n;

			p += strlen(field);
			n = strcspn(p, "\r\n");
			if (n > 0 && n < idlen) {
				memcpy(id, p, n);
				id[n] = '\0';
				ok = by_run_id || atoi(id) > 0;
			}
		}
	}
	if (r)
		freeReplyObject(r);
	return ok;
}

/* AUTH with PASSWORD on C; true without a password. */
static bool
authenticate(redisContext *c, const char *password)
{
	redisReply *r;
	bool ok;

	if (!password || !*password)
		return true;
	r = redisCommand(c, "AUTH %s", password);
	ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	return ok;
}

int
main(int argc, char **argv)
{
	struct timeval tv = { 0, 500000 };
	redisContext *c = NULL;
	long long deadline, acked = 0, errors = 0, seq = 0;
	const char *node_env = getenv("HS_WRITER_NODE");
	const char *password = getenv("HS_WRITER_PASSWORD");
	bool by_run_id = node_env && strcmp(node_env, "run_id") == 0;
	char node[64] = "0";
	int port, incr = 0, churn = 0;
	long interval = 0;
	FILE *out;

	if (argc < 5) {
		fprintf(stderr, "usage: hs_writer HOST PORT PREFIX OUTFILE [SECONDS] [INTERVAL_MS] [incr|churn]\n");
		return 2;
	}
	port = atoi(argv[2]);
	deadline = mono_ms() + 1000LL * (argc > 5 ? atol(argv[5]) : 30);
	if (argc > 6)
		interval = atol(argv[6]);
	if (argc > 7)
		incr = strcmp(argv[7], "incr") == 0;
	if (argc > 7)
		churn = strcmp(argv[7], "churn") == 0;
	out = fopen(argv[4], "w");
	if (!out) {
		perror(argv[4]);
		return 2;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	while (!stop && mono_ms() < deadline) {
		redisReply *r;
		char key[128];

		if (!c) {
			c = redisConnectWithTimeout(argv[1], port, tv);
			if (!c || c->err) {
				fprintf(out, "C %lld 0\n", wall_ms());
				if (c)
					redisFree(c);
				c = NULL;
				pause_ms(10);
				continue;
			}
			redisSetTimeout(c, tv);
			if (!authenticate(c, password) || !node_id(c, by_run_id, node, sizeof(node))) {
				/* No server behind the proxy right now. */
				fprintf(out, "C %lld 0\n", wall_ms());
				redisFree(c);
				c = NULL;
				pause_ms(10);
				continue;
			}
			fprintf(out, "C %lld %s\n", wall_ms(), node);
		}
		if (churn) {
			r = redisCommand(c, "ROLE");
			if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
			    r->element[0]->type == REDIS_REPLY_STRING) {
				fprintf(out, "R %lld %s %s\n", wall_ms(), node, r->element[0]->str);
				acked++;
			} else {
				errors++;
			}
			if (r)
				freeReplyObject(r);
			redisFree(c);
			c = NULL;
			if (interval > 0)
				pause_ms(interval);
			continue;
		}
		if (incr) {
			snprintf(key, sizeof(key), "%s", argv[3]);
			r = redisCommand(c, "INCR %s", key);
		} else {
			snprintf(key, sizeof(key), "%s:%lld", argv[3], seq);
			r = redisCommand(c, "SET %s %lld", key, seq);
		}
		if (incr && r && r->type == REDIS_REPLY_INTEGER) {
			fprintf(out, "A %lld %s %s %lld\n", wall_ms(), node, key, r->integer);
			acked++;
			seq++;
		} else if (!incr && r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
			fprintf(out, "A %lld %s %s\n", wall_ms(), node, key);
			acked++;
			seq++;
		} else {
			fprintf(out, "E %lld %s %s\n", wall_ms(), node,
				r && r->type == REDIS_REPLY_ERROR ? r->str : (c->errstr[0] ? c->errstr : "no reply"));
			errors++;
			seq++;
			if (!r || c->err) {
				redisFree(c);
				c = NULL;
			}
		}
		if (r)
			freeReplyObject(r);
		if (interval > 0)
			pause_ms(interval);
	}
	if (c)
		redisFree(c);
	fclose(out);
	printf("acked %lld errors %lld\n", acked, errors);
	return 0;
}
