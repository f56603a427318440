/* The planner: what a backend should look like -> runtime API commands.
 * Pure: data in, data out; unit-tested without HAProxy.
 *
 * A backend holds a fixed set of server slots (server-template). Each target
 * (a Redis node, with whether it should take traffic) gets a slot: the slot
 * that already has its address if there is one (so a restarted agent adopts
 * what HAProxy holds and nothing flaps), else a free slot whose address is
 * changed. Slots no target claims are put in maintenance.
 *
 * Command order inside a backend is the safety property: every slot leaving
 * service goes to maint first (and, in a write backend, its sessions are shut
 * down right after), then addresses change, and only then do slots become
 * ready. So a write backend never has two ready servers, even for a moment. */
#ifndef HASENTINEL_PLAN_H
#define HASENTINEL_PLAN_H

#include <stddef.h>

#include "hapapi.h"
#include "util.h"

#define PLAN_CMD_MAX 320   /* the longest command, its NUL included */

struct plan_target {
	char ip[ADDR_IP_MAX];
	int port;
	int ready;      /* 1: should take traffic; 0: keep in the backend but in maint */
};

enum plan_cmd_kind {
	PLAN_MAINT,     /* set server B/S state maint */
	PLAN_SHUTDOWN,  /* shutdown sessions server B/S */
	PLAN_ADDR,      /* set server B/S addr IP port P */
	PLAN_READY,     /* set server B/S state ready */
};

/* Commands are as long as their text: the texts live one after the other
 * in the plan's text buffer (a full reapply of 10 000 groups is about 70 000
 * commands of some 50 bytes). */
struct plan_cmd {
	enum plan_cmd_kind kind;
	const char *text;        /* into the plan's text buffer, NUL-terminated */
	size_t off;              /* where: text == plan.text + off */
	int stays_maint;         /* PLAN_ADDR of a slot the plan leaves in maint: it
				  * may run after anything else (nothing routes to it) */
	int slot;                /* the slot it is about: an index into plan_backend's slots */
	int target;              /* PLAN_ADDR: the target whose address it sets (an
				  * index into plan_backend's targets); -1 otherwise */
};

struct plan {
	struct plan_cmd *cmds;   /* owned */
	size_t n, cap;
	char *text;              /* owned: every command's text */
	size_t tlen, tcap;
	int errors;              /* number of targets that found no slot */
};

void plan_init(struct plan *p);
void plan_free(struct plan *p);
/* Empty the plan, keeping its buffers for the next one. */
void plan_clear(struct plan *p);

/* Append to out the commands that bring the slots of one backend to the
 * targets. slots are that backend's rows (borrowed). Targets that want ready
 * get slots before those that do not. When slots run out, the targets left
 * over are reported in err (first one named), out->errors counts them, the
 * rest of the plan is still produced, and -1 is returned; 0 otherwise.
 * is_write: shut down sessions of every slot that leaves the ready state,
 * and never produce more than one ready slot (extra ready targets are an
 * error, returned as -1, and only the first is made ready).
 * is_write == PLAN_WRITE_SURE: the same, and whatever the slots say about
 * maint: a slot whose address changes is put in maint first, and when a
 * slot is made ready every other slot is put in maint before it. For slots
 * known from the agent's own record rather than a read (another writer may
 * have made one ready); a plan that readies and readdresses nothing is the
 * same as without. */
#define PLAN_WRITE_SURE 2
int plan_backend(const char *backend, const struct hap_server *slots, size_t nslots,
		 const struct plan_target *targets, size_t ntargets, int is_write,
		 struct plan *out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* What the slots hold once cmds (the commands plan_backend added for them,
 * with the same slots and targets) have run, as HAProxy 2.6 does it: maint
 * sets forced maintenance (and ends a forced drain), ready ends both, addr
 * sets address and port. */
void plan_apply(struct hap_server *slots, size_t nslots, const struct plan_target *targets, size_t ntargets,
		const struct plan_cmd *cmds, size_t ncmds);

#endif
