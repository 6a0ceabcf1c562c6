/* The exposition text of --metrics: every series names the sensor (escaped as a label
 * value), and the bot_suspect scores are a histogram per dynamic pool whose buckets span
 * the score's 0..100. The metrics are made without a server (one worker slot, published
 * and rendered in this process), fed through the bus as the sensor feeds them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/metrics.h"
#include "record/bus.h"
#include "record/finding.h"

static const char *const POLICY =
    "sensor: {name: 'span \"east\" \\ 1', position: edge-side}\n"
    "own_prefixes: [198.51.100.0/22]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator, state: active, reject: drop}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24], blocking_point: bras}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.101.0/24]}\n"
    "  - {name: office, type: static, prefixes: [198.51.102.0/24]}\n";

#define SENSOR "sensor=\"span \\\"east\\\" \\\\ 1\""

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

static void bot(struct bus *bus, int pool, double score)
{
    struct finding finding;
    finding_init(&finding, EVENT_BOT_SUSPECT, (packet_time)1768467600 * PACKET_TIME_SECOND);
    finding.pool = pool;
    finding.as.bot.score = score;
    bus_finding(bus, &finding);
}

static char *render_after(struct policy *policy, struct metrics *metrics)
{
    struct sensor_counters counters = {0};
    counters.packets = 42;
    struct coverage coverage;
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_LEAKED);
    struct events events;
    events_init(&events, policy);
    metrics_publish(metrics, &counters, &coverage, &events, PACKET_TIME_SECOND);
    coverage_free(&coverage);
    size_t length;
    char *text = metrics_render(metrics, &length);
    cr_assert_not_null(text);
    return text;
}

Test(metrics, every_series_names_the_sensor_and_scores_fill_0_to_100_buckets_per_pool)
{
    char error[512];
    struct policy *policy =
        policy_load_text("t.yaml", POLICY, strlen(POLICY), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    struct metrics *metrics = metrics_start_shared(policy, 1, error, sizeof(error));
    cr_assert_not_null(metrics, "%s", error);
    metrics_become_worker(metrics, 0);
    struct bus bus;
    bus_init(&bus);
    cr_assert_eq(metrics_attach(metrics, &bus, NULL), 0);
    bot(&bus, 0, 55.0);
    bot(&bus, 0, 73.35);
    bot(&bus, 0, 100.0);
    bot(&bus, 1, 50.0);
    char *text = render_after(policy, metrics);

    /* Each sample line starts NAME{sensor="..."; op25b_info keeps its own labels. */
    size_t samples = 0;
    for (const char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end, "the exposition ends with a line feed");
        if (line[0] == '#')
            continue;
        const char *brace = memchr(line, '{', (size_t)(end - line));
        cr_expect(brace != NULL && strncmp(brace + 1, SENSOR, strlen(SENSOR)) == 0,
                  "a series without the sensor label: %.*s", (int)(end - line), line);
        samples++;
    }
    cr_expect_gt(samples, 50);
    cr_expect_eq(sample(text, "op25b_packets_total{" SENSOR "}"), 42.0);
    cr_expect_eq(
        sample(text, "op25b_info{" SENSOR ",version=\"" OP25B_VERSION "\",position=\"edge-side\"}"),
        1.0);
    cr_expect_eq(sample(text, "op25b_attempts_total{" SENSOR ",pool=\"ftth\",blocking_point="
                              "\"bras\",ip_version=\"4\",verdict=\"leaked\"}"),
                 1.0);

    /* ftth: 55 in (50, 60], 73.35 in (70, 80], 100 in (90, 100]; cumulative counts. */
#define FTTH "{" SENSOR ",pool=\"ftth\",blocking_point=\"bras\""
    const struct {
        const char *le;
        double count;
    } ftth[] = {{"10", 0}, {"50", 0}, {"60", 1},  {"70", 1},
                {"80", 2}, {"90", 2}, {"100", 3}, {"+Inf", 3}};
    for (size_t i = 0; i < sizeof(ftth) / sizeof(ftth[0]); i++) {
        char series[256];
        snprintf(series, sizeof(series), "op25b_bot_suspect_score_bucket" FTTH ",le=\"%s\"}",
                 ftth[i].le);
        cr_expect_eq(sample(text, series), ftth[i].count, "%s", series);
    }
    cr_expect_float_eq(sample(text, "op25b_bot_suspect_score_sum" FTTH "}"), 228.35, 1e-6);
    cr_expect_eq(sample(text, "op25b_bot_suspect_score_count" FTTH "}"), 3.0);
    /* dsl has no blocking point; 50 is in the bucket le="50". */
#define DSL "{" SENSOR ",pool=\"dsl\",blocking_point=\"(none)\""
    cr_expect_eq(sample(text, "op25b_bot_suspect_score_bucket" DSL ",le=\"40\"}"), 0.0);
    cr_expect_eq(sample(text, "op25b_bot_suspect_score_bucket" DSL ",le=\"50\"}"), 1.0);
    cr_expect_eq(sample(text, "op25b_bot_suspect_score_count" DSL "}"), 1.0);
    /* Static pools are never scored: no histogram for them. */
    cr_expect_null(strstr(text, "op25b_bot_suspect_score_count{" SENSOR ",pool=\"office\""));
    cr_expect_null(strstr(text, "le=\"0.25\""), "the old 0.25 ... 128 buckets");
    free(text);
    metrics_stop(metrics);
    policy_free(policy);
}

/* collateral_block findings by the place they name: a dynamic pool at its own point (port 25
 * to its MSA, 587/465), a static pool at the point of the block it is carved out of (its
 * port 25, 587/465); points the sensor cannot see refuse anything have no series. */
static const char *const COLLATERAL_POLICY =
    "sensor: {name: s, position: edge-side}\n"
    "own_prefixes: [198.51.100.0/22]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator}\n"
    "  - {name: later, level: edge, state: planned}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24], blocking_point: bras}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.101.0/24], blocking_point: later}\n"
    "  - {name: shop, type: static, prefixes: [198.51.100.8/29]}\n";

static void refused(struct bus *bus, int pool, int point, enum collateral_reason reason)
{
    struct finding finding;
    finding_init(&finding, EVENT_COLLATERAL_BLOCK, (packet_time)1768467600 * PACKET_TIME_SECOND);
    finding.pool = pool;
    finding.blocking_point = point;
    finding.as.collateral.reason = (uint8_t)reason;
    bus_finding(bus, &finding);
}

Test(metrics, collateral_blocks_by_pool_point_and_reason)
{
    char error[512];
    struct policy *policy = policy_load_text("t.yaml", COLLATERAL_POLICY, strlen(COLLATERAL_POLICY),
                                             error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    struct metrics *metrics = metrics_start_shared(policy, 1, error, sizeof(error));
    cr_assert_not_null(metrics, "%s", error);
    metrics_become_worker(metrics, 0);
    struct bus bus;
    bus_init(&bus);
    cr_assert_eq(metrics_attach(metrics, &bus, NULL), 0);
    refused(&bus, 0, -1, COLLATERAL_DESIGNATED_MSA);
    refused(&bus, 0, -1, COLLATERAL_SUBMISSION_PORT);
    refused(&bus, 0, 0, COLLATERAL_SUBMISSION_PORT);
    refused(&bus, 2, 0, COLLATERAL_STATIC_POOL);
    refused(&bus, 1, -1, COLLATERAL_SUBMISSION_PORT); /* no place: not counted */
    char *text = render_after(policy, metrics);
#define COLLATERAL(pool, reason)                                                                   \
    "op25b_collateral_blocks_total{sensor=\"s\",pool=\"" pool "\",blocking_point=\"bras\","        \
    "reason=\"" reason "\"}"
    cr_expect_eq(sample(text, COLLATERAL("ftth", "designated_msa")), 1.0);
    cr_expect_eq(sample(text, COLLATERAL("ftth", "submission_port")), 2.0);
    cr_expect_eq(sample(text, COLLATERAL("shop", "static_pool")), 1.0);
    cr_expect_eq(sample(text, COLLATERAL("shop", "submission_port")), 0.0);
    cr_expect_null(strstr(text, COLLATERAL("ftth", "static_pool")));
    cr_expect_null(strstr(text, COLLATERAL("shop", "designated_msa")));
    cr_expect_null(strstr(text, "pool=\"dsl\",blocking_point=\"later\",reason"));
    cr_expect_eq(sample(text, "op25b_blocking_point_info{sensor=\"s\",blocking_point=\"later\","
                              "level=\"edge\",state=\"planned\",reject=\"drop\","
                              "position=\"edge-side\"}"),
                 1.0);
    free(text);
    metrics_stop(metrics);
    policy_free(policy);
}
