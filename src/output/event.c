#include "output/event.h"

#include <stdio.h>
#include <string.h>

#include "util/community_id.h"
#include "decode/decode.h"
#include "util/json.h"
#include "output/event_summary.h"
#include "output/event_writer.h"
#include "record/smtp_fields.h"
#include "util/log.h"

static void set_limits(struct events *events)
{
    for (int t = 0; t < POLICY_FINDING_TYPES; t++)
        events->limits[EVENT_FIRST_FINDING + t].per_minute =
            events->policy->events.max_per_minute[t];
}

static void cache_sensor(struct events *events)
{
    struct json_writer writer;
    json_init(&writer, events->sensor_member, sizeof(events->sensor_member));
    json_key_string(&writer, "sensor", events->policy->sensor_name);
    events->sensor_member_length = writer.overflow ? 0 : writer.length;
}

/* Each pool's members and each segment's, written by event_write_place itself, so the
 * copies are its bytes; those that do not fit the text are written as before. */
static void cache_places(struct events *events)
{
    const struct policy *policy = events->policy;
    struct event_places *places = &events->places;
    size_t used = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t count = pass == 0 ? policy->pool_count : policy->segment_count;
        uint16_t *at = pass == 0 ? places->pool_at : places->segment_at;
        uint16_t *length = pass == 0 ? places->pool_length : places->segment_length;
        size_t cached = 0;
        for (; cached < count && cached < EVENT_PLACES_CACHED; cached++) {
            struct json_writer writer;
            json_init(&writer, places->text + used, sizeof(places->text) - used);
            event_write_place(&writer, policy, pass == 0 ? (int)cached : -1,
                              pass == 0 ? -1 : (int)cached);
            if (writer.overflow || writer.length == 0)
                break;
            at[cached] = (uint16_t)used;
            length[cached] = (uint16_t)writer.length;
            used += writer.length;
        }
        if (pass == 0)
            places->pools = cached;
        else
            places->segments = cached;
    }
}

void events_init(struct events *events, const struct policy *policy)
{
    memset(events, 0, sizeof(*events));
    events->policy = policy;
    events->worker = -1;
    events->clock = INT64_MIN;
    set_limits(events);
    cache_sensor(events);
    cache_places(events);
    events->summaries = event_summaries_new(policy);
    if (policy->events.summarize != 0 && events->summaries == NULL)
        log_message(LOG_ERROR, "out of memory for attempt summaries: every attempt is written "
                               "as an attempt event");
}

int events_add_sink(struct events *events, struct sink *sink)
{
    if (events->sink_count >= EVENTS_MAX_SINKS)
        return -1;
    events->sinks[events->sink_count++] = sink;
    return 0;
}

void events_flush(struct events *events)
{
    for (size_t i = 0; i < events->sink_count; i++)
        events->sinks[i]->ops->flush(events->sinks[i]);
}

struct output_counts events_counts(const struct events *events)
{
    struct output_counts counts;
    memcpy(counts.emitted, events->emitted, sizeof(counts.emitted));
    counts.sink_errors = events->sink_errors;
    return counts;
}

void events_sink_stats(const struct events *events, struct sink_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    for (size_t i = 0; i < events->sink_count; i++) {
        if (events->sinks[i]->ops->stats != NULL)
            events->sinks[i]->ops->stats(events->sinks[i], stats);
        else
            stats->dropped += events->sink_failed_writes[i];
    }
}

void events_tally(const struct events *events, struct events_tally *tally)
{
    memcpy(tally->emitted, events->emitted, sizeof(tally->emitted));
    tally->oversize = events->oversize;
    tally->sink_errors = events->sink_errors;
    events_sink_stats(events, &tally->sinks);
    memcpy(tally->found, events->found, sizeof(tally->found));
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        tally->suppressed[t] = events->limits[t].suppressed;
    tally->attempts_summarized = event_summaries_folded(events->summaries);
    tally->summary_evictions = event_summaries_evictions(events->summaries);
}

void events_tally_add(struct events_tally *to, const struct events_tally *from)
{
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        to->emitted[t] += from->emitted[t];
        to->found[t] += from->found[t];
        to->suppressed[t] += from->suppressed[t];
    }
    to->attempts_summarized += from->attempts_summarized;
    to->summary_evictions += from->summary_evictions;
    to->oversize += from->oversize;
    to->sink_errors += from->sink_errors;
    to->sinks.queued += from->sinks.queued;
    to->sinks.spooled += from->sinks.spooled;
    to->sinks.dropped += from->sinks.dropped;
    to->sinks.delivery_errors += from->sinks.delivery_errors;
    to->sinks.damaged += from->sinks.damaged;
}

uint64_t events_close(struct events *events)
{
    uint64_t undelivered = 0;
    for (size_t i = 0; i < events->sink_count; i++)
        undelivered += events->sinks[i]->ops->close(events->sinks[i]);
    events->sink_count = 0;
    event_summaries_free(events->summaries);
    events->summaries = NULL;
    return undelivered;
}

int events_reopen(struct events *events)
{
    int status = 0;
    for (size_t i = 0; i < events->sink_count; i++) {
        struct sink *sink = events->sinks[i];
        if (sink->ops->reopen != NULL && sink->ops->reopen(sink) != 0)
            status = -1;
    }
    return status;
}

int events_rename(struct events *events, const char *sensor)
{
    /* What was formatted from the old policy is formatted again: the sensor's name, and
     * the pools' members (a pool's blocking point may change); the limits are the new
     * file's. */
    cache_sensor(events);
    cache_places(events);
    set_limits(events);
    int status = 0;
    for (size_t i = 0; i < events->sink_count; i++) {
        struct sink *sink = events->sinks[i];
        if (sink->ops->rename != NULL && sink->ops->rename(sink, sensor) != 0)
            status = -1;
    }
    return status;
}

const struct sink *events_reader_gone(const struct events *events)
{
    for (size_t i = 0; i < events->sink_count; i++)
        if (events->sinks[i]->reader_gone)
            return events->sinks[i];
    return NULL;
}

/* Every event starts alike: type, schema version, packet time, sensor. */
void event_begin(struct events *events, struct json_writer *writer, enum event_type type,
                 packet_time ts)
{
    char time_text[PACKET_TIME_TEXT_MAX];
    size_t time_length = packet_time_format_memo(&events->time_memo, ts, time_text);
    json_init(writer, events->line, sizeof(events->line));
    json_object_begin(writer);
    const char *name = event_type_name(type);
    json_key_plain(writer, "type", name, strlen(name));
    json_key_u64(writer, "v", EVENT_SCHEMA_VERSION);
    json_key_plain(writer, "ts", time_text, time_length);
    if (events->sensor_member_length > 0)
        json_members(writer, events->sensor_member, events->sensor_member_length);
    else
        json_key_string(writer, "sensor", events->policy->sensor_name);
    if (events->worker >= 0)
        json_key_u64(writer, "worker", (uint64_t)events->worker);
}

void event_emit(struct events *events, struct json_writer *writer, enum event_type type,
                const char *key)
{
    json_object_end(writer);
    if (!json_finish(writer)) {
        events->oversize++;
        log_message(LOG_ERROR, "a %s event did not fit %d bytes and was dropped",
                    event_type_name(type), EVENT_LINE_MAX);
        return;
    }
    struct event_line line = {
        .type = event_type_name(type),
        .text = writer->buffer,
        .length = writer->length,
        .key = key,
        .key_length = key != NULL ? strlen(key) : 0,
    };
    events->emitted[type]++;
    for (size_t i = 0; i < events->sink_count; i++) {
        if (events->sinks[i]->ops->write(events->sinks[i], &line) != 0) {
            events->sink_errors++;
            events->sink_failed_writes[i]++;
        }
    }
}

void event_write_flow(struct json_writer *writer, const struct policy *policy,
                      const struct address *src, uint16_t src_port, const struct address *dst,
                      uint16_t dst_port, uint8_t proto, char src_text[ADDRESS_TEXT_MAX])
{
    /* Text formatted here needs no escaping: it is copied as it is (json_key_plain). */
    char dst_text[ADDRESS_TEXT_MAX], community[COMMUNITY_ID_TEXT_MAX];
    size_t src_length = address_format(src, src_text, ADDRESS_TEXT_MAX);
    size_t dst_length = address_format(dst, dst_text, sizeof(dst_text));
    json_key_plain(writer, "src_ip", src_text, src_length);
    json_key_u64(writer, "src_port", src_port);
    json_key_plain(writer, "dst_ip", dst_text, dst_length);
    json_key_u64(writer, "dst_port", dst_port);
    json_key_plain(writer, "proto", proto == IPPROTO_NUMBER_UDP ? "udp" : "tcp", 3);
    size_t community_length =
        community_id_v1(0, src, dst, proto, src_port, dst_port, community, sizeof(community));
    if (community_length > 0)
        json_key_plain(writer, "community_id", community, community_length);
    event_write_geoip(writer, policy, dst);
}

void event_write_place_at(struct json_writer *writer, const struct policy *policy, int pool,
                          int point, int segment)
{
    if (pool >= 0 && (size_t)pool < policy->pool_count) {
        json_key_string(writer, "pool", policy->pools[pool].name);
        if (point >= 0 && (size_t)point < policy->blocking_point_count)
            json_key_string(writer, "blocking_point", policy->blocking_points[point].name);
    }
    if (segment >= 0 && (size_t)segment < policy->segment_count)
        json_key_string(writer, "segment", policy->segments[segment].name);
}

size_t event_subscriber_key(const struct policy *policy, const struct address *address, char *text,
                            size_t size)
{
    if (address->family != ADDRESS_V6)
        return address_format(address, text, size);
    /* The pool looked up again rather than taken from the event: the key depends on the
     * address and the policy alone, the same for every type that names the subscriber. */
    struct prefix subscriber = policy_subscriber(policy, policy_pool_of(policy, address), address);
    return prefix_format(&subscriber, text, size);
}

void event_write_place(struct json_writer *writer, const struct policy *policy, int pool,
                       int segment)
{
    int point = pool >= 0 && (size_t)pool < policy->pool_count ? policy->pools[pool].blocking_point
                                                               : POLICY_NO_INDEX;
    event_write_place_at(writer, policy, pool, point, segment);
}

void event_write_place_cached(struct events *events, struct json_writer *writer, int pool,
                              int segment)
{
    const struct event_places *places = &events->places;
    if (pool >= 0 && (size_t)pool < places->pools)
        json_members(writer, places->text + places->pool_at[pool], places->pool_length[pool]);
    else
        event_write_place(writer, events->policy, pool, -1);
    if (segment >= 0 && (size_t)segment < places->segments)
        json_members(writer, places->text + places->segment_at[segment],
                     places->segment_length[segment]);
    else
        event_write_place(writer, events->policy, -1, segment);
}

void event_attempt(struct events *events, const struct attempt_record *attempt)
{
    const struct policy *policy = events->policy;
    const struct flow_tuple *flow = &attempt->flow;
    char src_text[ADDRESS_TEXT_MAX], key[PREFIX_TEXT_MAX];
    struct json_writer writer;
    event_begin(events, &writer, EVENT_ATTEMPT, attempt->first_seen);
    event_write_flow(&writer, policy, &flow->src, flow->src_port, &flow->dst, flow->dst_port,
                     flow->proto, src_text);
    event_write_place_cached(events, &writer, attempt->pool, attempt->segment);
    const char *verdict = verdict_name(attempt->verdict);
    json_key_plain(&writer, "verdict", verdict, strlen(verdict));
    json_key_array_begin(&writer, "evidence");
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (attempt->evidence & EVIDENCE_BIT(e))
            json_array_string(&writer, evidence_name((enum evidence)e));
    }
    json_array_end(&writer);
    json_key_u64(&writer, "syn_count", attempt->syn_count);
    if (attempt->msa >= 0 && attempt->to_designated_msa)
        json_key_string(&writer, "msa", policy->msas[attempt->msa].name);
    if (attempt->icmp_seen) {
        char from_text[ADDRESS_TEXT_MAX];
        size_t from_length = address_format(&attempt->icmp_from, from_text, sizeof(from_text));
        json_key_u64(&writer, "icmp_type", attempt->icmp_type);
        json_key_u64(&writer, "icmp_code", attempt->icmp_code);
        json_key_plain(&writer, "icmp_from", from_text, from_length);
    }
    json_key_plain(&writer, "close_reason", attempt->close_reason, strlen(attempt->close_reason));
    json_key_micros(&writer, "duration", attempt->last_seen - attempt->first_seen);
    json_key_u64(&writer, "client_bytes", attempt->client_bytes);
    json_key_u64(&writer, "server_bytes", attempt->server_bytes);
    if (attempt->smtp != NULL)
        smtp_fields_walk(attempt->smtp, SMTP_FIELDS_ATTEMPT,
                         attempt->server_stream || attempt->smtp->banner_seen, &json_field_walker,
                         &writer);
    event_subscriber_key(policy, &flow->src, key, sizeof(key));
    event_emit(events, &writer, EVENT_ATTEMPT, key);
}

void event_coverage(struct events *events, const struct coverage *coverage, packet_time now,
                    bool final)
{
    static const int families[2] = {ADDRESS_V4, ADDRESS_V6};
    const struct policy *policy = events->policy;
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            bool has_family = false;
            for (size_t i = 0; i < pool->prefix_count && !has_family; i++)
                has_family = pool->prefixes[i].address.family == families[f];
            if (!has_family)
                continue;
            const struct coverage_counts *counts = coverage_get(coverage, (int)p, families[f]);
            struct json_writer writer;
            event_begin(events, &writer, EVENT_COVERAGE, now);
            event_write_place(&writer, policy, (int)p, -1);
            if (pool->blocking_point != POLICY_NO_INDEX) {
                const struct blocking_point *point = &policy->blocking_points[pool->blocking_point];
                json_key_string(&writer, "level", blocking_level_name(point->level));
                json_key_string(&writer, "state", blocking_state_name(point->state));
                json_key_string(&writer, "reject", blocking_reject_name(point->reject));
                json_key_string(&writer, "position", sensor_position_name(point->position));
            }
            json_key_u64(&writer, "ip_version", (uint64_t)families[f]);
            json_key_u64(&writer, "attempts", coverage_attempts(counts));
            for (int v = 0; v < VERDICT_COUNT; v++)
                json_key_u64(&writer, verdict_name((enum verdict)v), counts->by_verdict[v]);
            double ratio;
            if (coverage_ratio(counts, &ratio))
                json_key_fixed(&writer, "coverage", ratio, 4);
            json_key_u64(&writer, "collateral", counts->collateral);
            json_key_bool(&writer, "final", final);
            event_emit(events, &writer, EVENT_COVERAGE, policy->sensor_name);
        }
    }
}

/* What the events: section of the policy held back, only when it asks for it: attempts
 * folded into summaries, summaries written early for room, findings over their limit. */
static void write_volume_counts(struct events *events, const struct events_tally *tally,
                                struct json_writer *writer)
{
    if (events->policy->events.summarize != 0) {
        json_key_u64(writer, "attempts_summarized", tally->attempts_summarized);
        json_key_u64(writer, "summary_evictions", tally->summary_evictions);
    }
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        if (events->limits[t].per_minute == 0)
            continue;
        char key[64];
        snprintf(key, sizeof(key), "events_suppressed_%s", event_type_name((enum event_type)t));
        json_key_u64(writer, key, tally->suppressed[t]);
    }
}

void event_sensor_stats(struct events *events, const struct sensor_counters *counters,
                        uint32_t snaplen, packet_time now, bool final)
{
    static const char *const decode_keys[DECODE_RESULT_COUNT] = {NULL,
                                                                 "decode_not_ip",
                                                                 "decode_fragments",
                                                                 "decode_truncated",
                                                                 "decode_malformed",
                                                                 "decode_unsupported",
                                                                 "decode_too_deep"};
    struct json_writer writer;
    event_begin(events, &writer, EVENT_SENSOR_STATS, now);
    json_key_u64(&writer, "packets", counters->packets);
    json_key_u64(&writer, "bytes", counters->bytes);
    json_key_u64(&writer, "drops", counters->capture_drops);
    json_key_u64(&writer, "capture_errors", counters->capture_errors);
    json_key_u64(&writer, "snaplen", snaplen);
    json_key_u64(&writer, "packets_cut", counters->packets_cut);
    for (int i = 1; i < DECODE_RESULT_COUNT; i++)
        json_key_u64(&writer, decode_keys[i], counters->decode[i]);
    json_key_u64(&writer, "time_regressions", counters->time_regressions);
    json_key_u64(&writer, "time_outliers", counters->time_outliers);
    json_key_u64(&writer, "flows", counters->flows_active);
    json_key_u64(&writer, "flows_created", counters->flows_created);
    json_key_u64(&writer, "evictions", counters->flow_evictions);
    json_key_u64(&writer, "sessions", counters->sessions_active);
    json_key_u64(&writer, "sessions_exhausted", counters->sessions_exhausted);
    json_key_u64(&writer, "stream_gaps", counters->stream_gaps);
    json_key_u64(&writer, "stream_reordered", counters->stream_reordered);
    json_key_u64(&writer, "duplicates", counters->duplicates);
    json_key_u64(&writer, "syn_after_close", counters->syn_after_close);
    json_key_u64(&writer, "detector_evictions", counters->detector_evictions);
    json_key_u64(&writer, "detector_exhausted", counters->detector_exhausted);
    struct events_tally tally;
    events_tally(events, &tally);
    if (events->elsewhere != NULL)
        events_tally_add(&tally, events->elsewhere);
    /* This event counts itself, so the totals on the wire match what a consumer saw. */
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        char key[48];
        snprintf(key, sizeof(key), "events_%s", event_type_name((enum event_type)t));
        json_key_u64(&writer, key, tally.emitted[t] + (t == EVENT_SENSOR_STATS ? 1 : 0));
    }
    write_volume_counts(events, &tally, &writer);
    /* Lost events: too large to write, or lost by a sink (a sink that cannot tell loses
     * one event per failed write). An event lost by two sinks counts twice. */
    json_key_u64(&writer, "events_queued", tally.sinks.queued);
    json_key_u64(&writer, "events_spooled", tally.sinks.spooled);
    json_key_u64(&writer, "events_dropped", tally.oversize + tally.sinks.dropped);
    json_key_u64(&writer, "sink_errors", tally.sink_errors);
    json_key_u64(&writer, "kafka_errors", tally.sinks.delivery_errors);
    json_key_bool(&writer, "final", final);
    event_emit(events, &writer, EVENT_SENSOR_STATS, events->policy->sensor_name);
}

/* ---- The bus's records, as lines ---- */

static void note_time(struct events *events, packet_time ts)
{
    if (ts > events->clock)
        events->clock = ts;
}

/* A summarized attempt goes into its subscriber's summary instead of a line of its own; an
 * interval that ended first writes its summaries, so lines stay in packet-time order. */
static void on_attempt(void *context, const struct attempt_record *attempt)
{
    struct events *events = context;
    note_time(events, attempt->closed);
    event_summaries_advance(events, events->clock);
    if (event_summaries_want(events->summaries, attempt->verdict) &&
        event_summaries_add(events, attempt))
        return;
    event_attempt(events, attempt);
}

static void on_finding(void *context, const struct finding *finding)
{
    struct events *events = context;
    note_time(events, finding->ts);
    if ((unsigned)finding->type < EVENT_TYPE_COUNT)
        events->found[finding->type]++;
    if (!event_finding_suppressed(events, finding))
        event_finding(events, finding);
}

static void on_periodic(void *context, const struct periodic_record *periodic)
{
    struct events *events = context;
    note_time(events, periodic->now);
    if (periodic->final)
        event_summaries_finish(events, events->clock);
    else
        event_summaries_advance(events, events->clock);
    /* A worker's summaries are its own; its coverage and sensor_stats the parent's. */
    if (events->skip_periodic)
        return;
    if (periodic->coverage != NULL)
        event_coverage(context, periodic->coverage, periodic->now, periodic->final);
    event_sensor_stats(context, periodic->counters, periodic->snaplen, periodic->now,
                       periodic->final);
}

static void on_flush(void *context)
{
    events_flush(context);
}

struct bus_subscriber events_subscriber(struct events *events)
{
    return (struct bus_subscriber){
        .attempt = on_attempt,
        .finding = on_finding,
        .periodic = on_periodic,
        .flush = on_flush,
        .context = events,
    };
}
