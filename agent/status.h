/* Status server: a unix stream socket, one request per line, one JSON
 * document per line in reply (jansson). Bounded request size, bounded
 * clients, idle clients dropped, writes never block the loop. */
#ifndef HASENTINEL_STATUS_H
#define HASENTINEL_STATUS_H

#include <stddef.h>

#include <ev.h>
#include <jansson.h>

#define STATUS_REQ_MAX 1024       /* longest request line, newline included */
#define STATUS_MAX_CLIENTS 64
#define STATUS_IDLE_TIMEOUT_MS 10000

struct status_server;
struct status_client;

/* The status socket's commands: the one table, read by the daemon (report.c
 * dispatches on it: each name has a handler cmd_NAME there), by
 * hasentinelctl's help, and, through `hasentinelctl --list commands`, by the
 * documentation test. X(name, synopsis, help); names are C identifiers. */
#define STATUS_COMMANDS(X) \
	X(status,    "status",            "daemon, Sentinel links, HAProxy link and every master") \
	X(topology,  "topology [MASTER]", "each master and its replicas as a tree, with Sentinels' views") \
	X(sentinels, "sentinels",         "Sentinel links: state, tilt, last answer, events seen") \
	X(haproxy,   "haproxy",           "runtime API link, counters and the last commands sent") \
	X(events,    "events [N]",        "the last N events, one per line") \
	X(timeline,  "timeline [MASTER]", "failovers stage by stage, with offsets and deltas") \
	X(page,      "page [FROM]",       "for HAProxy's page: the status in parts that fit one buffer") \
	X(metrics,   "metrics",           "Prometheus text exposition, printed as is") \
	X(resync,    "resync",            "query every Sentinel again and reconcile HAProxy now") \
	X(check,     "check",             "OK, or one problem per line and exit 1") \
	X(subscribe, "subscribe",         "print events as they happen, until EOF or Ctrl-C") \
	X(help,      "help",              "this list of commands")

struct status_command {
	const char *name, *synopsis, *help;
};

/* STATUS_COMMANDS as data, in its order; status_ncommands entries. */
extern const struct status_command status_commands[];
extern const size_t status_ncommands;

/* A parsed request: "cmd [arg]". */
struct status_request {
	char cmd[32];
	char arg[256];
};

/* Parse one request line (without the newline; a trailing '\r' is ignored).
 * Pure, fuzzed. 0, or -1 with err ("empty request", "request too long", "bad
 * character"). Only printable ASCII is accepted. */
int status_parse_request(const char *line, size_t len, struct status_request *out,
			 char *err, size_t errlen) __attribute__((warn_unused_result));

/* A count argument ("page FROM"): decimal digits only (no sign, no space),
 * at least one. *out is its value, or max when it is larger (however many
 * digits). Pure, fuzzed. 0, or -1 when ARG is not such a number. */
int status_parse_count(const char *arg, size_t max, size_t *out) __attribute__((warn_unused_result));

/* Handle a request. Return a new reference to the reply object (the server
 * serialises it compactly, appends '\n' and frees it), or NULL to send
 * {"error": "unknown command"}. The handler may call status_client_stream()
 * to keep the connection open as a stream (then return NULL is not an error:
 * return json_null() to send nothing). */
typedef json_t *(*status_handler_fn)(void *arg, struct status_client *cl,
				     const struct status_request *req);

/* Create the socket at path with the given mode (an old socket file left by
 * a dead process is replaced; a live one is an error). NULL with err. */
struct status_server *status_server_new(struct ev_loop *loop, const char *path, unsigned mode,
					status_handler_fn fn, void *arg, char *err, size_t errlen);
/* Close every client, remove the socket file, free. */
void status_server_free(struct status_server *srv);
/* Idle timeout for clients accepted from now on (default
 * STATUS_IDLE_TIMEOUT_MS; ms <= 0 is ignored). For tests. */
void status_server_set_idle_timeout(struct status_server *srv, int ms);

/* Streaming ("subscribe"): mark the client as a subscriber; it stays open
 * with no idle timeout until it closes. status_broadcast() sends obj (not
 * stolen) as one line to every subscriber; a subscriber whose output backlog
 * exceeds 1 MiB is dropped. */
void status_client_stream(struct status_client *cl);
/* Close the connection once this request is answered (the answer is
 * flushed; later requests on it are ignored): a reader that cannot tell
 * the end of a line from a slow peer reads until the close. */
void status_client_close_after(struct status_client *cl);
void status_broadcast(struct status_server *srv, json_t *obj);
size_t status_client_count(const struct status_server *srv);
/* 1 when some client streams events (status_broadcast has readers). */
int status_has_streams(const struct status_server *srv);

#endif
