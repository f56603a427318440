/* fake_sentinel: a stand-in Sentinel for tests and benchmarks, speaking RESP2
 * on 127.0.0.1. It answers the queries hasentinel sends and publishes events
 * to PSUBSCRIBE * clients, from a fixed, scripted view of the world:
 *
 *   fake_sentinel -p PORT [-n GROUPS] [-b BASE_PORT] [-r REPLICAS] [-e EPOCH]
 *                 [-m NAME] [-i IP] [-g] [-s OLD_PORT:NEW_PORT]
 *
 *   -n  number of master groups (default 1); group i is named NAME (i == 0
 *       and -n 1) or NAME-i; its master is 127.0.0.1:BASE_PORT+i*(1+REPLICAS),
 *       its replicas the ports right after it
 *   -e  the config epoch it reports (default 0)
 *   -w  wrap: node ports repeat every WRAP ports (groups share stand-in
 *       nodes; for more groups than free ports)
 *   -i  the IP it announces for every node (default 127.0.0.1; any text, to
 *       test what the agent does with a hostile one)
 *   -g  garbage: every 100 ms publish malformed events and an oversized one
 *   -s  replay: on every subscription publish an old "+switch-master NAME
 *       127.0.0.1 OLD 127.0.0.1 NEW" (the view it answers stays at -e)
 *   SIGUSR1: every group fails over to its first replica, the epoch goes up
 *       by one, and "+switch-master" is published for each group
 *
 * Queries: PING, AUTH, INFO, SENTINEL MASTERS|MASTER|GET-MASTER-ADDR-BY-NAME|
 * REPLICAS|SLAVES|SENTINELS, PSUBSCRIBE. Anything else: -ERR. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define INBUF 65536

struct client {
	int fd;
	char in[INBUF];
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	int subscribed;
};

static struct client clients[MAX_CLIENTS];
static int wrap, ngroups = 1, nreplicas = 2, base_port = 7000, garbage, replay_old, replay_new;
static unsigned long long epoch;
static const char *mname = "mymaster";
static const char *aip = "127.0.0.1";
static int *master_idx;   /* per group: 0 = original master, k = replica k-1 promoted */
static volatile sig_atomic_t flip;

static void
out_raw(struct client *c, const char *s, size_t n)
{
	if (c->outlen + n > c->outcap) {
		size_t cap = (c->outlen + n) * 2;
		char *no = realloc(c->out, cap);

		if (!no)
			abort();
		c->out = no;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void
outf(struct client *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out_raw(c, buf, (size_t)n);
}

static void
out_bulk(struct client *c, const char *s)
{
	outf(c, "$%zu\r\n", strlen(s));
	out_raw(c, s, strlen(s));
	out_raw(c, "\r\n", 2);
}

static void
group_name(int i, char *buf, size_t len)
{
	if (ngroups == 1)
		snprintf(buf, len, "%s", mname);
	else
		snprintf(buf, len, "%s-%d", mname, i);
}

static int
node_port(int g, int k)   /* k = 0: original master, k >= 1: replica k */
{
	int off = g * (1 + nreplicas) + k;

	return base_port + (wrap > 0 ? off % wrap : off);
}

/* The group named NAME, or -1. Constant time: the group's number is in its
 * name (a scan of 10 000 names per query would make the stand-in, not the
 * agent, the bottleneck of the scale benchmark). */
static int
find_group(const char *name)
{
	size_t ml = strlen(mname);
	char buf[128], *end;
	long i;

	if (ngroups == 1)
		return strcmp(name, mname) == 0 ? 0 : -1;
	if (strncmp(name, mname, ml) != 0 || name[ml] != '-' || name[ml + 1] < '0' || name[ml + 1] > '9')
		return -1;
	i = strtol(name + ml + 1, &end, 10);
	if (*end || i < 0 || i >= ngroups)
		return -1;
	group_name((int)i, buf, sizeof(buf));
	return strcmp(buf, name) == 0 ? (int)i : -1;
}

static void
out_master(struct client *c, int g)
{
	char name[128], port[16], ep[32];

	group_name(g, name, sizeof(name));
	snprintf(port, sizeof(port), "%d", node_port(g, master_idx[g]));
	snprintf(ep, sizeof(ep), "%llu", epoch);
	outf(c, "*12\r\n");
	out_bulk(c, "name"); out_bulk(c, name);
	out_bulk(c, "ip"); out_bulk(c, aip);
	out_bulk(c, "port"); out_bulk(c, port);
	out_bulk(c, "flags"); out_bulk(c, "master");
	out_bulk(c, "config-epoch"); out_bulk(c, ep);
	out_bulk(c, "num-slaves"); out_bulk(c, "2");
}

static void
out_replicas(struct client *c, int g)
{
	char port[16], mport[16], name[64];

	outf(c, "*%d\r\n", nreplicas);
	for (int k = 0; k <= nreplicas; k++) {
		if (k == master_idx[g])
			continue;
		snprintf(port, sizeof(port), "%d", node_port(g, k));
		snprintf(mport, sizeof(mport), "%d", node_port(g, master_idx[g]));
		snprintf(name, sizeof(name), "%s:%s", aip, port);
		outf(c, "*18\r\n");
		out_bulk(c, "name"); out_bulk(c, name);
		out_bulk(c, "ip"); out_bulk(c, aip);
		out_bulk(c, "port"); out_bulk(c, port);
		out_bulk(c, "flags"); out_bulk(c, "slave");
		out_bulk(c, "master-link-status"); out_bulk(c, "ok");
		out_bulk(c, "master-host"); out_bulk(c, aip);
		out_bulk(c, "master-port"); out_bulk(c, mport);
		out_bulk(c, "role-reported"); out_bulk(c, "slave");
		out_bulk(c, "slave-priority"); out_bulk(c, "100");
	}
}

static void
publish(const char *chan, const char *payload, size_t plen)
{
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];

		if (c->fd < 0 || !c->subscribed)
			continue;
		outf(c, "*4\r\n");
		out_bulk(c, "pmessage");
		out_bulk(c, "*");
		out_bulk(c, chan);
		outf(c, "$%zu\r\n", plen);
		out_raw(c, payload, plen);
		out_raw(c, "\r\n", 2);
	}
}

static void
command(struct client *c, int argc, char **argv)
{
	int g;

	if (argc == 0)
		return;
	if (!strcasecmp(argv[0], "PING")) {
		outf(c, "+PONG\r\n");
	} else if (!strcasecmp(argv[0], "AUTH")) {
		outf(c, "+OK\r\n");
	} else if (!strcasecmp(argv[0], "INFO")) {
		char info[256];

		snprintf(info, sizeof(info), "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:0\r\n", ngroups);
		out_bulk(c, info);
	} else if (!strcasecmp(argv[0], "PSUBSCRIBE") && argc == 2) {
		c->subscribed = 1;
		outf(c, "*3\r\n");
		out_bulk(c, "psubscribe");
		out_bulk(c, argv[1]);
		outf(c, ":1\r\n");
		if (replay_old) {
			char p[256];

			snprintf(p, sizeof(p), "%s %s %d %s %d", mname, aip, replay_old, aip, replay_new);
			publish("+switch-master", p, strlen(p));
		}
	} else if (!strcasecmp(argv[0], "SENTINEL") && argc >= 2) {
		if (!strcasecmp(argv[1], "MASTERS")) {
			outf(c, "*%d\r\n", ngroups);
			for (g = 0; g < ngroups; g++)
				out_master(c, g);
		} else if (argc == 3 && (g = find_group(argv[2])) < 0) {
			if (!strcasecmp(argv[1], "GET-MASTER-ADDR-BY-NAME"))
				outf(c, "*-1\r\n");
			else
				outf(c, "-ERR No such master with that name\r\n");
		} else if (argc == 3 && !strcasecmp(argv[1], "MASTER")) {
			out_master(c, g);
		} else if (argc == 3 && !strcasecmp(argv[1], "GET-MASTER-ADDR-BY-NAME")) {
			char port[16];

			snprintf(port, sizeof(port), "%d", node_port(g, master_idx[g]));
			outf(c, "*2\r\n");
			out_bulk(c, aip);
			out_bulk(c, port);
		} else if (argc == 3 && (!strcasecmp(argv[1], "REPLICAS") || !strcasecmp(argv[1], "SLAVES"))) {
			out_replicas(c, g);
		} else if (argc == 3 && !strcasecmp(argv[1], "SENTINELS")) {
			outf(c, "*0\r\n");
		} else {
			outf(c, "-ERR Unknown sentinel subcommand\r\n");
		}
	} else {
		outf(c, "-ERR unknown command\r\n");
	}
}

/* Parse complete RESP multibulk commands from the input; -1 on a protocol error. */
static int
parse(struct client *c)
{
	size_t pos = 0;

	while (pos < c->inlen) {
		char *argv[16];
		int argc, n;
		size_t p = pos;
		char *nl;

		if (c->in[p] != '*')
			return -1;
		nl = memchr(c->in + p, '\n', c->inlen - p);
		if (!nl)
			break;
		n = atoi(c->in + p + 1);
		if (n < 0 || n > 16)
			return -1;
		p = (size_t)(nl - c->in) + 1;
		for (argc = 0; argc < n; argc++) {
			int len;

			if (p >= c->inlen)
				goto incomplete;
			if (c->in[p] != '$')
				return -1;
			nl = memchr(c->in + p, '\n', c->inlen - p);
			if (!nl)
				goto incomplete;
			len = atoi(c->in + p + 1);
			if (len < 0 || len > 4096)
				return -1;
			p = (size_t)(nl - c->in) + 1;
			if (p + (size_t)len + 2 > c->inlen)
				goto incomplete;
			argv[argc] = c->in + p;
			argv[argc][len] = '\0';
			p += (size_t)len + 2;
		}
		command(c, argc, argv);
		pos = p;
	}
incomplete:
	memmove(c->in, c->in + pos, c->inlen - pos);
	c->inlen -= pos;
	return 0;
}

static void
drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
	c->outlen = c->outcap = 0;
	c->inlen = 0;
	c->subscribed = 0;
}

static void
on_usr1(int sig)
{
	(void)sig;
	flip = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int lfd, opt, port = 0, one = 1;
	long long last_garbage = 0;

	while ((opt = getopt(argc, argv, "p:n:b:r:e:m:i:gs:w:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'n': ngroups = atoi(optarg); break;
		case 'b': base_port = atoi(optarg); break;
		case 'r': nreplicas = atoi(optarg); break;
		case 'e': epoch = strtoull(optarg, NULL, 10); break;
		case 'm': mname = optarg; break;
		case 'i': aip = optarg; break;
		case 'g': garbage = 1; break;
		case 'w': wrap = atoi(optarg); break;
		case 's':
			if (sscanf(optarg, "%d:%d", &replay_old, &replay_new) != 2)
				return 2;
			break;
		default:
			fprintf(stderr, "usage: fake_sentinel -p PORT [-n GROUPS] [-b BASE_PORT] [-r REPLICAS] "
				"[-e EPOCH] [-m NAME] [-g] [-s OLD:NEW]\n");
			return 2;
		}
	}
	if (port <= 0 || ngroups < 1 || nreplicas < 1)
		return 2;
	master_idx = calloc((size_t)ngroups, sizeof(int));
	if (!master_idx)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		perror("fake_sentinel: bind");
		return 1;
	}
	for (;;) {
		struct pollfd pfd[MAX_CLIENTS + 1];
		int map[MAX_CLIENTS + 1], n = 0;
		struct timespec ts;
		long long now;

		if (flip) {
			char p[256], name[128];

			flip = 0;
			epoch++;
			for (int g = 0; g < ngroups; g++) {
				int old = node_port(g, master_idx[g]);

				master_idx[g] = master_idx[g] == 1 ? 0 : 1;
				group_name(g, name, sizeof(name));
				snprintf(p, sizeof(p), "%s %s %d %s %d", name, aip, old, aip,
					 node_port(g, master_idx[g]));
				publish("+switch-master", p, strlen(p));
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (garbage && now - last_garbage >= 100) {
			static char big[8192];

			last_garbage = now;
			publish("+switch-master", "mymaster 127.0.0.1", 18);
			publish("+sdown", "slave [::1 ::1 99999 @", 22);
			publish("bogus", "\x01\x02\xff", 3);
			memset(big, 'x', sizeof(big));
			publish("+odown", big, sizeof(big));
		}
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (clients[i].fd < 0)
				continue;
			pfd[n].fd = clients[i].fd;
			pfd[n].events = POLLIN | (clients[i].outlen ? POLLOUT : 0);
			map[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, 50) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (map[k] < 0) {
				int fd = accept(lfd, NULL, NULL);
				int slot = -1;

				if (fd < 0)
					continue;
				for (int i = 0; i < MAX_CLIENTS; i++)
					if (clients[i].fd < 0) {
						slot = i;
						break;
					}
				if (slot < 0) {
					close(fd);
					continue;
				}
				clients[slot].fd = fd;
				continue;
			}
			struct client *c = &clients[map[k]];

			if (pfd[k].revents & POLLIN) {
				ssize_t r = read(c->fd, c->in + c->inlen, INBUF - c->inlen - 1);

				if (r <= 0) {
					drop(c);
					continue;
				}
				c->inlen += (size_t)r;
				if (parse(c) < 0) {
					drop(c);
					continue;
				}
			}
			if (c->fd >= 0 && c->outlen && (pfd[k].revents & POLLOUT)) {
				ssize_t w = write(c->fd, c->out, c->outlen);

				if (w < 0) {
					drop(c);
					continue;
				}
				memmove(c->out, c->out + w, c->outlen - (size_t)w);
				c->outlen -= (size_t)w;
			}
		}
	}
}
