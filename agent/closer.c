#include "closer.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tk.h"
#include "util.h"

/* Close up to max of the sockets waiting, the newest first (order does not
 * matter: none of them is read again). */
static void
drain(struct closer *c, size_t max)
{
	for (size_t k = 0; k < max && c->n > 0; k++)
		close(c->fds[--c->n]);
	if (c->n == 0)
		ev_idle_stop(c->loop, &c->idle);
}

static void
idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)revents;
	drain(w->data, CLOSER_IDLE_BATCH);
}

void
closer_init(struct closer *c, struct ev_loop *loop)
{
	c->loop = loop;
	c->fds = NULL;
	c->n = c->cap = 0;
	ev_idle_init(&c->idle, idle_cb);
	ev_set_priority(&c->idle, EV_MINPRI);
	c->idle.data = c;
}

void
closer_add(struct closer *c, int fd)
{
	if (fd < 0)
		return;
	fd_reset_on_close(fd);
	if (c->n >= CLOSER_MAX || tk_grow(&c->fds, &c->cap, c->n + 1, sizeof(*c->fds)) < 0) {
		close(fd);
		return;
	}
	c->fds[c->n++] = fd;
	ev_idle_start(c->loop, &c->idle);
}

void
closer_tick(struct closer *c)
{
	drain(c, CLOSER_TICK_BATCH);
}

size_t
closer_waiting(const struct closer *c)
{
	return c->n;
}

void
closer_free(struct closer *c)
{
	drain(c, SIZE_MAX);
	free(c->fds);
	c->fds = NULL;
	c->cap = 0;
}
