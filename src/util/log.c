#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level current_level = LOG_WARNING;

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

void log_message(enum log_level level, const char *format, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (level > current_level)
        return;
    va_list args;
    va_start(args, format);
    /* One line, whole, even when the file reader's thread logs at the same time. */
    flockfile(stderr);
    fprintf(stderr, "op25b-watch: %s: ", names[level]);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(args);
}
