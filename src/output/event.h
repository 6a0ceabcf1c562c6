/* Records -> one JSON line each (dashboards/events.md), handed to every sink: the one
 * place events are written. Field order is fixed, so the same input gives the same bytes
 * every run. */
#ifndef OP25B_EVENT_H
#define OP25B_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/attempt_record.h"
#include "record/bus.h"
#include "record/coverage.h"
#include "record/event_type.h"
#include "record/finding.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "output/sink.h"
#include "record/stats.h"
#include "record/verdict.h"

#define EVENT_SCHEMA_VERSION 1
#define EVENT_LINE_MAX 8192
#define EVENTS_MAX_SINKS 4

/* What one process wrote and what its sinks hold or lost: what sensor_stats counts. */
struct events_tally {
    uint64_t emitted[EVENT_TYPE_COUNT]; /* lines handed to the sinks, by type */
    uint64_t oversize;                  /* lines that did not fit EVENT_LINE_MAX */
    uint64_t sink_errors;               /* failed sink writes */
    struct sink_stats sinks;            /* the sinks' own counters (events_sink_stats) */
    /* What the policy's events: section held back (with --workers, each worker's, summed). */
    uint64_t found[EVENT_TYPE_COUNT];      /* findings taken, written or suppressed */
    uint64_t suppressed[EVENT_TYPE_COUNT]; /* findings over their type's max_per_minute */
    uint64_t attempts_summarized;          /* attempts folded into attempt_summary events */
    uint64_t summary_evictions;            /* summaries written early for room */
};

struct event_summaries;

/* The members every line of a pool or segment carries ("pool":...,"blocking_point":... and
 * "segment":...), formatted once at start for the first pools and segments of the policy:
 * an attempt line then copies them instead of escaping three names. */
#define EVENT_PLACES_CACHED 64
#define EVENT_PLACE_TEXT_MAX 8192
#define EVENT_SENSOR_MEMBER_MAX 256
struct event_places {
    uint16_t pool_at[EVENT_PLACES_CACHED], pool_length[EVENT_PLACES_CACHED];
    uint16_t segment_at[EVENT_PLACES_CACHED], segment_length[EVENT_PLACES_CACHED];
    size_t pools, segments; /* how many of each are cached, from the first */
    char text[EVENT_PLACE_TEXT_MAX];
};

/* A finding type's lines per minute of packet time (the policy's events.max_per_minute). */
struct event_limit {
    uint32_t per_minute; /* 0: no limit */
    uint32_t written;    /* in the current minute */
    int64_t minute;      /* which one that is */
    uint64_t pending;    /* suppressed since the last line of the type: its suppressed_before */
    uint64_t suppressed; /* since the start (sensor_stats) */
};

struct events {
    const struct policy *policy;
    int worker; /* written into every event when >= 0 (--workers) */
    /* --workers: a worker leaves coverage and sensor_stats to the parent, which writes
     * them for the whole sensor, adding what the workers wrote (elsewhere) to its own. */
    bool skip_periodic;
    const struct events_tally *elsewhere;
    struct sink *sinks[EVENTS_MAX_SINKS];
    size_t sink_count;
    uint64_t emitted[EVENT_TYPE_COUNT];
    uint64_t found[EVENT_TYPE_COUNT];  /* findings taken, written or suppressed (the metrics) */
    packet_time clock;                 /* the latest packet time a record carried */
    struct event_summaries *summaries; /* NULL unless the policy summarizes attempts */
    struct event_limit limits[EVENT_TYPE_COUNT];
    uint64_t oversize;    /* lines that did not fit EVENT_LINE_MAX (never expected) */
    uint64_t sink_errors; /* failed sink writes */
    uint64_t sink_failed_writes[EVENTS_MAX_SINKS]; /* the same, by sink */
    struct packet_time_memo time_memo;             /* the second of the last line's time */
    struct event_places places;
    char sensor_member[EVENT_SENSOR_MEMBER_MAX]; /* "sensor":"...", formatted once */
    size_t sensor_member_length;                 /* 0: the name did not fit */
    char line[EVENT_LINE_MAX];
};

/* With a policy that summarizes attempts it allocates their table (events_close frees it);
 * when memory fails, every attempt stays an event of its own. */
void events_init(struct events *events, const struct policy *policy);
int events_add_sink(struct events *events, struct sink *sink);
void events_flush(struct events *events);
/* What was written so far, for the report. */
struct output_counts events_counts(const struct events *events);
/* The sinks' counters summed (a sink without a stats operation counts each of its failed
 * writes as one dropped event). Called just before events_close, it gives the program what
 * the run found, such as damaged spool segments (damaged): anything the sinks find while
 * closing comes with events lost, which events_close counts. */
void events_sink_stats(const struct events *events, struct sink_stats *stats);
/* What events wrote so far and what its sinks say, into *tally. */
void events_tally(const struct events *events, struct events_tally *tally);
void events_tally_add(struct events_tally *to, const struct events_tally *from);
/* Closes every sink and frees the summaries; returns the number of events some sink could
 * not deliver. */
uint64_t events_close(struct events *events);
/* The event lines' subscription to the bus: every record becomes a line, in the order
 * records come. Subscribe it first, so lines keep the order records were published in. */
struct bus_subscriber events_subscriber(struct events *events);
/* SIGHUP: every sink that can re-opens its output (sink.h); -1 when one could not. */
int events_reopen(struct events *events);
/* A policy reload renamed the sensor: the sinks that name it (Kafka's header) follow; the
 * lines take the name from the policy themselves. -1 when one could not. */
int events_rename(struct events *events, const char *sensor);
/* The first sink whose reader has gone (a closed pipe), or NULL. Cheap enough for every
 * packet. */
const struct sink *events_reader_gone(const struct events *events);

/* The Kafka key of every event about a subscriber (dashboards/events.md): the subscriber
 * the address belongs to, so that all of one subscriber's events meet in one partition
 * whichever of its addresses an event names. An IPv4 address as it is ("198.51.100.7");
 * an IPv6 address as its subscriber prefix, prefix_format of policy_subscriber() for the
 * pool it is in ("2001:db8:1:200::/56"), its /64 when it is in no pool. Returns the length
 * written. */
size_t event_subscriber_key(const struct policy *policy, const struct address *address, char *text,
                            size_t size);

/* The lines themselves (events_subscriber calls these; tests call them directly). */
void event_attempt(struct events *events, const struct attempt_record *attempt);
/* A finding's line; the count its type's limit suppressed before it goes with it. */
void event_finding(struct events *events, const struct finding *finding);
/* Whether the finding's type is over its limit this minute: then it is counted as
 * suppressed and not written. */
bool event_finding_suppressed(struct events *events, const struct finding *finding);

void event_coverage(struct events *events, const struct coverage *coverage, packet_time now,
                    bool final);
/* The counters, and what events and events->elsewhere wrote (this event included). */
void event_sensor_stats(struct events *events, const struct sensor_counters *counters,
                        uint32_t snaplen, packet_time now, bool final);

#endif
