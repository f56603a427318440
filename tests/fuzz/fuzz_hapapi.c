/* libFuzzer target for the runtime API reply parsers (and the planner on
 * whatever state parses). The input is treated as a whole answer from
 * HAProxy; each reply found in it is also fed to every parser; and, as an
 * interactive-mode answer, to hap_prompt_strip(). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hapapi.h"
#include "plan.h"

#define FUZZ_MAX_REPLIES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_cmds[] = {
	"set server b/r1 state maint",
	"set server b/r1 state ready",
	"shutdown sessions server b/r1",
	"set server b/r1 addr 127.0.0.1 port 7000",
	"set server b/r1 addr ::1 port 7001",
	"set server b/r1 addr 127.0.0.1",
	"show servers state",
	"show info",
	"help",
};

static void
fuzz_plan(const struct hap_state *st)
{
	static const struct plan_target targets[] = {
		{ "127.0.0.1", 7000, 1 },
		{ "::1", 7001, 0 },
		{ "127.0.0.1", 7002, 1 },
	};
	char err[256];
	struct plan p;
	size_t first = 0, count = 0;
	int is_write;

	if (st->n == 0)
		return;
	plan_init(&p);
	if (hap_state_backend(st, st->srv[0].backend, &first, &count) == 0) {
		for (is_write = 0; is_write <= 1; is_write++) {
			if (plan_backend(st->srv[0].backend, st->srv + first, count, targets,
					 sizeof(targets) / sizeof(targets[0]), is_write, &p,
					 err, sizeof(err)) < 0 && !err[0])
				__builtin_trap();   /* a failure always says why */
		}
	}
	/* all rows as one backend, whatever their names */
	if (plan_backend("all", st->srv, st->n, targets, 2, 1, &p, err, sizeof(err)) < 0 && !err[0])
		__builtin_trap();
	plan_free(&p);
}

static void
fuzz_one(const char *text, size_t len)
{
	struct hap_state st = { 0 };
	struct hap_info info;
	char err[256];
	size_t i;

	if (hap_state_parse(text, len, &st, err, sizeof(err)) == 0) {
		for (i = 0; i < st.n; i++)
			(void)hap_server_is_ready(&st.srv[i]);
		fuzz_plan(&st);
	} else if (!err[0]) {
		__builtin_trap();
	}
	hap_state_free(&st);
	(void)hap_info_parse(text, len, &info);
	{
		long pids[4];
		struct hap_sess *ss = NULL;
		long n = hap_sess_parse(text, len, &ss);

		if (hap_proc_parse(text, len, pids, 4) > 4)
			__builtin_trap();
		for (long k = 0; k < n; k++)
			if (!memchr(ss[k].id, '\0', sizeof(ss[k].id)))
				__builtin_trap();
		free(ss);
	}
	for (i = 0; i < sizeof(fuzz_cmds) / sizeof(fuzz_cmds[0]); i++)
		(void)hap_reply_ok(fuzz_cmds[i], text, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hap_reply r[FUZZ_MAX_REPLIES];
	const char *text = (const char *)data;
	size_t n, i;

	n = hap_reply_split(text, size, r, FUZZ_MAX_REPLIES);
	for (i = 0; i < n; i++) {
		if (r[i].text < text || r[i].text + r[i].len > text + size)
			__builtin_trap();
		fuzz_one(r[i].text, r[i].len);
	}
	fuzz_one(text, size);
	/* the same bytes as an interactive-mode answer, rewritten in place */
	{
		char *copy = malloc(size ? size : 1);
		size_t m;

		if (copy) {
			memcpy(copy, text, size);
			m = hap_prompt_strip(copy, size);
			if (m > size)
				__builtin_trap();
			n = hap_reply_split(copy, m, r, FUZZ_MAX_REPLIES);
			for (i = 0; i < n; i++)
				if (r[i].text < copy || r[i].text + r[i].len > copy + m)
					__builtin_trap();
			free(copy);
		}
	}
	/* the first line may be the command: "cmd\nreply" */
	{
		const char *nl = memchr(text, '\n', size);
		char cmd[PLAN_CMD_MAX];
		size_t cl;

		if (nl && (cl = (size_t)(nl - text)) < sizeof(cmd) && !memchr(text, '\0', cl)) {
			memcpy(cmd, text, cl);
			cmd[cl] = '\0';
			(void)hap_reply_ok(cmd, nl + 1, size - cl - 1);
		}
	}
	return 0;
}
