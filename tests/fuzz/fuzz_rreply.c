/* libFuzzer target for the arena reply objects (agent/rreply.c).
 *
 * Input: the first byte picks how the rest is fed (in chunks of 1 to 256
 * bytes), the rest is RESP bytes. They go to three hiredis readers: one
 * with hiredis's own objects (the reference), one with rreply's arena
 * objects and no key set, one with a key set. Every reply (and the error
 * status) must be the same in all three, up to the key set's rule: in the
 * entries of a top-level array, a bulk-string field name not in the set
 * reads as "" and the bulk-string value that follows it as nil. Replies
 * are freed by each reader's own freeObject: a leak, a double free or a
 * read past an object is an AddressSanitizer report. */
#include "rreply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "name", "ip", "port", "flags", NULL };
static struct rreply_keys keys;

static int
in_set(const redisReply *k)
{
	if (k->type != REDIS_REPLY_STRING)
		return 0;
	for (const char *const *n = names; *n; n++)
		if (strlen(*n) == k->len && memcmp(*n, k->str, k->len) == 0)
			return 1;
	return 0;
}

static void
same(const redisReply *a, const redisReply *b, int depth, int filtered, const redisReply *key, int idx)
{
	if (filtered && depth == 2 && a->type == REDIS_REPLY_STRING) {
		if (idx % 2 == 0 && !in_set(a)) {
			if (b->type != REDIS_REPLY_STRING || b->len != 0 || b->str[0] != '\0')
				abort();
			return;
		}
		if (idx % 2 == 1 && !(key && in_set(key))) {
			if (b->type != REDIS_REPLY_NIL)
				abort();
			return;
		}
	}
	if (a->type != b->type)
		abort();
	switch (a->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		if (a->len != b->len || memcmp(a->str, b->str, a->len) != 0 || b->str[b->len] != '\0')
			abort();
		break;
	case REDIS_REPLY_INTEGER:
		if (a->integer != b->integer)
			abort();
		break;
	case REDIS_REPLY_ARRAY:
		if (a->elements != b->elements)
			abort();
		for (size_t i = 0; i < a->elements; i++)
			same(a->element[i], b->element[i], depth + 1, filtered,
			     i > 0 ? a->element[i - 1] : NULL, (int)i);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *ref, *plain, *kept;
	size_t chunk, off = 0;

	if (size < 1)
		return 0;
	if (!keys.n && rreply_keys_init(&keys, names) < 0)
		abort();
	/* An array header beyond RREPLY_ELEMENTS_MAX is refused by rreply
	 * (check_rreply tests it) while hiredis would allocate its vector:
	 * gigabytes for "*2000000000". Such inputs are not compared. */
	for (size_t i = 1; i < size; i++) {
		unsigned long long v = 0;
		size_t j = i + 1;

		if (data[i] != '*')
			continue;
		if (j < size && data[j] == '-')
			continue;
		while (j < size && data[j] >= '0' && data[j] <= '9' && v <= RREPLY_ELEMENTS_MAX)
			v = v * 10 + (unsigned)(data[j++] - '0');
		if (v > RREPLY_ELEMENTS_MAX)
			return 0;
	}
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	ref = redisReaderCreate();
	plain = redisReaderCreateWithFunctions(&rreply_functions);
	kept = redisReaderCreate();
	if (!ref || !plain || !kept)
		abort();
	rreply_attach(kept, &keys);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		int ok = 1;

		if (redisReaderFeed(ref, (const char *)data + off, n) != REDIS_OK ||
		    redisReaderFeed(plain, (const char *)data + off, n) != REDIS_OK ||
		    redisReaderFeed(kept, (const char *)data + off, n) != REDIS_OK)
			abort();
		off += n;
		while (ok) {
			void *a = NULL, *b = NULL, *c = NULL;
			int ra = redisReaderGetReply(ref, &a);
			int rb = redisReaderGetReply(plain, &b);
			int rc = redisReaderGetReply(kept, &c);

			if (ra != rb || ra != rc || !a != !b || !a != !c)
				abort();
			if (ra != REDIS_OK || !a) {
				ok = 0;
			} else {
				same(a, b, 0, 0, NULL, 0);
				same(a, c, 0, 1, NULL, 0);
			}
			if (a)
				freeReplyObject(a);
			if (b)
				plain->fn->freeObject(b);
			if (c)
				kept->fn->freeObject(c);
			if (ra != REDIS_OK)
				goto out;
		}
	}
out:
	redisReaderFree(ref);
	redisReaderFree(plain);
	redisReaderFree(kept);
	return 0;
}
