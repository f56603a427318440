/* Reply objects for a hiredis 0.14.1 reader, built in one arena per reply.
 *
 * hiredis builds a reply with one malloc per object and one more per
 * string, and frees them one by one. A Sentinel's SENTINEL MASTERS answer
 * is thousands of them every resync interval (one entry of ~40 strings per
 * group): the allocator's churn, not the protocol, was most of the agent's
 * idle CPU, and the objects of three such answers in the making at once
 * most of its transient memory.
 *
 * rreply_attach() gives a reader object functions that build the same
 * redisReply trees (same types, lengths, NUL-terminated strings, element
 * vectors), but every object of one reply lives in the reply's own arena:
 * one malloc for a small reply, a few growing chunks for a big one, all
 * freed at once by the reader's freeObject (hiredis frees only the top
 * object of a reply; callbacks borrow the reply as before).
 *
 * With a key set (rreply_keys_init), the entries of an array of maps (a
 * top-level array whose elements are arrays of field name / value pairs:
 * SENTINEL MASTERS, REPLICAS, SENTINELS) keep only the fields named in the
 * set: a named key is a shared object of the set (nothing allocated), the
 * value of any other key is dropped (a shared nil) and its key becomes a
 * shared empty string (bulk strings only: other types are kept whole). Looking an unnamed field up then finds nothing, as
 * if the server had not sent it. Everything else (the top level, a
 * one-level map like SENTINEL MASTER, nested values) is kept whole. */
#ifndef HASENTINEL_RREPLY_H
#define HASENTINEL_RREPLY_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define RREPLY_KEYS_MAX 32

/* The most elements one array may announce. A longer header (garbage, or a
 * hostile peer: "*2000000000") is a reader error (REDIS_ERR_OOM) instead of
 * an element vector of gigabytes zeroed at once. SENTINEL MASTERS of 10 000
 * groups is 10 000 elements; this allows a hundred times that. */
#define RREPLY_ELEMENTS_MAX (1 << 20)

/* The fields kept in the entries of an array of maps. Owned by the caller;
 * must outlive every reader it is attached to (and their replies). Its
 * objects are shared by every reply: read them, never change them. */
struct rreply_keys {
	size_t n;
	redisReply key[RREPLY_KEYS_MAX];
	redisReply dropped_key;     /* "" */
	redisReply dropped_value;   /* nil */
};

/* NAMES: NULL-terminated, borrowed (kept as pointers: string literals).
 * 0, or -1 when there are more than RREPLY_KEYS_MAX names. */
int rreply_keys_init(struct rreply_keys *ks, const char *const *names)
	__attribute__((warn_unused_result));

/* Use the arena functions on reader R from its next reply on (none may be
 * half read). KS: the fields kept in arrays of maps, NULL to keep all;
 * borrowed. R's privdata is taken. */
void rreply_attach(redisReader *r, const struct rreply_keys *ks);

/* The object functions themselves (for a reader created with them). */
extern redisReplyObjectFunctions rreply_functions;

#endif
