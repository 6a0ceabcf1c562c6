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
