/* libFuzzer target for the configuration parser.
 *
 * Input: config text, optionally followed by a NUL byte and environment
 * entries separated by '\n' (each gets the "HASENTINEL_" prefix, so the
 * fuzzer reaches the keys quickly). The text goes through
 * config_parse_buffer(), the entries through config_apply_env(), then the
 * result through config_finish() (without password files: no I/O) and
 * config_backends(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define FUZZ_ENV_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	char *env[FUZZ_ENV_MAX + 1];
	int nenv = 0;
	struct config c;
	char err[256], w[CONF_NAME_MAX], r[CONF_NAME_MAX];
	int rc;

	/* the whole input, NULs included, must be handled */
	config_init(&c);
	if (config_parse_buffer(&c, "fuzz.conf", text, size, err, sizeof(err)) < 0 &&
	    !memchr(err, '\0', sizeof(err)))
		abort();
	config_free(&c);

	config_init(&c);
	rc = config_parse_buffer(&c, "fuzz.conf", text, tlen, err, sizeof(err));
	if (rc < 0 && !memchr(err, '\0', sizeof(err)))
		abort();

	if (nul) {
		const char *p = (const char *)nul + 1, *end = (const char *)data + size;

		while (p < end && nenv < FUZZ_ENV_MAX) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char *e = malloc(sizeof("HASENTINEL_") + n);

			if (!e)
				break;
			memcpy(e, "HASENTINEL_", sizeof("HASENTINEL_") - 1);
			memcpy(e + sizeof("HASENTINEL_") - 1, p, n);
			e[sizeof("HASENTINEL_") - 1 + n] = '\0';
			env[nenv++] = e;
			p += n + 1;
		}
	}
	env[nenv] = NULL;
	if (config_apply_env(&c, env, err, sizeof(err)) < 0 && !memchr(err, '\0', sizeof(err)))
		abort();

	/* no password files: the fuzzer must not read arbitrary paths */
	free(c.sentinel_password_file);
	free(c.redis_password_file);
	c.sentinel_password_file = c.redis_password_file = NULL;
	if (config_finish(&c, err, sizeof(err)) == 0) {
		(void)config_backends(&c, "mymaster", w, sizeof(w), r, sizeof(r));
		if (c.nmasters > 0)
			(void)config_backends(&c, c.masters[0].name, w, sizeof(w), r, sizeof(r));
	}
	config_free(&c);
	for (int i = 0; i < nenv; i++)
		free(env[i]);
	return 0;
}
