/* libFuzzer target for the hostname rule (agent/util.c addr_is_hostname,
 * addr_is_host): what Sentinel announces reaches the resolver and, once
 * resolved, HAProxy's runtime API only through it. Input: one name (an
 * exact-size heap copy, NUL-terminated). Contract checked: an accepted name
 * is shorter than ADDR_IP_MAX, made of [A-Za-z0-9._-] only, has no empty
 * label but a trailing root dot, no label longer than 63 or starting or
 * ending with '-', and is not an IP literal; addr_is_host() is exactly
 * "IP literal or hostname". */
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n >= ADDR_IP_MAX || addr_is_ip(s))
		abort();
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				abort();
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			abort();
		if ((ch == '-' && label == 0) || ++label > 63)
			abort();
	}
	if (s[n - 1] == '-')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int host;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addr_is_hostname(s))
		check_name(s);
	host = addr_is_host(s);
	if (host != (addr_is_ip(s) || addr_is_hostname(s)))
		abort();
	free(s);
	return 0;
}
