#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level current_level = LOG_WARNING;
static const char *program = "op25b-watch";

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

/* One line, whole: formatted first and written at once, so that neither the file reader's
 * thread nor another worker on the same stderr can come between its parts. A line too
 * long for the buffer goes out in parts, under the stream's lock. */
static void write_line(const char *prefix, const char *format, va_list args)
{
    char line[4096];
    size_t prefix_length = strlen(prefix);
    va_list copy;
    va_copy(copy, args);
    int length = vsnprintf(line + prefix_length, sizeof(line) - prefix_length - 1, format, copy);
    va_end(copy);
    if (length >= 0 && (size_t)length < sizeof(line) - prefix_length - 1) {
        memcpy(line, prefix, prefix_length);
        line[prefix_length + (size_t)length] = '\n';
        fwrite(line, 1, prefix_length + (size_t)length + 1, stderr);
        return;
    }
    flockfile(stderr);
    fputs(prefix, stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void log_set_program(const char *name)
{
    program = name;
}

void log_message(enum log_level level, const char *format, ...)
{
    static const char *const levels[] = {"", "error: ", "warning: ", "info: ", "debug: "};
    if (level > current_level)
        return;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s: %s", program, levels[level]);
    va_list args;
    va_start(args, format);
    write_line(prefix, format, args);
    va_end(args);
}

void log_line(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    write_line("", format, args);
    va_end(args);
}
