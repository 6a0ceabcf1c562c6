/* The correlator's state, one partition at a time: the reports read, the sensors' clocks
 * as that partition shows them, the attempts waiting, and the coverage not yet written.
 * A partition's decisions depend only on what was read from it and on the sensors'
 * periodic clocks, so any member of the group that takes a partition over reaches the
 * same verdicts. Packet time decides; wall time only lets a silent sensor go. */
#ifndef OP25B_CORRELATE_CORRELATOR_H
#define OP25B_CORRELATE_CORRELATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "correlate/decide.h"
#include "correlate/fleet_output.h"
#include "correlate/join.h"
#include "correlate/options.h"
#include "correlate/resume.h"
#include "correlate/sensor_clock.h"
#include "record/coverage.h"

struct partition_state {
    int32_t id;
    struct join join;
    packet_time *clock; /* [sensor]: the latest time each sensor's reports here show */
    bool at_end;        /* read to the end the broker knew of */
    double end_seen;    /* wall time it was last known to be at its end */
    int64_t next_offset;
    int64_t position_floor; /* the previous owner's position: positions never go back */
    struct resume_point resumed;
    struct coverage pending; /* decided since the last fleet_coverage */
    bool pending_any;
    packet_time written_ts; /* the latest attempt written */
    packet_time next_coverage;
};

/* Counters for the metrics and the summary. */
struct correlator_counts {
    uint64_t reports;         /* attempt reports joined */
    uint64_t strangers;       /* events of sensors the fleet policy does not list */
    uint64_t bad;             /* messages that are no event */
    uint64_t not_judged;      /* attempts outside the fleet's dynamic pools */
    uint64_t skipped;         /* reports an earlier owner had already decided */
    uint64_t forced;          /* attempts decided early: --pending, or the end */
    uint64_t *sensor_reports; /* [sensor] */
};

struct correlator {
    const struct policy *policy;
    const struct correlate_options *options;
    struct fleet_output *output;
    struct sensor_clocks *clocks;
    struct partition_state **partitions; /* indexed by partition id; NULL when not ours */
    size_t partition_slots;
    struct sensor_view *views; /* scratch, [sensor] */
    struct coverage totals;    /* every decision since start */
    /* [blocking point]: attempts decided since start that got past it (their failed_at)
     * and that it held (their held_at), as the fleet_attempt lines name them. */
    uint64_t *leaks_at;
    uint64_t *held_at;
    struct correlator_counts counts;
    size_t pending; /* attempts waiting, over every partition */
};

int correlator_init(struct correlator *correlator, const struct policy *policy,
                    const struct correlate_options *options, struct fleet_output *output,
                    struct sensor_clocks *clocks);
void correlator_free(struct correlator *correlator);
/* A partition becomes ours, starting where resumed says (taken over; found false: from
 * the committed offset). */
int correlator_assign(struct correlator *correlator, int32_t id, struct resume_point *resumed);
/* A partition is about to go: the coverage of what was decided is written (not final). */
void correlator_release(struct correlator *correlator, int32_t id);
/* A partition is no longer ours: what waits is dropped (the next owner reads it again). */
void correlator_revoke(struct correlator *correlator, int32_t id);
struct partition_state *correlator_partition(struct correlator *correlator, int32_t id);
/* One message of the events topic. */
void correlator_message(struct correlator *correlator, int32_t id, int64_t offset, const void *key,
                        size_t key_length, const char *type, const void *value, size_t length);
void correlator_at_end(struct correlator *correlator, int32_t id);
/* Decides every waiting attempt that can be decided. */
void correlator_decide_ready(struct correlator *correlator);
/* Input over (--exit-at-end, or shutdown): every waiting attempt decided with what is
 * known, and the final fleet_coverage of each partition. */
void correlator_finish(struct correlator *correlator);
/* The offset a restart must read from: the oldest report still needed. */
int64_t correlator_resume_offset(const struct partition_state *state);

#endif
