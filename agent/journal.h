/* The journal: what operators look back at. A ring of recent events
 * (Sentinel events and the agent's own decisions and HAProxy commands), a
 * ring of the last runtime API commands with their replies, and one
 * timeline per failover (first +sdown to HAProxy's acknowledgement).
 * Pure data, no I/O; the status socket reads it. */
#ifndef HASENTINEL_JOURNAL_H
#define HASENTINEL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_EVENTS 512
#define JOURNAL_CMDS 64
#define JOURNAL_TIMELINES 64
#define JOURNAL_TL_OPEN_MS 120000   /* a failover still open after this is left as it is */
#define JOURNAL_TL_ECHO_MS 30000    /* late announcements of a finished failover join it */

/* Longest kept, terminating NUL included: longer ones are truncated. */
#define JEVENT_SOURCE_MAX 12
#define JEVENT_SENTINEL_MAX 72
#define JEVENT_MASTER_MAX 128
#define JEVENT_TYPE_MAX 48
#define JEVENT_TEXT_MAX 320

/* One event. Its strings live in one allocation of the event's own, sized
 * to them (a ring of fixed buffers would hold 300 KB at any size). */
struct jevent {
	int64_t at_ms;           /* wall clock */
	uint64_t seq;
	const char *source;      /* "sentinel", "agent", "haproxy" */
	const char *sentinel;    /* the Sentinel that published it, "" otherwise */
	const char *master;
	const char *type;        /* "+switch-master", "switch", "role-confirmed", "command" ... */
	const char *text;
	char *mem;               /* owned: the strings above; NULL when they are "" */
};

struct jcmd {
	int64_t at_ms;
	int ok;
	char command[320];
	char reply[160];
};

enum tl_stage {
	TL_SDOWN = 0,
	TL_ODOWN,
	TL_FAILOVER_START,
	TL_PROMOTED,
	TL_SWITCH_SEEN,
	TL_DECISION,
	TL_ROLE_CONFIRMED,
	TL_HAPROXY_SENT,
	TL_HAPROXY_ACKED,
	TL_FENCED,           /* early fence: the master left the write backend (topo.h F1) */
	TL_MASTER_BACK,      /* no failover: the same master back (fence lifted, or -sdown) */
	TL_NSTAGES
};

/* How a record ended. */
enum tl_outcome {
	TL_OPEN = 0,         /* in progress (or left open: see JOURNAL_TL_OPEN_MS) */
	TL_SWITCHED,         /* a switch, acknowledged by HAProxy and announced */
	TL_NO_FAILOVER,      /* the master came back, no failover followed */
};

struct tl_record {
	char master[128];
	char from[72];
	char to[72];
	uint64_t epoch;
	int64_t at[TL_NSTAGES];  /* wall ms, 0 = not seen */
	int complete;            /* ended: outcome is TL_SWITCHED or TL_NO_FAILOVER */
	int outcome;             /* enum tl_outcome */
};

typedef void (*journal_event_fn)(void *arg, const struct jevent *e);

struct journal {
	struct jevent ev[JOURNAL_EVENTS];
	size_t ev_head, ev_count;       /* ev_head: next slot to write */
	uint64_t ev_total;
	struct jcmd cmds[JOURNAL_CMDS];
	size_t cmd_head, cmd_count;
	struct tl_record tl[JOURNAL_TIMELINES];
	size_t tl_head, tl_count;
	journal_event_fn on_event;      /* called for every event added (subscribers) */
	void *on_event_arg;
};

void journal_init(struct journal *j);
/* Free what the events hold (the journal itself is the caller's). */
void journal_free(struct journal *j);

/* Add an event; text is printf-formatted. */
void journal_add(struct journal *j, int64_t at_ms, const char *source, const char *sentinel,
		 const char *master, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* The i-th most recent event (0 = newest), or NULL. */
const struct jevent *journal_event(const struct journal *j, size_t i);

void journal_cmd(struct journal *j, int64_t at_ms, const char *command, const char *reply,
		 size_t reply_len, int ok);
const struct jcmd *journal_cmd_at(const struct journal *j, size_t i);   /* 0 = newest */

/* Record a failover stage for master at at_ms. from/to/epoch may be NULL/0
 * when the stage does not know them. Stages that start a failover (sdown,
 * odown, failover-start, promoted, switch-master-seen, decision) open a
 * record when none is open; the others only fill an open one. The first
 * time of each stage is kept. A record completes once HAProxy acknowledged
 * and some Sentinel announced the switch. Returns the record or NULL. */
struct tl_record *journal_stage(struct journal *j, const char *master, enum tl_stage st,
				int64_t at_ms, const char *from, const char *to, uint64_t epoch);
/* The master addr of master is back and no failover happened: the open
 * record (if it has no promotion, switch or decision, and is about addr)
 * ends with TL_MASTER_BACK at at_ms, outcome TL_NO_FAILOVER. Called when a
 * fence ends with the same master, and on -sdown of an unfenced master.
 * Returns the record closed, or NULL. */
struct tl_record *journal_master_back(struct journal *j, const char *master, int64_t at_ms, const char *addr);
const struct tl_record *journal_timeline(const struct journal *j, size_t i);  /* 0 = newest */
const char *tl_stage_name(enum tl_stage st);
/* "switch", "no-failover", "in-progress". */
const char *tl_outcome_name(int outcome);
/* First stage time of a record (0 if none) and the last. */
int64_t tl_start(const struct tl_record *r);
int64_t tl_end(const struct tl_record *r);

#endif
