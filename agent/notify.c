#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "tk.h"
#include "util.h"

struct run {
	struct notifier *n;
	pid_t pid;
	ev_child child;
	ev_timer timer;
	char what[160];
	int killed;
	struct tk_list link;     /* in notifier.runs */
};

struct notifier {
	struct ev_loop *loop;
	char *path;
	int timeout_ms;
	struct tk_list runs;     /* commands still running */
	struct notify_stats st;
};

struct notifier *
notifier_new(struct ev_loop *loop, const char *path, int timeout_ms)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->loop = loop;
	n->timeout_ms = timeout_ms;
	tk_list_init(&n->runs);
	n->path = strdup(path);
	if (!n->path) {
		free(n);
		return NULL;
	}
	return n;
}

static void
run_free(struct run *r)
{
	tk_list_del(&r->link);
	ev_child_stop(r->n->loop, &r->child);
	ev_timer_stop(r->n->loop, &r->timer);
	r->n->st.running--;
	free(r);
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct run *r = w->data;
	int status = w->rstatus;

	(void)loop;
	(void)revents;
	if (r->killed) {
		/* logged when the timer fired */
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_debug("notify-exec: %s: done", r->what);
	} else {
		r->n->st.failed++;
		if (WIFEXITED(status))
			log_warn("notify-exec: %s: exit status %d", r->what, WEXITSTATUS(status));
		else
			log_warn("notify-exec: %s: killed by signal %d", r->what, WTERMSIG(status));
	}
	run_free(r);
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *r = w->data;

	(void)loop;
	(void)revents;
	r->killed = 1;
	r->n->st.timed_out++;
	log_warn("notify-exec: %s: still running after %d ms: killed", r->what, r->n->timeout_ms);
	kill(r->pid, SIGKILL);
}

void
notifier_send(struct notifier *n, const char *type, const char *master, const char *from,
	      const char *to, uint64_t epoch, json_t *obj)
{
	static char env_path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	static char env_lc[] = "LC_ALL=C";
	static char *const envp[] = { env_path, env_lc, NULL };
	char epoch_s[24], *text;
	int fds[2];
	struct run *r;
	pid_t pid;

	if (n->st.running >= NOTIFY_MAX_RUNNING) {
		n->st.dropped++;
		log_warn("notify-exec: %d commands still running: %s %s dropped", n->st.running, type, master);
		return;
	}
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_err("notify-exec: pipe: %s", strerror(errno));
		free(text);
		return;
	}
	snprintf(epoch_s, sizeof(epoch_s), "%llu", (unsigned long long)epoch);
	pid = fork();
	if (pid < 0) {
		log_err("notify-exec: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(text);
		return;
	}
	if (pid == 0) {
		char *argv[] = { n->path, (char *)type, (char *)master, (char *)(from ? from : ""),
				 (char *)(to ? to : ""), epoch_s, NULL };
		int devnull = open("/dev/null", O_WRONLY);

		dup2(fds[0], 0);
		if (devnull >= 0)
			dup2(devnull, 1);
		/* Signals the loop ignores or handles must be default for the child. */
		signal(SIGPIPE, SIG_DFL);
		execve(n->path, argv, envp);
		_exit(127);
	}
	close(fds[0]);
	/* The event is far below the pipe's capacity: this write cannot block;
	 * O_NONBLOCK makes sure of it. */
	(void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
	if (write(fds[1], text, strlen(text)) < 0 || write(fds[1], "\n", 1) < 0)
		log_debug("notify-exec: writing the event: %s", strerror(errno));
	close(fds[1]);
	free(text);

	r = calloc(1, sizeof(*r));
	if (!r) {
		/* Cannot watch it: kill and reap it now. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	r->n = n;
	r->pid = pid;
	snprintf(r->what, sizeof(r->what), "%s %s (pid %ld)", type, master, (long)pid);
	ev_child_init(&r->child, child_cb, pid, 0);
	r->child.data = r;
	ev_child_start(n->loop, &r->child);
	ev_timer_init(&r->timer, timeout_cb, n->timeout_ms / 1000.0, 0.);
	r->timer.data = r;
	ev_timer_start(n->loop, &r->timer);
	tk_list_push(&n->runs, &r->link);
	n->st.running++;
	n->st.started++;
	log_debug("notify-exec: started %s", r->what);
}

void
notifier_free(struct notifier *n)
{
	if (!n)
		return;
	while (!tk_list_empty(&n->runs)) {
		struct run *r = tk_container_of(n->runs.next, struct run, link);

		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		run_free(r);
	}
	free(n->path);
	free(n);
}

void
notifier_stats(const struct notifier *n, struct notify_stats *out)
{
	*out = n->st;
}
