/* bench_clients: the clients of `make bench`'s hold section, through one
 * HAProxy write port: one writer that writes every WRITER_MS and reconnects
 * after each error (a typical application client), and a pool of POOL
 * persistent connections that write every POOL_MS each (and reconnect
 * after an error, as a pool does).
 *
 *   bench_clients HOST PORT OUTFILE SECONDS WRITER_MS POOL POOL_MS
 *
 * One thread per connection; blocking hiredis with a 10 s deadline (longer
 * than the hold limit). OUTFILE gets one line per command:
 *   R <thread> <conn> <start_us> <latency_us> <ok> <first> <error>
 * thread 0 is the writer, 1..POOL the pool; conn counts the connections of
 * that thread; start_us is CLOCK_REALTIME in microseconds; ok is 1 for +OK;
 * first is 1 for the first command on a new connection (a "new
 * connection" succeeds when its first command does); error is "-" or the
 * reason without spaces. A TCP connect that fails is
 *   F <thread> <conn> <start_us> <reason>
 * Stops after SECONDS or on SIGTERM/SIGINT; prints "commands N failed M". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

static volatile sig_atomic_t stop;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *out;
static const char *host;
static int port;
static long long deadline_ms;
static long long total, failed;

struct worker {
	int id;
	long pace_ms;
	pthread_t th;
};

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long
now_us(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop)
		;
}

/* A reason as one word. */
static void
word(char *dst, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < len && i < 40; i++)
		dst[i] = (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') ? '_' : s[i];
	dst[i] = '\0';
	if (!i)
		snprintf(dst, len, "-");
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct timeval ctv = { 2, 0 }, tv = { 10, 0 };
	redisContext *c = NULL;
	long long seq = 0;
	int conn = 0, first = 0;
	char why[64];

	while (!stop && now_us(CLOCK_MONOTONIC) / 1000 < deadline_ms) {
		redisReply *r;
		long long t0, m0, lat;
		int ok;

		if (!c) {
			conn++;
			t0 = now_us(CLOCK_REALTIME);
			c = redisConnectWithTimeout(host, port, ctv);
			if (!c || c->err) {
				word(why, sizeof(why), c ? c->errstr : "out of memory");
				pthread_mutex_lock(&out_lock);
				fprintf(out, "F %d %d %lld %s\n", w->id, conn, t0, why);
				pthread_mutex_unlock(&out_lock);
				if (c)
					redisFree(c);
				c = NULL;
				pause_ms(10);
				continue;
			}
			redisSetTimeout(c, tv);
			first = 1;
		}
		t0 = now_us(CLOCK_REALTIME);
		m0 = now_us(CLOCK_MONOTONIC);
		r = redisCommand(c, "SET hold:%d:%lld %lld", w->id, seq, seq);
		lat = now_us(CLOCK_MONOTONIC) - m0;
		seq++;
		ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
		if (ok)
			snprintf(why, sizeof(why), "-");
		else
			word(why, sizeof(why), r && r->type == REDIS_REPLY_ERROR ? r->str : (c->errstr[0] ? c->errstr : "no_reply"));
		pthread_mutex_lock(&out_lock);
		fprintf(out, "R %d %d %lld %lld %d %d %s\n", w->id, conn, t0, lat, ok, first, why);
		total++;
		failed += !ok;
		pthread_mutex_unlock(&out_lock);
		first = 0;
		if (!r || c->err || !ok) {
			/* reconnect after every error (READONLY included) */
			redisFree(c);
			c = NULL;
		}
		if (r)
			freeReplyObject(r);
		pause_ms(w->pace_ms);
	}
	if (c)
		redisFree(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	int pool, i;
	long writer_ms, pool_ms;
	struct sigaction sa;

	if (argc != 8) {
		fprintf(stderr, "usage: bench_clients HOST PORT OUTFILE SECONDS WRITER_MS POOL POOL_MS\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	deadline_ms = now_us(CLOCK_MONOTONIC) / 1000 + 1000LL * atol(argv[4]);
	writer_ms = atol(argv[5]);
	pool = atoi(argv[6]);
	pool_ms = atol(argv[7]);
	if (pool < 0 || pool > 1000)
		return 2;
	out = fopen(argv[3], "w");
	if (!out) {
		perror(argv[3]);
		return 2;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;   /* no SA_RESTART: a blocked read returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ws = calloc((size_t)pool + 1, sizeof(*ws));
	if (!ws)
		return 2;
	for (i = 0; i <= pool; i++) {
		ws[i].id = i;
		ws[i].pace_ms = i == 0 ? writer_ms : pool_ms;
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "cannot start thread %d\n", i);
			stop = 1;
			pool = i - 1;
			break;
		}
	}
	for (i = 0; i <= pool; i++)
		pthread_join(ws[i].th, NULL);
	free(ws);
	fclose(out);
	printf("commands %lld failed %lld\n", total, failed);
	return 0;
}
