#include "output/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "decode/decode.h"
#include "record/bus.h"
#include "record/finding.h"
#include "output/sink.h"
#include "util/http_metrics.h"

/* Bot scores by histogram bucket: the scale is the detector's, so the buckets double from
 * a quarter to 128 and cover a 0..1 score as well as a 0..100 one. */
#define SCORE_BUCKETS 10
static const double score_bounds[SCORE_BUCKETS] = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128};

struct snapshot {
    struct sensor_counters counters;
    uint64_t events[EVENT_TYPE_COUNT];
    uint64_t events_oversize;
    uint64_t sink_errors;
    struct sink_stats sinks;
    packet_time now;
    double published_at;                       /* Unix time of the wall clock */
    uint64_t score_buckets[SCORE_BUCKETS + 1]; /* the last is +Inf */
    double score_sum;
    uint64_t score_count;
    /* Sized by the policy: [pool * 2 + (IPv6 ? 1 : 0)][verdict] and [pool][evidence]. */
    uint64_t *attempts;
    uint64_t *leaks;
};

struct metrics {
    const struct policy *policy;
    struct http_metrics *server;
    size_t attempt_values;
    size_t leak_values;
    /* The packet thread's own copy; observers add to it directly. */
    struct snapshot pending;
    double last_publish;
    /* Handed over under the lock, which is only ever held to copy a snapshot. */
    pthread_mutex_t lock;
    struct snapshot shared;
    /* The scraping thread's copy (libmicrohttpd answers from one thread). */
    struct snapshot reading;
    /* --workers: a slot per worker in memory shared across fork (see worker slots below);
     * NULL otherwise. worker is this process's slot, -1 in the serving parent. */
    uint8_t *slots;
    size_t slot_bytes;
    unsigned workers;
    int worker;
};

static void slot_write(struct metrics *metrics, const struct snapshot *from);

/* ---- Listening address ---- */

int metrics_parse_address(const char *text, struct sockaddr_storage *address, char *error,
                          size_t error_size)
{
    return http_metrics_parse_address(text, address, error, error_size);
}

/* ---- Snapshots ---- */

static int snapshot_init(struct snapshot *snapshot, size_t attempt_values, size_t leak_values)
{
    memset(snapshot, 0, sizeof(*snapshot));
    snapshot->attempts = calloc(attempt_values + 1, sizeof(uint64_t));
    snapshot->leaks = calloc(leak_values + 1, sizeof(uint64_t));
    return snapshot->attempts == NULL || snapshot->leaks == NULL ? -1 : 0;
}

static void snapshot_free(struct snapshot *snapshot)
{
    free(snapshot->attempts);
    free(snapshot->leaks);
}

/* Copies the values, keeping the destination's own arrays. */
static void snapshot_copy(const struct metrics *metrics, struct snapshot *to,
                          const struct snapshot *from)
{
    uint64_t *attempts = to->attempts, *leaks = to->leaks;
    *to = *from;
    to->attempts = attempts;
    to->leaks = leaks;
    memcpy(attempts, from->attempts, metrics->attempt_values * sizeof(uint64_t));
    memcpy(leaks, from->leaks, metrics->leak_values * sizeof(uint64_t));
}

static double wall_seconds(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void gather(struct metrics *metrics, const struct sensor_counters *counters,
                   const struct coverage *coverage, const struct events *events, packet_time now)
{
    struct snapshot *pending = &metrics->pending;
    pending->counters = *counters;
    pending->now = now;
    memcpy(pending->events, events->emitted, sizeof(pending->events));
    pending->events_oversize = events->oversize;
    pending->sink_errors = events->sink_errors;
    memset(&pending->sinks, 0, sizeof(pending->sinks));
    for (size_t i = 0; i < events->sink_count; i++) {
        const struct sink *sink = events->sinks[i];
        if (sink->ops->stats != NULL)
            sink->ops->stats(sink, &pending->sinks);
        else
            pending->sinks.dropped += events->sink_failed_writes[i];
    }
    for (size_t p = 0; p < metrics->policy->pool_count && p < coverage->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts =
                coverage_get(coverage, (int)p, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
            memcpy(&pending->attempts[(p * 2 + (size_t)f) * VERDICT_COUNT], counts->by_verdict,
                   sizeof(counts->by_verdict));
        }
    }
    pending->published_at = wall_seconds(CLOCK_REALTIME);
}

void metrics_update(struct metrics *metrics, const struct sensor_counters *counters,
                    const struct coverage *coverage, const struct events *events, packet_time now)
{
    /* The coarse clock is read from the vDSO in a few nanoseconds. */
    double clock = wall_seconds(CLOCK_MONOTONIC_COARSE);
    if (clock - metrics->last_publish < METRICS_PUBLISH_SECONDS)
        return;
    gather(metrics, counters, coverage, events, now);
    if (metrics->worker >= 0) {
        slot_write(metrics, &metrics->pending);
        metrics->last_publish = clock;
        return;
    }
    /* A scrape copying the last snapshot holds the lock for microseconds; rather than
     * wait, keep reading packets and hand this one over next time. */
    if (pthread_mutex_trylock(&metrics->lock) != 0)
        return;
    snapshot_copy(metrics, &metrics->shared, &metrics->pending);
    pthread_mutex_unlock(&metrics->lock);
    metrics->last_publish = clock;
}

void metrics_publish(struct metrics *metrics, const struct sensor_counters *counters,
                     const struct coverage *coverage, const struct events *events, packet_time now)
{
    gather(metrics, counters, coverage, events, now);
    metrics->last_publish = wall_seconds(CLOCK_MONOTONIC_COARSE);
    if (metrics->worker >= 0) {
        slot_write(metrics, &metrics->pending);
        return;
    }
    pthread_mutex_lock(&metrics->lock);
    snapshot_copy(metrics, &metrics->shared, &metrics->pending);
    pthread_mutex_unlock(&metrics->lock);
}

/* ---- Worker slots ----
 *
 * With --workers the parent serves the endpoint and each worker process publishes into
 * its own slot: a sequence number, the snapshot's fixed part, then its attempt and leak
 * arrays. A seqlock: the worker makes the number odd, writes, makes it even again; the
 * parent copies and keeps the copy only if the number was even and unchanged across it.
 * A worker never waits for a scrape, and a scrape never sees half a snapshot. */

struct slot_header {
    uint64_t sequence;
};

static uint8_t *slot_of(const struct metrics *metrics, unsigned worker)
{
    return metrics->slots + (size_t)worker * metrics->slot_bytes;
}

static void slot_layout(const struct metrics *metrics, uint8_t *slot, struct snapshot **fixed,
                        uint64_t **attempts, uint64_t **leaks)
{
    *fixed = (struct snapshot *)(slot + sizeof(struct slot_header));
    *attempts = (uint64_t *)(slot + sizeof(struct slot_header) + sizeof(struct snapshot));
    *leaks = *attempts + metrics->attempt_values;
}

static void slot_write(struct metrics *metrics, const struct snapshot *from)
{
    uint8_t *slot = slot_of(metrics, (unsigned)metrics->worker);
    struct slot_header *header = (struct slot_header *)slot;
    struct snapshot *fixed;
    uint64_t *attempts, *leaks;
    slot_layout(metrics, slot, &fixed, &attempts, &leaks);
    __atomic_store_n(&header->sequence, header->sequence + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(fixed, from, sizeof(*fixed));
    memcpy(attempts, from->attempts, metrics->attempt_values * sizeof(uint64_t));
    memcpy(leaks, from->leaks, metrics->leak_values * sizeof(uint64_t));
    __atomic_store_n(&header->sequence, header->sequence + 1, __ATOMIC_RELEASE);
}

/* A consistent copy of one worker's slot into scratch; false if it kept changing. */
static bool slot_read(const struct metrics *metrics, unsigned worker, struct snapshot *scratch)
{
    uint8_t *slot = slot_of(metrics, worker);
    struct slot_header *header = (struct slot_header *)slot;
    struct snapshot *fixed;
    uint64_t *attempts, *leaks;
    slot_layout(metrics, slot, &fixed, &attempts, &leaks);
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t before = __atomic_load_n(&header->sequence, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        /* The slot's own array pointers are the worker's: only the values are taken. */
        uint64_t *scratch_attempts = scratch->attempts, *scratch_leaks = scratch->leaks;
        memcpy(scratch, fixed, sizeof(*scratch));
        scratch->attempts = scratch_attempts;
        scratch->leaks = scratch_leaks;
        memcpy(scratch_attempts, attempts, metrics->attempt_values * sizeof(uint64_t));
        memcpy(scratch_leaks, leaks, metrics->leak_values * sizeof(uint64_t));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&header->sequence, __ATOMIC_RELAXED) == before)
            return true;
    }
    return false;
}

static void add_u64s(uint64_t *to, const uint64_t *from, size_t count)
{
    for (size_t i = 0; i < count; i++)
        to[i] += from[i];
}

/* The workers' sum: counters add up (gauges too: each worker holds its own flows), the
 * clocks take the latest. */
static void merge_slots(struct metrics *metrics, struct snapshot *into, struct snapshot *scratch)
{
    uint64_t *attempts = into->attempts, *leaks = into->leaks;
    memset(into, 0, sizeof(*into));
    into->attempts = attempts;
    into->leaks = leaks;
    memset(attempts, 0, metrics->attempt_values * sizeof(uint64_t));
    memset(leaks, 0, metrics->leak_values * sizeof(uint64_t));
    _Static_assert(sizeof(struct sensor_counters) % sizeof(uint64_t) == 0, "all counters");
    _Static_assert(sizeof(struct sink_stats) % sizeof(uint64_t) == 0, "all counters");
    for (unsigned w = 0; w < metrics->workers; w++) {
        if (!slot_read(metrics, w, scratch))
            continue;
        add_u64s((uint64_t *)&into->counters, (const uint64_t *)&scratch->counters,
                 sizeof(into->counters) / sizeof(uint64_t));
        add_u64s(into->events, scratch->events, EVENT_TYPE_COUNT);
        into->events_oversize += scratch->events_oversize;
        into->sink_errors += scratch->sink_errors;
        add_u64s((uint64_t *)&into->sinks, (const uint64_t *)&scratch->sinks,
                 sizeof(into->sinks) / sizeof(uint64_t));
        into->now = scratch->now > into->now ? scratch->now : into->now;
        into->published_at =
            scratch->published_at > into->published_at ? scratch->published_at : into->published_at;
        add_u64s(into->score_buckets, scratch->score_buckets, SCORE_BUCKETS + 1);
        into->score_sum += scratch->score_sum;
        into->score_count += scratch->score_count;
        add_u64s(attempts, scratch->attempts, metrics->attempt_values);
        add_u64s(leaks, scratch->leaks, metrics->leak_values);
    }
}

/* ---- What the counters alone do not say ---- */

static void on_attempt(void *context, const struct attempt_record *attempt)
{
    struct metrics *metrics = context;
    int pool = attempt->pool;
    if (attempt->verdict != VERDICT_LEAKED || pool < 0 ||
        (size_t)pool >= metrics->policy->pool_count)
        return;
    enum evidence stage = evidence_highest_leak(attempt->evidence);
    if (stage < EVIDENCE_COUNT)
        metrics->pending.leaks[(size_t)pool * EVIDENCE_COUNT + stage]++;
}

static void on_finding(void *context, const struct finding *finding)
{
    struct metrics *metrics = context;
    struct snapshot *pending = &metrics->pending;
    if (finding->type != EVENT_BOT_SUSPECT)
        return;
    double score = finding->as.bot.score;
    size_t bucket = 0;
    while (bucket < SCORE_BUCKETS && score > score_bounds[bucket])
        bucket++;
    pending->score_buckets[bucket]++;
    pending->score_sum += score;
    pending->score_count++;
}

int metrics_attach(struct metrics *metrics, struct bus *bus)
{
    struct bus_subscriber subscriber = {
        .attempt = on_attempt, .finding = on_finding, .context = metrics};
    return bus_subscribe(bus, subscriber);
}

/* ---- The exposition format ---- */

/* The exposition format's pieces are util/http_metrics's, shared with op25b-correlate. */
static void label_value(FILE *out, const char *text)
{
    http_metrics_label_value(out, text);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    http_metrics_family(out, name, type, help);
}

static void plain(FILE *out, const char *name, const char *type, const char *help, uint64_t value)
{
    family(out, name, type, help);
    fprintf(out, "%s %llu\n", name, (unsigned long long)value);
}

static const char *point_label(const struct policy *policy, int pool)
{
    int point = policy->pools[pool].blocking_point;
    return point == POLICY_NO_INDEX ? "(none)" : policy->blocking_points[point].name;
}

static void pool_labels(FILE *out, const struct policy *policy, int pool)
{
    fputs("pool=\"", out);
    label_value(out, policy->pools[pool].name);
    fputs("\",blocking_point=\"", out);
    label_value(out, point_label(policy, pool));
    fputc('"', out);
}

static bool pool_has_family(const struct pool *pool, int address_family)
{
    for (size_t i = 0; i < pool->prefix_count; i++) {
        if (pool->prefixes[i].address.family == address_family)
            return true;
    }
    return false;
}

static void render_policy(FILE *out, const struct policy *policy)
{
    family(out, "op25b_info", "gauge", "The sensor: name, version and position.");
    fputs("op25b_info{sensor=\"", out);
    label_value(out, policy->sensor_name);
    fprintf(out, "\",version=\"%s\",position=\"%s\"} 1\n", OP25B_VERSION,
            sensor_position_name(policy->position));
    family(out, "op25b_blocking_point_info", "gauge",
           "Blocking points of the policy: level (draft section 4), state and reject mode.");
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        fputs("op25b_blocking_point_info{blocking_point=\"", out);
        label_value(out, point->name);
        fprintf(out, "\",level=\"%s\",state=\"%s\",reject=\"%s\"} 1\n",
                blocking_level_name(point->level), blocking_state_name(point->state),
                blocking_reject_name(point->reject));
    }
    family(out, "op25b_pool_info", "gauge",
           "Subscriber pools of the policy, with their type and blocking point.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        fputs("op25b_pool_info{", out);
        pool_labels(out, policy, (int)p);
        fprintf(out, ",type=\"%s\"} 1\n", pool_type_name(policy->pools[p].type));
    }
}

static void render_sensor(FILE *out, const struct snapshot *s)
{
    static const char *const decode_names[DECODE_RESULT_COUNT] = {
        NULL, "not_ip", "fragments", "truncated", "malformed", "unsupported", "too_deep"};
    const struct sensor_counters *c = &s->counters;
    plain(out, "op25b_packets_total", "counter", "Packets read from the capture.", c->packets);
    plain(out, "op25b_bytes_total", "counter", "Bytes on the wire of the packets read.", c->bytes);
    plain(out, "op25b_capture_drops_total", "counter",
          "Packets the kernel or interface dropped (live capture).", c->capture_drops);
    plain(out, "op25b_capture_errors_total", "counter", "Damaged or unreadable capture input.",
          c->capture_errors);
    family(out, "op25b_decode_skipped_total", "counter",
           "Packets not judged, by why decoding stopped.");
    for (int i = 1; i < DECODE_RESULT_COUNT; i++)
        fprintf(out, "op25b_decode_skipped_total{reason=\"%s\"} %llu\n", decode_names[i],
                (unsigned long long)c->decode[i]);
    plain(out, "op25b_time_regressions_total", "counter", "Packets older than one already seen.",
          c->time_regressions);
    plain(out, "op25b_flows", "gauge", "Attempts tracked now.", c->flows_active);
    plain(out, "op25b_flows_created_total", "counter", "Attempts tracked since start.",
          c->flows_created);
    plain(out, "op25b_flow_evictions_total", "counter",
          "Attempts closed early because the flow table was full.", c->flow_evictions);
    plain(out, "op25b_sessions", "gauge", "SMTP dialogues parsed now.", c->sessions_active);
    plain(out, "op25b_sessions_exhausted_total", "counter",
          "Dialogues left unparsed: no parser slot was free.", c->sessions_exhausted);
    plain(out, "op25b_stream_gaps_total", "counter", "Holes in TCP streams.", c->stream_gaps);
    family(out, "op25b_packet_time_seconds", "gauge",
           "The sensor's packet clock (Unix time of the latest packet).");
    fprintf(out, "op25b_packet_time_seconds %.6f\n", (double)s->now / PACKET_TIME_SECOND);
    family(out, "op25b_last_publish_timestamp_seconds", "gauge",
           "Wall-clock time the packet thread last published these values.");
    fprintf(out, "op25b_last_publish_timestamp_seconds %.3f\n", s->published_at);
}

static void render_attempts(FILE *out, const struct metrics *metrics, const struct snapshot *s)
{
    const struct policy *policy = metrics->policy;
    family(out, "op25b_attempts_total", "counter",
           "Port-25 attempts from dynamic pools, by verdict (guide section 3).");
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            if (!pool_has_family(&policy->pools[p], f == 0 ? ADDRESS_V4 : ADDRESS_V6))
                continue;
            const uint64_t *counts = &s->attempts[(p * 2 + (size_t)f) * VERDICT_COUNT];
            for (int v = 0; v < VERDICT_COUNT; v++) {
                fputs("op25b_attempts_total{", out);
                pool_labels(out, policy, (int)p);
                fprintf(out, ",ip_version=\"%d\",verdict=\"%s\"} %llu\n", f == 0 ? 4 : 6,
                        verdict_name((enum verdict)v), (unsigned long long)counts[v]);
            }
        }
    }
    family(out, "op25b_coverage_ratio", "gauge",
           "blocked / (blocked + leaked) per pool and IP version; absent until one is seen.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            struct coverage_counts counts;
            memcpy(counts.by_verdict, &s->attempts[(p * 2 + (size_t)f) * VERDICT_COUNT],
                   sizeof(counts.by_verdict));
            double ratio;
            if (!coverage_ratio(&counts, &ratio))
                continue;
            fputs("op25b_coverage_ratio{", out);
            pool_labels(out, policy, (int)p);
            fprintf(out, ",ip_version=\"%d\"} %.4f\n", f == 0 ? 4 : 6, ratio);
        }
    }
    family(out, "op25b_leaks_total", "counter",
           "Leaked attempts by the furthest stage they reached (syn_ack ... data).");
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC)
            continue;
        for (int e = 0; e < EVIDENCE_COUNT; e++) {
            if (!(EVIDENCE_BIT(e) & EVIDENCE_LEAK_MASK))
                continue;
            fputs("op25b_leaks_total{", out);
            pool_labels(out, policy, (int)p);
            fprintf(out, ",stage=\"%s\"} %llu\n", evidence_name((enum evidence)e),
                    (unsigned long long)s->leaks[p * EVIDENCE_COUNT + (size_t)e]);
        }
    }
}

static void render_events(FILE *out, const struct snapshot *s)
{
    family(out, "op25b_findings_total", "counter",
           "Detections by type (guide section 4): evasion, bots, submission hygiene.");
    for (int t = EVENT_SENSOR_STATS + 1; t < EVENT_TYPE_COUNT; t++)
        fprintf(out, "op25b_findings_total{type=\"%s\"} %llu\n",
                event_type_name((enum event_type)t), (unsigned long long)s->events[t]);
    family(out, "op25b_events_total", "counter", "Event lines written, by type.");
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        fprintf(out, "op25b_events_total{type=\"%s\"} %llu\n", event_type_name((enum event_type)t),
                (unsigned long long)s->events[t]);
    family(out, "op25b_bot_suspect_score", "histogram", "Scores of bot_suspect findings.");
    uint64_t cumulative = 0;
    for (int b = 0; b <= SCORE_BUCKETS; b++) {
        cumulative += s->score_buckets[b];
        if (b < SCORE_BUCKETS)
            fprintf(out, "op25b_bot_suspect_score_bucket{le=\"%g\"} %llu\n", score_bounds[b],
                    (unsigned long long)cumulative);
        else
            fprintf(out, "op25b_bot_suspect_score_bucket{le=\"+Inf\"} %llu\n",
                    (unsigned long long)cumulative);
    }
    fprintf(out, "op25b_bot_suspect_score_sum %.6f\nop25b_bot_suspect_score_count %llu\n",
            s->score_sum, (unsigned long long)s->score_count);
    plain(out, "op25b_sink_queue_depth", "gauge",
          "Events handed to a sink and not yet confirmed (Kafka).", s->sinks.queued);
    plain(out, "op25b_sink_spooled_total", "counter", "Events written to the on-disk spool.",
          s->sinks.spooled);
    plain(out, "op25b_events_dropped_total", "counter",
          "Events lost: too large to write, or lost by a sink.",
          s->events_oversize + s->sinks.dropped);
    plain(out, "op25b_sink_errors_total", "counter", "Failed sink writes.", s->sink_errors);
    plain(out, "op25b_sink_delivery_errors_total", "counter",
          "Delivery failures the far end reported (Kafka).", s->sinks.delivery_errors);
}

char *metrics_render(struct metrics *metrics, size_t *length)
{
    if (metrics->slots != NULL) {
        /* shared is free in the parent, which never publishes: scratch for the slots. */
        merge_slots(metrics, &metrics->reading, &metrics->shared);
    } else {
        pthread_mutex_lock(&metrics->lock);
        snapshot_copy(metrics, &metrics->reading, &metrics->shared);
        pthread_mutex_unlock(&metrics->lock);
    }
    char *text = NULL;
    FILE *out = open_memstream(&text, length);
    if (out == NULL)
        return NULL;
    render_policy(out, metrics->policy);
    render_sensor(out, &metrics->reading);
    render_attempts(out, metrics, &metrics->reading);
    render_events(out, &metrics->reading);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- HTTP ---- */

static char *render(void *context, size_t *length)
{
    return metrics_render(context, length);
}

/* The snapshots, without the server. */
static struct metrics *metrics_new(const struct policy *policy)
{
    struct metrics *metrics = calloc(1, sizeof(*metrics));
    if (metrics == NULL)
        return NULL;
    metrics->policy = policy;
    metrics->worker = -1;
    metrics->attempt_values = policy->pool_count * 2 * VERDICT_COUNT;
    metrics->leak_values = policy->pool_count * EVIDENCE_COUNT;
    if (snapshot_init(&metrics->pending, metrics->attempt_values, metrics->leak_values) != 0 ||
        snapshot_init(&metrics->shared, metrics->attempt_values, metrics->leak_values) != 0 ||
        snapshot_init(&metrics->reading, metrics->attempt_values, metrics->leak_values) != 0) {
        snapshot_free(&metrics->pending);
        snapshot_free(&metrics->shared);
        snapshot_free(&metrics->reading);
        free(metrics);
        return NULL;
    }
    pthread_mutex_init(&metrics->lock, NULL);
    return metrics;
}

int metrics_serve(struct metrics *metrics, const char *address, char *error, size_t error_size)
{
    metrics->server =
        http_metrics_start(address, render, metrics,
                           "op25b-watch: Prometheus metrics at /metrics\n", error, error_size);
    return metrics->server != NULL ? 0 : -1;
}

struct metrics *metrics_start(const char *address, const struct policy *policy, char *error,
                              size_t error_size)
{
    struct metrics *metrics = metrics_new(policy);
    if (metrics == NULL) {
        snprintf(error, error_size, "out of memory for the metrics");
        return NULL;
    }
    if (metrics_serve(metrics, address, error, error_size) != 0) {
        metrics_stop(metrics);
        return NULL;
    }
    return metrics;
}

struct metrics *metrics_start_shared(const struct policy *policy, unsigned workers, char *error,
                                     size_t error_size)
{
    struct metrics *metrics = metrics_new(policy);
    if (metrics == NULL) {
        snprintf(error, error_size, "out of memory for the metrics");
        return NULL;
    }
    metrics->slot_bytes = sizeof(struct slot_header) + sizeof(struct snapshot) +
                          (metrics->attempt_values + metrics->leak_values) * sizeof(uint64_t);
    metrics->slot_bytes = (metrics->slot_bytes + 63) & ~(size_t)63;
    void *slots = mmap(NULL, metrics->slot_bytes * workers, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED) {
        snprintf(error, error_size, "no shared memory for the workers' metrics: %s",
                 strerror(errno));
        metrics_stop(metrics);
        return NULL;
    }
    metrics->slots = slots;
    metrics->workers = workers;
    return metrics;
}

void metrics_become_worker(struct metrics *metrics, unsigned worker)
{
    metrics->worker = (int)worker;
}

void metrics_stop(struct metrics *metrics)
{
    if (metrics == NULL)
        return;
    http_metrics_stop(metrics->server);
    if (metrics->slots != NULL)
        munmap(metrics->slots, metrics->slot_bytes * metrics->workers);
    pthread_mutex_destroy(&metrics->lock);
    snapshot_free(&metrics->pending);
    snapshot_free(&metrics->shared);
    snapshot_free(&metrics->reading);
    free(metrics);
}
