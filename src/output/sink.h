/* Where event lines go. Each sink fills one table of operations; the event layer never
 * knows which it holds, and a sink never judges: it delivers the bytes it is given. */
#ifndef OP25B_SINK_H
#define OP25B_SINK_H

#include <signal.h>
#include <stdbool.h>
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

/* What a sink can say about the events it holds or lost, for sensor_stats. */
struct sink_stats {
    uint64_t queued;          /* handed on, waiting for the far end to confirm */
    uint64_t spooled;         /* written to an on-disk spool since start */
    uint64_t dropped;         /* lost for good since start */
    uint64_t delivery_errors; /* failures the far end reported */
    uint64_t damaged;         /* damaged spool segments found since start (set aside as
                               * *.damaged): events of an earlier run may be missing */
};

struct sink_ops {
    /* Hands a line on; must not block on the network. 0 or -1 (counted by the caller). */
    int (*write)(struct sink *sink, const struct event_line *line);
    /* Pushes out what is buffered (called periodically and when input goes idle). */
    int (*flush)(struct sink *sink);
    /* Final delivery and release; returns how many events could not be delivered. */
    uint64_t (*close)(struct sink *sink);
    /* Optional (NULL): adds the sink's counters to *stats. Without it, every failed write
     * counts as one dropped event. */
    void (*stats)(const struct sink *sink, struct sink_stats *stats);
    /* Optional (NULL: nothing to re-open): SIGHUP, after logrotate moved the output away.
     * What is buffered goes to the old file, whole lines, then the path is opened again;
     * when that fails the old file stays in use. 0, or -1 (said on stderr). */
    int (*reopen)(struct sink *sink);
    /* Optional (NULL: the sink names no sensor): a policy reload renamed the sensor; what
     * the sink writes from now on names it so. 0, or -1 when memory is short (the old name
     * stays). */
    int (*rename)(struct sink *sink, const char *sensor);
};

struct sink {
    const struct sink_ops *ops;
    const char *name;
    /* Set by the sink when the reader of its pipe has gone (EPIPE): nothing more can be
     * delivered there, and the run ends as on SIGTERM, with exit status 1. */
    bool reader_gone;
};

/* NDJSON to a file, or to standard output for "-". NULL with a message on error. A file
 * is appended to (an existing one is never emptied), and a write that fails leaves it
 * ending at its last whole line. With `shared`, several processes write to it at once:
 * lines go out in batches of whole lines, one write(2) each, that land whole (on a pipe a
 * batch is at most PIPE_BUF bytes). A file re-opens on reopen(), appending; standard
 * output does not. */
struct sink *sink_file_open(const char *path, bool shared, char *error, size_t error_size);

struct sink_kafka_options {
    const char *brokers;           /* bootstrap.servers */
    const char *topic;             /* NULL: SINK_KAFKA_DEFAULT_TOPIC */
    const char *const *properties; /* "KEY=VALUE" librdkafka properties, applied last */
    size_t property_count;
    unsigned queue_megabytes;      /* producer memory bound; 0: SINK_KAFKA_DEFAULT_QUEUE_MB */
    uint64_t timeout_milliseconds; /* how long close() waits for delivery reports */
    const char *spool_directory;   /* NULL: no spool, events beyond the bound are dropped */
    const char *sensor;            /* the `sensor` header: the policy's sensor name */
    unsigned schema_version;       /* the `v` header: EVENT_SCHEMA_VERSION */
    /* May be NULL. Once nonzero (set by a signal handler), close() stops waiting for
     * delivery at once: what is left is kept in the spool, or counted lost without one. */
    const volatile sig_atomic_t *stop_waiting;
};

#define SINK_KAFKA_DEFAULT_TOPIC "op25b.events"
#define SINK_KAFKA_DEFAULT_QUEUE_MB 64
#define SINK_KAFKA_DEFAULT_TIMEOUT_MS 30000

/* Events as Kafka messages: the JSON line without its '\n' as the value, the subscriber as
 * the key, headers `type`, `sensor` and `v`. NULL with a message on error; *bad_option is
 * set when the error lies in the options (exit status 2) rather than at run time. */
struct sink *sink_kafka_open(const struct sink_kafka_options *options, bool *bad_option,
                             char *error, size_t error_size);

#endif
