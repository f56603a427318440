/* Sockets for unit tests that stand in for a server, and running a
 * test's loop until something holds: included by the tests that need it
 * (each test is one program). */
#ifndef HASENTINEL_UNIT_NET_H
#define HASENTINEL_UNIT_NET_H

#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <ev.h>

#include "util.h"

/* Run loop until cond (evaluated once per round) or ms milliseconds; the
 * test fails when it never held. */
#define UNIT_RUN_UNTIL(loop, cond, ms)                                   \
	do {                                                             \
		int64_t end_ = now_mono_ms() + (ms);                     \
		int ok_;                                                 \
		while (!(ok_ = (cond)) && now_mono_ms() < end_) {        \
			ev_run((loop), EVRUN_NOWAIT);                    \
			(void)poll(NULL, 0, 2);                          \
		}                                                        \
		ck_assert_msg(ok_, "timed out waiting for %s", #cond);   \
	} while (0)

/* A non-blocking listening socket on a free port of 127.0.0.1; its port
 * in *port. */
static inline int
unit_listen_tcp(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

#endif
