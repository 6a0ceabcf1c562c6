/* Findings -> one JSON line each (guide section 7), handed to every sink. Field order is
 * fixed, so the same input gives the same bytes every run. */
#ifndef OP25B_EVENT_H
#define OP25B_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/coverage.h"
#include "track/flow.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "output/sink.h"
#include "proto/smtp.h"
#include "record/stats.h"
#include "track/verdict.h"

#define EVENT_SCHEMA_VERSION 1
#define EVENT_LINE_MAX 8192
#define EVENTS_MAX_SINKS 4

enum event_type {
    EVENT_ATTEMPT = 0,
    EVENT_COVERAGE,
    EVENT_SENSOR_STATS,
    /* Findings of the detectors (guide section 4), written by event_finding(). */
    EVENT_ASYMMETRIC_ROUTING,
    EVENT_SPOOFED_SOURCE,
    EVENT_TRIANGULAR_SPAM,
    EVENT_INBOUND_ACL_VIOLATION,
    EVENT_BOT_SUSPECT,
    EVENT_NONSTANDARD_PORT_SMTP,
    EVENT_OPEN_SUBMISSION,
    EVENT_POP_BEFORE_SMTP,
    EVENT_THIRD_PARTY_SUBMISSION,
    EVENT_TYPE_COUNT
};

/* Told of every event as it is written, with the structured data it was made from: an
 * attempt_report for EVENT_ATTEMPT, a finding for the detectors' types, NULL otherwise.
 * Detectors that build on attempts, the report and the metrics listen this way. */
struct event_observer {
    void (*notify)(void *context, enum event_type type, const void *data);
    void *context;
};
#define EVENTS_MAX_OBSERVERS 8

struct events {
    const struct policy *policy;
    int worker; /* written into every event when >= 0 (--workers) */
    struct sink *sinks[EVENTS_MAX_SINKS];
    size_t sink_count;
    struct event_observer observers[EVENTS_MAX_OBSERVERS];
    size_t observer_count;
    uint64_t emitted[EVENT_TYPE_COUNT];
    uint64_t oversize;    /* lines that did not fit EVENT_LINE_MAX (never expected) */
    uint64_t sink_errors; /* failed sink writes */
    uint64_t sink_failed_writes[EVENTS_MAX_SINKS]; /* the same, by sink */
    char line[EVENT_LINE_MAX];
};

void events_init(struct events *events, const struct policy *policy);
int events_add_sink(struct events *events, struct sink *sink);
int events_add_observer(struct events *events, struct event_observer observer);
void events_flush(struct events *events);
/* Closes every sink; returns the number of events some sink could not deliver. */
uint64_t events_close(struct events *events);
/* SIGHUP: every sink that can re-opens its output (sink.h); -1 when one could not. */
int events_reopen(struct events *events);
/* The first sink whose reader has gone (a closed pipe), or NULL. Cheap enough for every
 * packet. */
const struct sink *events_reader_gone(const struct events *events);
const char *event_type_name(enum event_type type);

/* An attempt, once its connection is over. */
struct attempt_report {
    const struct flow *flow;
    const struct smtp_facts *smtp; /* NULL when no dialogue was parsed */
    enum verdict verdict;
    evidence_set evidence;
    const char *close_reason;
};
void event_attempt(struct events *events, const struct attempt_report *report);

void event_coverage(struct events *events, const struct coverage *coverage, packet_time now,
                    bool final);
void event_sensor_stats(struct events *events, const struct sensor_counters *counters,
                        packet_time now, bool final);

#endif
