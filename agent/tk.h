/* The toolkit: the few containers and helpers every module would otherwise
 * grow again by hand. Pure apart from malloc; no logging, no event loop.
 *
 *   tk_grow / TK_VEC   growable arrays (doubling, overflow-checked)
 *   struct tk_buf      string builder: bounded and formatted appends
 *   struct tk_arena    small objects and strings that never move, freed at once
 *   tk_token           tokenizer over a span of text
 *   tk_sockaddr_*      IP literal + port, or a unix path, -> sockaddr
 *   struct tk_list     intrusive doubly linked list
 *   tk_ring_*          slot arithmetic of fixed-size rings (newest first)
 *   tk_errf            "0 or -1 with err" in one call */
#ifndef HASENTINEL_TK_H
#define HASENTINEL_TK_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

/* ------------------------------------------------------------ arrays */

/* Make the array *arrp (a T **, elements of elsize bytes, *cap of them
 * allocated) hold at least need elements: the capacity doubles from 8.
 * 0, or -1 when out of memory or the size overflows (the array is then
 * unchanged). */
int tk_grow(void *arrp, size_t *cap, size_t need, size_t elsize)
	__attribute__((warn_unused_result));

/* A typed growable array: TK_VEC(int) v = { 0 }; tk_vec_push(&v, 3);
 * free(v.v) when done. */
#define TK_VEC(type) struct { type *v; size_t n, cap; }
/* Append x; 0, or -1 when out of memory. */
#define tk_vec_push(vec, x) \
	(tk_grow(&(vec)->v, &(vec)->cap, (vec)->n + 1, sizeof(*(vec)->v)) == 0 ? \
	 ((vec)->v[(vec)->n++] = (x), 0) : -1)

/* ------------------------------------------------------------ string builder */

/* A growing NUL-terminated string. Zero-initialise it (struct tk_buf b = { 0 }).
 * max bounds the length (0: TK_BUF_MAX); an append that does not fit or finds
 * no memory marks the buffer failed, and every later append is ignored, so
 * callers check once at the end. */
#define TK_BUF_MAX ((size_t)256 << 20)

struct tk_buf {
	char *p;          /* owned; NULL until the first append */
	size_t len, cap;
	size_t max;
	int failed;
};

/* Append len bytes of s / a C string / a formatted string. 0, or -1 (failed). */
int tk_buf_add(struct tk_buf *b, const char *s, size_t len);
int tk_buf_puts(struct tk_buf *b, const char *s);
int tk_buf_printf(struct tk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tk_buf_vprintf(struct tk_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (what was sent); the rest moves to the front. */
void tk_buf_consume(struct tk_buf *b, size_t n);
/* Hand the string over (owned by the caller; "" when nothing was appended),
 * and reset b. NULL when b failed (b is freed then). */
char *tk_buf_steal(struct tk_buf *b);
/* Free and reset. */
void tk_buf_free(struct tk_buf *b);

/* ------------------------------------------------------------ arena */

/* Many small objects kept for as long as one owner lives: carved out of
 * chunks that never move (TK_ARENA_CHUNK_MIN bytes, doubling up to
 * TK_ARENA_CHUNK_MAX; an object over half of that gets a chunk of its own
 * and the current one goes on being used), all freed at once. A
 * zero-initialised arena is ready; tk_arena_init() lets the first
 * allocations come from a buffer of the caller's (aligned to
 * max_align_t), which is never freed. Sentinel replies (rreply.c) and
 * HAProxy's server names (hapapi.c) live in one each. */
#define TK_ARENA_ALIGN 8          /* every allocation's alignment */
#define TK_ARENA_CHUNK_MIN 4096
#define TK_ARENA_CHUNK_MAX 65536

struct tk_arena_chunk;
struct tk_arena {
	struct tk_arena_chunk *chunks;  /* owned */
	char *cur;                      /* the free room of the current chunk */
	size_t left;
	size_t next;                    /* size of the next chunk; 0: TK_ARENA_CHUNK_MIN */
};

void tk_arena_init(struct tk_arena *a, void *first, size_t len);
/* n bytes aligned to TK_ARENA_ALIGN, or NULL when out of memory. */
void *tk_arena_alloc(struct tk_arena *a, size_t n);
/* A NUL-terminated copy of len bytes of s, or NULL when out of memory. */
const char *tk_arena_strndup(struct tk_arena *a, const char *s, size_t len);
/* Free every chunk and reset (a buffer given to tk_arena_init is not the
 * arena's: it is forgotten). */
void tk_arena_free(struct tk_arena *a);

/* ------------------------------------------------------------ tokenizer */

/* The next token of [*p, end): separators (any byte of seps) are skipped,
 * then the token runs to the next separator or end. *tok and *len describe
 * it, *p moves past it. 1 when a token was found, 0 at the end. The span is
 * bytes, not a C string: a NUL in it is part of a token (for a C string s,
 * end is s + strlen(s)). */
int tk_token(const char **p, const char *end, const char *seps, const char **tok, size_t *len);

/* Blanks as config files and requests know them (no newline). */
#define TK_BLANKS " \t\r\v\f"

/* ------------------------------------------------------------ addresses */

/* An IPv4 or IPv6 literal and a port (1..65535) as a socket address.
 * 0, or -1 when ip is not an IP literal or the port is out of range. */
int tk_sockaddr_ip(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
	__attribute__((warn_unused_result));

/* A unix socket path. 0, or -1 when the path is empty or too long. */
int tk_sockaddr_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len)
	__attribute__((warn_unused_result));

/* The one rule for a socket written in a config file: an absolute unix
 * path ("/run/haproxy/admin.sock"), or IP:PORT / [IPv6]:PORT with an IP
 * literal. 0, or -1 with err saying what is wrong. */
int tk_sockaddr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		      char *err, size_t errlen) __attribute__((warn_unused_result));

/* ------------------------------------------------------------ intrusive list */

/* A circular doubly linked list: the head is a struct tk_list of its own,
 * the entries embed one. An empty head points to itself. */
struct tk_list {
	struct tk_list *prev, *next;
};

#define TK_LIST_INIT(name) { &(name), &(name) }
#define tk_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

void tk_list_init(struct tk_list *head);
int tk_list_empty(const struct tk_list *head);
/* Insert e at the front / the back of head. */
void tk_list_push(struct tk_list *head, struct tk_list *e);
void tk_list_append(struct tk_list *head, struct tk_list *e);
/* Unlink e (it then points to itself: removing it twice is harmless). */
void tk_list_del(struct tk_list *e);

/* for (pos, tmp: struct tk_list *): the current entry may be removed. */
#define tk_list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

/* ------------------------------------------------------------ rings */

/* A ring of cap slots kept by the caller as head (the next slot to write)
 * and count (slots in use, at most cap). */
#define TK_RING_NONE ((size_t)-1)

/* The slot to write next; head and count advance (the oldest entry is
 * overwritten once the ring is full). */
size_t tk_ring_push(size_t *head, size_t *count, size_t cap);
/* The slot of the i-th newest entry (0: the newest), or TK_RING_NONE when
 * there are not that many. */
size_t tk_ring_at(size_t head, size_t count, size_t cap, size_t i);

/* ------------------------------------------------------------ errors */

/* Format into err (when err and errlen are set) and return -1, so a
 * failure is "return tk_errf(err, errlen, ...);". */
int tk_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
