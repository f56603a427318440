/* libFuzzer target for the Sentinel event parser (agent/event.c).
 *
 * Input: channel, then '\n' or '\t', then payload (the first separator
 * splits; without one the whole input is the channel and the payload is
 * empty). Channel and payload are handed over in exact-size heap copies, so
 * any read past len is an AddressSanitizer report. Beyond crashes, the
 * target checks the contract: a failure leaves the event zeroed, a success
 * leaves NUL-terminated fields, ports in range and a channel equal to the
 * input, and sev_format() always terminates its buffer. */
#include "event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

static void
check_port(int port, const char *ip)
{
	if (ip[0] ? (port < 1 || port > 65535) : port != 0)
		abort();
}

static void
check_event(const struct sentinel_event *ev, const char *ch, size_t chlen)
{
	check_str(ev->channel, sizeof(ev->channel));
	check_str(ev->master, sizeof(ev->master));
	check_str(ev->inst.name, sizeof(ev->inst.name));
	check_str(ev->inst.ip, sizeof(ev->inst.ip));
	check_str(ev->master_ip, sizeof(ev->master_ip));
	check_str(ev->new_ip, sizeof(ev->new_ip));
	check_str(ev->extra, sizeof(ev->extra));
	if ((int)ev->type < 0 || ev->type >= SEV_TYPE_COUNT)
		abort();
	if (strlen(ev->channel) != chlen || memcmp(ev->channel, ch, chlen) != 0)
		abort();
	check_port(ev->inst.port, ev->inst.ip);
	check_port(ev->master_port, ev->master_ip);
	check_port(ev->new_port, ev->new_ip);
	if (ev->inst.type != SEV_INST_NONE && (!ev->inst.ip[0] || !ev->inst.name[0] || !ev->master[0]))
		abort();
	if (ev->type == SEV_SWITCH_MASTER && (!ev->master_ip[0] || !ev->new_ip[0]))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sentinel_event ev;
	size_t chlen = 0, plen;
	char *ch, *pl, line[512];
	size_t i;
	int r;

	while (chlen < size && data[chlen] != '\n' && data[chlen] != '\t')
		chlen++;
	plen = chlen < size ? size - chlen - 1 : 0;

	ch = malloc(chlen ? chlen : 1);
	pl = malloc(plen ? plen : 1);
	if (!ch || !pl)
		abort();
	memcpy(ch, data, chlen);
	if (plen)
		memcpy(pl, data + chlen + 1, plen);

	r = sev_parse(ch, chlen, pl, plen, &ev);
	if (r == 0) {
		check_event(&ev, ch, chlen);
	} else {
		const unsigned char *p = (const unsigned char *)&ev;

		if (r != -1)
			abort();
		for (i = 0; i < sizeof(ev); i++)
			if (p[i])
				abort();
	}
	/* Format whatever came out, into a few buffer sizes. */
	sev_format(&ev, line, sizeof(line));
	check_str(line, sizeof(line));
	sev_format(&ev, line, 7);
	check_str(line, 7);
	sev_format(&ev, line, 1);
	if (line[0])
		abort();
	(void)sev_type_name(ev.type);

	free(ch);
	free(pl);
	return 0;
}
