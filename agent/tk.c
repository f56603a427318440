#include "tk.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "util.h"

/* ------------------------------------------------------------ arrays */

int
tk_grow(void *arrp, size_t *cap, size_t need, size_t elsize)
{
	void *arr, *na;
	size_t ncap;

	if (need <= *cap)
		return 0;
	if (elsize == 0)
		return -1;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elsize)
		return -1;
	/* arrp is a T **: copy the pointer out and back rather than type-pun it. */
	memcpy(&arr, arrp, sizeof(arr));
	na = realloc(arr, ncap * elsize);
	if (!na)
		return -1;
	memcpy(arrp, &na, sizeof(na));
	*cap = ncap;
	return 0;
}

/* ------------------------------------------------------------ arena */

struct tk_arena_chunk {
	struct tk_arena_chunk *next;
	size_t size;
};

#define TK_ARENA_ROUND(n) (((n) + TK_ARENA_ALIGN - 1) & ~(size_t)(TK_ARENA_ALIGN - 1))
#define TK_ARENA_HDR TK_ARENA_ROUND(sizeof(struct tk_arena_chunk))

void
tk_arena_init(struct tk_arena *a, void *first, size_t len)
{
	a->chunks = NULL;
	a->cur = first;
	a->left = first ? len : 0;
	a->next = TK_ARENA_CHUNK_MIN;
}

/* A chunk of size bytes, linked into a's list; NULL when out of memory. */
static struct tk_arena_chunk *
arena_chunk(struct tk_arena *a, size_t size)
{
	struct tk_arena_chunk *c = malloc(TK_ARENA_HDR + size);

	if (!c)
		return NULL;
	c->size = size;
	c->next = a->chunks;
	a->chunks = c;
	return c;
}

void *
tk_arena_alloc(struct tk_arena *a, size_t n)
{
	struct tk_arena_chunk *c;
	size_t size;
	void *p;

	if (n > SIZE_MAX - TK_ARENA_HDR - TK_ARENA_ALIGN)
		return NULL;
	n = TK_ARENA_ROUND(n);
	if (n <= a->left) {
		p = a->cur;
		a->cur += n;
		a->left -= n;
		return p;
	}
	if (n > TK_ARENA_CHUNK_MAX / 2) {
		/* A big object (a long string, a long element vector) gets a
		 * chunk of its own: the current one goes on being used. */
		c = arena_chunk(a, n);
		return c ? (char *)c + TK_ARENA_HDR : NULL;
	}
	if (!a->next)
		a->next = TK_ARENA_CHUNK_MIN;
	size = a->next;
	while (size < n)
		size *= 2;
	if (a->next < TK_ARENA_CHUNK_MAX)
		a->next *= 2;
	c = arena_chunk(a, size);
	if (!c)
		return NULL;
	a->cur = (char *)c + TK_ARENA_HDR + n;
	a->left = size - n;
	return (char *)c + TK_ARENA_HDR;
}

const char *
tk_arena_strndup(struct tk_arena *a, const char *s, size_t len)
{
	char *p = len < SIZE_MAX ? tk_arena_alloc(a, len + 1) : NULL;

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
tk_arena_free(struct tk_arena *a)
{
	while (a->chunks) {
		struct tk_arena_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	a->cur = NULL;
	a->left = 0;
	a->next = TK_ARENA_CHUNK_MIN;
}

/* ------------------------------------------------------------ string builder */

static size_t
buf_max(const struct tk_buf *b)
{
	return b->max ? b->max : TK_BUF_MAX;
}

/* Room for extra more bytes and the NUL. */
static int
buf_reserve(struct tk_buf *b, size_t extra)
{
	if (b->failed)
		return -1;
	if (extra > buf_max(b) || b->len > buf_max(b) - extra) {
		b->failed = 1;
		return -1;
	}
	if (tk_grow(&b->p, &b->cap, b->len + extra + 1, 1) < 0) {
		b->failed = 1;
		return -1;
	}
	return 0;
}

int
tk_buf_add(struct tk_buf *b, const char *s, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int
tk_buf_puts(struct tk_buf *b, const char *s)
{
	return tk_buf_add(b, s, strlen(s));
}

int
tk_buf_vprintf(struct tk_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (b->failed)
		return -1;
	va_copy(cp, ap);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if (b->p && (size_t)n < b->cap - b->len) {
		if ((size_t)n > buf_max(b) - b->len) {
			b->p[b->len] = '\0';
			b->failed = 1;
			return -1;
		}
		b->len += (size_t)n;
		return 0;
	}
	if (buf_reserve(b, (size_t)n) < 0) {
		if (b->p)
			b->p[b->len] = '\0';   /* undo the cut-off attempt above */
		return -1;
	}
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
tk_buf_printf(struct tk_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tk_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void
tk_buf_consume(struct tk_buf *b, size_t n)
{
	if (!b->p)
		return;
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	b->p[b->len] = '\0';
}

char *
tk_buf_steal(struct tk_buf *b)
{
	char *s;

	if (b->failed) {
		tk_buf_free(b);
		return NULL;
	}
	s = b->p ? b->p : strdup("");
	b->p = NULL;
	b->len = b->cap = 0;
	return s;
}

void
tk_buf_free(struct tk_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

/* ------------------------------------------------------------ tokenizer */

/* strchr() would also match the NUL: a NUL byte in the span is text. */
static int
is_sep(const char *seps, char ch)
{
	return ch != '\0' && strchr(seps, ch) != NULL;
}

int
tk_token(const char **p, const char *end, const char *seps, const char **tok, size_t *len)
{
	const char *s = *p, *t;

	while (s < end && is_sep(seps, *s))
		s++;
	if (s >= end) {
		*p = s;
		return 0;
	}
	t = s;
	while (s < end && !is_sep(seps, *s))
		s++;
	*tok = t;
	*len = (size_t)(s - t);
	*p = s;
	return 1;
}

/* ------------------------------------------------------------ addresses */

int
tk_sockaddr_ip(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	return -1;
}

int
tk_sockaddr_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!path || !*path || strlen(path) >= sizeof(sun->sun_path))
		return -1;
	sun->sun_family = AF_UNIX;
	str_copy(sun->sun_path, path, sizeof(sun->sun_path));
	*len = sizeof(*sun);
	return 0;
}

int
tk_sockaddr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
		  char *err, size_t errlen)
{
	char host[ADDR_IP_MAX];
	int port;

	if (!text || !*text) {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	if (text[0] == '/') {
		if (tk_sockaddr_unix(text, ss, len) < 0) {
			snprintf(err, errlen, "unix socket path longer than %zu bytes",
				 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		return 0;
	}
	if (addr_parse(text, host, sizeof(host), &port) < 0 || tk_sockaddr_ip(host, port, ss, len) < 0) {
		snprintf(err, errlen, "expected an absolute unix socket path or IP:PORT");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ intrusive list */

void
tk_list_init(struct tk_list *head)
{
	head->prev = head->next = head;
}

int
tk_list_empty(const struct tk_list *head)
{
	return head->next == head;
}

static void
list_insert(struct tk_list *prev, struct tk_list *next, struct tk_list *e)
{
	e->prev = prev;
	e->next = next;
	prev->next = e;
	next->prev = e;
}

void
tk_list_push(struct tk_list *head, struct tk_list *e)
{
	list_insert(head, head->next, e);
}

void
tk_list_append(struct tk_list *head, struct tk_list *e)
{
	list_insert(head->prev, head, e);
}

void
tk_list_del(struct tk_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

/* ------------------------------------------------------------ rings */

size_t
tk_ring_push(size_t *head, size_t *count, size_t cap)
{
	size_t slot = *head;

	*head = (*head + 1) % cap;
	if (*count < cap)
		(*count)++;
	return slot;
}

size_t
tk_ring_at(size_t head, size_t count, size_t cap, size_t i)
{
	if (i >= count)
		return TK_RING_NONE;
	return (head + cap - 1 - i) % cap;
}

/* ------------------------------------------------------------ errors */

int
tk_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
