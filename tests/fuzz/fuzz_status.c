/* libFuzzer target: the status request parser, on the whole input and on
 * each line of it, with invariants on what it accepts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* strnlen */
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_count(const char *arg, size_t len)
{
	static const size_t maxes[] = { 0, 1, 9, 10, 1000, SIZE_MAX };

	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		size_t v = 12345, want = 0;
		int digits = 1, over = 0;

		for (size_t i = 0; i < len; i++)
			if (arg[i] < '0' || arg[i] > '9')
				digits = 0;
		if (status_parse_count(arg, maxes[m], &v) < 0) {
			if (digits || v != 12345)
				abort();
			continue;
		}
		if (!digits)
			abort();
		/* the same value, computed another way (in SIZE_MAX, then clamped) */
		for (size_t i = 0; i < len && !over; i++) {
			size_t d = (size_t)(arg[i] - '0');

			if (want > (SIZE_MAX - d) / 10)
				over = 1;
			else
				want = want * 10 + d;
		}
		if (over || want > maxes[m])
			want = maxes[m];
		if (v != want)
			abort();
	}
}

static void
check_one(const char *line, size_t len)
{
	struct status_request req, again;
	char err[64], rebuilt[sizeof(req.cmd) + sizeof(req.arg) + 1];
	size_t cl, al;

	memset(err, 0, sizeof(err));
	if (status_parse_request(line, len, &req, err, sizeof(err)) < 0) {
		if (strcmp(err, "empty request") && strcmp(err, "request too long") &&
		    strcmp(err, "bad character"))
			abort();
		return;
	}
	cl = strnlen(req.cmd, sizeof(req.cmd));
	al = strnlen(req.arg, sizeof(req.arg));
	if (cl == 0 || cl >= sizeof(req.cmd) || al >= sizeof(req.arg))
		abort();
	for (size_t i = 0; i < cl; i++) {
		char c = req.cmd[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			abort();
	}
	for (size_t i = 0; i < al; i++)
		if (req.arg[i] < 0x20 || req.arg[i] > 0x7e)
			abort();
	if (al && (req.arg[0] == ' ' || req.arg[al - 1] == ' '))
		abort();
	/* A count argument ("page FROM") is digits only, and its value is
	 * what they say, clamped. */
	if (al)
		check_count(req.arg, al);
	/* What was accepted parses back to the same request. */
	snprintf(rebuilt, sizeof(rebuilt), "%s%s%s", req.cmd, al ? " " : "", req.arg);
	if (status_parse_request(rebuilt, strlen(rebuilt), &again, err, sizeof(err)) < 0 ||
	    strcmp(req.cmd, again.cmd) || strcmp(req.arg, again.arg))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	check_one(p, size);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		check_one(p, len);
		p += len + (nl ? 1 : 0);
	}
	return 0;
}
