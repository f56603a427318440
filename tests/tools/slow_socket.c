/* slow_socket: a slow, slicing proxy in front of a UNIX socket (HAProxy's
 * admin socket), for tests.
 *
 *   slow_socket LISTEN_PATH UPSTREAM_PATH SLICE_BYTES DELAY_MS
 *
 * Every connection accepted on LISTEN_PATH is relayed to a new connection
 * to UPSTREAM_PATH by a child process. Requests go upstream as they come;
 * answers come back in slices of at most SLICE_BYTES, DELAY_MS apart (0:
 * no pause). The delay is read again from LISTEN_PATH.delay (one integer,
 * ms) before every slice when that file exists, so a test can slow the
 * socket down and speed it up while it runs. Stops on SIGTERM; the relays
 * (children) end with it. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char delay_file[512];
static long default_delay;

static int
unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	strcpy(sa->sun_path, path);
	return 0;
}

static long
current_delay(void)
{
	FILE *f = fopen(delay_file, "r");
	long d = default_delay;

	if (f) {
		if (fscanf(f, "%ld", &d) != 1)
			d = default_delay;
		fclose(f);
	}
	return d < 0 ? 0 : d;
}

static int
write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
relay(int cfd, const char *upstream, size_t slice)
{
	struct sockaddr_un sa;
	char buf[65536];
	int ufd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (ufd < 0 || unix_addr(upstream, &sa) < 0 ||
	    connect(ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(1);
	for (;;) {
		struct pollfd p[2] = { { cfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[0].revents) {
			ssize_t n = read(cfd, buf, sizeof(buf));

			if (n <= 0) {
				shutdown(ufd, SHUT_WR);
			} else if (write_all(ufd, buf, (size_t)n) < 0) {
				_exit(0);
			}
			if (n <= 0) {
				/* only the upstream side is polled from now on */
				for (;;) {
					ssize_t m = read(ufd, buf, slice < sizeof(buf) ? slice : sizeof(buf));

					if (m <= 0)
						_exit(0);
					if (write_all(cfd, buf, (size_t)m) < 0)
						_exit(0);
				}
			}
		}
		if (p[1].revents) {
			ssize_t n = read(ufd, buf, sizeof(buf));

			if (n <= 0)
				_exit(0);
			for (ssize_t off = 0; off < n; off += (ssize_t)slice) {
				size_t len = (size_t)(n - off) < slice ? (size_t)(n - off) : slice;
				long d = current_delay();

				if (d > 0) {
					struct timespec ts = { d / 1000, (d % 1000) * 1000000L };

					while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
						;
				}
				if (write_all(cfd, buf + off, len) < 0)
					_exit(0);
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa;
	size_t slice;
	int lfd;

	if (argc != 5) {
		fprintf(stderr, "usage: slow_socket LISTEN_PATH UPSTREAM_PATH SLICE_BYTES DELAY_MS\n");
		return 2;
	}
	slice = (size_t)atol(argv[3]);
	if (slice == 0)
		slice = 1;
	default_delay = atol(argv[4]);
	snprintf(delay_file, sizeof(delay_file), "%s.delay", argv[1]);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);   /* children are reaped by the kernel */
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || unix_addr(argv[1], &sa) < 0) {
		perror("socket");
		return 1;
	}
	unlink(argv[1]);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		pid_t pid;

		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			/* a relay ends with the proxy (the test stops it by pid) */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(0);
			close(lfd);
			relay(cfd, argv[2], slice);
			_exit(0);
		}
		close(cfd);
	}
}
