/* hasentinel: keeps HAProxy's write and read backends in step with Redis
 * Sentinel. This file: options, start-up order, signals, the loop. */
#include <errno.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fence.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "oldworkers.h"
#include "relay.h"
#include "report.h"
#include "resolve.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef HASENTINEL_VERSION
#define HASENTINEL_VERSION "unknown"
#endif

#define DEFAULT_CONFIG SYSCONFDIR "/hasentinel/hasentinel.conf"

extern char **environ;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: hasentinel [-c FILE] [-o KEY=VALUE]... [-t] [-v] [-V]\n"
		"  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ", if present)\n"
		"  -o, --option K=V     set a configuration key (not the passwords)\n"
		"  -t, --test-config    check the configuration and exit (0 valid, 1 not)\n"
		"  -v, --verbose        log-level debug\n"
		"  -V, --version        print the version\n"
		"Environment: HASENTINEL_<KEY> for every key (HASENTINEL_SENTINEL_PASSWORD, ...).\n"
		"See hasentinel(8) and hasentinel.conf(5).\n");
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void
on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct agent *ag = w->data;

	char err[256];
	int n;

	(void)loop;
	(void)revents;
	/* Password rotation: the next AUTH of every link uses the new files. */
	n = config_reload_secrets(&ag->cfg, err, sizeof(err));
	if (n < 0)
		log_err("SIGHUP: %s: the passwords in use are kept", err);
	else if (n > 0)
		log_info("SIGHUP: %d password file(s) read again, used from the next connection", n);
	log_info("SIGHUP: resync with the Sentinels and HAProxy");
	ag->hup_t0 = now_mono_ms();
	ag->hup_sgen = sentinels_resync(ag->sentinels);
	ag->hup_rgen = rec_resync(ag->rec);
	ev_prepare_start(loop, &ag->hup_check);
}

/* Before the loop waits, while a SIGHUP's resync runs (so every change of the
 * iteration is seen, and the answer is not left until the next event): once every
 * Sentinel has answered a round and HAProxy has been read whole and holds
 * what the model wants, say how long it took. */
static void
on_hup_check(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct agent *ag = w->data;

	(void)revents;
	if (!sentinels_resync_done(ag->sentinels, ag->hup_sgen) || !rec_resync_done(ag->rec, ag->hup_rgen))
		return;
	ev_prepare_stop(loop, w);
	log_info("SIGHUP: resync done in %lld ms: every Sentinel asked, every backend read, HAProxy consistent",
		 (long long)(now_mono_ms() - ag->hup_t0));
}

/* Last before the loop waits: the iteration's log lines in one write. */
static void
on_log_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	log_flush();
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *ag = w->data;

	(void)loop;
	(void)revents;
	rec_tick(ag->rec);
	fence_tick(ag->fence);
}

/* write-lease (topo.h F3): every lease / TOPO_LEASE_RENEW_DIV, the leases
 * are evaluated and every Sentinel is sent one renewal ping (INFO server). */
#define LEASE_TICK_UNKNOWN_MS 100   /* while no lease length is known yet */
#define LEASE_TICK_MIN_MS 10

static void
on_lease_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct agent *ag = w->data;
	int64_t lease = rec_lease_tick(ag->rec), iv;

	(void)revents;
	sentinels_ping(ag->sentinels);
	iv = lease > 0 ? lease / TOPO_LEASE_RENEW_DIV : LEASE_TICK_UNKNOWN_MS;
	if (iv < LEASE_TICK_MIN_MS)
		iv = LEASE_TICK_MIN_MS;
	if (iv > ag->cfg.resync_interval_ms)
		iv = ag->cfg.resync_interval_ms;
	if (w->repeat != iv / 1000.0) {
		w->repeat = iv / 1000.0;
		ev_timer_again(loop, w);
	}
}

static void
cb_group_updated(void *arg, struct group *g)
{
	struct agent *ag = arg;

	rec_group_updated(ag->rec, g);
	fence_track(ag->fence, g);
}

/* The resolver: an announced name resolves elsewhere, or no longer. */
static void
cb_name_changed(void *arg, const char *name)
{
	struct agent *ag = arg;

	if (ag->rec)
		rec_name_changed(ag->rec, name);
}

/* fence.c saw the master die or come back: apply the rule (topo.h F1-F2). */
static void
cb_fence_changed(void *arg, struct group *g)
{
	struct agent *ag = arg;

	rec_group_updated(ag->rec, g);
}

/* Passwords given in the environment are wiped from it once read, so they
 * do not stay readable in /proc/PID/environ for the daemon's lifetime. */
static void
wipe_secret_env(void)
{
	static const char *const secret[] = { "HASENTINEL_SENTINEL_PASSWORD=", "HASENTINEL_REDIS_PASSWORD=" };

	for (char **e = environ; e && *e; e++) {
		for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
			size_t n = strlen(secret[i]);

			if (strncmp(*e, secret[i], n) == 0) {
				volatile char *v = *e + n;

				while (*v)
					*v++ = '\0';
			}
		}
	}
}

static int
load_config(struct config *cfg, const char *file, int file_given, char **opts, int nopts)
{
	char err[512];

	config_init(cfg);
	if (file_given || access(file, F_OK) == 0) {
		if (config_load_file(cfg, file, err, sizeof(err)) < 0)
			goto fail;
	}
	if (config_apply_env(cfg, environ, err, sizeof(err)) < 0)
		goto fail;
	wipe_secret_env();
	for (int i = 0; i < nopts; i++) {
		char *eq = strchr(opts[i], '=');

		if (!eq) {
			snprintf(err, sizeof(err), "-o: expected KEY=VALUE, got '%s'", opts[i]);
			goto fail;
		}
		*eq = '\0';
		if (config_set(cfg, opts[i], eq + 1, CONF_SRC_ARGV, "-o", 0, err, sizeof(err)) < 0)
			goto fail;
	}
	if (config_finish(cfg, err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "hasentinel: %s\n", err);
	return -1;
}

static void
make_parent_dir(const char *path)
{
	char dir[512];
	char *slash;

	if (str_copy(dir, path, sizeof(dir)) >= sizeof(dir))
		return;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", dir, strerror(errno));
}

static int
write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		log_err("pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : -1;
}

/* The old workers keep only the write target the current worker has. */
static int
oldw_want(void *arg, const struct group *g, char *buf, size_t len)
{
	struct rec_hap_view v;

	if (!rec_group_haproxy(arg, g, &v))
		return 0;
	str_copy(buf, v.write_ready, len);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "option", required_argument, NULL, 'o' },
		{ "test-config", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct agent ag;
	const struct sentinel_cbs cbs = { .group_updated = cb_group_updated, .event = relay_sentinel_event };
	const char *file = DEFAULT_CONFIG;
	int file_given = 0, test_only = 0, verbose = 0, nopts = 0, c, rc = 1;
	char **opts = calloc((size_t)argc, sizeof(char *));
	char err[512];
	double iv;

	if (!opts)
		return 1;
#ifdef __GLIBC__
	/* Big transient buffers (a Sentinel's SENTINEL MASTERS answer and its
	 * reply arena, a resync's plan) get mappings of their own, given back
	 * when freed. A fixed threshold: glibc's moving one rises with the
	 * first big buffer freed, and the later ones stay in the heap, resident
	 * between the rounds that use them. */
	(void)mallopt(M_MMAP_THRESHOLD, 64 * 1024);
#endif
	while ((c = getopt_long(argc, argv, "c:o:tvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			file_given = 1;
			break;
		case 'o':
			opts[nopts++] = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("hasentinel %s\n", HASENTINEL_VERSION);
			free(opts);
			return 0;
		case 'h':
			usage(stdout);
			free(opts);
			return 0;
		default:
			usage(stderr);
			free(opts);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(opts);
		return 2;
	}
	if (load_config(&ag.cfg, file, file_given, opts, nopts) < 0) {
		config_free(&ag.cfg);
		free(opts);
		return 1;
	}
	free(opts);
	if (test_only) {
		printf("configuration is valid (%s%s)\n", file_given || access(file, F_OK) == 0 ? file : "no file",
		       ", environment, options");
		config_free(&ag.cfg);
		return 0;
	}
	if (verbose)
		ag.cfg.log_level = LOG_LVL_DEBUG;
	log_open(ag.cfg.syslog_ident, ag.cfg.syslog, ag.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	ag.loop = ev_default_loop(EVFLAG_AUTO);
	if (!ag.loop) {
		log_err("cannot start the event loop");
		goto out;
	}
	ag.started_wall_ms = now_wall_ms();
	ag.started_mono_ms = now_mono_ms();
	srand((unsigned)(ag.started_wall_ms ^ getpid()));

	/* A view counts for three resync intervals plus a command deadline. */
	topo_init(&ag.topo, ag.cfg.nsentinels,
		  3 * (int64_t)ag.cfg.resync_interval_ms + ag.cfg.command_timeout_ms);
	ag.hap = hap_client_new(ag.loop, ag.cfg.haproxy_socket, ag.cfg.haproxy_timeout_ms, err, sizeof(err));
	if (!ag.hap) {
		log_err("haproxy-socket: %s", err);
		goto out;
	}
	journal_init(&ag.journal);
	ag.journal.on_event = relay_journal_entry;
	ag.journal.on_event_arg = &ag;
	ag.rec = rec_new(ag.loop, &ag.cfg, &ag.topo, ag.hap);
	if (ag.rec)
		rec_set_journal(ag.rec, &ag.journal);
	/* Hostnames Sentinel announces (resolve-hostnames): resolved here. */
	ag.resolver = resolver_new(ag.loop, ag.cfg.resolver, ag.cfg.resolve_ttl_min_ms, ag.cfg.resolve_ttl_max_ms,
				   cb_name_changed, &ag, err, sizeof(err));
	/* Not fatal: with IP literals nothing needs it; names then never
	 * resolve (unknown: never routed), and status says so. */
	if (!ag.resolver)
		log_err("resolver: %s: host names Sentinel announces will not be routed", err);
	if (ag.rec)
		rec_set_resolver(ag.rec, ag.resolver);
	ag.sentinels = sentinels_new(ag.loop, &ag.cfg, &ag.topo, &cbs, &ag);
	ag.fence = fence_new(ag.loop, &ag.cfg, &ag.topo, cb_fence_changed, &ag);
	if (!ag.rec || !ag.sentinels || !ag.fence) {
		log_err("out of memory");
		goto out;
	}
	if (ag.cfg.haproxy_master_socket) {
		ag.oldw = oldw_new(ag.loop, &ag.cfg, &ag.topo, oldw_want, ag.rec, err, sizeof(err));
		if (!ag.oldw) {
			log_err("haproxy-master-socket: %s", err);
			goto out;
		}
		rec_set_oldworkers(ag.rec, ag.oldw);
	}
	if (ag.cfg.status_socket) {
		make_parent_dir(ag.cfg.status_socket);
		ag.status = status_server_new(ag.loop, ag.cfg.status_socket, ag.cfg.status_socket_mode,
					      report_handle, &ag, err, sizeof(err));
		if (!ag.status) {
			log_err("status socket: %s", err);
			goto out;
		}
	}
	if (ag.cfg.metrics_listen) {
		ag.metrics = metrics_server_new(ag.loop, ag.cfg.metrics_listen, report_metrics_cb, &ag,
						err, sizeof(err));
		if (!ag.metrics) {
			log_err("%s", err);
			goto out;
		}
	}
	if (ag.cfg.notify_exec) {
		ag.notify = notifier_new(ag.loop, ag.cfg.notify_exec, ag.cfg.notify_timeout_ms);
		if (!ag.notify) {
			log_err("out of memory");
			goto out;
		}
	}
	if (ag.cfg.pidfile && write_pidfile(ag.cfg.pidfile) < 0)
		goto out;

	ev_signal_init(&ag.sig_term, on_stop, SIGTERM);
	ev_signal_init(&ag.sig_int, on_stop, SIGINT);
	ev_signal_init(&ag.sig_hup, on_hup, SIGHUP);
	ag.sig_hup.data = &ag;
	ev_prepare_init(&ag.hup_check, on_hup_check);
	ag.hup_check.data = &ag;
	ev_prepare_init(&ag.log_flush, on_log_flush);
	ev_set_priority(&ag.log_flush, EV_MINPRI);
	ev_prepare_start(ag.loop, &ag.log_flush);
	log_set_buffered(1);
	ev_signal_start(ag.loop, &ag.sig_term);
	ev_signal_start(ag.loop, &ag.sig_int);
	ev_signal_start(ag.loop, &ag.sig_hup);
	iv = ag.cfg.resync_interval_ms / 1000.0;
	ev_timer_init(&ag.tick, on_tick, iv, iv);
	ag.tick.data = &ag;
	ev_timer_start(ag.loop, &ag.tick);
	if (ag.cfg.write_lease) {
		ev_timer_init(&ag.lease_tick, on_lease_tick, LEASE_TICK_UNKNOWN_MS / 1000.0,
			      LEASE_TICK_UNKNOWN_MS / 1000.0);
		ag.lease_tick.data = &ag;
		ev_timer_start(ag.loop, &ag.lease_tick);
	}

	log_info("hasentinel %s starting: %d sentinel(s), haproxy %s, status %s", HASENTINEL_VERSION,
		 ag.cfg.nsentinels, ag.cfg.haproxy_socket,
		 ag.cfg.status_socket ? ag.cfg.status_socket : "off");
	sentinels_start(ag.sentinels);
	rec_start(ag.rec);
	ev_run(ag.loop, 0);
	rc = 0;
	log_info("stopped");
out:
	if (ag.loop) {
		ev_timer_stop(ag.loop, &ag.tick);
		ev_timer_stop(ag.loop, &ag.lease_tick);
		ev_signal_stop(ag.loop, &ag.sig_term);
		ev_signal_stop(ag.loop, &ag.sig_int);
		ev_signal_stop(ag.loop, &ag.sig_hup);
		ev_prepare_stop(ag.loop, &ag.hup_check);
		ev_prepare_stop(ag.loop, &ag.log_flush);
	}
	log_set_buffered(0);
	ag.journal.on_event = NULL;
	metrics_server_free(ag.metrics);
	notifier_free(ag.notify);
	status_server_free(ag.status);
	sentinels_free(ag.sentinels);
	fence_free(ag.fence);
	resolver_free(ag.resolver);
	rec_free(ag.rec);
	oldw_free(ag.oldw);
	hap_client_free(ag.hap);
	topo_free(&ag.topo);
	journal_free(&ag.journal);
	if (ag.cfg.pidfile && rc == 0)
		unlink(ag.cfg.pidfile);
	log_close();
	config_free(&ag.cfg);
	if (ag.loop)
		ev_loop_destroy(ag.loop);
	return rc;
}
