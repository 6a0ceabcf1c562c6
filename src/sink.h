/* Where event lines go. Each sink fills one table of operations; the event layer never
 * knows which it holds, and a sink never judges: it delivers the bytes it is given. */
#ifndef OP25B_SINK_H
#define OP25B_SINK_H

#include <stddef.h>
#include <stdint.h>

struct event_line {
    const char *type; /* event type name, e.g. "attempt" (a Kafka header) */
    const char *text; /* the JSON line, ending in '\n' */
    size_t length;
    const char *key; /* the subscriber address (the Kafka key); may be NULL */
    size_t key_length;
};

struct sink;

struct sink_ops {
    /* Hands a line on; must not block on the network. 0 or -1 (counted by the caller). */
    int (*write)(struct sink *sink, const struct event_line *line);
    /* Pushes out what is buffered (called periodically and when input goes idle). */
    int (*flush)(struct sink *sink);
    /* Final delivery and release; returns how many events could not be delivered. */
    uint64_t (*close)(struct sink *sink);
};

struct sink {
    const struct sink_ops *ops;
    const char *name;
};

/* NDJSON to a file, or to standard output for "-". NULL with a message on error. */
struct sink *sink_file_open(const char *path, char *error, size_t error_size);

#endif
