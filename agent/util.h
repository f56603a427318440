/* Small helpers shared by every module: addresses, time, strings, file
 * descriptors, the process's memory. No state of their own but one
 * descriptor (self_rss_bytes() keeps /proc/self/statm open); the address
 * and string helpers are pure, now_*_ms() read the clocks, the fd_*()
 * helpers make system calls on the descriptor they are given
 * (fd_connect_ip() opens one). */
#ifndef HASENTINEL_UTIL_H
#define HASENTINEL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ADDR_IP_MAX 64   /* an IPv6 literal with zone fits */

/* Split "host:port", "[v6]:port" or "v6" followed by " port" into host and port.
 * Returns 0, or -1 when the text is not of that form or the port is not 1..65535. */
int addr_parse(const char *text, char *host, size_t hostlen, int *port)
	__attribute__((warn_unused_result));

/* 1 when a and b are the same IP address (IPv4 or IPv6, textual forms
 * normalised with inet_pton), or the same string when either is not an IP literal. */
int addr_ip_equal(const char *a, const char *b);

/* 1 when s is an IPv4 or IPv6 literal. */
int addr_is_ip(const char *s);

/* 1 when s is a hostname as DNS writes it: dot-separated labels of 1..63
 * letters, digits, '-' or '_', neither starting nor ending with '-', at
 * most ADDR_IP_MAX - 1 characters in all, not all digits and dots (that is
 * an IPv4 literal or nothing). Sentinel's resolve-hostnames names nodes so. */
int addr_is_hostname(const char *s);

/* addr_is_ip(s) || addr_is_hostname(s): what Sentinel may announce. */
int addr_is_host(const char *s);

/* Format ip:port, brackets around IPv6: "[::1]:6379". Returns buf. */
const char *addr_format(char *buf, size_t len, const char *ip, int port);

/* Parse a decimal integer in [min, max]; 0 or -1. */
int parse_long(const char *s, long min, long max, long *out)
	__attribute__((warn_unused_result));

/* Copy with truncation, always NUL-terminated; returns strlen(src) like strlcpy. */
size_t str_copy(char *dst, const char *src, size_t len);

/* O_NONBLOCK (F_SETFL) and FD_CLOEXEC (F_SETFD) on fd. 0 or -1 (errno). */
int fd_nonblock_cloexec(int fd) __attribute__((warn_unused_result));
/* The TCP connection on fd will end with a reset when closed (SO_LINGER 0):
 * no closing handshake, no TIME_WAIT. For the agent's own connections
 * whose answers are all read. Best effort. */
void fd_reset_on_close(int fd);
/* TCP keepalive on fd: a peer lost without a reset (a host gone, a
 * partition) ends the connection after about idle + cnt * intvl seconds.
 * Best effort. */
void fd_keepalive(int fd, int idle_s, int intvl_s, int cnt);
/* Start a non-blocking TCP connect to an IP literal and port, for the
 * agent's own idle connections to nodes. *fd is the new socket (non-blocking,
 * close-on-exec). 0: connected already (a local peer usually is by the
 * time connect() returns: one poll() with no wait tells); 1: under way (wait
 * for EV_WRITE, then fd_connect_error); -1 with errno and *fd = -1: ip is
 * not an IP literal (EINVAL), the socket would be fd_cap or above (EMFILE;
 * fd_cap 0: no cap), or connect failed at once (ECONNREFUSED: nothing
 * listens). */
int fd_connect_ip(const char *ip, int port, long fd_cap, int *fd) __attribute__((warn_unused_result));
/* How a connect under way on fd ended, once it is writable: 0 connected,
 * else the error (ECONNREFUSED: nothing listens). */
int fd_connect_error(int fd);

/* Milliseconds on CLOCK_MONOTONIC and on CLOCK_REALTIME. */
int64_t now_mono_ms(void);
int64_t now_wall_ms(void);

/* The process's resident memory in bytes (/proc/self/statm, one pread()
 * on a descriptor kept open), or -1 when it cannot be read. */
long long self_rss_bytes(void);

#endif
