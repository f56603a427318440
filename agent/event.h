/* Sentinel Pub/Sub event parser: pure, no I/O, fuzzed.
 *
 * Sentinel publishes each event on a channel named after it ("+sdown") with a
 * payload that, for most events, starts with an instance description:
 *   <type> <name> <ip> <port> [@ <master-name> <master-ip> <master-port>] [extra...]
 * where type is master, slave or sentinel. +switch-master is
 *   <master-name> <old-ip> <old-port> <new-ip> <new-port>
 * and +new-epoch is just the epoch. IPv6 addresses appear bare ("::1") in
 * the ip field and bracketed in instance names ("[::1]:6380"). */
#ifndef HASENTINEL_EVENT_H
#define HASENTINEL_EVENT_H

#include <stddef.h>

#include "util.h"

#define EV_NAME_MAX 128

enum sev_type {
	SEV_UNKNOWN = 0,       /* well-formed but not an event we act on */
	SEV_SWITCH_MASTER,     /* +switch-master */
	SEV_SDOWN,             /* +sdown */
	SEV_SDOWN_CLEAR,       /* -sdown */
	SEV_ODOWN,             /* +odown */
	SEV_ODOWN_CLEAR,       /* -odown */
	SEV_SLAVE,             /* +slave */
	SEV_CONVERT_TO_SLAVE,  /* +convert-to-slave */
	SEV_ROLE_CHANGE,       /* +role-change */
	SEV_ROLE_CHANGE_CLEAR, /* -role-change */
	SEV_REBOOT,            /* +reboot */
	SEV_FAILOVER_END,      /* +failover-end, +failover-end-for-timeout */
	SEV_NEW_EPOCH,         /* +new-epoch */
	SEV_FAILOVER_ABORT,    /* -failover-abort-* */
	SEV_TRY_FAILOVER,      /* +try-failover */
	SEV_ELECTED_LEADER,    /* +elected-leader */
	SEV_FAILOVER_STATE,    /* +failover-state-* */
	SEV_SELECTED_SLAVE,    /* +selected-slave */
	SEV_PROMOTED_SLAVE,    /* +promoted-slave */
	SEV_SLAVE_RECONF,      /* +slave-reconf-sent, -inprog, -done */
	SEV_SENTINEL,          /* +sentinel */
	SEV_CONFIG_UPDATE,     /* +config-update-from */
	SEV_TILT,              /* +tilt */
	SEV_TILT_CLEAR,        /* -tilt */
	SEV_MONITOR,           /* +monitor */
	SEV_REMOVE,            /* -monitor */
	SEV_RESET_MASTER,      /* +reset-master */
	SEV_FIX_SLAVE_CONFIG,  /* +fix-slave-config */
	SEV_VOTE_FOR_LEADER,   /* +vote-for-leader */
	SEV_TYPE_COUNT
};

enum sev_inst_type {
	SEV_INST_NONE = 0,
	SEV_INST_MASTER,
	SEV_INST_SLAVE,
	SEV_INST_SENTINEL,
};

struct sev_inst {
	enum sev_inst_type type;
	char name[EV_NAME_MAX];  /* master name, "ip:port" for a slave, run id or ip:port for a sentinel */
	char ip[ADDR_IP_MAX];
	int port;
};

struct sentinel_event {
	enum sev_type type;
	char channel[64];          /* the channel as received, e.g. "+sdown" */
	char master[EV_NAME_MAX];  /* the master group, "" when the event has none (+tilt, +new-epoch) */
	struct sev_inst inst;      /* the instance the event is about (type NONE if none) */
	/* The master's address: for a master instance its own, otherwise the
	 * part after '@'; for +switch-master the OLD address. */
	char master_ip[ADDR_IP_MAX];
	int master_port;
	/* +switch-master only: the new master */
	char new_ip[ADDR_IP_MAX];
	int new_port;
	unsigned long long epoch;  /* +new-epoch, +vote-for-leader; else 0 */
	char extra[256];           /* trailing text, e.g. "#quorum 2/2", "new reported role is master" */
};

/* Parse one message. channel and payload are not NUL-terminated; lengths
 * given. 0 on success (type may be SEV_UNKNOWN for events we do not act on),
 * -1 when the message is malformed (out is then zeroed). Never reads past len. */
int sev_parse(const char *channel, size_t chlen, const char *payload, size_t plen,
	      struct sentinel_event *out) __attribute__((warn_unused_result));

/* "+switch-master", ...: the canonical channel of a type; "?" for UNKNOWN. */
const char *sev_type_name(enum sev_type t);

/* One line for logs and the event ring: "+sdown slave 127.0.0.1:7001 @ mymaster". */
void sev_format(const struct sentinel_event *ev, char *buf, size_t len);

#endif
