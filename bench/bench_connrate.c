/* bench_connrate: connection setup rate through two ports, A and B (e.g.
 * HAProxy's write port with the hold action and without it), in many short
 * rounds that alternate between them (A B, B A, A B, ...), so that the
 * machine's load weighs on both alike.
 *
 *   bench_connrate HOST PORT_A PID_A PORT_B PID_B ROUNDS ROUND_MS THREADS
 *
 * In a round, THREADS threads each loop: connect, send PING, read up to
 * "+PONG\r\n", close; for ROUND_MS. PID_A / PID_B are the processes serving
 * each port (HAProxy's worker): their CPU time (utime + stime from
 * /proc/PID/stat) is read before and after every round. Prints one line per
 * round and one summary line per port:
 *   round <i> <A|B> <connections> <elapsed_us> <cpu_ticks> <failures>
 *   total <A|B> <connections> <seconds> <cpu_ticks> <us_cpu_per_conn> <conn_per_s>
 * and the median over the rounds of A's connections/s over B's, and A's CPU
 * time per connection over B's:
 *   ratio <median A/B of conn/s> <A/B of CPU per connection>
 * CPU per connection does not depend on how busy the machine is, only on
 * the work the server does per connection. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct side {
	int port;
	long pid;
	long long conns, us, ticks, fails;
	double *rate;   /* conn/s per round */
};

struct worker {
	pthread_t th;
	int port;
	long long until_us;
	long long conns, fails;
};

static struct in_addr host;

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* utime + stime of a process, in clock ticks; -1 when unreadable. */
static long long
cpu_ticks(long pid)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	FILE *f;
	size_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields start after its ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* One connection: connect, PING, +PONG, close. 0 on success. */
static int
one(int port)
{
	struct sockaddr_in sa;
	char buf[64];
	size_t got = 0;
	int fd, one_ = 1, rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr = host;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof(one_));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	if (write(fd, "PING\r\n", 6) != 6)
		goto out;
	while (got < 7) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	rc = memcmp(buf, "+PONG\r\n", 7) == 0 ? 0 : -1;
out:
	close(fd);
	return rc;
}

static void *
loop(void *arg)
{
	struct worker *w = arg;

	while (now_us() < w->until_us) {
		if (one(w->port) == 0)
			w->conns++;
		else
			w->fails++;
	}
	return NULL;
}

static void
round_on(struct side *s, int i, const char *name, long round_ms, int nth, struct worker *ws)
{
	long long t0, t1, c0, c1, conns = 0, fails = 0;

	c0 = cpu_ticks(s->pid);
	t0 = now_us();
	for (int k = 0; k < nth; k++) {
		ws[k] = (struct worker){ .port = s->port, .until_us = t0 + round_ms * 1000 };
		if (pthread_create(&ws[k].th, NULL, loop, &ws[k]) != 0) {
			perror("pthread_create");
			exit(1);
		}
	}
	for (int k = 0; k < nth; k++) {
		pthread_join(ws[k].th, NULL);
		conns += ws[k].conns;
		fails += ws[k].fails;
	}
	t1 = now_us();
	c1 = cpu_ticks(s->pid);
	s->conns += conns;
	s->fails += fails;
	s->us += t1 - t0;
	if (c0 >= 0 && c1 >= 0)
		s->ticks += c1 - c0;
	s->rate[i] = t1 > t0 ? conns * 1e6 / (double)(t1 - t0) : 0;
	printf("round %d %s %lld %lld %lld %lld\n", i, name, conns, t1 - t0, c1 - c0, fails);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	struct side a = { 0 }, b = { 0 };
	struct worker *ws;
	double *ratio, hz, cpa, cpb;
	long round_ms;
	int rounds, nth;

	if (argc != 9 || inet_pton(AF_INET, argv[1], &host) != 1) {
		fprintf(stderr, "usage: bench_connrate HOST PORT_A PID_A PORT_B PID_B ROUNDS ROUND_MS THREADS\n");
		return 2;
	}
	a.port = atoi(argv[2]);
	a.pid = atol(argv[3]);
	b.port = atoi(argv[4]);
	b.pid = atol(argv[5]);
	rounds = atoi(argv[6]);
	round_ms = atol(argv[7]);
	nth = atoi(argv[8]);
	if (rounds < 1 || round_ms < 1 || nth < 1 || cpu_ticks(a.pid) < 0 || cpu_ticks(b.pid) < 0) {
		fprintf(stderr, "bench_connrate: bad arguments or no /proc/PID/stat\n");
		return 2;
	}
	a.rate = calloc((size_t)rounds, sizeof(double));
	b.rate = calloc((size_t)rounds, sizeof(double));
	ratio = calloc((size_t)rounds, sizeof(double));
	ws = calloc((size_t)nth, sizeof(*ws));
	if (!a.rate || !b.rate || !ratio || !ws)
		return 1;
	/* Warm both up (first connections, Lua states, caches). */
	for (int k = 0; k < 200; k++) {
		(void)one(a.port);
		(void)one(b.port);
	}
	for (int i = 0; i < rounds; i++) {
		if (i % 2 == 0) {
			round_on(&a, i, "A", round_ms, nth, ws);
			round_on(&b, i, "B", round_ms, nth, ws);
		} else {
			round_on(&b, i, "B", round_ms, nth, ws);
			round_on(&a, i, "A", round_ms, nth, ws);
		}
		ratio[i] = b.rate[i] > 0 ? a.rate[i] / b.rate[i] : 0;
	}
	hz = (double)sysconf(_SC_CLK_TCK);
	cpa = a.conns ? a.ticks * 1e6 / hz / (double)a.conns : 0;
	cpb = b.conns ? b.ticks * 1e6 / hz / (double)b.conns : 0;
	printf("total A %lld %.2f %lld %.2f %.0f %lld\n", a.conns, a.us / 1e6, a.ticks, cpa,
	       a.us ? a.conns * 1e6 / (double)a.us : 0, a.fails);
	printf("total B %lld %.2f %lld %.2f %.0f %lld\n", b.conns, b.us / 1e6, b.ticks, cpb,
	       b.us ? b.conns * 1e6 / (double)b.us : 0, b.fails);
	qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
	printf("ratio %.3f %.3f\n",
	       rounds % 2 ? ratio[rounds / 2] : (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2,
	       cpb > 0 ? cpa / cpb : 0);
	free(a.rate);
	free(b.rate);
	free(ratio);
	free(ws);
	return 0;
}
