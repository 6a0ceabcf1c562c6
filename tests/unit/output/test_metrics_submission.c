/* The submission metrics: op25b_submission_connections_total adds up the connections the
 * submission_migration events count, op25b_submission_subscribers is the last interval's
 * distinct subscribers (0 for an MSA and pool the interval did not see), and with --workers
 * the parent serves both summed over the workers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "output/metrics.h"
#include "record/bus.h"
#include "record/finding.h"

static const char *const POLICY =
    "sensor: {name: s, position: edge-side}\n"
    "own_prefixes: [198.51.100.0/22]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator, state: active, reject: drop}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24], blocking_point: bras}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.101.0/24], blocking_point: bras}\n"
    "msas:\n"
    "  - {name: isp-msa, prefixes: [192.0.2.25], ports: [25, 587, 465]}\n"
    "  - {name: quiet-msa, prefixes: [192.0.2.26], ports: [587]}\n";

#define FTTH "{sensor=\"s\",pool=\"ftth\",blocking_point=\"bras\",msa=\"isp-msa\""
#define DSL "{sensor=\"s\",pool=\"dsl\",blocking_point=\"bras\",msa=\"isp-msa\""
#define CONNECTIONS "op25b_submission_connections_total"
#define SUBSCRIBERS "op25b_submission_subscribers"

static double sample(const char *text, const char *series)
{
    size_t length = strlen(series);
    for (const char *at = strstr(text, series); at != NULL; at = strstr(at + 1, series)) {
        if ((at == text || at[-1] == '\n') && at[length] == ' ')
            return strtod(at + length + 1, NULL);
    }
    cr_assert_fail("no series %s in\n%s", series, text);
    return 0;
}

static struct policy *load(void)
{
    char error[512];
    struct policy *policy =
        policy_load_text("t.yaml", POLICY, strlen(POLICY), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    return policy;
}

/* One interval's event for isp-msa and pool. */
static void migration(struct bus *bus, int pool, uint64_t auth_25, uint64_t tls_587,
                      uint64_t subscribers_25, uint64_t subscribers_587)
{
    struct finding finding;
    finding_init(&finding, EVENT_SUBMISSION_MIGRATION, PACKET_TIME_SECOND);
    finding.pool = pool;
    struct migration_counts *counts = &finding.as.migration.counts;
    counts->connections[MIGRATION_PORT_25][MIGRATION_AUTH_YES] = auth_25;
    counts->connections[MIGRATION_PORT_587][MIGRATION_AUTH_UNKNOWN] = tls_587;
    counts->port_subscribers[MIGRATION_PORT_25] = subscribers_25;
    counts->port_subscribers[MIGRATION_PORT_587] = subscribers_587;
    bus_finding(bus, &finding);
}

/* The interval's report, as the sensor makes it after the interval's events. */
static void interval_ends(struct bus *bus, const struct policy *policy)
{
    struct coverage coverage;
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    struct sensor_counters counters = {0};
    struct periodic_record periodic = {
        .now = PACKET_TIME_SECOND, .coverage = &coverage, .counters = &counters};
    bus_periodic(bus, &periodic);
    coverage_free(&coverage);
}

static void publish(struct metrics *metrics, const struct policy *policy)
{
    struct sensor_counters counters = {0};
    struct coverage coverage;
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    struct events events;
    events_init(&events, policy);
    metrics_publish(metrics, &counters, &coverage, &events, PACKET_TIME_SECOND);
    coverage_free(&coverage);
}

Test(metrics_submission, counters_add_up_and_the_gauge_is_the_last_interval)
{
    struct policy *policy = load();
    char error[512];
    struct metrics *metrics = metrics_start_shared(policy, 1, error, sizeof(error));
    cr_assert_not_null(metrics, "%s", error);
    metrics_become_worker(metrics, 0);
    struct bus bus;
    bus_init(&bus);
    cr_assert_eq(metrics_attach(metrics, &bus, NULL), 0);
    migration(&bus, 0, 3, 1, 2, 1); /* the first interval: ftth and dsl */
    migration(&bus, 1, 1, 0, 1, 0);
    interval_ends(&bus, policy);
    migration(&bus, 0, 1, 4, 1, 3); /* the second: ftth alone */
    interval_ends(&bus, policy);
    publish(metrics, policy);
    size_t length;
    char *text = metrics_render(metrics, &length);
    cr_assert_not_null(text);
    cr_expect_eq(sample(text, CONNECTIONS FTTH ",port=\"25\",auth=\"yes\"}"), 4.0);
    cr_expect_eq(sample(text, CONNECTIONS FTTH ",port=\"25\",auth=\"no\"}"), 0.0);
    cr_expect_eq(sample(text, CONNECTIONS FTTH ",port=\"587\",auth=\"unknown\"}"), 5.0);
    cr_expect_eq(sample(text, CONNECTIONS DSL ",port=\"25\",auth=\"yes\"}"), 1.0);
    cr_expect_eq(sample(text, SUBSCRIBERS FTTH ",port=\"25\"}"), 1.0);
    cr_expect_eq(sample(text, SUBSCRIBERS FTTH ",port=\"587\"}"), 3.0);
    /* dsl was not seen in the second interval. */
    cr_expect_eq(sample(text, SUBSCRIBERS DSL ",port=\"25\"}"), 0.0);
    /* 465 is TLS from its first byte: only auth="unknown". */
    cr_expect_null(strstr(text, ",port=\"465\",auth=\"yes\""));
    cr_expect_eq(sample(text, CONNECTIONS FTTH ",port=\"465\",auth=\"unknown\"}"), 0.0);
    /* An MSA no subscriber reached has no series. */
    cr_expect_null(strstr(text, "msa=\"quiet-msa\""), "%s", text);
    free(text);
    metrics_stop(metrics);
    policy_free(policy);
}

Test(metrics_submission, the_parent_serves_the_workers_sum)
{
    struct policy *policy = load();
    char error[512];
    struct metrics *metrics = metrics_start_shared(policy, 2, error, sizeof(error));
    cr_assert_not_null(metrics, "%s", error);
    for (unsigned worker = 0; worker < 2; worker++) {
        pid_t child = fork();
        cr_assert(child >= 0);
        if (child == 0) {
            metrics_become_worker(metrics, worker);
            struct bus bus;
            bus_init(&bus);
            if (metrics_attach(metrics, &bus, NULL) != 0)
                _exit(1);
            migration(&bus, 0, 2 + worker, 1, 1 + worker, 1);
            interval_ends(&bus, policy);
            publish(metrics, policy);
            _exit(0);
        }
        int status;
        waitpid(child, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    size_t length;
    char *text = metrics_render(metrics, &length);
    cr_assert_not_null(text);
    cr_expect_eq(sample(text, CONNECTIONS FTTH ",port=\"25\",auth=\"yes\"}"), 5.0, "%s", text);
    cr_expect_eq(sample(text, SUBSCRIBERS FTTH ",port=\"25\"}"), 3.0);
    cr_expect_eq(sample(text, SUBSCRIBERS FTTH ",port=\"587\"}"), 2.0);
    free(text);
    metrics_stop(metrics);
    policy_free(policy);
}
