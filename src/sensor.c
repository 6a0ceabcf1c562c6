#include "sensor.h"

#include <stdlib.h>
#include <string.h>

#include "track/attempt.h"
#include "record/coverage.h"
#include "decode/decode.h"
#include "detect/detector.h"
#include "policy/segment.h"
#include "util/log.h"
#include "util/packet_clock.h"
#include "track/duplicates.h"

#define SMTP_PORT 25
#define SENSOR_MAX_DETECTORS 16
/* A held packet's bytes (packet_clock.h): any IP packet and its link headers. A larger frame
 * is judged at once instead of held. */
#define SENSOR_HOLD_BYTES (65536 + 512)

/* A packet as the capture gave it, held or not. */
struct frame {
    int linktype;
    uint16_t source;
    const uint8_t *data;
    uint32_t captured_length;
    uint32_t wire_length;
};

struct sensor {
    const struct policy *policy;
    struct bus *bus;
    struct coverage coverage;
    struct segment_map segments;
    const char *const *source_names; /* the capture's, for the segments by interface */
    size_t source_count;
    struct attempt_tracker *attempts;
    struct sensor_counters counters;
    bool *return_seen; /* [segment + 1]; the workers' shared one with --workers */
    bool owns_return_seen;
    struct detector *detectors[SENSOR_MAX_DETECTORS];
    size_t detector_count;
    bool started;
    packet_time now; /* where the timers are: the clock's time once a plan is carried out */
    packet_time next_report;
    uint32_t snaplen;
    struct packet_clock clock;
    struct frame held[PACKET_CLOCK_HELD_MAX];
    uint8_t *hold_bytes; /* PACKET_CLOCK_HELD_MAX * SENSOR_HOLD_BYTES, made at the first hold */
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
    sensor->source_names = source_names;
    sensor->source_count = source_count;
    packet_clock_init(&sensor->clock);
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
    sensor->attempts =
        attempt_tracker_new(policy, bus, &sensor->coverage, &sensor->counters, sensor->return_seen);
    if (sensor->attempts == NULL)
        goto fail_free_segments;
    struct detector_context context = {
        .policy = policy,
        .bus = bus,
        .counters = &sensor->counters,
        .return_seen = sensor->return_seen,
        .share = share,
        .coverage = &sensor->coverage,
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

int sensor_policy_changed(struct sensor *sensor)
{
    struct segment_map fresh;
    if (segment_map_init(&fresh, sensor->policy, sensor->source_names, sensor->source_count) != 0)
        return -1;
    segment_map_free(&sensor->segments);
    sensor->segments = fresh;
    return 0;
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
    free(sensor->hold_bytes);
    free(sensor);
}

static void report(struct sensor *sensor, bool final)
{
    struct periodic_record periodic = {
        .now = sensor->now,
        .final = final,
        .coverage = &sensor->coverage,
        .counters = &sensor->counters,
        .snaplen = sensor->snaplen,
    };
    bus_periodic(sensor->bus, &periodic);
}

/* The next report boundary after ts. ts lies within the four-digit years (packet_time.h),
 * so the result is at most one interval (an interval longer than ts) or ts plus one interval
 * (one no longer than ts): it cannot overflow. However far the clock jumps, the timers then
 * write one report for it, not one per interval crossed. */
static packet_time next_boundary(packet_time ts, packet_time interval)
{
    return (ts / interval + 1) * interval;
}

/* Runs the timers up to ts. Packet time only moves forward: an older packet (reordering
 * between sources, an outlier judged at the clock's time) runs nothing. */
static void timers_to(struct sensor *sensor, packet_time ts)
{
    packet_time interval = sensor->policy->stats_interval;
    if (!sensor->started) {
        sensor->started = true;
        sensor->now = ts;
        sensor->next_report = next_boundary(ts, interval);
        return;
    }
    if (ts < sensor->now)
        return;
    sensor->now = ts;
    attempt_advance(sensor->attempts, ts);
    for (size_t d = 0; d < sensor->detector_count; d++) {
        struct detector *detector = sensor->detectors[d];
        if (ts >= detector->due)
            detector->ops->advance(detector, ts);
    }
    if (ts >= sensor->next_report) {
        report(sensor, false);
        sensor->next_report = next_boundary(ts, interval);
    }
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

/* One packet judged at `at`: its own time, or the clock's for an outlier, whose own time is
 * not known and so cannot say it came within DUPLICATE_WINDOW of a copy: a retransmission
 * with a damaged timestamp would otherwise be skipped as a copy of the one before it. */
static void judge(struct sensor *sensor, const struct frame *frame, packet_time at, bool time_known)
{
    sensor->counters.packets++;
    sensor->counters.bytes += frame->wire_length;
    if (frame->captured_length < frame->wire_length)
        sensor->counters.packets_cut++;
    timers_to(sensor, at);

    struct packet packet;
    packet.ts = at;
    packet.wire_length = frame->wire_length;
    packet.source = frame->source;
    enum decode_result result =
        decode_packet(frame->linktype, frame->data, frame->captured_length, &packet);
    sensor->counters.decode[result]++;
    if (result != DECODE_OK)
        return;
    if (time_known && duplicate_seen(&sensor->duplicates, &packet)) {
        sensor->counters.duplicates++;
        return;
    }

    attempt_prefetch(sensor->attempts, &packet);
    for (size_t d = 0; d < sensor->detector_count; d++)
        if (sensor->detectors[d]->ops->prefetch != NULL)
            sensor->detectors[d]->ops->prefetch(sensor->detectors[d], &packet);
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

static void hold(struct sensor *sensor, unsigned slot, const struct frame *frame)
{
    struct frame *held = &sensor->held[slot];
    uint8_t *bytes = sensor->hold_bytes + (size_t)slot * SENSOR_HOLD_BYTES;
    *held = *frame;
    if (frame->captured_length > 0)
        memcpy(bytes, frame->data, frame->captured_length);
    held->data = bytes;
}

/* Carries out what the clock decided; current is the packet just given, or NULL. */
static void carry_out(struct sensor *sensor, const struct clock_plan *plan,
                      const struct frame *current)
{
    for (unsigned i = 0; i < plan->count; i++) {
        const struct clock_step *step = &plan->steps[i];
        if (step->action == CLOCK_HOLD) {
            hold(sensor, step->slot, current);
            continue;
        }
        if (step->judgement == CLOCK_REGRESSION)
            sensor->counters.time_regressions++;
        else if (step->judgement == CLOCK_OUTLIER)
            sensor->counters.time_outliers++;
        judge(sensor, step->action == CLOCK_PROCESS ? current : &sensor->held[step->slot], step->at,
              step->judgement != CLOCK_OUTLIER);
    }
    if (plan->stepped_back > 0)
        log_message(LOG_WARNING,
                    "packet time stepped back %.3f s; later packets are judged that much after "
                    "their timestamps, so the clock keeps running forward",
                    (double)plan->stepped_back / PACKET_TIME_SECOND);
}

/* Room for the packets the clock holds, made once: every sensor holds its first packet. */
static bool can_hold(struct sensor *sensor, uint32_t captured_length)
{
    if (captured_length > SENSOR_HOLD_BYTES)
        return false;
    if (sensor->hold_bytes == NULL)
        sensor->hold_bytes = malloc((size_t)PACKET_CLOCK_HELD_MAX * SENSOR_HOLD_BYTES);
    return sensor->hold_bytes != NULL;
}

void sensor_packet(struct sensor *sensor, int linktype, uint16_t source, packet_time ts,
                   const uint8_t *data, uint32_t captured_length, uint32_t wire_length)
{
    struct frame frame = {linktype, source, data, captured_length, wire_length};
    if (packet_clock_on_time(&sensor->clock, ts)) {
        judge(sensor, &frame, ts, true);
        return;
    }
    struct clock_plan plan;
    packet_clock_take(&sensor->clock, ts, can_hold(sensor, captured_length), &plan);
    carry_out(sensor, &plan, &frame);
}

void sensor_tick(struct sensor *sensor, packet_time now)
{
    struct clock_plan plan;
    packet_clock_tick(&sensor->clock, now, &plan);
    carry_out(sensor, &plan, NULL);
    timers_to(sensor, plan.advance_to);
}

void sensor_set_snaplen(struct sensor *sensor, uint32_t snaplen)
{
    sensor->snaplen = snaplen;
}

void sensor_set_capture_stats(struct sensor *sensor, uint64_t received, uint64_t drops,
                              uint64_t errors)
{
    sensor->counters.capture_received = received;
    sensor->counters.capture_drops = drops;
    sensor->counters.capture_errors = errors;
}

void sensor_write_stats(struct sensor *sensor)
{
    struct periodic_record periodic = {
        .now = sensor->now,
        .final = false,
        .coverage = NULL, /* the counters alone */
        .counters = &sensor->counters,
    };
    bus_periodic(sensor->bus, &periodic);
}

void sensor_finish(struct sensor *sensor, const char *reason)
{
    struct clock_plan plan;
    packet_clock_flush(&sensor->clock, &plan);
    carry_out(sensor, &plan, NULL);
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
