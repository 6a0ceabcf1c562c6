#include "correlate/fleet_metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/http_metrics.h"

#define LAG_PARTITIONS_MAX 1024

struct fleet_metrics {
    const struct policy *policy;
    struct http_metrics *server;
    pthread_mutex_t lock;
    /* The last published snapshot, read under the lock. */
    struct coverage totals;
    uint64_t *leaks_at; /* [blocking point] */
    uint64_t *held_at;
    struct correlator_counts counts;
    uint64_t *sensor_reports;
    packet_time *sensor_clocks;
    uint64_t pending;
    uint64_t written[FLEET_EVENT_COUNT];
    int64_t lag[LAG_PARTITIONS_MAX];
    size_t lag_count;
};

static char *render(void *context, size_t *length)
{
    return fleet_metrics_render(context, length);
}

struct fleet_metrics *fleet_metrics_start(const char *address, const struct policy *policy,
                                          char *error, size_t error_size)
{
    struct fleet_metrics *metrics = calloc(1, sizeof(*metrics));
    if (metrics == NULL)
        return NULL;
    metrics->policy = policy;
    pthread_mutex_init(&metrics->lock, NULL);
    metrics->sensor_reports = calloc(policy->fleet_sensor_count, sizeof(uint64_t));
    metrics->sensor_clocks = calloc(policy->fleet_sensor_count, sizeof(packet_time));
    metrics->leaks_at = calloc(policy->blocking_point_count + 1, sizeof(uint64_t));
    metrics->held_at = calloc(policy->blocking_point_count + 1, sizeof(uint64_t));
    if (metrics->sensor_reports == NULL || metrics->sensor_clocks == NULL ||
        metrics->leaks_at == NULL || metrics->held_at == NULL ||
        coverage_init(&metrics->totals, policy->pool_count) != 0) {
        snprintf(error, error_size, "out of memory for the metrics");
        fleet_metrics_stop(metrics);
        return NULL;
    }
    metrics->server =
        http_metrics_start(address, render, metrics,
                           "op25b-correlate: Prometheus metrics at /metrics\n", error, error_size);
    if (metrics->server == NULL) {
        fleet_metrics_stop(metrics);
        return NULL;
    }
    return metrics;
}

void fleet_metrics_publish(struct fleet_metrics *metrics, const struct correlator *correlator,
                           const int64_t *lag, size_t partition_count)
{
    const struct policy *policy = metrics->policy;
    pthread_mutex_lock(&metrics->lock);
    memcpy(metrics->totals.counts, correlator->totals.counts,
           policy->pool_count * 2 * sizeof(*metrics->totals.counts));
    memcpy(metrics->leaks_at, correlator->leaks_at,
           policy->blocking_point_count * sizeof(uint64_t));
    memcpy(metrics->held_at, correlator->held_at, policy->blocking_point_count * sizeof(uint64_t));
    metrics->counts = correlator->counts;
    metrics->counts.sensor_reports = NULL;
    memcpy(metrics->sensor_reports, correlator->counts.sensor_reports,
           policy->fleet_sensor_count * sizeof(uint64_t));
    for (size_t s = 0; s < policy->fleet_sensor_count; s++)
        metrics->sensor_clocks[s] = correlator->clocks->sensors[s].clock;
    metrics->pending = correlator->pending;
    memcpy(metrics->written, correlator->output->written, sizeof(metrics->written));
    metrics->lag_count =
        partition_count < LAG_PARTITIONS_MAX ? partition_count : LAG_PARTITIONS_MAX;
    memcpy(metrics->lag, lag, metrics->lag_count * sizeof(*lag));
    pthread_mutex_unlock(&metrics->lock);
}

static void point_labels(FILE *out, const struct policy *policy, size_t pool, int family)
{
    int point = policy->pools[pool].blocking_point;
    fputs("pool=\"", out);
    http_metrics_label_value(out, policy->pools[pool].name);
    fputs("\",blocking_point=\"", out);
    http_metrics_label_value(out, point == POLICY_NO_INDEX ? "(none)"
                                                           : policy->blocking_points[point].name);
    fprintf(out, "\",ip_version=\"%d\"", family);
}

static bool pool_has_family(const struct pool *pool, int address_family)
{
    for (size_t i = 0; i < pool->prefix_count; i++) {
        if (pool->prefixes[i].address.family == address_family)
            return true;
    }
    return false;
}

/* The series of the dashboards' contract (dashboards/README.md) start at 0, so that
 * increase() sees the first attempt: every dynamic pool (the only ones the fleet judges)
 * in each IP version it has prefixes of, and any other pool and version once counted. */
static bool attempts_served(const struct policy *policy, size_t pool, int family,
                            const struct coverage_counts *counts)
{
    return coverage_attempts(counts) > 0 || (policy->pools[pool].type == POOL_DYNAMIC &&
                                             pool_has_family(&policy->pools[pool], family));
}

/* Every blocking point of the policy, from 0: the leak panels and OP25BFleetLeak need the
 * zero before the first leak. */
static void render_points(FILE *out, const struct fleet_metrics *m)
{
    const struct policy *policy = m->policy;
    const struct {
        const char *name, *help;
        const uint64_t *values;
    } counters[] = {
        {"op25b_fleet_leaks_total",
         "Attempts that got past this active blocking point (their failed_at names it).",
         m->leaks_at},
        {"op25b_fleet_held_total", "Attempts this blocking point stopped (their held_at).",
         m->held_at},
    };
    for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
        http_metrics_family(out, counters[c].name, "counter", counters[c].help);
        for (size_t b = 0; b < policy->blocking_point_count; b++) {
            fprintf(out, "%s{blocking_point=\"", counters[c].name);
            http_metrics_label_value(out, policy->blocking_points[b].name);
            fprintf(out, "\"} %" PRIu64 "\n", counters[c].values[b]);
        }
    }
}

static void render_coverage(FILE *out, const struct fleet_metrics *m)
{
    static const int families[2] = {ADDRESS_V4, ADDRESS_V6};
    const struct policy *policy = m->policy;
    http_metrics_family(out, "op25b_fleet_attempts_total", "counter",
                        "Attempts the fleet decided, each once, by its verdict.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts = coverage_get(&m->totals, (int)p, families[f]);
            for (int v = 0; v < VERDICT_COUNT && attempts_served(policy, p, families[f], counts);
                 v++) {
                fputs("op25b_fleet_attempts_total{", out);
                point_labels(out, policy, p, families[f]);
                fprintf(out, ",verdict=\"%s\"} %" PRIu64 "\n", verdict_name((enum verdict)v),
                        counts->by_verdict[v]);
            }
        }
    }
    http_metrics_family(out, "op25b_fleet_coverage_ratio", "gauge",
                        "blocked / (blocked + leaked) over the fleet, per pool and point.");
    for (size_t p = 0; p < policy->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            double ratio;
            if (!coverage_ratio(coverage_get(&m->totals, (int)p, families[f]), &ratio))
                continue;
            fputs("op25b_fleet_coverage_ratio{", out);
            point_labels(out, policy, p, families[f]);
            fprintf(out, "} %.4f\n", ratio);
        }
    }
}

static void render_sensors(FILE *out, const struct fleet_metrics *m)
{
    const struct policy *policy = m->policy;
    http_metrics_family(out, "op25b_fleet_reports_total", "counter",
                        "Attempt reports of each sensor joined.");
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        fputs("op25b_fleet_reports_total{sensor=\"", out);
        http_metrics_label_value(out, policy->fleet_sensors[s].name);
        fprintf(out, "\"} %" PRIu64 "\n", m->sensor_reports[s]);
    }
    http_metrics_family(out, "op25b_fleet_sensor_clock_seconds", "gauge",
                        "Each sensor's packet clock, as its periodic events say it.");
    for (size_t s = 0; s < policy->fleet_sensor_count; s++) {
        fputs("op25b_fleet_sensor_clock_seconds{sensor=\"", out);
        http_metrics_label_value(out, policy->fleet_sensors[s].name);
        fprintf(out, "\"} %.6f\n", (double)m->sensor_clocks[s] / PACKET_TIME_SECOND);
    }
}

static void render_input(FILE *out, const struct fleet_metrics *m)
{
    http_metrics_family(out, "op25b_fleet_pending_attempts", "gauge",
                        "Attempts waiting for their sensors.");
    fprintf(out, "op25b_fleet_pending_attempts %" PRIu64 "\n", m->pending);
    http_metrics_family(out, "op25b_fleet_consumer_lag", "gauge",
                        "Messages of the events topic not read yet, per partition held.");
    for (size_t p = 0; p < m->lag_count; p++) {
        if (m->lag[p] >= 0)
            fprintf(out, "op25b_fleet_consumer_lag{partition=\"%zu\"} %" PRId64 "\n", p, m->lag[p]);
    }
    http_metrics_family(out, "op25b_fleet_input_ignored_total", "counter",
                        "Messages the join did not use, by why.");
    fprintf(out,
            "op25b_fleet_input_ignored_total{reason=\"unknown_sensor\"} %" PRIu64 "\n"
            "op25b_fleet_input_ignored_total{reason=\"not_an_event\"} %" PRIu64 "\n"
            "op25b_fleet_input_ignored_total{reason=\"already_decided\"} %" PRIu64 "\n",
            m->counts.strangers, m->counts.bad, m->counts.skipped);
    http_metrics_family(out, "op25b_fleet_forced_total", "counter",
                        "Attempts decided before every sensor could be heard (--pending, end).");
    fprintf(out, "op25b_fleet_forced_total %" PRIu64 "\n", m->counts.forced);
    http_metrics_family(out, "op25b_fleet_events_total", "counter", "Fleet events written.");
    for (int t = 0; t < FLEET_EVENT_COUNT; t++)
        fprintf(out, "op25b_fleet_events_total{type=\"%s\"} %" PRIu64 "\n",
                fleet_event_name((enum fleet_event)t), m->written[t]);
}

char *fleet_metrics_render(struct fleet_metrics *metrics, size_t *length)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, length);
    if (out == NULL)
        return NULL;
    pthread_mutex_lock(&metrics->lock);
    render_coverage(out, metrics);
    render_points(out, metrics);
    render_sensors(out, metrics);
    render_input(out, metrics);
    pthread_mutex_unlock(&metrics->lock);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void fleet_metrics_stop(struct fleet_metrics *metrics)
{
    if (metrics == NULL)
        return;
    http_metrics_stop(metrics->server);
    pthread_mutex_destroy(&metrics->lock);
    coverage_free(&metrics->totals);
    free(metrics->sensor_reports);
    free(metrics->sensor_clocks);
    free(metrics->leaks_at);
    free(metrics->held_at);
    free(metrics);
}
