/* The one logging call. Messages go to stderr, prefixed with the program name, so that
 * events on stdout stay clean NDJSON. */
#ifndef OP25B_LOG_H
#define OP25B_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARNING = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_message(enum log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
