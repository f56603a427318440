/* Arena reply objects (rreply.c) against hiredis's own, fed by a plain
 * hiredis reader. No server. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rreply.h"
#include "unit_main.h"

static const char *const names[] = { "name", "ip", "port", "flags", NULL };
static struct rreply_keys keys;

/* a and b are the same tree. */
static void
same(const redisReply *a, const redisReply *b)
{
	ck_assert_int_eq(a->type, b->type);
	switch (a->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		ck_assert_uint_eq(a->len, b->len);
		ck_assert(memcmp(a->str, b->str, a->len) == 0);
		ck_assert_int_eq(b->str[b->len], '\0');
		break;
	case REDIS_REPLY_INTEGER:
		ck_assert(a->integer == b->integer);
		break;
	case REDIS_REPLY_ARRAY:
		ck_assert_uint_eq(a->elements, b->elements);
		for (size_t i = 0; i < a->elements; i++)
			same(a->element[i], b->element[i]);
		break;
	default:
		break;
	}
}

static void
bulk(char **p, const char *s)
{
	*p += sprintf(*p, "$%zu\r\n%s\r\n", strlen(s), s);
}

/* A SENTINEL MASTERS-like answer: N entries of name, ip, port, runid,
 * flags, quorum; the names are LONG bytes long when LONG > 0. */
static char *
masters_answer(int n, size_t lng)
{
	size_t cap = (size_t)n * (300 + lng) + 64;
	char *buf = malloc(cap), *p = buf, *name = malloc(lng + 32);

	ck_assert_ptr_nonnull(buf);
	p += sprintf(p, "*%d\r\n", n);
	for (int i = 0; i < n; i++) {
		if (lng) {
			memset(name, 'a' + i % 26, lng);
			name[lng] = '\0';
		} else {
			snprintf(name, 32, "mymaster-%d", i);
		}
		p += sprintf(p, "*12\r\n");
		bulk(&p, "name"); bulk(&p, name);
		bulk(&p, "ip"); bulk(&p, "127.0.0.1");
		bulk(&p, "port"); bulk(&p, "6379");
		bulk(&p, "runid"); bulk(&p, "0123456789abcdef");
		bulk(&p, "flags"); bulk(&p, "master");
		bulk(&p, "quorum"); bulk(&p, "2");
	}
	free(name);
	return buf;
}

/* Feed buf in chunks of STEP to a reader with hiredis's objects and one
 * with rreply's (KS as key set); return both replies (one expected). */
static void
read_both(const char *buf, size_t len, size_t step, const struct rreply_keys *ks, redisReader **ra,
	  redisReader **rb, redisReply **a, redisReply **b)
{
	size_t off = 0;

	*ra = redisReaderCreate();
	*rb = redisReaderCreate();
	ck_assert_ptr_nonnull(*ra);
	ck_assert_ptr_nonnull(*rb);
	rreply_attach(*rb, ks);
	*a = *b = NULL;
	while (off < len && !*a) {
		size_t n = len - off < step ? len - off : step;

		ck_assert_int_eq(redisReaderFeed(*ra, buf + off, n), REDIS_OK);
		ck_assert_int_eq(redisReaderFeed(*rb, buf + off, n), REDIS_OK);
		off += n;
		ck_assert_int_eq(redisReaderGetReply(*ra, (void **)a), REDIS_OK);
		ck_assert_int_eq(redisReaderGetReply(*rb, (void **)b), REDIS_OK);
		ck_assert(!*a == !*b);
	}
	ck_assert_ptr_nonnull(*a);
	ck_assert_uint_eq(off, len);
}

static void
done(redisReader *ra, redisReader *rb, redisReply *a, redisReply *b)
{
	freeReplyObject(a);
	rb->fn->freeObject(b);
	redisReaderFree(ra);
	redisReaderFree(rb);
}

static void
setup(void)
{
	ck_assert_int_eq(rreply_keys_init(&keys, names), 0);
}

START_TEST(test_same_trees)
{
	static const char *const answers[] = {
		"+OK\r\n", "-ERR No such master with that name\r\n", ":-42\r\n", "$-1\r\n", "*-1\r\n",
		"*0\r\n", "$0\r\n\r\n",
		"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n",
		"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$14\r\n+switch-master\r\n$5\r\nm a b\r\n",
		"*3\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n+ok\r\n",
	};

	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		for (size_t step = 1; step <= 64; step *= 4) {
			redisReader *ra, *rb;
			redisReply *a, *b;

			read_both(answers[i], strlen(answers[i]), step, NULL, &ra, &rb, &a, &b);
			same(a, b);
			done(ra, rb, a, b);
		}
	}
}
END_TEST

/* A big answer (many arena chunks, strings past the chunk size) is the
 * same tree. */
START_TEST(test_big)
{
	static const size_t lengths[] = { 0, 20000, 70000 };

	for (size_t l = 0; l < 3; l++) {
		int n = lengths[l] ? 5 : 3000;
		char *buf = masters_answer(n, lengths[l]);
		redisReader *ra, *rb;
		redisReply *a, *b;

		read_both(buf, strlen(buf), 16384, NULL, &ra, &rb, &a, &b);
		same(a, b);
		ck_assert_uint_eq(b->elements, (size_t)n);
		done(ra, rb, a, b);
		free(buf);
	}
}
END_TEST

static const redisReply *
field(const redisReply *e, const char *key)
{
	for (size_t i = 0; i + 1 < e->elements; i += 2)
		if (e->element[i]->type == REDIS_REPLY_STRING && strcmp(e->element[i]->str, key) == 0)
			return e->element[i + 1];
	return NULL;
}

/* With a key set, the entries of an array of maps keep only the named
 * fields: the others read as absent; everything else is whole. */
START_TEST(test_keys)
{
	char *buf = masters_answer(200, 0);
	redisReader *ra, *rb;
	redisReply *a, *b;

	read_both(buf, strlen(buf), 1000, &keys, &ra, &rb, &a, &b);
	ck_assert_uint_eq(b->elements, 200);
	for (size_t i = 0; i < b->elements; i++) {
		const redisReply *e = b->element[i], *ref = a->element[i];

		ck_assert_uint_eq(e->elements, 12);
		for (const char *const *k = names; *k; k++) {
			ck_assert_ptr_nonnull(field(e, *k));
			same(field(ref, *k), field(e, *k));
		}
		ck_assert_ptr_null(field(e, "runid"));
		ck_assert_ptr_null(field(e, "quorum"));
		/* The dropped key is "", its value nil. */
		ck_assert_str_eq(e->element[6]->str, "");
		ck_assert_int_eq(e->element[7]->type, REDIS_REPLY_NIL);
	}
	done(ra, rb, a, b);
	free(buf);

	/* A one-level map (SENTINEL MASTER) and a nested value stay whole. */
	{
		static const char one[] = "*4\r\n$4\r\nname\r\n$1\r\nm\r\n$5\r\nrunid\r\n$2\r\nab\r\n";
		static const char nested[] =
			"*1\r\n*6\r\n$5\r\nrunid\r\n*1\r\n$1\r\nx\r\n+quorum\r\n$1\r\n2\r\n$4\r\nname\r\n:3\r\n";

		read_both(one, strlen(one), 3, &keys, &ra, &rb, &a, &b);
		same(a, b);
		done(ra, rb, a, b);
		read_both(nested, strlen(nested), 5, &keys, &ra, &rb, &a, &b);
		ck_assert_int_eq(b->element[0]->element[1]->type, REDIS_REPLY_ARRAY);
		ck_assert_str_eq(b->element[0]->element[1]->element[0]->str, "x");
		/* a status field name stays whole; the value after it is dropped */
		ck_assert_int_eq(b->element[0]->element[2]->type, REDIS_REPLY_STATUS);
		ck_assert_str_eq(b->element[0]->element[2]->str, "quorum");
		ck_assert_int_eq(b->element[0]->element[3]->type, REDIS_REPLY_NIL);
		ck_assert_int_eq(b->element[0]->element[5]->type, REDIS_REPLY_INTEGER);
		done(ra, rb, a, b);
	}
}
END_TEST

/* A protocol error in the middle of a big reply frees what was built. */
START_TEST(test_error_midway)
{
	char *buf = masters_answer(100, 0);
	size_t len = strlen(buf);
	redisReader *r = redisReaderCreate();
	void *reply = NULL;

	rreply_attach(r, &keys);
	ck_assert_int_eq(redisReaderFeed(r, buf, len / 2), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
	ck_assert_ptr_null(reply);
	ck_assert_int_eq(redisReaderFeed(r, "!garbage\r\n", 10), REDIS_OK);
	/* the half entry's next item is bad: an error, nothing leaks */
	(void)redisReaderGetReply(r, &reply);
	ck_assert_ptr_null(reply);
	redisReaderFree(r);
	free(buf);

	/* and a reader freed with a half-read reply frees it */
	buf = masters_answer(50, 0);
	r = redisReaderCreate();
	rreply_attach(r, NULL);
	ck_assert_int_eq(redisReaderFeed(r, buf, strlen(buf) - 7), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
	ck_assert_ptr_null(reply);
	redisReaderFree(r);
	free(buf);
}
END_TEST

/* An array header beyond RREPLY_ELEMENTS_MAX is an error at once, top level
 * or nested, with nothing allocated for its elements and nothing leaked. */
START_TEST(test_huge_array)
{
	static const char *const inputs[] = {
		"*2020200200\r\n", "*2\r\n$1\r\na\r\n*1048577\r\n",
	};
	char ok[32];

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		redisReader *r = redisReaderCreate();
		void *reply = NULL;

		rreply_attach(r, i ? &keys : NULL);
		ck_assert_int_eq(redisReaderFeed(r, inputs[i], strlen(inputs[i])), REDIS_OK);
		ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_ERR);
		ck_assert_ptr_null(reply);
		ck_assert_int_eq(r->err, REDIS_ERR_OOM);
		redisReaderFree(r);
	}
	/* the largest allowed one is read as usual */
	snprintf(ok, sizeof(ok), "*%d\r\n", RREPLY_ELEMENTS_MAX);
	{
		redisReader *r = redisReaderCreate();
		void *reply = NULL;

		rreply_attach(r, NULL);
		ck_assert_int_eq(redisReaderFeed(r, ok, strlen(ok)), REDIS_OK);
		ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
		ck_assert_ptr_null(reply);   /* waiting for its elements */
		redisReaderFree(r);
	}
}
END_TEST

START_TEST(test_keys_limit)
{
	const char *many[RREPLY_KEYS_MAX + 2];
	struct rreply_keys ks;

	for (int i = 0; i < RREPLY_KEYS_MAX + 1; i++)
		many[i] = "k";
	many[RREPLY_KEYS_MAX + 1] = NULL;
	ck_assert_int_eq(rreply_keys_init(&ks, many), -1);
	many[RREPLY_KEYS_MAX] = NULL;
	ck_assert_int_eq(rreply_keys_init(&ks, many), 0);
	ck_assert_uint_eq(ks.n, RREPLY_KEYS_MAX);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rreply");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_same_trees);
	tcase_add_test(tc, test_big);
	tcase_add_test(tc, test_huge_array);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_error_midway);
	tcase_add_test(tc, test_keys_limit);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
