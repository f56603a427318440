/* hasentinelctl's views: what it prints for people. */
#ifndef HASENTINEL_CTL_VIEW_H
#define HASENTINEL_CTL_VIEW_H

#include <stddef.h>

#include <jansson.h>

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_ERROR = 1,    /* the daemon answered an error */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_CONNECT = 3,  /* cannot connect, timeout, no answer */
};

/* "hasentinelctl: message" on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The human view of cmd's answer; an exit code. An unknown command, or an
 * answer of a shape its printer does not know, is printed as indented JSON. */
int view_print(const char *cmd, const json_t *root);
/* Indented JSON. */
void view_pretty(const json_t *root);
/* 1 when e looks like one event of the subscribe stream; then
 * view_event_line() prints it in the `events` line format. */
int view_is_event(const json_t *e);
void view_event_line(const json_t *e);

/* o[key] when it is a string, else NULL (borrowed). */
const char *view_str(const json_t *o, const char *key);
/* A printable copy of src in dst: control characters become '?', empty or
 * NULL becomes "-", too long ends in "...". */
void view_clean(char *dst, size_t len, const char *src);

#endif
