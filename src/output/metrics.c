#include "output/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decode/decode.h"
#include "record/bus.h"
#include "record/finding.h"
#include "output/metrics_slots.h"
#include "policy/collateral_places.h"
#include "record/migration.h"
#include "output/sink.h"
#include "util/http_metrics.h"

/* Bot scores by histogram bucket: a score is 0..100 (rules/README.md, the bot_suspect
 * score), so ten buckets of ten points; a finding scores at least thresholds.score (50 by
 * default), so the buckets below it stay empty unless the threshold is lowered. */
#define SCORE_BUCKETS 10
static const double score_bounds[SCORE_BUCKETS] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
/* Each pool's row of counters: leaks by stage, bot scores by bucket (+Inf last), and the
 * sum of the scores in millionths of a point (whole numbers add up across workers). */
#define ROW_SCORES EVIDENCE_COUNT
#define ROW_SCORE_SUM (ROW_SCORES + SCORE_BUCKETS + 1)
#define ROW_VALUES (ROW_SCORE_SUM + 1)
/* Each (MSA, pool)'s row of submission counts (record/migration.h): connections by port and
 * AUTH, then the last interval's distinct subscribers by port. */
#define SUBMISSION_SUBSCRIBERS (MIGRATION_PORTS * MIGRATION_AUTHS)
#define SUBMISSION_VALUES (SUBMISSION_SUBSCRIBERS + MIGRATION_PORTS)

struct metrics {
    const struct policy *policy;
    char *sensor_label; /* sensor="NAME", escaped: the label every series carries */
    struct http_metrics *server;
    struct snapshot_size size;
    /* Where the block can refuse what it must not (built at start, as the detector's), and
     * where their counts start in the pools array: after the pools' rows. */
    struct collateral_places places;
    size_t collateral_values;
    /* The submission rows follow the collateral counts in the pools array: where they start,
     * and how many (MSA x pool). */
    size_t submission_values;
    size_t submission_rows;
    /* The interval's distinct subscribers by port, per (MSA, pool), as the
     * submission_migration events of the interval say; they become the gauge when the
     * interval's report comes. */
    uint64_t *interval_subscribers;
    const struct events *events; /* what the event lines wrote (metrics_attach) */
    /* The packet thread's own copy; observers add to it directly. */
    struct snapshot pending;
    double last_publish;
    /* Handed over under the lock, which is only ever held to copy a snapshot. */
    pthread_mutex_t lock;
    struct snapshot shared;
    /* The scraping thread's copy (libmicrohttpd answers from one thread). */
    struct snapshot reading;
    /* Held by the scraping thread while it renders, which reads the policy's names, and by
     * a policy reload while it replaces them (metrics_policy_hold). */
    pthread_mutex_t policy_lock;
    /* --workers: a slot per worker in shared memory (metrics_slots.h); worker is this
     * process's slot, -1 in the parent. The parent serves the workers' sum and its own
     * events (own, under the lock), and each worker's figures (per_worker, read by the
     * scraping thread); its main thread sums the slots into sum, with sum_scratch. */
    struct slots slots;
    int worker;
    struct events_tally own;
    struct snapshot *per_worker;
    bool *per_worker_read;
    struct snapshot sum, sum_scratch;
};

/* ---- Listening address ---- */

int metrics_parse_address(const char *text, struct sockaddr_storage *address, char *error,
                          size_t error_size)
{
    return http_metrics_parse_address(text, address, error, error_size);
}

/* ---- Snapshots ---- */

static double wall_seconds(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* coverage and events may be NULL: their figures stay as last gathered. */
static void gather(struct metrics *metrics, const struct sensor_counters *counters,
                   const struct coverage *coverage, const struct events *events, packet_time now)
{
    struct snapshot *pending = &metrics->pending;
    pending->counters = *counters;
    pending->now = now;
    if (events != NULL)
        events_tally(events, &pending->events);
    for (size_t p = 0;
         coverage != NULL && p < metrics->policy->pool_count && p < coverage->pool_count; p++) {
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
        slot_write(&metrics->slots, (unsigned)metrics->worker, SLOT_LATEST, &metrics->pending);
        metrics->last_publish = clock;
        return;
    }
    /* A scrape copying the last snapshot holds the lock for microseconds; rather than
     * wait, keep reading packets and hand this one over next time. */
    if (pthread_mutex_trylock(&metrics->lock) != 0)
        return;
    snapshot_copy(&metrics->shared, &metrics->pending, metrics->size);
    pthread_mutex_unlock(&metrics->lock);
    metrics->last_publish = clock;
}

void metrics_publish(struct metrics *metrics, const struct sensor_counters *counters,
                     const struct coverage *coverage, const struct events *events, packet_time now)
{
    gather(metrics, counters, coverage, events, now);
    metrics->last_publish = wall_seconds(CLOCK_MONOTONIC_COARSE);
    if (metrics->worker >= 0) {
        slot_write(&metrics->slots, (unsigned)metrics->worker, SLOT_LATEST, &metrics->pending);
        return;
    }
    pthread_mutex_lock(&metrics->lock);
    snapshot_copy(&metrics->shared, &metrics->pending, metrics->size);
    pthread_mutex_unlock(&metrics->lock);
}

/* ---- --workers: what the workers hand the parent ---- */

/* A worker's reports go to its slot, for the parent to write the whole sensor's coverage
 * and sensor_stats from: an interval or final report (with coverage) to both parts, an
 * on-demand one (SIGUSR1: the counters alone) to the latest, counted as answered. */
/* An interval is over: the subscribers its events counted become the gauge, and an (MSA,
 * pool) that had no event shows 0. */
static void roll_submission_interval(struct metrics *metrics)
{
    for (size_t row = 0; row < metrics->submission_rows; row++) {
        uint64_t *next = &metrics->interval_subscribers[row * MIGRATION_PORTS];
        uint64_t *gauge =
            &metrics->pending.pools[metrics->submission_values + row * SUBMISSION_VALUES];
        memcpy(gauge + SUBMISSION_SUBSCRIBERS, next, MIGRATION_PORTS * sizeof(uint64_t));
        memset(next, 0, MIGRATION_PORTS * sizeof(uint64_t));
    }
}

static void on_periodic(void *context, const struct periodic_record *periodic)
{
    struct metrics *metrics = context;
    if (periodic->coverage != NULL) /* else SIGUSR1's counters alone: no interval ended */
        roll_submission_interval(metrics);
    if (metrics->worker < 0)
        return;
    struct snapshot *pending = &metrics->pending;
    gather(metrics, periodic->counters, periodic->coverage, metrics->events, periodic->now);
    pending->snaplen = periodic->snaplen;
    if (periodic->coverage == NULL) {
        pending->requests++;
    } else {
        pending->final = periodic->final;
        if (!periodic->final) {
            pending->reports++;
            pending->reported = periodic->now;
        }
        slot_write(&metrics->slots, (unsigned)metrics->worker, SLOT_REPORTED, pending);
    }
    slot_write(&metrics->slots, (unsigned)metrics->worker, SLOT_LATEST, pending);
    metrics->last_publish = wall_seconds(CLOCK_MONOTONIC_COARSE);
}

int metrics_figures_init(const struct metrics *metrics, struct worker_figures *figures)
{
    memset(figures, 0, sizeof(*figures));
    return coverage_init(&figures->coverage, metrics->policy->pool_count);
}

void metrics_figures_free(struct worker_figures *figures)
{
    coverage_free(&figures->coverage);
}

void metrics_read_workers(struct metrics *metrics, bool reported, struct worker_figures *figures,
                          struct worker_state *states)
{
    struct snapshot *sum = &metrics->sum, *scratch = &metrics->sum_scratch;
    if (figures != NULL)
        snapshot_clear(sum, metrics->size);
    for (unsigned w = 0; w < metrics->slots.workers; w++) {
        bool read = slot_read(&metrics->slots, w, reported ? SLOT_REPORTED : SLOT_LATEST, scratch,
                              figures != NULL);
        if (states != NULL)
            states[w] = (struct worker_state){
                .published = read && scratch->published_at > 0,
                .final = read && scratch->final,
                .reports = read ? scratch->reports : 0,
                .reported = read ? scratch->reported : 0,
                .requests = read ? scratch->requests : 0,
                .now = read ? scratch->now : 0,
            };
        if (read && figures != NULL)
            snapshot_add(sum, scratch, metrics->size);
    }
    if (figures == NULL)
        return;
    figures->counters = sum->counters;
    figures->events = sum->events;
    figures->now = sum->now;
    figures->snaplen = sum->snaplen;
    for (size_t i = 0; i < metrics->policy->pool_count * 2; i++)
        memcpy(figures->coverage.counts[i].by_verdict, &sum->attempts[i * VERDICT_COUNT],
               sizeof(figures->coverage.counts[i].by_verdict));
}

void metrics_set_own(struct metrics *metrics, const struct events *events)
{
    struct events_tally tally;
    events_tally(events, &tally);
    pthread_mutex_lock(&metrics->lock);
    metrics->own = tally;
    pthread_mutex_unlock(&metrics->lock);
}

/* The scraping thread's view: the workers' sum and the parent's own events into reading,
 * each worker's figures into per_worker (shared is free in the parent, which never
 * publishes: scratch for the slots). */
static void merge_slots(struct metrics *metrics)
{
    struct snapshot *into = &metrics->reading, *scratch = &metrics->shared;
    snapshot_clear(into, metrics->size);
    for (unsigned w = 0; w < metrics->slots.workers; w++) {
        metrics->per_worker_read[w] = slot_read(&metrics->slots, w, SLOT_LATEST, scratch, true);
        if (!metrics->per_worker_read[w])
            continue;
        snapshot_add(into, scratch, metrics->size);
        snapshot_copy(&metrics->per_worker[w], scratch, metrics->size);
    }
    pthread_mutex_lock(&metrics->lock);
    events_tally_add(&into->events, &metrics->own);
    pthread_mutex_unlock(&metrics->lock);
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

/* An interval's submission_migration: its connections add to the counters, its distinct
 * subscribers wait for the interval's report (on_periodic). */
static void note_migration(struct metrics *metrics, const struct finding *finding)
{
    const struct migration_finding *migration = &finding->as.migration;
    long row = migration_row(metrics->policy, migration->msa, finding->pool);
    if (row < 0)
        return;
    uint64_t *values =
        &metrics->pending.pools[metrics->submission_values + (size_t)row * SUBMISSION_VALUES];
    for (int p = 0; p < MIGRATION_PORTS; p++) {
        for (int a = 0; a < MIGRATION_AUTHS; a++)
            values[p * MIGRATION_AUTHS + a] += migration->counts.connections[p][a];
        metrics->interval_subscribers[(size_t)row * MIGRATION_PORTS + (size_t)p] =
            migration->counts.port_subscribers[p];
    }
}

/* A collateral_block finding, counted by the place it names and its reason. */
static void count_collateral(struct metrics *metrics, const struct finding *finding)
{
    int point = finding_blocking_point(finding, metrics->policy);
    int place = collateral_place_find(&metrics->places, finding->pool, point);
    unsigned reason = finding->as.collateral.reason;
    if (place < 0 || reason >= COLLATERAL_REASONS)
        return;
    size_t slot = metrics->collateral_values + (size_t)place * COLLATERAL_REASONS + reason;
    metrics->pending.pools[slot]++;
}

static void on_finding(void *context, const struct finding *finding)
{
    struct metrics *metrics = context;
    int pool = finding->pool;
    if (finding->type == EVENT_COLLATERAL_BLOCK) {
        count_collateral(metrics, finding);
        return;
    }
    if (finding->type == EVENT_SUBMISSION_MIGRATION) {
        note_migration(metrics, finding);
        return;
    }
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

int metrics_attach(struct metrics *metrics, struct bus *bus, const struct events *events)
{
    metrics->events = events;
    struct bus_subscriber subscriber = {
        .attempt = on_attempt, .finding = on_finding, .periodic = on_periodic, .context = metrics};
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
           "Blocking points of the policy: level (draft section 4), state, reject mode and "
           "where the sensor sees each from.");
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        series(out, metrics->sensor_label, "op25b_blocking_point_info");
        fputs(",blocking_point=\"", out);
        label_value(out, point->name);
        fprintf(out, "\",level=\"%s\",state=\"%s\",reject=\"%s\",position=\"%s\"} 1\n",
                blocking_level_name(point->level), blocking_state_name(point->state),
                blocking_reject_name(point->reject), sensor_position_name(point->position));
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
    plain(out, sensor, "op25b_stream_reordered_total", "counter",
          "TCP segments held back and put in order.", c->stream_reordered);
    plain(out, sensor, "op25b_duplicates_total", "counter",
          "Copies of a packet already seen (both directions mirrored), skipped.", c->duplicates);
    plain(out, sensor, "op25b_syn_after_close_total", "counter",
          "SYNs retransmitted for an attempt already written.", c->syn_after_close);
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
/* Per place a block can refuse what it must not: a dynamic pool's port 25 to its MSAs and
 * its 587/465, a static pool's port 25 and its 587/465. */
static void render_collateral(FILE *out, const struct metrics *metrics, const struct snapshot *s)
{
    const struct policy *policy = metrics->policy;
    family(out, "op25b_collateral_blocks_total", "counter",
           "collateral_block findings: connections the block refused that it must let through.");
    for (size_t i = 0; i < metrics->places.count; i++) {
        const struct collateral_place *place = &metrics->places.items[i];
        bool dynamic = policy->pools[place->pool].type == POOL_DYNAMIC;
        for (int r = 0; r < COLLATERAL_REASONS; r++) {
            if (r == (dynamic ? COLLATERAL_STATIC_POOL : COLLATERAL_DESIGNATED_MSA))
                continue;
            series(out, metrics->sensor_label, "op25b_collateral_blocks_total");
            fputs(",pool=\"", out);
            label_value(out, policy->pools[place->pool].name);
            fputs("\",blocking_point=\"", out);
            label_value(out, policy->blocking_points[place->blocking_point].name);
            size_t slot = metrics->collateral_values + i * COLLATERAL_REASONS + (size_t)r;
            fprintf(out, "\",reason=\"%s\"} %llu\n",
                    collateral_reason_name((enum collateral_reason)r),
                    (unsigned long long)s->pools[slot]);
        }
    }
}

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

/* A series of one (MSA, pool): the pool's labels, then the MSA and the port. */
static void submission_series(FILE *out, const struct metrics *metrics, const char *name,
                              size_t row, enum migration_port port)
{
    const struct policy *policy = metrics->policy;
    pool_series(out, metrics, name, (int)(row % policy->pool_count));
    fputs(",msa=\"", out);
    label_value(out, policy->msas[row / policy->pool_count].name);
    fprintf(out, "\",port=\"%u\"", migration_port_number(port));
}

/* Per MSA and dynamic pool that has seen a connection since the start: Prometheus adds a
 * series once it appears, and an MSA x pool product that never carries submission would
 * only be noise. */
static void render_submission(FILE *out, const struct metrics *metrics, const struct snapshot *s)
{
    size_t rows = metrics->submission_rows;
    family(out, "op25b_submission_connections_total", "counter",
           "Dynamic subscribers' connections to each MSA on 25, 587 and 465, by whether they "
           "sent AUTH (unknown: TLS hid the dialogue).");
    for (size_t row = 0; row < rows; row++) {
        const uint64_t *values = &s->pools[metrics->submission_values + row * SUBMISSION_VALUES];
        uint64_t total = 0;
        for (int i = 0; i < SUBMISSION_SUBSCRIBERS; i++)
            total += values[i];
        for (int p = 0; p < MIGRATION_PORTS && total > 0; p++) {
            for (int a = 0; a < MIGRATION_AUTHS; a++) {
                if (p == MIGRATION_PORT_465 && a != MIGRATION_AUTH_UNKNOWN)
                    continue; /* implicit TLS: never known */
                submission_series(out, metrics, "op25b_submission_connections_total", row,
                                  (enum migration_port)p);
                fprintf(out, ",auth=\"%s\"} %llu\n", migration_auth_label((enum migration_auth)a),
                        (unsigned long long)values[p * MIGRATION_AUTHS + a]);
            }
        }
    }
    family(out, "op25b_submission_subscribers", "gauge",
           "Distinct dynamic subscribers that reached each MSA on 25, 587 and 465 in the last "
           "stats interval.");
    for (size_t row = 0; row < rows; row++) {
        const uint64_t *values = &s->pools[metrics->submission_values + row * SUBMISSION_VALUES];
        uint64_t total = 0;
        for (int i = 0; i < SUBMISSION_SUBSCRIBERS; i++)
            total += values[i];
        for (int p = 0; p < MIGRATION_PORTS && total > 0; p++) {
            submission_series(out, metrics, "op25b_submission_subscribers", row,
                              (enum migration_port)p);
            fprintf(out, "} %llu\n", (unsigned long long)values[SUBMISSION_SUBSCRIBERS + p]);
        }
    }
}

static void render_events(FILE *out, const char *sensor, const struct snapshot *s)
{
    family(out, "op25b_findings_total", "counter",
           "Detections by type: evasion, bots, submission hygiene.");
    /* Every finding, whether its line was written or held back by events.max_per_minute. */
    for (int t = EVENT_SENSOR_STATS + 1; t < EVENT_TYPE_COUNT; t++) {
        if (!event_type_is_finding((enum event_type)t))
            continue;
        series(out, sensor, "op25b_findings_total");
        fprintf(out, ",type=\"%s\"} %llu\n", event_type_name((enum event_type)t),
                (unsigned long long)s->events.found[t]);
    }
    family(out, "op25b_events_total", "counter", "Event lines written, by type.");
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        series(out, sensor, "op25b_events_total");
        fprintf(out, ",type=\"%s\"} %llu\n", event_type_name((enum event_type)t),
                (unsigned long long)s->events.emitted[t]);
    }
    plain(out, sensor, "op25b_sink_queue_depth", "gauge",
          "Events handed to a sink and not yet confirmed (Kafka).", s->events.sinks.queued);
    plain(out, sensor, "op25b_sink_spooled_total", "counter",
          "Events written to the on-disk spool.", s->events.sinks.spooled);
    plain(out, sensor, "op25b_events_dropped_total", "counter",
          "Events lost: too large to write, or lost by a sink.",
          s->events.oversize + s->events.sinks.dropped);
    plain(out, sensor, "op25b_sink_errors_total", "counter", "Failed sink writes.",
          s->events.sink_errors);
    plain(out, sensor, "op25b_sink_delivery_errors_total", "counter",
          "Delivery failures the far end reported (Kafka).", s->events.sinks.delivery_errors);
}

/* A series of one worker: its name, the sensor and the worker's index. */
static void worker_series(FILE *out, const char *sensor, const char *name, unsigned worker)
{
    series(out, sensor, name);
    fprintf(out, ",worker=\"%u\"", worker);
}

/* --workers: each worker's own figures beside the sum, labelled with its index. */
static void render_workers(FILE *out, const struct metrics *metrics)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } counters[] = {
        {"op25b_worker_packets_total", "counter", "Packets each worker read.",
         offsetof(struct sensor_counters, packets)},
        {"op25b_worker_bytes_total", "counter", "Bytes on the wire of the packets each read.",
         offsetof(struct sensor_counters, bytes)},
        {"op25b_worker_capture_drops_total", "counter", "Packets dropped before each worker.",
         offsetof(struct sensor_counters, capture_drops)},
        {"op25b_worker_flows", "gauge", "Attempts each worker tracks now.",
         offsetof(struct sensor_counters, flows_active)},
        {"op25b_worker_flow_evictions_total", "counter",
         "Attempts each worker closed early: its flow table was full.",
         offsetof(struct sensor_counters, flow_evictions)},
    };
    const char *sensor = metrics->sensor_label;
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        family(out, counters[i].name, counters[i].type, counters[i].help);
        for (unsigned w = 0; w < metrics->slots.workers; w++) {
            uint64_t value;
            memcpy(&value, (const char *)&metrics->per_worker[w].counters + counters[i].offset,
                   sizeof(value));
            if (!metrics->per_worker_read[w])
                continue;
            worker_series(out, sensor, counters[i].name, w);
            fprintf(out, "} %llu\n", (unsigned long long)value);
        }
    }
    family(out, "op25b_worker_attempts_total", "counter",
           "Port-25 attempts each worker judged, by verdict (all pools).");
    for (unsigned w = 0; w < metrics->slots.workers; w++) {
        for (int v = 0; metrics->per_worker_read[w] && v < VERDICT_COUNT; v++) {
            uint64_t count = 0;
            for (size_t i = 0; i < metrics->policy->pool_count * 2; i++)
                count += metrics->per_worker[w].attempts[i * VERDICT_COUNT + (size_t)v];
            worker_series(out, sensor, "op25b_worker_attempts_total", w);
            fprintf(out, ",verdict=\"%s\"} %llu\n", verdict_name((enum verdict)v),
                    (unsigned long long)count);
        }
    }
    family(out, "op25b_worker_packet_time_seconds", "gauge", "Each worker's packet clock.");
    for (unsigned w = 0; w < metrics->slots.workers; w++) {
        if (!metrics->per_worker_read[w])
            continue;
        worker_series(out, sensor, "op25b_worker_packet_time_seconds", w);
        fprintf(out, "} %.6f\n", (double)metrics->per_worker[w].now / PACKET_TIME_SECOND);
    }
}

static char *sensor_label(const struct policy *policy);

static char *render_locked(struct metrics *metrics, size_t *length)
{
    if (metrics->slots.memory != NULL) {
        merge_slots(metrics);
    } else {
        pthread_mutex_lock(&metrics->lock);
        snapshot_copy(&metrics->reading, &metrics->shared, metrics->size);
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
    render_collateral(out, metrics, &metrics->reading);
    render_events(out, metrics->sensor_label, &metrics->reading);
    render_submission(out, metrics, &metrics->reading);
    if (metrics->slots.memory != NULL)
        render_workers(out, metrics);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *metrics_render(struct metrics *metrics, size_t *length)
{
    pthread_mutex_lock(&metrics->policy_lock);
    char *text = render_locked(metrics, length);
    pthread_mutex_unlock(&metrics->policy_lock);
    return text;
}

void metrics_policy_hold(struct metrics *metrics)
{
    if (metrics != NULL)
        pthread_mutex_lock(&metrics->policy_lock);
}

void metrics_policy_release(struct metrics *metrics)
{
    if (metrics == NULL)
        return;
    char *label = sensor_label(metrics->policy);
    if (label != NULL) { /* else the old name stays on the series: better than none */
        free(metrics->sensor_label);
        metrics->sensor_label = label;
    }
    pthread_mutex_unlock(&metrics->policy_lock);
}

/* ---- HTTP ---- */

static char *render(void *context, size_t *length)
{
    return metrics_render(context, length);
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

/* Frees the snapshots of a metrics that may be half made; NULL arrays are fine. */
static void free_snapshots(struct metrics *metrics)
{
    snapshot_free(&metrics->pending);
    snapshot_free(&metrics->shared);
    snapshot_free(&metrics->reading);
    snapshot_free(&metrics->sum);
    snapshot_free(&metrics->sum_scratch);
    for (unsigned w = 0; metrics->per_worker != NULL && w < metrics->slots.workers; w++)
        snapshot_free(&metrics->per_worker[w]);
    free(metrics->per_worker);
    free(metrics->per_worker_read);
    free(metrics->sensor_label);
    collateral_places_free(&metrics->places);
    free(metrics->interval_subscribers);
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
    metrics->size.attempts = policy->pool_count * 2 * VERDICT_COUNT;
    /* The collateral counts follow the pools' rows in the same array, so snapshots, worker
     * slots and their sum carry them as they carry the rows. */
    metrics->collateral_values = policy->pool_count * ROW_VALUES;
    if (collateral_places_build(policy, &metrics->places) != 0) {
        free_snapshots(metrics);
        free(metrics);
        return NULL;
    }
    metrics->submission_values =
        metrics->collateral_values + metrics->places.count * COLLATERAL_REASONS;
    metrics->submission_rows = migration_msas_measured(policy) * policy->pool_count;
    metrics->size.pools = metrics->submission_values + metrics->submission_rows * SUBMISSION_VALUES;
    metrics->interval_subscribers =
        calloc(metrics->submission_rows * MIGRATION_PORTS + 1, sizeof(uint64_t));
    if (metrics->interval_subscribers == NULL) {
        free_snapshots(metrics);
        free(metrics);
        return NULL;
    }
    if (snapshot_init(&metrics->pending, metrics->size) != 0 ||
        snapshot_init(&metrics->shared, metrics->size) != 0 ||
        snapshot_init(&metrics->reading, metrics->size) != 0 || metrics->sensor_label == NULL) {
        free_snapshots(metrics);
        free(metrics);
        return NULL;
    }
    pthread_mutex_init(&metrics->lock, NULL);
    pthread_mutex_init(&metrics->policy_lock, NULL);
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

/* The parent's side of the slots: its sums and each worker's copy. */
static int init_worker_snapshots(struct metrics *metrics, unsigned workers)
{
    metrics->per_worker = calloc(workers, sizeof(*metrics->per_worker));
    metrics->per_worker_read = calloc(workers, sizeof(*metrics->per_worker_read));
    if (metrics->per_worker == NULL || metrics->per_worker_read == NULL ||
        snapshot_init(&metrics->sum, metrics->size) != 0 ||
        snapshot_init(&metrics->sum_scratch, metrics->size) != 0)
        return -1;
    for (unsigned w = 0; w < workers; w++)
        if (snapshot_init(&metrics->per_worker[w], metrics->size) != 0)
            return -1;
    return 0;
}

struct metrics *metrics_start_shared(const struct policy *policy, unsigned workers, char *error,
                                     size_t error_size)
{
    struct metrics *metrics = metrics_new(policy);
    if (metrics == NULL) {
        snprintf(error, error_size, "out of memory for the metrics");
        return NULL;
    }
    metrics->slots.workers = workers;
    if (init_worker_snapshots(metrics, workers) != 0) {
        snprintf(error, error_size, "out of memory for the metrics");
        metrics_stop(metrics);
        return NULL;
    }
    if (slots_map(&metrics->slots, workers, metrics->size) != 0) {
        snprintf(error, error_size, "no shared memory for the workers' figures: %s",
                 strerror(errno));
        metrics_stop(metrics);
        return NULL;
    }
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
    slots_unmap(&metrics->slots);
    pthread_mutex_destroy(&metrics->lock);
    pthread_mutex_destroy(&metrics->policy_lock);
    free_snapshots(metrics);
    free(metrics);
}
