/* The sockets of the agent's own idle connections that it is done with (a
 * replaced master's fence watch, an ended replica watch), closed when the
 * loop has nothing else to do.
 *
 * Closing a loopback TCP connection runs its teardown in the caller's
 * thread, tens of microseconds each; in a mass failover those closes stood
 * between the decisions and HAProxy. A socket handed over is closed with a
 * reset (SO_LINGER 0: no TIME_WAIT left for a connection of our own that
 * owes nothing), in an idle callback at the lowest priority,
 * CLOSER_IDLE_BATCH at a time, and at every closer_tick() up to
 * CLOSER_TICK_BATCH of what is left (a loop that is never idle still gets
 * them). With CLOSER_MAX waiting, a socket is closed at once: a failover of
 * thousands of groups must not hold thousands of descriptors (at 10 000
 * groups an unbounded queue ran the agent out of them). */
#ifndef HASENTINEL_CLOSER_H
#define HASENTINEL_CLOSER_H

#include <ev.h>
#include <stddef.h>

#define CLOSER_IDLE_BATCH 16
#define CLOSER_TICK_BATCH 1024
#define CLOSER_MAX 1024

struct closer {
	struct ev_loop *loop;
	int *fds;          /* owned: the sockets waiting */
	size_t n, cap;
	ev_idle idle;
};

void closer_init(struct closer *c, struct ev_loop *loop);
/* Take fd (a connected socket, now the closer's) and close it later, or at
 * once when CLOSER_MAX wait or memory is out. A negative fd is ignored. */
void closer_add(struct closer *c, int fd);
/* Close up to CLOSER_TICK_BATCH of the sockets waiting. */
void closer_tick(struct closer *c);
/* Sockets waiting. */
size_t closer_waiting(const struct closer *c);
/* Close every socket left, stop, free. */
void closer_free(struct closer *c);

#endif
