/* --workers with --metrics: each worker process publishes into its own slot of shared
 * memory and the parent serves the sum. Two forked workers publish different counts; the
 * parent's exposition must show their sums, per counter and per pool and verdict. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "output/metrics.h"
#include "record/bus.h"

static const char *const POLICY = "sensor: {name: s, position: edge-side}\n"
                                  "own_prefixes: [198.51.100.0/22]\n"
                                  "pools:\n"
                                  "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24]}\n";

static double sample(const char *text, const char *line_start)
{
    const char *at = strstr(text, line_start);
    cr_assert_not_null(at, "no '%s' in the exposition", line_start);
    return strtod(at + strlen(line_start), NULL);
}

Test(metrics_workers, the_parent_serves_the_sum_of_the_workers)
{
    char error[512];
    struct policy *policy =
        policy_load_text("t.yaml", POLICY, strlen(POLICY), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    /* Made before the workers fork; served by the parent after (not needed to render). */
    struct metrics *metrics = metrics_start_shared(policy, 3, error, sizeof(error));
    cr_assert_not_null(metrics, "%s", error);
    for (unsigned worker = 0; worker < 2; worker++) {
        pid_t child = fork();
        cr_assert(child >= 0);
        if (child == 0) {
            metrics_become_worker(metrics, worker);
            struct sensor_counters counters = {0};
            counters.packets = 1000 * (worker + 1);
            counters.flows_active = 7;
            struct coverage coverage;
            coverage_init(&coverage, policy->pool_count);
            for (unsigned i = 0; i <= worker; i++)
                coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_LEAKED);
            struct events events;
            events_init(&events, policy);
            events.emitted[EVENT_ATTEMPT] = 5 + worker;
            metrics_publish(metrics, &counters, &coverage, &events,
                            (packet_time)(worker + 1) * 1000000);
            _exit(0);
        }
        int status;
        waitpid(child, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* The third worker never published: its zeros add nothing. */
    size_t length;
    char *text = metrics_render(metrics, &length);
    cr_assert_not_null(text);
    cr_assert_float_eq(sample(text, "\nop25b_packets_total{sensor=\"s\"} "), 3000.0, 1e-9, "%s",
                       text);
    cr_assert_float_eq(sample(text, "\nop25b_flows{sensor=\"s\"} "), 14.0, 1e-9);
    cr_assert_not_null(strstr(text, "verdict=\"leaked\""), "%s", text);
    const char *leaked = strstr(text, "verdict=\"leaked\"");
    const char *value = strchr(leaked, '}');
    cr_assert_float_eq(strtod(value + 1, NULL), 3.0, 1e-9, "leaked attempts of both workers");
    free(text);
    metrics_stop(metrics);
    policy_free(policy);
}

/* A worker in a forked process: an interval report at 10 s of packet time, with packets
 * and one leaked attempt per (worker + 1), then (final) the final report at 12 s. */
static void report_as_worker(struct metrics *metrics, const struct policy *policy, unsigned worker,
                             bool final)
{
    metrics_become_worker(metrics, worker);
    struct events events;
    events_init(&events, policy);
    struct bus bus;
    bus_init(&bus);
    cr_assert_eq(metrics_attach(metrics, &bus, &events), 0);
    struct sensor_counters counters = {0};
    struct coverage coverage;
    coverage_init(&coverage, policy->pool_count);
    counters.packets = 100 * (worker + 1);
    for (unsigned i = 0; i <= worker; i++)
        coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_LEAKED);
    events.emitted[EVENT_ATTEMPT] = worker + 1;
    struct periodic_record interval = {
        .now = 10 * PACKET_TIME_SECOND + worker, .coverage = &coverage, .counters = &counters};
    bus_periodic(&bus, &interval);
    /* After its report: the parent must not see this until the next one. */
    counters.packets += 1000;
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_BLOCKED);
    if (final) {
        struct periodic_record last = {.now = 12 * PACKET_TIME_SECOND,
                                       .final = true,
                                       .coverage = &coverage,
                                       .counters = &counters};
        bus_periodic(&bus, &last);
    }
    coverage_free(&coverage);
    _exit(0);
}

/* The parent writes the whole sensor's coverage and sensor_stats from what each worker
 * handed over at its own reports: the figures as of each report, summed, and where each
 * worker stands; the endpoint shows each worker's own count beside the sum. */
Test(metrics_workers, the_parent_reads_what_each_worker_reported)
{
    char error[512];
    struct policy *policy =
        policy_load_text("t.yaml", POLICY, strlen(POLICY), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    struct metrics *metrics = metrics_start_shared(policy, 2, error, sizeof(error));
    cr_assert_not_null(metrics, "%s", error);
    for (unsigned worker = 0; worker < 2; worker++) {
        pid_t child = fork();
        cr_assert(child >= 0);
        if (child == 0)
            report_as_worker(metrics, policy, worker, worker == 1);
        int status;
        waitpid(child, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct worker_figures figures;
    cr_assert_eq(metrics_figures_init(metrics, &figures), 0);
    struct worker_state states[2];
    metrics_read_workers(metrics, true, &figures, states);
    /* Worker 0 as of its interval report; worker 1 as of its final one. */
    cr_assert_eq(figures.counters.packets, 100 + 1200);
    const struct coverage_counts *counts = coverage_get(&figures.coverage, 0, ADDRESS_V4);
    cr_assert_eq(counts->by_verdict[VERDICT_LEAKED], 3);
    cr_assert_eq(counts->by_verdict[VERDICT_BLOCKED], 1);
    cr_assert_eq(figures.events.emitted[EVENT_ATTEMPT], 3);
    cr_assert_eq(figures.now, 12 * PACKET_TIME_SECOND);
    cr_assert(states[0].published && !states[0].final && states[0].reports == 1);
    cr_assert_eq(states[0].reported, 10 * PACKET_TIME_SECOND);
    cr_assert(states[1].final && states[1].reports == 1);
    cr_assert_eq(states[1].reported, 10 * PACKET_TIME_SECOND + 1);
    size_t length;
    char *text = metrics_render(metrics, &length);
    cr_assert_not_null(text);
    cr_assert_not_null(
        strstr(text, "\nop25b_worker_packets_total{sensor=\"s\",worker=\"0\"} 100\n"), "%s", text);
    cr_assert_not_null(
        strstr(text, "\nop25b_worker_packets_total{sensor=\"s\",worker=\"1\"} 1200\n"));
    cr_assert_not_null(strstr(
        text, "\nop25b_worker_attempts_total{sensor=\"s\",worker=\"1\",verdict=\"leaked\"} 2\n"));
    cr_assert_float_eq(sample(text, "\nop25b_packets_total{sensor=\"s\"} "), 1300.0, 1e-9);
    free(text);
    metrics_figures_free(&figures);
    metrics_stop(metrics);
    policy_free(policy);
}
