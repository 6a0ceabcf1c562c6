/* The fleet's events (dashboards/events.md: fleet_attempt, fleet_coverage) as JSON lines,
 * written with the project's one JSON writer, to -o and/or --output-topic. On the topic
 * each message goes to the partition of the input it completes, with headers that let the
 * next owner of that partition resume exactly where this one stopped (resume.c):
 *   type, v           the event type and schema version
 *   in_partition      the input partition
 *   in_offsets        fleet_attempt: the input offsets of the reports it joined
 *   resume            the oldest input offset still needed after this message
 *   position          the input read so far (never decreasing in a partition's output)
 * The producer is idempotent, so within a run nothing is lost or written twice. */
#ifndef OP25B_CORRELATE_FLEET_OUTPUT_H
#define OP25B_CORRELATE_FLEET_OUTPUT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "correlate/decide.h"
#include "correlate/join.h"
#include "correlate/options.h"
#include "output/sink.h"
#include "record/coverage.h"

#define FLEET_LINE_MAX 4096

enum fleet_event { FLEET_ATTEMPT = 0, FLEET_COVERAGE, FLEET_EVENT_COUNT };

/* Where a message stands in its input partition (the headers above). */
struct fleet_mark {
    int32_t partition;
    const int64_t *offsets;
    int offset_count;
    int64_t resume;
    int64_t position;
};

struct fleet_output {
    const struct policy *policy;
    struct sink *file;
    rd_kafka_t *producer;
    const char *topic;
    uint64_t written[FLEET_EVENT_COUNT];
    uint64_t errors;
    char line[FLEET_LINE_MAX];
};

/* 0, or -1 with a message. */
int fleet_output_open(struct fleet_output *output, const struct policy *policy,
                      const struct correlate_options *options, char *error, size_t error_size);
void fleet_output_attempt(struct fleet_output *output, const struct fleet_attempt *attempt,
                          const struct fleet_decision *decision, const struct fleet_mark *mark);
/* One fleet_coverage per pool and family with attempts in counts. */
void fleet_output_coverage(struct fleet_output *output, const struct coverage *counts,
                           packet_time ts, bool final, const struct fleet_mark *mark);
/* Every message handed to the producer delivered, and the file flushed: 0, or -1. */
int fleet_output_flush(struct fleet_output *output, int timeout_ms);
/* Serves the producer's delivery reports; never waits. */
void fleet_output_poll(struct fleet_output *output);
void fleet_output_close(struct fleet_output *output);
const char *fleet_event_name(enum fleet_event type);

#endif
