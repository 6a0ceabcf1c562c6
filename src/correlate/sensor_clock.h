/* Each sensor's clock, as its periodic events say it. coverage and sensor_stats are keyed
 * by the sensor's name, so they land in one partition, which may belong to another member
 * of the group: a reader of its own (outside the group) follows every partition of the
 * events topic for them, skipping other messages by their `type` header. A sensor's
 * clock is its packet time; its final sensor_stats says it has ended. The join applies
 * these to a partition only once that partition has been read to its end after they were
 * learned (correlator.c), so a report already produced is never overtaken. */
#ifndef OP25B_CORRELATE_SENSOR_CLOCK_H
#define OP25B_CORRELATE_SENSOR_CLOCK_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "correlate/options.h"
#include "policy/policy.h"
#include "util/packet_time.h"

/* A sensor's reports and its periodic events go to different partitions, and the brokers
 * may take them in either order: a clock counts in a partition only when that partition
 * was at its end this long (wall time) after the clock was learned, time for the reports
 * the sensor wrote before it to arrive. */
#define SENSOR_CLOCK_GRACE_SECONDS 2.0

struct sensor_clock {
    packet_time clock; /* the latest periodic event's ts */
    bool ended;        /* that event was its final sensor_stats */
    double learned;    /* wall time (monotonic seconds) the clock last moved */
    double heard;      /* wall time anything of it was last read, here or by the join */
};

struct sensor_clocks {
    const struct policy *policy;
    struct sensor_clock *sensors; /* [fleet_sensor_count] */
    rd_kafka_t *reader;
    int32_t partition_count;
    bool *at_end;   /* [partition_count] */
    bool caught_up; /* every partition read to its end */
    double started;
};

double monotonic_seconds(void);
/* Starts following the topic from its beginning (batch runs, --exit-at-end) or from
 * lookback seconds ago. 0, or -1 with a message. */
int sensor_clocks_start(struct sensor_clocks *clocks, const struct policy *policy,
                        const struct correlate_options *options, double lookback, char *error,
                        size_t error_size);
/* Reads what has arrived, waiting up to wait_ms for the first message. */
void sensor_clocks_poll(struct sensor_clocks *clocks, int wait_ms);
/* A periodic event (or any event of the sensor, for heard) read elsewhere. */
void sensor_clocks_observe(struct sensor_clocks *clocks, int sensor, packet_time ts, bool periodic,
                           bool final);
/* The wall time from which every clock learned so far counts (the latest learned plus the
 * grace). */
double sensor_clocks_settled(const struct sensor_clocks *clocks);
void sensor_clocks_stop(struct sensor_clocks *clocks);

#endif
