#include "sensor.h"

#include <stdlib.h>
#include <string.h>

#include "track/attempt.h"
#include "record/coverage.h"
#include "decode/decode.h"
#include "detect/detector.h"
#include "policy/segment.h"
#include "track/duplicates.h"

#define SMTP_PORT 25
#define SENSOR_MAX_DETECTORS 16

struct sensor {
    const struct policy *policy;
    struct bus *bus;
    struct coverage coverage;
    struct segment_map segments;
    struct attempt_tracker *attempts;
    struct sensor_counters counters;
    bool *return_seen; /* [segment + 1]; the workers' shared one with --workers */
    bool owns_return_seen;
    struct detector *detectors[SENSOR_MAX_DETECTORS];
    size_t detector_count;
    bool started;
    packet_time now;
    packet_time next_report;
    struct duplicate_filter duplicates; /* mirror copies, skipped before anything reads them */
};

struct sensor *sensor_new(const struct policy *policy, struct bus *bus,
                          const char *const *source_names, size_t source_count,
                          const struct worker_share *share)
{
    struct sensor *sensor = calloc(1, sizeof(*sensor));
    if (sensor == NULL)
        return NULL;
    sensor->policy = policy;
    sensor->bus = bus;
    duplicate_filter_init(&sensor->duplicates);
    sensor->owns_return_seen = share == NULL || share->return_seen == NULL;
    sensor->return_seen = sensor->owns_return_seen ? calloc(policy->segment_count + 1, sizeof(bool))
                                                   : share->return_seen;
    if (sensor->return_seen == NULL)
        goto fail_free_sensor;
    if (coverage_init(&sensor->coverage, policy->pool_count) != 0)
        goto fail_free_return;
    if (segment_map_init(&sensor->segments, policy, source_names, source_count) != 0)
        goto fail_free_coverage;
    sensor->attempts = attempt_tracker_new(policy, bus, &sensor->coverage, &sensor->counters,
                                           sensor->return_seen);
    if (sensor->attempts == NULL)
        goto fail_free_segments;
    struct detector_context context = {
        .policy = policy,
        .bus = bus,
        .counters = &sensor->counters,
        .return_seen = sensor->return_seen,
        .share = share,
    };
    int detectors = detectors_create(&context, sensor->detectors, SENSOR_MAX_DETECTORS);
    if (detectors < 0)
        goto fail_free_attempts;
    sensor->detector_count = (size_t)detectors;
    return sensor;

fail_free_attempts:
    attempt_tracker_free(sensor->attempts);
fail_free_segments:
    segment_map_free(&sensor->segments);
fail_free_coverage:
    coverage_free(&sensor->coverage);
fail_free_return:
    if (sensor->owns_return_seen)
        free(sensor->return_seen);
fail_free_sensor:
    free(sensor);
    return NULL;
}

void sensor_free(struct sensor *sensor)
{
    if (sensor == NULL)
        return;
    for (size_t d = 0; d < sensor->detector_count; d++)
        sensor->detectors[d]->ops->free(sensor->detectors[d]);
    attempt_tracker_free(sensor->attempts);
    segment_map_free(&sensor->segments);
    coverage_free(&sensor->coverage);
    if (sensor->owns_return_seen)
        free(sensor->return_seen);
    free(sensor);
}

static void report(struct sensor *sensor, bool final)
{
    struct periodic_record periodic = {
        .now = sensor->now,
        .final = final,
        .coverage = &sensor->coverage,
        .counters = &sensor->counters,
    };
    bus_periodic(sensor->bus, &periodic);
}

/* Packet time only moves forward: an older packet (reordering between sources, a clock
 * step in the capture) is processed, but timers never run backwards. */
static void advance(struct sensor *sensor, packet_time ts)
{
    packet_time interval = sensor->policy->stats_interval;
    if (!sensor->started) {
        sensor->started = true;
        sensor->now = ts;
        sensor->next_report = (ts / interval + 1) * interval;
        return;
    }
    if (ts < sensor->now) {
        sensor->counters.time_regressions++;
        return;
    }
    sensor->now = ts;
    attempt_advance(sensor->attempts, ts);
    for (size_t d = 0; d < sensor->detector_count; d++) {
        struct detector *detector = sensor->detectors[d];
        if (ts >= detector->due)
            detector->ops->advance(detector, ts);
    }
    if (ts >= sensor->next_report) {
        report(sensor, false);
        sensor->next_report = (ts / interval + 1) * interval;
    }
}

void sensor_tick(struct sensor *sensor, packet_time now)
{
    advance(sensor, now);
}

static void note_return_traffic(struct sensor *sensor, const struct packet *packet, int segment)
{
    const struct policy *policy = sensor->policy;
    if (segment_flag(sensor->return_seen, segment))
        return;
    /* From outside the ISP towards it: the direction replies travel. */
    bool to_isp = policy_is_own(policy, &packet->dst) ||
                  policy_pool_of(policy, &packet->dst) != POLICY_NO_INDEX;
    bool from_isp = policy_is_own(policy, &packet->src) ||
                    policy_pool_of(policy, &packet->src) != POLICY_NO_INDEX;
    if (to_isp && !from_isp)
        segment_flag_set(sensor->return_seen, segment);
}

void sensor_packet(struct sensor *sensor, int linktype, uint16_t source, packet_time ts,
                   const uint8_t *data, uint32_t captured_length, uint32_t wire_length)
{
    sensor->counters.packets++;
    sensor->counters.bytes += wire_length;
    advance(sensor, ts);

    struct packet packet;
    packet.ts = ts;
    packet.wire_length = wire_length;
    packet.source = source;
    enum decode_result result = decode_packet(linktype, data, captured_length, &packet);
    sensor->counters.decode[result]++;
    if (result != DECODE_OK)
        return;
    if (duplicate_seen(&sensor->duplicates, &packet)) {
        sensor->counters.duplicates++;
        return;
    }

    int segment = segment_of(&sensor->segments, &packet);
    note_return_traffic(sensor, &packet, segment);
    if (packet.proto == IPPROTO_NUMBER_TCP) {
        if (packet.dst_port == SMTP_PORT || packet.src_port == SMTP_PORT)
            attempt_tcp(sensor->attempts, &packet, segment);
    } else if (packet.is_icmp_error) {
        attempt_icmp(sensor->attempts, &packet);
    }
    for (size_t d = 0; d < sensor->detector_count; d++)
        sensor->detectors[d]->ops->packet(sensor->detectors[d], &packet, segment);
}

void sensor_set_capture_stats(struct sensor *sensor, uint64_t received, uint64_t drops,
                              uint64_t errors)
{
    sensor->counters.capture_received = received;
    sensor->counters.capture_drops = drops;
    sensor->counters.capture_errors = errors;
}

void sensor_finish(struct sensor *sensor, const char *reason)
{
    attempt_finish(sensor->attempts, reason);
    for (size_t d = 0; d < sensor->detector_count; d++)
        sensor->detectors[d]->ops->finish(sensor->detectors[d], sensor->now, reason);
    report(sensor, true);
}

const struct sensor_counters *sensor_counters(const struct sensor *sensor)
{
    return &sensor->counters;
}

const struct coverage *sensor_coverage(const struct sensor *sensor)
{
    return &sensor->coverage;
}

packet_time sensor_now(const struct sensor *sensor)
{
    return sensor->now;
}
