/* The toolkit: arrays, string builder, string arena, tokenizer, socket
 * addresses, lists; and util.c's address comparison. */
#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "tk.h"
#include "util.h"
#include "unit_main.h"

START_TEST(test_grow)
{
	int *a = NULL;
	size_t cap = 0;

	ck_assert_int_eq(tk_grow(&a, &cap, 0, sizeof(*a)), 0);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(tk_grow(&a, &cap, 1, sizeof(*a)), 0);
	ck_assert_uint_eq(cap, 8);
	ck_assert_int_eq(tk_grow(&a, &cap, 9, sizeof(*a)), 0);
	ck_assert_uint_eq(cap, 16);
	for (int i = 0; i < 16; i++)
		a[i] = i;
	ck_assert_int_eq(tk_grow(&a, &cap, 100, sizeof(*a)), 0);
	ck_assert_uint_eq(cap, 128);
	ck_assert_int_eq(a[15], 15);
	/* Overflow: refused, array untouched. */
	ck_assert_int_eq(tk_grow(&a, &cap, SIZE_MAX / 2, sizeof(*a)), -1);
	ck_assert_uint_eq(cap, 128);
	ck_assert_int_eq(a[15], 15);
	free(a);
}
END_TEST

START_TEST(test_vec)
{
	TK_VEC(char *) v = { 0 };
	char name[16];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(tk_vec_push(&v, strdup(name)), 0);
	}
	ck_assert_uint_eq(v.n, 1000);
	ck_assert_uint_ge(v.cap, 1000);
	ck_assert_str_eq(v.v[0], "n0");
	ck_assert_str_eq(v.v[999], "n999");
	for (size_t i = 0; i < v.n; i++)
		free(v.v[i]);
	free(v.v);
}
END_TEST

START_TEST(test_buf)
{
	struct tk_buf b = { 0 };
	char *s;

	ck_assert_int_eq(tk_buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(tk_buf_add(&b, "defgh", 2), 0);
	ck_assert_int_eq(tk_buf_printf(&b, " %d %s", 42, "x"), 0);
	ck_assert_str_eq(b.p, "abcde 42 x");
	ck_assert_uint_eq(b.len, 10);
	tk_buf_consume(&b, 4);
	ck_assert_str_eq(b.p, "e 42 x");
	tk_buf_consume(&b, 100);
	ck_assert_str_eq(b.p, "");
	/* Large formatted appends grow the buffer. */
	for (int i = 0; i < 2000; i++)
		ck_assert_int_eq(tk_buf_printf(&b, "%08d\n", i), 0);
	ck_assert_uint_eq(b.len, 2000 * 9);
	ck_assert_int_eq(strncmp(b.p + 1999 * 9, "00001999\n", 9), 0);
	s = tk_buf_steal(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(strlen(s), 2000 * 9);
	free(s);
	/* Nothing appended: steal gives "". */
	s = tk_buf_steal(&b);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(test_buf_bounded)
{
	struct tk_buf b = { .max = 8 };

	ck_assert_int_eq(tk_buf_puts(&b, "12345678"), 0);
	ck_assert_int_eq(tk_buf_puts(&b, "9"), -1);
	ck_assert_int_eq(b.failed, 1);
	/* Failed: later appends are ignored, steal gives NULL and frees. */
	ck_assert_int_eq(tk_buf_puts(&b, ""), -1);
	ck_assert_ptr_null(tk_buf_steal(&b));
	ck_assert_ptr_null(b.p);

	b.max = 8;
	ck_assert_int_eq(tk_buf_printf(&b, "%s", "1234"), 0);
	ck_assert_int_eq(tk_buf_printf(&b, "%s", "56789"), -1);
	ck_assert_int_eq(b.failed, 1);
	ck_assert_str_eq(b.p, "1234");
	tk_buf_free(&b);
	ck_assert_int_eq(b.failed, 0);
}
END_TEST

/* Strings stay where they were put while more are added, a long one
 * included, which gets a chunk of its own while the current chunk goes on
 * being used; every allocation is aligned; a caller's first buffer is used
 * first; the arena frees its chunks at once (valgrind checks that). */
START_TEST(test_arena)
{
	struct tk_arena a = { 0 };
	const char *p[3000], *big, *after;
	char name[32], *long_text;
	size_t n = sizeof(p) / sizeof(p[0]), big_len = 3 * TK_ARENA_CHUNK_MAX;
	alignas(max_align_t) char first[64];
	void *q;

	for (size_t i = 0; i < n; i++) {
		int l = snprintf(name, sizeof(name), "mymaster-%zu_write", i);

		p[i] = tk_arena_strndup(&a, name, (size_t)l);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq((uintptr_t)p[i] % TK_ARENA_ALIGN, 0);
	}
	long_text = malloc(big_len);
	ck_assert_ptr_nonnull(long_text);
	memset(long_text, 'x', big_len);
	big = tk_arena_strndup(&a, long_text, big_len);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(strlen(big), big_len);
	/* a short one after it still comes from the chunk being filled */
	after = tk_arena_strndup(&a, "r1 and more", 2);
	ck_assert_str_eq(after, "r1");
	ck_assert_ptr_eq(after, p[n - 1] + ((strlen(p[n - 1]) + 1 + TK_ARENA_ALIGN - 1) &
					    ~(size_t)(TK_ARENA_ALIGN - 1)));
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "mymaster-%zu_write", i);
		ck_assert_str_eq(p[i], name);
	}
	ck_assert_str_eq(tk_arena_strndup(&a, "", 0), "");
	free(long_text);
	tk_arena_free(&a);
	ck_assert_ptr_null(a.chunks);
	tk_arena_free(&a);

	/* a first buffer of the caller's: used first, never freed */
	tk_arena_init(&a, first, sizeof(first));
	q = tk_arena_alloc(&a, 10);
	ck_assert_ptr_eq(q, first);
	ck_assert_ptr_eq(tk_arena_alloc(&a, 16), first + 16);
	ck_assert_ptr_null(a.chunks);
	q = tk_arena_alloc(&a, 64);   /* no room left in it: a chunk */
	ck_assert_ptr_nonnull(a.chunks);
	ck_assert(q < (void *)first || q >= (void *)(first + sizeof(first)));
	tk_arena_free(&a);
}
END_TEST

START_TEST(test_token)
{
	const char text[] = "  a, bb\t,ccc  ";
	const char *p = text, *end = text + strlen(text), *t;
	size_t n;

	ck_assert_int_eq(tk_token(&p, end, ", \t", &t, &n), 1);
	ck_assert_int_eq((int)n, 1);
	ck_assert_int_eq(strncmp(t, "a", n), 0);
	ck_assert_int_eq(tk_token(&p, end, ", \t", &t, &n), 1);
	ck_assert_int_eq(strncmp(t, "bb", n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(tk_token(&p, end, ", \t", &t, &n), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(tk_token(&p, end, ", \t", &t, &n), 0);
	ck_assert_int_eq(tk_token(&p, end, ", \t", &t, &n), 0);

	/* A span that ends before the NUL. */
	p = "one two";
	ck_assert_int_eq(tk_token(&p, p + 5, TK_BLANKS, &t, &n), 1);
	ck_assert_int_eq(tk_token(&p, t + 5, TK_BLANKS, &t, &n), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(*t, 't');
	/* A NUL inside the span is a byte of a token. */
	{
		static const char nul[] = { 'a', '\0', 'b', ' ', 'c' };

		p = nul;
		ck_assert_int_eq(tk_token(&p, nul + sizeof(nul), " ", &t, &n), 1);
		ck_assert_uint_eq(n, 3);
		ck_assert_int_eq(tk_token(&p, nul + sizeof(nul), " ", &t, &n), 1);
		ck_assert_uint_eq(n, 1);
		ck_assert_int_eq(*t, 'c');
	}
	/* Empty and all separators. */
	p = "";
	ck_assert_int_eq(tk_token(&p, p, TK_BLANKS, &t, &n), 0);
	p = " \t ";
	ck_assert_int_eq(tk_token(&p, p + 3, TK_BLANKS, &t, &n), 0);
}
END_TEST

START_TEST(test_sockaddr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[128];

	ck_assert_int_eq(tk_sockaddr_ip("127.0.0.1", 6379, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 6379);
	ck_assert_int_eq(tk_sockaddr_ip("::1", 1, &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 1);
	ck_assert_int_eq(tk_sockaddr_ip("localhost", 80, &ss, &len), -1);
	ck_assert_int_eq(tk_sockaddr_ip("127.0.0.1", 0, &ss, &len), -1);
	ck_assert_int_eq(tk_sockaddr_ip("127.0.0.1", 65536, &ss, &len), -1);

	ck_assert_int_eq(tk_sockaddr_unix("/run/x.sock", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_UNIX);
	ck_assert_str_eq(((struct sockaddr_un *)&ss)->sun_path, "/run/x.sock");
	ck_assert_int_eq(tk_sockaddr_unix("", &ss, &len), -1);

	/* The config rule: an absolute path or IP:PORT. */
	ck_assert_int_eq(tk_sockaddr_parse("/run/haproxy/admin.sock", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_UNIX);
	ck_assert_int_eq(tk_sockaddr_parse("127.0.0.1:9999", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(tk_sockaddr_parse("[::1]:9999", &ss, &len, err, sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(tk_sockaddr_parse("admin.sock", &ss, &len, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "expected an absolute unix socket path or IP:PORT");
	ck_assert_int_eq(tk_sockaddr_parse("./admin.sock", &ss, &len, err, sizeof(err)), -1);
	ck_assert_int_eq(tk_sockaddr_parse("localhost:9999", &ss, &len, err, sizeof(err)), -1);
	ck_assert_int_eq(tk_sockaddr_parse("", &ss, &len, err, sizeof(err)), -1);
	{
		char longp[200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		ck_assert_int_eq(tk_sockaddr_parse(longp, &ss, &len, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "unix socket path longer than 107 bytes");
	}
}
END_TEST

struct item {
	int v;
	struct tk_list link;
};

/* One address in any of its spellings; a name only as itself. */
START_TEST(test_addr_equal)
{
	ck_assert(addr_ip_equal("127.0.0.1", "127.0.0.1"));
	ck_assert(addr_ip_equal("::1", "0:0::1"));
	ck_assert(addr_ip_equal("::1", "0000:0000:0000:0000:0000:0000:0000:0001"));
	ck_assert(addr_ip_equal("redis-1", "redis-1"));
	ck_assert(!addr_ip_equal("127.0.0.1", "127.0.0.2"));
	ck_assert(!addr_ip_equal("127.0.0.1", "::ffff:127.0.0.1"));
	ck_assert(!addr_ip_equal("redis-1", "redis-2"));
	ck_assert(!addr_ip_equal("redis-1", "127.0.0.1"));
	ck_assert(!addr_ip_equal("", "127.0.0.1"));
	ck_assert(addr_ip_equal("", ""));
}
END_TEST

START_TEST(test_list)
{
	struct tk_list head = TK_LIST_INIT(head), *pos, *tmp;
	struct item it[4];
	int seen[4], n = 0;

	ck_assert(tk_list_empty(&head));
	for (int i = 0; i < 4; i++) {
		it[i].v = i;
		if (i % 2)
			tk_list_append(&head, &it[i].link);
		else
			tk_list_push(&head, &it[i].link);
	}
	/* push 0, append 1, push 2, append 3: 2 0 1 3 */
	tk_list_for_each_safe(pos, tmp, &head) {
		struct item *x = tk_container_of(pos, struct item, link);

		seen[n++] = x->v;
		if (x->v == 0)
			tk_list_del(pos);
	}
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(seen[0], 2);
	ck_assert_int_eq(seen[1], 0);
	ck_assert_int_eq(seen[2], 1);
	ck_assert_int_eq(seen[3], 3);
	tk_list_del(&it[0].link);   /* twice: harmless */
	n = 0;
	tk_list_for_each_safe(pos, tmp, &head) {
		tk_list_del(pos);
		n++;
	}
	ck_assert_int_eq(n, 3);
	ck_assert(tk_list_empty(&head));
	tk_list_init(&head);
	ck_assert(tk_list_empty(&head));
}
END_TEST

START_TEST(test_ring)
{
	size_t head = 0, count = 0, slots[5];

	ck_assert_uint_eq(tk_ring_at(head, count, 3, 0), TK_RING_NONE);
	for (int i = 0; i < 5; i++)
		slots[i] = tk_ring_push(&head, &count, 3);
	ck_assert_uint_eq(slots[0], 0);
	ck_assert_uint_eq(slots[2], 2);
	ck_assert_uint_eq(slots[3], 0);   /* full: the oldest is overwritten */
	ck_assert_uint_eq(count, 3);
	ck_assert_uint_eq(tk_ring_at(head, count, 3, 0), slots[4]);
	ck_assert_uint_eq(tk_ring_at(head, count, 3, 1), slots[3]);
	ck_assert_uint_eq(tk_ring_at(head, count, 3, 2), slots[2]);
	ck_assert_uint_eq(tk_ring_at(head, count, 3, 3), TK_RING_NONE);
}
END_TEST

START_TEST(test_errf)
{
	char err[8];

	ck_assert_int_eq(tk_errf(err, sizeof(err), "bad %d", 12345), -1);
	ck_assert_str_eq(err, "bad 123");
	ck_assert_int_eq(tk_errf(NULL, 0, "x"), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("toolkit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_grow);
	tcase_add_test(tc, test_vec);
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_buf_bounded);
	tcase_add_test(tc, test_arena);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_sockaddr);
	tcase_add_test(tc, test_addr_equal);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_ring);
	tcase_add_test(tc, test_errf);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
