/* Findings -> one JSON line each (guide section 7), handed to every sink. Field order is
 * fixed, so the same input gives the same bytes every run. */
#ifndef OP25B_EVENT_H
#define OP25B_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coverage.h"
#include "flow.h"
#include "packet_time.h"
#include "policy.h"
#include "sink.h"
#include "smtp.h"
#include "stats.h"
#include "verdict.h"

#define EVENT_SCHEMA_VERSION 1
#define EVENT_LINE_MAX 8192
#define EVENTS_MAX_SINKS 4

enum event_type { EVENT_ATTEMPT = 0, EVENT_COVERAGE, EVENT_SENSOR_STATS, EVENT_TYPE_COUNT };

struct events {
    const struct policy *policy;
    struct sink *sinks[EVENTS_MAX_SINKS];
    size_t sink_count;
    uint64_t emitted[EVENT_TYPE_COUNT];
    uint64_t oversize;    /* lines that did not fit EVENT_LINE_MAX (never expected) */
    uint64_t sink_errors; /* failed sink writes */
    char line[EVENT_LINE_MAX];
};

void events_init(struct events *events, const struct policy *policy);
int events_add_sink(struct events *events, struct sink *sink);
void events_flush(struct events *events);
/* Closes every sink; returns the number of events some sink could not deliver. */
uint64_t events_close(struct events *events);
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
