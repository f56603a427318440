/* The reconciler against an admin socket of the test's own (a unix socket
 * that answers as HAProxy 2.6's runtime API does, and keeps the slots'
 * state) and stand-in Redis nodes that answer ROLE with master:
 *  - a group is read once, then a switch is planned from the mirror: the
 *    new master is ready with no read in between, and the write backend
 *    never has two ready slots, after any command;
 *  - a failed command makes the mirror unknown: the next change is read
 *    first, and ends right;
 *  - a slot changed behind the agent's back while it plans from its mirror
 *    (another writer) is put in maint before the new master is ready;
 *  - a read asked for before a switch planned from the mirror, and answered
 *    after it, is not planned from for that group: it is older than the
 *    switch's commands (nothing is sent twice, nothing undone). */
#define _GNU_SOURCE 1  /* memmem, strsep, mkdtemp under -std=c11 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "haproxy.h"
#include "reconcile.h"
#include "topo.h"
#include "util.h"
#include "unit_net.h"
#include "unit_main.h"

#define NSLOT 4

/* ---------------------------------------------------------------- the admin socket */

struct fslot {
	char addr[64];
	int port;
	unsigned admin;   /* HAP_ADMF_* */
};

static struct fslot wslot[NSLOT], rslot[NSLOT];
static int afd = -1;             /* listening */
static int watch_fd = -1;        /* the agent's "prompt" connection */
static char sock_path[96], dir[64];
static int reads;                /* "show servers state" answered */
static int commands;             /* "set server" and "shutdown" answered */
static int max_write_ready;      /* the most ready write slots after any command */
static int ready_beside;         /* write slots made ready while another one was */
static int moved_ready;          /* write slots readdressed while ready */
static char fail_prefix[64];     /* the next command starting so fails */
static int hold_reads;           /* a read is not answered while set ... */
static int held_fd = -1;         /* ... it waits here */
static char held_cmd[65536];

static struct fslot *
fslot_of(const char *bs, char *be, size_t belen)
{
	const char *slash = strchr(bs, '/');
	int n;

	ck_assert_ptr_nonnull(slash);
	snprintf(be, belen, "%.*s", (int)(slash - bs), bs);
	ck_assert_int_eq(slash[1], 'r');
	n = atoi(slash + 2);
	ck_assert(n >= 1 && n <= NSLOT);
	if (strcmp(be, "m_write") == 0)
		return &wslot[n - 1];
	ck_assert_str_eq(be, "m_read");
	return &rslot[n - 1];
}

static int
write_ready(void)
{
	int n = 0;

	for (int i = 0; i < NSLOT; i++)
		n += !(wslot[i].admin & HAP_ADMF_MAINT);
	return n;
}

static void
append(char **out, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
append(char **out, size_t *len, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof(buf));
	*out = realloc(*out, *len + (size_t)n + 1);
	ck_assert_ptr_nonnull(*out);
	memcpy(*out + *len, buf, (size_t)n + 1);
	*len += (size_t)n;
}

static void
state_rows(char **out, size_t *len, const char *be, int be_id, const struct fslot *s)
{
	for (int i = 0; i < NSLOT; i++)
		append(out, len, "%d %s %d r%d %s %d %u 1 1 1 1 0 0 8 0 0 0 - %d - 0 0 - - 0\n", be_id, be, i + 1,
		       i + 1, s[i].addr, (s[i].admin & HAP_ADMF_MAINT) ? 0 : 2, s[i].admin, s[i].port);
}

/* One command's answer, its terminating empty line included. */
static void
answer(const char *cmd, char **out, size_t *len)
{
	char be[64], bs[128], ip[64];
	int port;
	struct fslot *s;

	if (fail_prefix[0] && strncmp(cmd, fail_prefix, strlen(fail_prefix)) == 0) {
		fail_prefix[0] = '\0';
		append(out, len, "No such server.\n\n");
		return;
	}
	if (strcmp(cmd, "show info") == 0) {
		append(out, len, "Name: HAProxy\nVersion: 2.6.12\nPid: 4242\nUptime_sec: 100\nnode: test\n\n");
	} else if (strncmp(cmd, "show servers state", 18) == 0) {
		reads++;
		append(out, len, "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
				 "srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
				 "srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id "
				 "srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
				 "srv_check_addr srv_agent_addr srv_agent_port\n");
		if (!cmd[18] || strcmp(cmd + 19, "m_write") == 0)
			state_rows(out, len, "m_write", 3, wslot);
		if (!cmd[18] || strcmp(cmd + 19, "m_read") == 0)
			state_rows(out, len, "m_read", 4, rslot);
		append(out, len, "\n");
	} else if (sscanf(cmd, "set server %127s addr %63s port %d", bs, ip, &port) == 3) {
		s = fslot_of(bs, be, sizeof(be));
		if (s >= wslot && s < wslot + NSLOT && !(s->admin & HAP_ADMF_MAINT))
			moved_ready++;
		append(out, len, "IP changed from '%s' to '%s', port changed from '%d' to '%d' by 'stats socket command'\n\n",
		       s->addr, ip, s->port, port);
		snprintf(s->addr, sizeof(s->addr), "%s", ip);
		s->port = port;
		commands++;
	} else if (sscanf(cmd, "set server %127s state %63s", bs, ip) == 2) {
		s = fslot_of(bs, be, sizeof(be));
		if (strcmp(ip, "maint") == 0)
			s->admin = (s->admin & ~(unsigned)HAP_ADMF_FDRAIN) | HAP_ADMF_FMAINT;
		else {
			if (s >= wslot && s < wslot + NSLOT && (s->admin & HAP_ADMF_MAINT) && write_ready() > 0)
				ready_beside++;
			s->admin &= ~(unsigned)(HAP_ADMF_FMAINT | HAP_ADMF_FDRAIN);
		}
		append(out, len, "\n");
		commands++;
	} else if (sscanf(cmd, "shutdown sessions server %127s", bs) == 1) {
		(void)fslot_of(bs, be, sizeof(be));
		append(out, len, "\n");
		commands++;
	} else {
		ck_abort_msg("unexpected command '%s'", cmd);
	}
	if (write_ready() > max_write_ready)
		max_write_ready = write_ready();
}

/* Serve what is pending on the admin socket (non-blocking). */
static void
serve(void)
{
	int fd;

	while ((fd = accept(afd, NULL, NULL)) >= 0) {
		char in[65536], *out = NULL, *p, *cmd;
		size_t have = 0, len = 0;
		int64_t end = now_mono_ms() + 2000;

		/* the request line */
		while (!memchr(in, '\n', have) && now_mono_ms() < end) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			ssize_t n;

			if (poll(&pf, 1, 10) <= 0)
				continue;
			n = read(fd, in + have, sizeof(in) - 1 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		in[have] = '\0';
		if (strcmp(in, "prompt\n") == 0) {
			/* the watch: kept open, answered with prompts */
			if (watch_fd >= 0)
				close(watch_fd);
			watch_fd = fd;
			ck_assert_int_eq(write(fd, "\n> ", 3), 3);
			continue;
		}
		if (hold_reads && held_fd < 0 && strstr(in, "show servers state")) {
			held_fd = fd;
			memcpy(held_cmd, in, have + 1);
			continue;
		}
		p = in;
		while ((cmd = strsep(&p, ";\n")) && *cmd)
			answer(cmd, &out, &len);
		ck_assert_int_eq(write(fd, out, len), (ssize_t)len);
		free(out);
		close(fd);
	}
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Answer the read held back, with the state as it is now. */
static void
release_held(void)
{
	char *out = NULL, *p = held_cmd, *cmd;
	size_t len = 0;

	ck_assert_int_ge(held_fd, 0);
	while ((cmd = strsep(&p, ";\n")) && *cmd)
		answer(cmd, &out, &len);
	ck_assert_int_eq(write(held_fd, out, len), (ssize_t)len);
	free(out);
	close(held_fd);
	held_fd = -1;
	hold_reads = 0;
}

/* ---------------------------------------------------------------- Redis nodes */

/* A node that answers every command with ROLE's "master". */
struct node_fake {
	int lfd;
	int port;
	int fds[16];
};

static struct node_fake na, nb;

static void
node_start(struct node_fake *n)
{
	memset(n, 0, sizeof(*n));
	for (int i = 0; i < 16; i++)
		n->fds[i] = -1;
	n->lfd = unit_listen_tcp(&n->port);
}

static void
node_serve(struct node_fake *n)
{
	int fd;

	while ((fd = accept(n->lfd, NULL, NULL)) >= 0) {
		int i;

		for (i = 0; i < 16 && n->fds[i] >= 0; i++)
			;
		if (i == 16) {
			close(fd);
			continue;
		}
		n->fds[i] = fd;
	}
	for (int i = 0; i < 16; i++) {
		char buf[512];
		ssize_t r;
		struct pollfd pf = { .fd = n->fds[i], .events = POLLIN };

		if (n->fds[i] < 0 || poll(&pf, 1, 0) <= 0)
			continue;
		r = read(n->fds[i], buf, sizeof(buf));
		if (r <= 0) {
			close(n->fds[i]);
			n->fds[i] = -1;
			continue;
		}
		if (memmem(buf, (size_t)r, "ROLE", 4))
			(void)!write(n->fds[i], "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n", 25);
	}
}

static void
node_stop(struct node_fake *n)
{
	for (int i = 0; i < 16; i++)
		if (n->fds[i] >= 0)
			close(n->fds[i]);
	close(n->lfd);
}

/* ---------------------------------------------------------------- the agent's side */

static struct ev_loop *loop;
static struct config cfg;
static struct topo t;
static struct hap_client *hap;
static struct reconciler *rc;
static struct group *g;
static uint64_t epoch;

/* One round of everyone's work. */
static void
step(void)
{
	ev_run(loop, EVRUN_NOWAIT);
	serve();
	node_serve(&na);
	node_serve(&nb);
	ev_run(loop, EVRUN_NOWAIT);
	(void)poll(NULL, 0, 1);
}

#define RUN_UNTIL(cond)                                                  \
	do {                                                             \
		int64_t end_ = now_mono_ms() + 5000;                     \
		int ok_;                                                 \
		while (!(ok_ = (cond)) && now_mono_ms() < end_)          \
			step();                                          \
		ck_assert_msg(ok_, "timed out waiting for %s", #cond);   \
	} while (0)

/* The write slot ready, on port: its index, -1 when none or another. */
static int
ready_on(int port)
{
	for (int i = 0; i < NSLOT; i++)
		if (!(wslot[i].admin & HAP_ADMF_MAINT) && wslot[i].port == port && strcmp(wslot[i].addr, "127.0.0.1") == 0)
			return i;
	return -1;
}

/* Sentinel names the master at port, at a new epoch. */
static void
master_is(int port)
{
	topo_set_view(g, 0, "127.0.0.1", port, ++epoch, 0, now_mono_ms());
	rec_group_updated(rc, g);
}

static void
setup(void)
{
	struct sockaddr_un sa;
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/hs-rec.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/admin.sock", dir);
	afd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(afd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	ck_assert_int_eq(bind(afd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(afd, 16), 0);
	for (int i = 0; i < NSLOT; i++) {
		wslot[i] = (struct fslot){ "127.0.0.1", 1, HAP_ADMF_FMAINT | HAP_ADMF_CMAINT };
		rslot[i] = wslot[i];
	}
	reads = commands = max_write_ready = ready_beside = moved_ready = 0;
	hold_reads = 0;
	held_fd = -1;
	fail_prefix[0] = '\0';
	node_start(&na);
	node_start(&nb);

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	config_init(&cfg);
	topo_init(&t, 1, 600000);
	g = topo_get(&t, "m");
	ck_assert_ptr_nonnull(g);
	hap = hap_client_new(loop, sock_path, 2000, err, sizeof(err));
	ck_assert_msg(hap != NULL, "%s", err);
	rc = rec_new(loop, &cfg, &t, hap);
	ck_assert_ptr_nonnull(rc);
	rec_start(rc);
	RUN_UNTIL(watch_fd >= 0);
	epoch = 0;
	/* the first master: read, then planned */
	master_is(na.port);
	RUN_UNTIL(ready_on(na.port) >= 0);
	ck_assert_int_ge(reads, 1);
}

static void
teardown(void)
{
	rec_free(rc);
	hap_client_free(hap);
	topo_free(&t);
	config_free(&cfg);
	ev_loop_destroy(loop);
	if (watch_fd >= 0)
		close(watch_fd);
	watch_fd = -1;
	if (held_fd >= 0)
		close(held_fd);
	held_fd = -1;
	close(afd);
	unlink(sock_path);
	rmdir(dir);
	node_stop(&na);
	node_stop(&nb);
}

/* ---------------------------------------------------------------- tests */

START_TEST(switch_without_a_read)
{
	int r0;

	/* let the first plan's answers settle */
	for (int i = 0; i < 20; i++)
		step();
	r0 = reads;
	master_is(nb.port);
	RUN_UNTIL(ready_on(nb.port) >= 0);
	ck_assert_int_eq(ready_on(na.port), -1);
	ck_assert_int_eq(write_ready(), 1);
	ck_assert_int_le(max_write_ready, 1);
	ck_assert_int_eq(ready_beside, 0);
	ck_assert_int_eq(moved_ready, 0);
	ck_assert_msg(reads == r0, "the switch read HAProxy %d time(s)", reads - r0);
	/* and back */
	master_is(na.port);
	RUN_UNTIL(ready_on(na.port) >= 0);
	ck_assert_int_eq(write_ready(), 1);
	ck_assert_int_le(max_write_ready, 1);
	ck_assert_int_eq(reads, r0);
}
END_TEST

START_TEST(failed_command_reads_again)
{
	int r0;

	for (int i = 0; i < 20; i++)
		step();
	r0 = reads;
	/* the fence of the old master fails: HAProxy's state is unknown */
	snprintf(fail_prefix, sizeof(fail_prefix), "set server m_write/");
	master_is(nb.port);
	RUN_UNTIL(fail_prefix[0] == '\0');
	RUN_UNTIL(ready_on(nb.port) >= 0 && write_ready() == 1);
	ck_assert_int_gt(reads, r0);
	ck_assert_int_le(max_write_ready, 1);
}
END_TEST

START_TEST(other_writer_is_overruled)
{
	for (int i = 0; i < 20; i++)
		step();
	/* Somebody makes another slot ready, with another address: the
	 * agent's mirror does not know. */
	for (int i = 0; i < NSLOT; i++) {
		if (ready_on(na.port) == i)
			continue;
		snprintf(wslot[i].addr, sizeof(wslot[i].addr), "127.0.0.9");
		wslot[i].port = 7009;
		wslot[i].admin = 0;
		break;
	}
	ck_assert_int_eq(write_ready(), 2);
	max_write_ready = 0;
	master_is(nb.port);
	RUN_UNTIL(ready_on(nb.port) >= 0);
	/* every other write slot went to maint before the new master was
	 * ready, and the slot it took before its address changed */
	ck_assert_int_eq(ready_beside, 0);
	ck_assert_int_eq(moved_ready, 0);
	ck_assert_int_eq(write_ready(), 1);
}
END_TEST

/* Switch, let every answer come, and return the commands it took. */
static int
plain_switch(int port)
{
	int c0 = commands;

	master_is(port);
	RUN_UNTIL(ready_on(port) >= 0);
	for (int i = 0; i < 30; i++)
		step();
	return commands - c0;
}

START_TEST(stale_read_is_not_planned_from)
{
	struct rec_stats st;
	int d_ba, c0;

	for (int i = 0; i < 20; i++)
		step();
	(void)plain_switch(nb.port);
	d_ba = plain_switch(na.port);   /* what b -> a takes */
	(void)plain_switch(nb.port);
	ck_assert_int_gt(d_ba, 0);

	/* A forced resync's read is asked; HAProxy has not answered it when
	 * the next switch is planned from the mirror. Its commands wait
	 * behind the read (one batch at a time). */
	hold_reads = 1;
	(void)rec_resync(rc);
	RUN_UNTIL(held_fd >= 0);
	c0 = commands;
	max_write_ready = 0;
	master_is(na.port);
	for (int i = 0; i < 20; i++)
		step();
	ck_assert_int_eq(ready_on(na.port), -1);   /* not applied yet */
	/* The read answers with the state before the switch. */
	release_held();
	RUN_UNTIL(ready_on(na.port) >= 0);
	for (int i = 0; i < 40; i++)
		step();
	/* The switch's commands only: the stale read planned nothing for the
	 * group (it would have sent the switch a second time). */
	ck_assert_int_eq(commands - c0, d_ba);
	ck_assert_int_eq(write_ready(), 1);
	ck_assert_int_le(max_write_ready, 1);
	ck_assert_int_eq(ready_beside, 0);
	ck_assert_int_eq(moved_ready, 0);
	rec_get_stats(rc, &st);
	ck_assert_uint_eq(st.drift_corrections, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc = tcase_create("mirror");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, switch_without_a_read);
	tcase_add_test(tc, failed_command_reads_again);
	tcase_add_test(tc, other_writer_is_overruled);
	tcase_add_test(tc, stale_read_is_not_planned_from);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
