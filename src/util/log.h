/* The one logging call. Messages go to stderr, prefixed with the program name, so that
 * events on stdout stay clean NDJSON. */
#ifndef OP25B_LOG_H
#define OP25B_LOG_H

/* LOG_FAILURE: why the program stops or fails (bad usage, a run-time failure), written as
 * "op25b-watch: MESSAGE" with no level word, as the command line has always said them, and
 * shown even with -q. The others are "op25b-watch: LEVEL: MESSAGE". */
enum log_level { LOG_FAILURE = 0, LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* The name messages start with ("op25b-watch" unless set; op25b-correlate sets its own). */
void log_set_program(const char *name);
enum log_level log_get_level(void);
void log_message(enum log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* A line as it is, for messages that carry their own place and so no program name: a
 * policy error's "FILE:LINE: message", the hint after bad usage. Always shown. */
void log_line(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
