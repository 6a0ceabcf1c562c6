#include "output/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "decode/decode.h"
#include "record/bus.h"
#include "record/finding.h"
#include "output/metrics_guard.h"
#include "output/sink.h"
#include "util/log.h"

/* Bot scores by histogram bucket: a score is 0..100 (rules/README.md, the bot_suspect
 * score), so ten buckets of ten points; a finding scores at least thresholds.score (50 by
 * default), so the buckets below it stay empty unless the threshold is lowered. */
#define SCORE_BUCKETS 10
/* Connections served at once, and per client address: Prometheus uses one per server, so
 * a client that opens more cannot take the others' (the guard bounds how long each may
 * take to ask). */
#define CONNECTION_LIMIT 128
#define CLIENT_CONNECTION_LIMIT 8
/* Seconds a connection may sit idle, between requests or while an answer goes out. */
#define IDLE_SECONDS 10
static const double score_bounds[SCORE_BUCKETS] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
/* Each pool's row of counters: leaks by stage, bot scores by bucket (+Inf last), and the
 * sum of the scores in millionths of a point (whole numbers add up across workers). */
#define ROW_SCORES EVIDENCE_COUNT
#define ROW_SCORE_SUM (ROW_SCORES + SCORE_BUCKETS + 1)
#define ROW_VALUES (ROW_SCORE_SUM + 1)

struct snapshot {
    struct sensor_counters counters;
    uint64_t events[EVENT_TYPE_COUNT];
    uint64_t found[EVENT_TYPE_COUNT]; /* findings, written or held back by a rate limit */
    uint64_t events_oversize;
    uint64_t sink_errors;
    struct sink_stats sinks;
    packet_time now;
    double published_at; /* Unix time of the wall clock */
    /* Sized by the policy: [pool * 2 + (IPv6 ? 1 : 0)][verdict] and [pool][ROW_VALUES]. */
    uint64_t *attempts;
    uint64_t *pools;
};

struct metrics {
    const struct policy *policy;
    char *sensor_label; /* sensor="NAME", escaped: the label every series carries */
    struct MHD_Daemon *daemon;
    struct metrics_guard *guard;
    size_t attempt_values;
    size_t pool_values;
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
    char host[64] = METRICS_DEFAULT_HOST;
    const char *port_text = text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host)) {
            snprintf(error, error_size, "--metrics '%s': expected [IPV6]:PORT", text);
            return -1;
        }
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon != NULL) {
            if ((size_t)(colon - text) >= sizeof(host)) {
                snprintf(error, error_size, "--metrics '%s': host too long", text);
                return -1;
            }
            if (colon > text) {
                memcpy(host, text, (size_t)(colon - text));
                host[colon - text] = '\0';
            }
            port_text = colon + 1;
        }
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(port_text, &end, 10);
    if (errno != 0 || end == port_text || *end != '\0' || port == 0 || port > 65535 ||
        port_text[0] == '-' || port_text[0] == '+') {
        snprintf(error, error_size, "--metrics '%s': the port must be a number from 1 to 65535",
                 text);
        return -1;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "%s", METRICS_DEFAULT_HOST);
    memset(address, 0, sizeof(*address));
    struct sockaddr_in *v4 = (struct sockaddr_in *)address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
    } else {
        snprintf(error, error_size, "--metrics '%s': the host must be an IP address or localhost",
                 text);
        return -1;
    }
    return 0;
}

/* ---- Snapshots ---- */

static int snapshot_init(struct snapshot *snapshot, size_t attempt_values, size_t pool_values)
{
    memset(snapshot, 0, sizeof(*snapshot));
    snapshot->attempts = calloc(attempt_values + 1, sizeof(uint64_t));
    snapshot->pools = calloc(pool_values + 1, sizeof(uint64_t));
    return snapshot->attempts == NULL || snapshot->pools == NULL ? -1 : 0;
}

static void snapshot_free(struct snapshot *snapshot)
{
    free(snapshot->attempts);
    free(snapshot->pools);
}

/* Copies the values, keeping the destination's own arrays. */
static void snapshot_copy(const struct metrics *metrics, struct snapshot *to,
                          const struct snapshot *from)
{
    uint64_t *attempts = to->attempts, *pools = to->pools;
    *to = *from;
    to->attempts = attempts;
    to->pools = pools;
    memcpy(attempts, from->attempts, metrics->attempt_values * sizeof(uint64_t));
    memcpy(pools, from->pools, metrics->pool_values * sizeof(uint64_t));
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
    memcpy(pending->found, events->found, sizeof(pending->found));
    pending->events_oversize = events->oversize;
    pending->sink_errors = events->sink_errors;
    events_sink_stats(events, &pending->sinks);
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
                        uint64_t **attempts, uint64_t **pools)
{
    *fixed = (struct snapshot *)(slot + sizeof(struct slot_header));
    *attempts = (uint64_t *)(slot + sizeof(struct slot_header) + sizeof(struct snapshot));
    *pools = *attempts + metrics->attempt_values;
}

static void slot_write(struct metrics *metrics, const struct snapshot *from)
{
    uint8_t *slot = slot_of(metrics, (unsigned)metrics->worker);
    struct slot_header *header = (struct slot_header *)slot;
    struct snapshot *fixed;
    uint64_t *attempts, *pools;
    slot_layout(metrics, slot, &fixed, &attempts, &pools);
    __atomic_store_n(&header->sequence, header->sequence + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(fixed, from, sizeof(*fixed));
    memcpy(attempts, from->attempts, metrics->attempt_values * sizeof(uint64_t));
    memcpy(pools, from->pools, metrics->pool_values * sizeof(uint64_t));
    __atomic_store_n(&header->sequence, header->sequence + 1, __ATOMIC_RELEASE);
}

/* A consistent copy of one worker's slot into scratch; false if it kept changing. */
static bool slot_read(const struct metrics *metrics, unsigned worker, struct snapshot *scratch)
{
    uint8_t *slot = slot_of(metrics, worker);
    struct slot_header *header = (struct slot_header *)slot;
    struct snapshot *fixed;
    uint64_t *attempts, *pools;
    slot_layout(metrics, slot, &fixed, &attempts, &pools);
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t before = __atomic_load_n(&header->sequence, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        /* The slot's own array pointers are the worker's: only the values are taken. */
        uint64_t *scratch_attempts = scratch->attempts, *scratch_pools = scratch->pools;
        memcpy(scratch, fixed, sizeof(*scratch));
        scratch->attempts = scratch_attempts;
        scratch->pools = scratch_pools;
        memcpy(scratch_attempts, attempts, metrics->attempt_values * sizeof(uint64_t));
        memcpy(scratch_pools, pools, metrics->pool_values * sizeof(uint64_t));
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
    uint64_t *attempts = into->attempts, *pools = into->pools;
    memset(into, 0, sizeof(*into));
    into->attempts = attempts;
    into->pools = pools;
    memset(attempts, 0, metrics->attempt_values * sizeof(uint64_t));
    memset(pools, 0, metrics->pool_values * sizeof(uint64_t));
    _Static_assert(sizeof(struct sensor_counters) % sizeof(uint64_t) == 0, "all counters");
    _Static_assert(sizeof(struct sink_stats) % sizeof(uint64_t) == 0, "all counters");
    for (unsigned w = 0; w < metrics->workers; w++) {
        if (!slot_read(metrics, w, scratch))
            continue;
        add_u64s((uint64_t *)&into->counters, (const uint64_t *)&scratch->counters,
                 sizeof(into->counters) / sizeof(uint64_t));
        add_u64s(into->events, scratch->events, EVENT_TYPE_COUNT);
        add_u64s(into->found, scratch->found, EVENT_TYPE_COUNT);
        into->events_oversize += scratch->events_oversize;
        into->sink_errors += scratch->sink_errors;
        add_u64s((uint64_t *)&into->sinks, (const uint64_t *)&scratch->sinks,
                 sizeof(into->sinks) / sizeof(uint64_t));
        into->now = scratch->now > into->now ? scratch->now : into->now;
        into->published_at =
            scratch->published_at > into->published_at ? scratch->published_at : into->published_at;
        add_u64s(attempts, scratch->attempts, metrics->attempt_values);
        add_u64s(pools, scratch->pools, metrics->pool_values);
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
        metrics->pending.pools[(size_t)pool * ROW_VALUES + stage]++;
}

static void on_finding(void *context, const struct finding *finding)
{
    struct metrics *metrics = context;
    int pool = finding->pool;
    /* The detector scores only the subscribers of dynamic pools. */
    if (finding->type != EVENT_BOT_SUSPECT || pool < 0 ||
        (size_t)pool >= metrics->policy->pool_count)
        return;
    uint64_t *row = &metrics->pending.pools[(size_t)pool * ROW_VALUES];
    double score = finding->as.bot.score;
    size_t bucket = 0;
    while (bucket < SCORE_BUCKETS && score > score_bounds[bucket])
        bucket++;
    row[ROW_SCORES + bucket]++;
    row[ROW_SCORE_SUM] += score > 0 ? (uint64_t)(score * 1e6 + 0.5) : 0;
}

int metrics_attach(struct metrics *metrics, struct bus *bus)
{
    struct bus_subscriber subscriber = {
        .attempt = on_attempt, .finding = on_finding, .context = metrics};
    return bus_subscribe(bus, subscriber);
}

/* ---- The exposition format ---- */

/* Label values escape backslash, double quote and line feed. */
static void label_value(FILE *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '\\' || *c == '"')
            fputc('\\', out);
        if (*c == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*c, out);
    }
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Every series names the sensor: sensor="NAME" from the policy, written once at start. */
static void series(FILE *out, const char *sensor, const char *name)
{
    fprintf(out, "%s{%s", name, sensor);
}

static void plain(FILE *out, const char *sensor, const char *name, const char *type,
                  const char *help, uint64_t value)
{
    family(out, name, type, help);
    series(out, sensor, name);
    fprintf(out, "} %llu\n", (unsigned long long)value);
}

static const char *point_label(const struct policy *policy, int pool)
{
    int point = policy->pools[pool].blocking_point;
    return point == POLICY_NO_INDEX ? "(none)" : policy->blocking_points[point].name;
}

/* A series of one pool: its name, the sensor, the pool and its blocking point. */
static void pool_series(FILE *out, const struct metrics *metrics, const char *name, int pool)
{
    series(out, metrics->sensor_label, name);
    fputs(",pool=\"", out);
    label_value(out, metrics->policy->pools[pool].name);
    fputs("\",blocking_point=\"", out);
    label_value(out, point_label(metrics->policy, pool));
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

static void render_policy(FILE *out, const struct metrics *metrics)
{
    const struct policy *policy = metrics->policy;
    family(out, "op25b_info", "gauge", "The sensor: name, version and position.");
    series(out, metrics->sensor_label, "op25b_info");
    fprintf(out, ",version=\"%s\",position=\"%s\"} 1\n", OP25B_VERSION,
            sensor_position_name(policy->position));
    family(out, "op25b_blocking_point_info", "gauge",
           "Blocking points of the policy: level (draft section 4), state and reject mode.");
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        series(out, metrics->sensor_label, "op25b_blocking_point_info");
        fputs(",blocking_point=\"", out);
        label_value(out, point->name);
        fprintf(out, "\",level=\"%s\",state=\"%s\",reject=\"%s\"} 1\n",
                blocking_level_name(point->level), blocking_state_name(point->state),
                blocking_reject_name(point->reject));
    }
    family(out, "op25b_pool_info", "gauge",
           "Subscriber pools of the policy, with their type and blocking point.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        pool_series(out, metrics, "op25b_pool_info", (int)p);
        fprintf(out, ",type=\"%s\"} 1\n", pool_type_name(policy->pools[p].type));
    }
}

static void render_sensor(FILE *out, const char *sensor, const struct snapshot *s)
{
    static const char *const decode_names[DECODE_RESULT_COUNT] = {
        NULL, "not_ip", "fragments", "truncated", "malformed", "unsupported", "too_deep"};
    const struct sensor_counters *c = &s->counters;
    plain(out, sensor, "op25b_packets_total", "counter", "Packets read from the capture.",
          c->packets);
    plain(out, sensor, "op25b_bytes_total", "counter", "Bytes on the wire of the packets read.",
          c->bytes);
    plain(out, sensor, "op25b_capture_drops_total", "counter",
          "Packets the kernel or interface dropped (live capture).", c->capture_drops);
    plain(out, sensor, "op25b_capture_errors_total", "counter",
          "Damaged or unreadable capture input.", c->capture_errors);
    family(out, "op25b_decode_skipped_total", "counter",
           "Packets not judged, by why decoding stopped.");
    for (int i = 1; i < DECODE_RESULT_COUNT; i++) {
        series(out, sensor, "op25b_decode_skipped_total");
        fprintf(out, ",reason=\"%s\"} %llu\n", decode_names[i], (unsigned long long)c->decode[i]);
    }
    plain(out, sensor, "op25b_packets_cut_total", "counter",
          "Packets the snap length captured shorter than they were on the wire.", c->packets_cut);
    plain(out, sensor, "op25b_time_regressions_total", "counter",
          "Packets older than the packet clock, judged at their own time.", c->time_regressions);
    plain(out, sensor, "op25b_time_outliers_total", "counter",
          "Packets stamped far from their neighbours, judged at the packet clock's time.",
          c->time_outliers);
    plain(out, sensor, "op25b_flows", "gauge", "Attempts tracked now.", c->flows_active);
    plain(out, sensor, "op25b_flows_created_total", "counter", "Attempts tracked since start.",
          c->flows_created);
    plain(out, sensor, "op25b_flow_evictions_total", "counter",
          "Attempts closed early because the flow table was full.", c->flow_evictions);
    plain(out, sensor, "op25b_sessions", "gauge", "SMTP dialogues parsed now.", c->sessions_active);
    plain(out, sensor, "op25b_sessions_exhausted_total", "counter",
          "Dialogues left unparsed: no parser slot was free.", c->sessions_exhausted);
    plain(out, sensor, "op25b_stream_gaps_total", "counter", "Holes in TCP streams.",
          c->stream_gaps);
    family(out, "op25b_packet_time_seconds", "gauge",
           "The sensor's packet clock (Unix time of the latest packet).");
    series(out, sensor, "op25b_packet_time_seconds");
    fprintf(out, "} %.6f\n", (double)s->now / PACKET_TIME_SECOND);
    family(out, "op25b_last_publish_timestamp_seconds", "gauge",
           "Wall-clock time the packet thread last published these values.");
    series(out, sensor, "op25b_last_publish_timestamp_seconds");
    fprintf(out, "} %.3f\n", s->published_at);
}

static void render_attempts(FILE *out, const struct metrics *metrics, const struct snapshot *s)
{
    const struct policy *policy = metrics->policy;
    family(out, "op25b_attempts_total", "counter",
           "Port-25 attempts from dynamic pools, by verdict.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            if (!pool_has_family(&policy->pools[p], f == 0 ? ADDRESS_V4 : ADDRESS_V6))
                continue;
            const uint64_t *counts = &s->attempts[(p * 2 + (size_t)f) * VERDICT_COUNT];
            for (int v = 0; v < VERDICT_COUNT; v++) {
                pool_series(out, metrics, "op25b_attempts_total", (int)p);
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
            pool_series(out, metrics, "op25b_coverage_ratio", (int)p);
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
            pool_series(out, metrics, "op25b_leaks_total", (int)p);
            fprintf(out, ",stage=\"%s\"} %llu\n", evidence_name((enum evidence)e),
                    (unsigned long long)s->pools[p * ROW_VALUES + (size_t)e]);
        }
    }
}

/* Per dynamic pool: bot_suspect scores are about a pool's subscribers. */
static void render_scores(FILE *out, const struct metrics *metrics, const struct snapshot *s)
{
    const struct policy *policy = metrics->policy;
    family(out, "op25b_bot_suspect_score", "histogram",
           "Scores (0 to 100) of bot_suspect findings, per pool.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        if (policy->pools[p].type != POOL_DYNAMIC)
            continue;
        const uint64_t *row = &s->pools[p * ROW_VALUES];
        uint64_t cumulative = 0;
        for (int b = 0; b <= SCORE_BUCKETS; b++) {
            cumulative += row[ROW_SCORES + b];
            pool_series(out, metrics, "op25b_bot_suspect_score_bucket", (int)p);
            if (b < SCORE_BUCKETS)
                fprintf(out, ",le=\"%g\"} %llu\n", score_bounds[b], (unsigned long long)cumulative);
            else
                fprintf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
        pool_series(out, metrics, "op25b_bot_suspect_score_sum", (int)p);
        fprintf(out, "} %.6f\n", (double)row[ROW_SCORE_SUM] / 1e6);
        pool_series(out, metrics, "op25b_bot_suspect_score_count", (int)p);
        fprintf(out, "} %llu\n", (unsigned long long)cumulative);
    }
}

static void render_events(FILE *out, const char *sensor, const struct snapshot *s)
{
    family(out, "op25b_findings_total", "counter",
           "Detections by type: evasion, bots, submission hygiene.");
    /* Every finding, whether its line was written or held back by events.max_per_minute. */
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        series(out, sensor, "op25b_findings_total");
        fprintf(out, ",type=\"%s\"} %llu\n", event_type_name((enum event_type)t),
                (unsigned long long)s->found[t]);
    }
    family(out, "op25b_events_total", "counter", "Event lines written, by type.");
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        series(out, sensor, "op25b_events_total");
        fprintf(out, ",type=\"%s\"} %llu\n", event_type_name((enum event_type)t),
                (unsigned long long)s->events[t]);
    }
    plain(out, sensor, "op25b_sink_queue_depth", "gauge",
          "Events handed to a sink and not yet confirmed (Kafka).", s->sinks.queued);
    plain(out, sensor, "op25b_sink_spooled_total", "counter",
          "Events written to the on-disk spool.", s->sinks.spooled);
    plain(out, sensor, "op25b_events_dropped_total", "counter",
          "Events lost: too large to write, or lost by a sink.",
          s->events_oversize + s->sinks.dropped);
    plain(out, sensor, "op25b_sink_errors_total", "counter", "Failed sink writes.", s->sink_errors);
    plain(out, sensor, "op25b_sink_delivery_errors_total", "counter",
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
    render_policy(out, metrics);
    render_sensor(out, metrics->sensor_label, &metrics->reading);
    render_attempts(out, metrics, &metrics->reading);
    render_scores(out, metrics, &metrics->reading);
    render_events(out, metrics->sensor_label, &metrics->reading);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned status, char *body,
                             size_t length, enum MHD_ResponseMemoryMode mode,
                             const char *content_type)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(length, body, mode);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result answer(void *context, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **request_state)
{
    (void)version;
    (void)upload_data;
    (void)request_state;
    struct metrics *metrics = context;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char not_allowed[] = "only GET and HEAD\n";
    static char index[] = "op25b-watch: Prometheus metrics at /metrics\n";
    const char *text_type = "text/plain; charset=utf-8";
    /* Answered at once, before any body: the connection closes after the answer. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        metrics_guard_answered(metrics->guard, connection);
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1,
                     MHD_RESPMEM_PERSISTENT, text_type);
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is never wanted: read (within the deadline), ignored */
        return MHD_YES;
    }
    metrics_guard_answered(metrics->guard, connection);
    if (strcmp(url, "/") == 0)
        return reply(connection, MHD_HTTP_OK, index, sizeof(index) - 1, MHD_RESPMEM_PERSISTENT,
                     text_type);
    if (strcmp(url, "/metrics") != 0)
        return reply(connection, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1,
                     MHD_RESPMEM_PERSISTENT, text_type);
    size_t length = 0;
    char *body = metrics_render(metrics, &length);
    if (body == NULL)
        return MHD_NO;
    /* Version 0.0.4 of the text exposition format. */
    return reply(connection, MHD_HTTP_OK, body, length, MHD_RESPMEM_MUST_FREE,
                 "text/plain; version=0.0.4; charset=utf-8");
}

/* libmicrohttpd's messages are about clients (a refused connection, a bad request): one
 * line each at -vv, never a flood on the default output. */
static void log_server(void *context, const char *format, va_list arguments)
{
    (void)context;
    char text[256];
    vsnprintf(text, sizeof(text), format, arguments);
    size_t length = strlen(text);
    while (length > 0 && text[length - 1] == '\n')
        text[--length] = '\0';
    log_message(LOG_DEBUG, "metrics: %s", text);
}

static char *sensor_label(const struct policy *policy)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (out == NULL)
        return NULL;
    fputs("sensor=\"", out);
    label_value(out, policy->sensor_name);
    fputc('"', out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The snapshots, without the server. */
static struct metrics *metrics_new(const struct policy *policy)
{
    struct metrics *metrics = calloc(1, sizeof(*metrics));
    if (metrics == NULL)
        return NULL;
    metrics->policy = policy;
    metrics->sensor_label = sensor_label(policy);
    metrics->worker = -1;
    metrics->attempt_values = policy->pool_count * 2 * VERDICT_COUNT;
    metrics->pool_values = policy->pool_count * ROW_VALUES;
    if (snapshot_init(&metrics->pending, metrics->attempt_values, metrics->pool_values) != 0 ||
        snapshot_init(&metrics->shared, metrics->attempt_values, metrics->pool_values) != 0 ||
        snapshot_init(&metrics->reading, metrics->attempt_values, metrics->pool_values) != 0 ||
        metrics->sensor_label == NULL) {
        snapshot_free(&metrics->pending);
        snapshot_free(&metrics->shared);
        snapshot_free(&metrics->reading);
        free(metrics->sensor_label);
        free(metrics);
        return NULL;
    }
    pthread_mutex_init(&metrics->lock, NULL);
    return metrics;
}

int metrics_serve(struct metrics *metrics, const char *address, char *error, size_t error_size)
{
    struct sockaddr_storage bind_address;
    if (metrics_parse_address(address, &bind_address, error, error_size) != 0)
        return -1;
    /* epoll (poll elsewhere): no limit on descriptor numbers, unlike select. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    uint16_t port = ntohs(((struct sockaddr_in *)&bind_address)->sin_port);
    if (bind_address.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
        port = ntohs(((struct sockaddr_in6 *)&bind_address)->sin6_port);
    }
    /* The operator's signals must reach the thread that acts on them, the packet loop (or
     * with --workers the parent, waiting to pass them on): the server's thread inherits a
     * mask that blocks them. */
    sigset_t blocked, previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    metrics->guard = metrics_guard_start();
    if (metrics->guard != NULL)
        metrics->daemon = MHD_start_daemon(
            flags, port, NULL, NULL, answer, metrics, MHD_OPTION_EXTERNAL_LOGGER, log_server, NULL,
            MHD_OPTION_SOCK_ADDR, &bind_address, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            (unsigned)CLIENT_CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)IDLE_SECONDS, MHD_OPTION_NOTIFY_CONNECTION, metrics_guard_on_connection,
            metrics->guard, MHD_OPTION_NOTIFY_COMPLETED, metrics_guard_on_completed, metrics->guard,
            MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (metrics->daemon == NULL) {
        metrics_guard_stop(metrics->guard);
        metrics->guard = NULL;
        snprintf(error, error_size, "--metrics %s: cannot listen there (%s)", address,
                 saved != 0 ? strerror(saved) : "libmicrohttpd refused");
        return -1;
    }
    return 0;
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
                          (metrics->attempt_values + metrics->pool_values) * sizeof(uint64_t);
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
    if (metrics->daemon != NULL)
        MHD_stop_daemon(metrics->daemon);
    metrics_guard_stop(metrics->guard);
    if (metrics->slots != NULL)
        munmap(metrics->slots, metrics->slot_bytes * metrics->workers);
    pthread_mutex_destroy(&metrics->lock);
    snapshot_free(&metrics->pending);
    snapshot_free(&metrics->shared);
    snapshot_free(&metrics->reading);
    free(metrics->sensor_label);
    free(metrics);
}
