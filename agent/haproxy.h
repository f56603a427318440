/* HAProxy runtime API client (the admin stats socket), asynchronous on libev,
 * and a watch connection that notices a restart at once (hap_watch_start).
 *
 * Commands are sent in batches: one connection per batch, in HAProxy's
 * non-interactive mode ("cmd1;cmd2;...\n", HAProxy answers and closes), so
 * every batch reaches the current HAProxy process even across reloads. A
 * batch longer than one request line (8 KiB) goes in interactive mode
 * ("prompt\n", up to HAP_CONN_LINES lines, "quit\n": HAProxy answers each
 * line as it reads it, with no loop iteration of ours in between), over
 * as many connections as it needs, in order. One batch is in flight at a
 * time; others queue (the next one starts as soon as HAProxy has answered
 * the last command of the one before, while that one's callback runs).
 * Each connection has a deadline (connect + answer) on its own ev_timer. */
#ifndef HASENTINEL_HAPROXY_H
#define HASENTINEL_HAPROXY_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "hapapi.h"

/* Request lines one connection carries at most. */
#define HAP_CONN_LINES 8

enum hap_link_state {
	HAP_LINK_UNKNOWN = 0,  /* nothing sent yet */
	HAP_LINK_UP,           /* the last batch was answered */
	HAP_LINK_DOWN,         /* the last batch failed: connect refused, timeout, short answer */
};

struct hap_client;

/* Called once per batch. status 0: every command got a reply (replies[i]
 * belongs to cmds[i]; texts are borrowed until the callback returns);
 * status -1: the link failed, n_replies may be < n_cmds (the commands
 * answered before the failure), err says why. */
typedef void (*hap_batch_cb)(void *arg, int status, const char *const *cmds, size_t n_cmds,
			     const struct hap_reply *replies, size_t n_replies, const char *err);

/* addr: a unix socket path (starts with '/' or '.') or host:port.
 * timeout_ms bounds each connection. Returns NULL with err on a bad address. */
struct hap_client *hap_client_new(struct ev_loop *loop, const char *addr, int timeout_ms,
				  char *err, size_t errlen);
/* Close the request side once a batch is sent (shutdown SHUT_WR): HAProxy's
 * master CLI (haproxy -S) answers and then waits for more until it sees
 * that; a worker's stats socket closes by itself. Off by default. */
void hap_client_set_half_close(struct hap_client *hc, int on);
/* Pending batches are dropped; their callbacks are NOT called. */
void hap_client_free(struct hap_client *hc);

/* Queue a batch (commands are copied). cb may be NULL. 0, or -1 if a command
 * is empty, has a ';' or a newline, or is longer than a request line. */
int hap_submit(struct hap_client *hc, const char *const *cmds, size_t n,
	       hap_batch_cb cb, void *arg) __attribute__((warn_unused_result));

/* Drop every queued batch that has not started (their callbacks are called
 * with status -1, err "cancelled"). Used before a full reconcile so nothing
 * stale is sent. */
void hap_cancel_pending(struct hap_client *hc);

/* The watch: one idle connection in interactive mode ("prompt"), kept open
 * to notice at once when the HAProxy process behind the socket goes away
 * (a restart, a reload, or HAProxy's idle timeout closes it). It is then
 * reconnected every HAP_WATCH_FAST_MS for the first HAP_WATCH_FAST_FOR_MS
 * (a restart: its new process is noticed within a few ms of its socket),
 * then every HAP_WATCH_RETRY_MS; once a new connection is accepted,
 * cb(arg, gone) runs: gone is 1 when connects failed in between (the
 * socket was away: HAProxy restarted), 0 when the first reconnect worked.
 * The caller checks which process it talks to ("show info"). */
#define HAP_WATCH_FAST_MS 5
#define HAP_WATCH_FAST_FOR_MS 5000
#define HAP_WATCH_RETRY_MS 20

/* libev priority of the batch connection's watchers (and of the
 * reconciler's run timer): above the default 0. */
#define HAP_EV_PRIORITY 1
typedef void (*hap_watch_cb)(void *arg, int gone);
void hap_watch_start(struct hap_client *hc, hap_watch_cb cb, void *arg);

/* 1 while the watch is connected to the process it last reported. */
int hap_watch_up(const struct hap_client *hc);
size_t hap_queue_len(const struct hap_client *hc);
int hap_busy(const struct hap_client *hc);

struct hap_stats {
	enum hap_link_state state;
	int64_t last_ok_ms;          /* wall clock of the last answered batch, 0 never */
	int64_t last_fail_ms;
	char last_error[256];
	uint64_t batches_ok, batches_failed;
	uint64_t commands_sent;
};
const struct hap_stats *hap_client_stats(const struct hap_client *hc);
const char *hap_link_state_name(enum hap_link_state s);

#endif
