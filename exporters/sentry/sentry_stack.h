/* sentry_stack.h -- OTel exception.stacktrace text to Sentry exception values.
 *
 * Recognised formats (WIRE-SPECS 4.5 wants frames oldest -> newest):
 *   Python  "Traceback (most recent call last):" / '  File "x.py", line 3, in f'
 *           with the source line as context_line; chained tracebacks ("During
 *           handling...", "The above exception...") become several values, in
 *           text order, which is already oldest first.
 *   Java    "type: message" then "\tat pkg.Class.method(File.java:42)";
 *           "Caused by:" blocks become values, the deepest cause first;
 *           "Suppressed:" blocks and "... N more" are skipped.
 *   Node/JS "Error: message" then "    at fn (file.js:10:5)" or "at file.js:1:2".
 *   Go      [panic: msg] [goroutine N [state]:] then "pkg.fn(args)" /
 *           "\t/path/file.go:12 +0x1d" pairs (first goroutine only).
 * Java, JS and Go print the newest frame first, so their frames are reversed.
 * A value keeps at most 50 frames: the 25 oldest and the 25 newest. */
#ifndef PIPIT_SENTRY_STACK_H
#define PIPIT_SENTRY_STACK_H

#include <json-c/json.h>

#define PP_SENTRY_MAX_FRAMES 50

/* A JSON array of exception values ({type?, value?, stacktrace?: {frames}}),
 * oldest first; NULL when the text is not in a recognised format (or OOM). */
json_object *pp_sentry_parse_stacktrace(const char *text);

#endif
