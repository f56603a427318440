#include "rreply.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

#define RR_FIRST 512          /* in the top object itself: most replies fit */

/* The top object of a reply: what hiredis and the callbacks see first,
 * then the arena every other object of the reply comes from (its first
 * RR_FIRST bytes in the top object itself). */
struct rr_root {
	redisReply r;
	struct tk_arena arena;
	alignas(max_align_t) char first[RR_FIRST];
};

/* N bytes aligned (redisReply and its element vectors) from root's arena,
 * NULL when out of memory. */
static void *
rr_alloc(struct rr_root *root, size_t n)
{
	return tk_arena_alloc(&root->arena, n);
}

static void
rr_free(void *obj)
{
	struct rr_root *root = obj;

	if (!root)
		return;
	tk_arena_free(&root->arena);
	free(root);
}

/* A new object of the given type for task: the top object of a new reply,
 * or one from its reply's arena, linked into its parent. */
static redisReply *
rr_object(const redisReadTask *task, int type)
{
	const redisReadTask *t = task;
	struct rr_root *root;
	redisReply *r, *parent;

	if (!task->parent) {
		root = malloc(sizeof(*root));
		if (!root)
			return NULL;
		memset(&root->r, 0, sizeof(root->r));
		root->r.type = type;
		tk_arena_init(&root->arena, root->first, sizeof(root->first));
		return &root->r;
	}
	while (t->parent)
		t = t->parent;
	root = t->obj;
	r = rr_alloc(root, sizeof(*r));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->type = type;
	parent = task->parent->obj;
	parent->element[task->idx] = r;
	return r;
}

static struct rr_root *
rr_root_of(const redisReadTask *task)
{
	while (task->parent)
		task = task->parent;
	return task->obj;
}

/* The key set applies to task: a field of an entry of a top-level array
 * (only bulk strings are filtered; a status or an error stays whole). */
static const struct rreply_keys *
rr_keys(const redisReadTask *task)
{
	const struct rreply_keys *ks = task->privdata;

	if (!ks || !task->parent || !task->parent->parent || task->parent->parent->parent)
		return NULL;
	return ks;
}

static int
rr_is_kept_key(const struct rreply_keys *ks, const redisReply *k)
{
	return k >= ks->key && k < ks->key + ks->n;
}

static void *
rr_create_string(const redisReadTask *task, char *str, size_t len)
{
	const struct rreply_keys *ks = rr_keys(task);
	redisReply *r;
	char *buf;

	if (ks && task->type == REDIS_REPLY_STRING) {
		redisReply *entry = task->parent->obj;

		if (task->idx % 2 == 0) {
			/* A field name: the set's own object, or the dropped one. */
			const redisReply *k = &ks->dropped_key;

			for (size_t i = 0; i < ks->n; i++) {
				if (ks->key[i].len == len && memcmp(ks->key[i].str, str, len) == 0) {
					k = &ks->key[i];
					break;
				}
			}
			entry->element[task->idx] = (redisReply *)k;
			return (void *)k;
		}
		if (!rr_is_kept_key(ks, entry->element[task->idx - 1])) {
			entry->element[task->idx] = (redisReply *)&ks->dropped_value;
			return (void *)&ks->dropped_value;
		}
	}
	r = rr_object(task, task->type);
	if (!r)
		return NULL;
	buf = task->parent ? rr_alloc(rr_root_of(task), len + 1) :
	      rr_alloc((struct rr_root *)r, len + 1);
	if (!buf) {
		if (!task->parent)
			rr_free(r);
		return NULL;
	}
	memcpy(buf, str, len);
	buf[len] = '\0';
	r->str = buf;
	r->len = len;
	return r;
}

static void *
rr_create_array(const redisReadTask *task, int elements)
{
	redisReply *r = rr_object(task, REDIS_REPLY_ARRAY);

	if (!r)
		return NULL;
	if (elements > RREPLY_ELEMENTS_MAX) {
		if (!task->parent)
			rr_free(r);
		return NULL;
	}
	if (elements > 0) {
		struct rr_root *root = task->parent ? rr_root_of(task) : (struct rr_root *)r;

		r->element = rr_alloc(root, (size_t)elements * sizeof(*r->element));
		if (!r->element) {
			if (!task->parent)
				rr_free(r);
			return NULL;
		}
		memset(r->element, 0, (size_t)elements * sizeof(*r->element));
	}
	r->elements = elements > 0 ? (size_t)elements : 0;
	return r;
}

static void *
rr_create_integer(const redisReadTask *task, long long value)
{
	redisReply *r = rr_object(task, REDIS_REPLY_INTEGER);

	if (r)
		r->integer = value;
	return r;
}

static void *
rr_create_nil(const redisReadTask *task)
{
	return rr_object(task, REDIS_REPLY_NIL);
}

redisReplyObjectFunctions rreply_functions = {
	rr_create_string,
	rr_create_array,
	rr_create_integer,
	rr_create_nil,
	rr_free,
};

int
rreply_keys_init(struct rreply_keys *ks, const char *const *names)
{
	static char empty[1];

	memset(ks, 0, sizeof(*ks));
	for (; names && *names; names++) {
		redisReply *k;

		if (ks->n == RREPLY_KEYS_MAX)
			return -1;
		k = &ks->key[ks->n++];
		k->type = REDIS_REPLY_STRING;
		k->str = (char *)*names;
		k->len = strlen(*names);
	}
	ks->dropped_key.type = REDIS_REPLY_STRING;
	ks->dropped_key.str = empty;
	ks->dropped_value.type = REDIS_REPLY_NIL;
	return 0;
}

void
rreply_attach(redisReader *r, const struct rreply_keys *ks)
{
	r->fn = &rreply_functions;
	r->privdata = (void *)ks;
}
