/* HAProxy runtime API text: parsers for the replies, pure, no I/O, fuzzed.
 *
 * In non-interactive mode HAProxy answers "cmd1;cmd2;...\n" with each
 * command's output followed by one empty line, then closes. A command that
 * succeeds silently ("set server b/s state ready") answers just "\n". */
#ifndef HASENTINEL_HAPAPI_H
#define HASENTINEL_HAPAPI_H

#include <stddef.h>

#include "tk.h"
#include "util.h"

#define HAP_NAME_MAX 128

/* srv_admin_state bits (HAProxy's SRV_ADMF_*) */
#define HAP_ADMF_FMAINT 0x01   /* forced maintenance (set server state maint) */
#define HAP_ADMF_IMAINT 0x02   /* inherited maintenance (track) */
#define HAP_ADMF_CMAINT 0x04   /* "disabled" in the config: informational, sticky */
#define HAP_ADMF_FDRAIN 0x08
#define HAP_ADMF_IDRAIN 0x10
#define HAP_ADMF_RMAINT 0x20   /* DNS resolution failed */
#define HAP_ADMF_HMAINT 0x40   /* hostname */
#define HAP_ADMF_MAINT  (HAP_ADMF_FMAINT | HAP_ADMF_IMAINT | HAP_ADMF_RMAINT)
#define HAP_ADMF_DRAIN  (HAP_ADMF_FDRAIN | HAP_ADMF_IDRAIN)

/* srv_op_state */
enum hap_op_state { HAP_OP_STOPPED = 0, HAP_OP_STARTING = 1, HAP_OP_RUNNING = 2, HAP_OP_STOPPING = 3 };

/* One row of "show servers state" (format version 1). The names are
 * borrowed: from the hap_state's arena for parsed rows (the rows of one
 * backend share one copy of its name), from whoever builds the row
 * otherwise. Names are shorter than HAP_NAME_MAX. */
struct hap_server {
	const char *backend;
	const char *name;
	int be_id;
	int srv_id;
	int port;
	int op_state;
	unsigned admin_state;
	char addr[ADDR_IP_MAX];
};

/* One backend's rows: srv[first .. first+count). */
struct hap_backend_span {
	const char *name;         /* borrowed from srv[first].backend */
	size_t first, count;
};

struct hap_state {
	struct hap_server *srv;   /* owned array, in HAProxy's order */
	size_t n, cap;
	struct hap_backend_span *index;  /* owned, sorted by name; built by hap_state_index() */
	size_t nindex;
	struct tk_arena names;    /* owned: the rows' names */
};

/* Parse the output of "show servers state [backend]" (one reply, without the
 * terminating empty line or with it). Appends rows to out (so several replies
 * can be merged). Servers on a unix socket (srv_addr "-", srv_port 0) are
 * not slots and are left out: haproxy.cfg's hold loop. 0, or -1 with err
 * filled (version not 1, bad row); rows parsed before the error stay in
 * out. */
int hap_state_parse(const char *text, size_t len, struct hap_state *out,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
void hap_state_free(struct hap_state *st);

/* 1 when the server takes traffic as far as the admin state goes: not in
 * maintenance and not draining ("set server ... state ready"). */
int hap_server_is_ready(const struct hap_server *s);

/* Build the name index so hap_state_backend() is a binary search instead
 * of a scan (1000 backends: 2000 lookups per reconcile). Parsing more rows
 * drops the index. 0, or -1 when out of memory (lookups then scan). */
int hap_state_index(struct hap_state *st);

/* Servers of one backend: first index and count (rows of a backend are
 * contiguous in HAProxy's output). 0 found, -1 not. */
int hap_state_backend(const struct hap_state *st, const char *backend,
		      size_t *first, size_t *count);

/* "show info" fields we use. */
struct hap_info {
	long pid;
	long uptime_sec;
	char version[64];
	char node[64];
};
/* 0, or -1 when Pid is missing or a field is malformed. */
int hap_info_parse(const char *text, size_t len, struct hap_info *out)
	__attribute__((warn_unused_result));

/* The master CLI's "show proc": the pids of the old workers (processes of
 * earlier reloads still serving their connections), at most max of them.
 * Returns how many (also 0), or -1 when the text is not a "show proc"
 * answer (no "#<PID>" header). */
int hap_proc_parse(const char *text, size_t len, long *old, size_t max)
	__attribute__((warn_unused_result));

/* One stream of "show sess": its id (the "0x..." pointer that "shutdown
 * session" takes) and its backend and server ("<NONE>" / "<none>" when it
 * has none yet). */
struct hap_sess {
	char id[24];
	char backend[HAP_NAME_MAX];
	char server[HAP_NAME_MAX];
};
/* Parse "show sess". Streams whose line lacks be= or srv=, or whose names do
 * not fit, are skipped. *out is a malloc'd array the caller frees (NULL
 * when there are none). Returns how many, or -1 when out of memory. */
long hap_sess_parse(const char *text, size_t len, struct hap_sess **out)
	__attribute__((warn_unused_result));

/* One command's reply inside a concatenated answer: borrowed pointers into the
 * buffer given to hap_reply_split(). text excludes the terminating empty line. */
struct hap_reply {
	const char *text;
	size_t len;
};

/* Split a whole answer into at most max replies. Returns the number of
 * complete replies found (a trailing reply without its empty line is not
 * counted). */
size_t hap_reply_split(const char *buf, size_t len, struct hap_reply *out, size_t max);

/* HAProxy's interactive mode ("prompt") answers each command with its
 * output, an empty line and the prompt "> "; the first answer is the
 * prompt command's own (an empty line). Rewrite buf[0..len) in place into
 * the non-interactive form hap_reply_split() reads (each command's output
 * and an empty line), without the prompt command's answer and without a
 * trailing prompt. Returns the new length (<= len). A cut-off answer stays
 * cut off: its last reply lacks its empty line. */
size_t hap_prompt_strip(char *buf, size_t len);

/* Whether the reply to cmd means success. cmd is the command line we sent
 * ("set server b/s state maint", "set server b/s addr 1.2.3.4 port 5",
 * "shutdown sessions server b/s", "show ..."). 1 ok, 0 error. */
int hap_reply_ok(const char *cmd, const char *reply, size_t len);

#endif
