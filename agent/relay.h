/* Relays: where the daemon's events go once they happen. main.c wires
 * these in; nothing here decides anything.
 *  - A Sentinel event goes into the journal, and, when it marks a stage of
 *    a failover (+sdown, +odown, +try-failover, +promoted-slave,
 *    +switch-master), into that group's failover timeline.
 *  - A journal entry goes to the status socket's subscribers, and switches
 *    and group state changes also to notify-exec. */
#ifndef HASENTINEL_RELAY_H
#define HASENTINEL_RELAY_H

#include "event.h"
#include "journal.h"

struct agent;

/* A sentinel_cbs.event callback; arg is the struct agent. */
void relay_sentinel_event(void *arg, int si, const struct sentinel_event *ev);
/* A journal on_event callback; arg is the struct agent. */
void relay_journal_entry(void *arg, const struct jevent *e);

#endif
