/* Sockets for unit tests that stand in for a server: included by the
 * tests that need it (each test is one program). */
#ifndef HASENTINEL_UNIT_NET_H
#define HASENTINEL_UNIT_NET_H

#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

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
