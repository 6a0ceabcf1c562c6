/* Where a partition's new owner starts, read from the correlator's own output (the
 * headers of fleet_output.h): the last message's `resume` is the oldest input offset an
 * attempt still waiting then needed; the decisions written after the input passed it
 * name, in `in_offsets`, the reports they already used, which the new owner skips; the
 * fleet_attempt messages since the partition's last fleet_coverage are the counts that
 * coverage has not yet said. The output is read from its end backwards, a chunk at a
 * time, until both are known. So no decision is lost (what was waiting is read again)
 * and none is written twice (what was written is skipped). */
#ifndef OP25B_CORRELATE_RESUME_H
#define OP25B_CORRELATE_RESUME_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "record/coverage.h"
#include "util/packet_time.h"

struct resume_point {
    bool found;       /* the output holds messages for this partition */
    int64_t resume;   /* the input offset to start at */
    int64_t position; /* the input the previous owner had read */
    int64_t *skip;    /* input offsets already decided, sorted */
    size_t skip_count;
    size_t skip_capacity;
    struct coverage pending; /* written since the last fleet_coverage */
    packet_time coverage_ts; /* that fleet_coverage's ts (0: none) */
    packet_time written_ts;  /* the latest fleet_attempt ts written since */
    uint64_t messages_read;
};

/* Reads the tail of output partition `partition` of topic with reader (a consumer that is
 * in no group). 0, or -1 with a message. */
int resume_read(rd_kafka_t *reader, const char *topic, int32_t partition,
                const struct policy *policy, struct resume_point *out, char *error,
                size_t error_size);
bool resume_skips(const struct resume_point *point, int64_t offset);
void resume_free(struct resume_point *point);

#endif
