/* The join and the fleet's rules (src/correlate/join.c, decide.c): reports joined by
 * Community ID and time, a reused port kept apart, and each rule of docs/fleet.md. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "correlate/decide.h"
#include "correlate/event_reader.h"
#include "correlate/join.h"

#define SECOND PACKET_TIME_SECOND
#define WINDOW (60 * SECOND)
#define SKEW (2 * SECOND)

static const char *const POLICY =
    "own_prefixes: [198.51.100.0/22]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator}\n"
    "  - {name: lte-core, level: core, state: planned}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24], blocking_point: bras}\n"
    "  - {name: lte, type: dynamic, prefixes: [198.51.102.0/24], blocking_point: lte-core}\n"
    "  - {name: open, type: dynamic, prefixes: [198.51.103.0/24]}\n"
    "sensors:\n"
    "  - {name: edge, position: edge-side, pools: [ftth, lte, open]}\n"
    "  - {name: core, position: core-side, pools: [ftth, lte, open]}\n"
    "  - {name: side, position: edge-side, pools: [lte]}\n";

enum { EDGE = 0, CORE = 1 };

static struct policy *policy;
static struct join join;
static struct sensor_view views[3];

static void setup(void)
{
    char error[512];
    policy = policy_load_fleet_text("fleet.yaml", POLICY, strlen(POLICY), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    cr_assert_eq(join_init(&join), 0);
    memset(views, 0, sizeof(views));
}

static void teardown(void)
{
    join_free(&join);
    policy_free(policy);
}

static struct fleet_attempt *report(int sensor, const char *community, packet_time ts,
                                    packet_time duration, enum verdict verdict,
                                    evidence_set evidence, int64_t offset)
{
    struct fleet_input input;
    memset(&input, 0, sizeof(input));
    input.kind = INPUT_ATTEMPT;
    input.sensor = sensor;
    input.ts = ts;
    input.end = ts + duration;
    snprintf(input.community_id, sizeof(input.community_id), "%s", community);
    snprintf(input.src, sizeof(input.src), "198.51.100.9");
    snprintf(input.dst, sizeof(input.dst), "203.0.113.9");
    input.src_port = 40000;
    input.dst_port = 25;
    input.family = 4;
    input.pool = 0;
    input.verdict = verdict;
    input.evidence = evidence;
    return join_add(&join, &input, "198.51.100.9", 12, offset, SKEW);
}

static struct fleet_decision decide(const struct fleet_attempt *attempt)
{
    struct fleet_decision decision;
    fleet_decide(policy, attempt, views, WINDOW, &decision);
    return decision;
}

TestSuite(fleet, .init = setup, .fini = teardown);

Test(fleet, reports_of_one_attempt_join)
{
    struct fleet_attempt *edge = report(EDGE, "1:a", 100 * SECOND, 3 * SECOND, VERDICT_LEAKED,
                                        EVIDENCE_BIT(EVIDENCE_DATA), 5);
    /* The core's clock is a second behind: still one attempt. */
    struct fleet_attempt *core = report(CORE, "1:a", 99 * SECOND, 3 * SECOND, VERDICT_LEAKED,
                                        EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE), 9);
    cr_assert_eq(edge, core);
    cr_assert_eq(core->report_count, 2);
    cr_assert_eq(core->start, 99 * SECOND);
    cr_assert_eq(core->first_offset, 5);
    cr_assert(fleet_ready(policy, core, views, WINDOW), "every carrier reported");
    struct fleet_decision decision = decide(core);
    cr_assert_eq(decision.verdict, VERDICT_LEAKED);
    cr_assert_eq(decision.reason, REASON_CORE_SIDE_SEEN);
    cr_assert(decision.failed && !decision.held);
}

Test(fleet, a_reused_port_is_a_new_attempt)
{
    struct fleet_attempt *first =
        report(EDGE, "1:a", 50 * SECOND, 1 * SECOND, VERDICT_UNKNOWN, 0, 1);
    /* Another sensor's report 19 s later: no overlap within the skew. */
    struct fleet_attempt *core = report(CORE, "1:a", 70 * SECOND, SECOND, VERDICT_LEAKED,
                                        EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE), 2);
    cr_assert_neq(first, core);
    /* The same sensor twice, however close: two connections. */
    struct fleet_attempt *again =
        report(EDGE, "1:a", 70 * SECOND, SECOND, VERDICT_LEAKED, EVIDENCE_BIT(EVIDENCE_SYN_ACK), 3);
    cr_assert_eq(again, core, "the edge's second connection joins the core's report of it");
    cr_assert_eq(join.count, 2);
    cr_assert_eq(first->report_count, 1);
}

Test(fleet, absent_core_side_holds_only_once_the_core_passed_it)
{
    struct fleet_attempt *attempt =
        report(EDGE, "1:b", 10 * SECOND, 3 * SECOND, VERDICT_UNKNOWN, 0, 1);
    views[CORE].clock = 13 * SECOND + WINDOW; /* not past by the window yet */
    cr_assert(!fleet_ready(policy, attempt, views, WINDOW));
    views[CORE].clock = 14 * SECOND + WINDOW;
    cr_assert(fleet_ready(policy, attempt, views, WINDOW));
    struct fleet_decision decision = decide(attempt);
    cr_assert_eq(decision.verdict, VERDICT_BLOCKED);
    cr_assert_eq(decision.reason, REASON_ABSENT_CORE_SIDE);
    cr_assert(decision.held && !decision.failed);
}

Test(fleet, a_core_that_ended_after_the_attempt_vouches_one_that_went_quiet_does_not)
{
    struct fleet_attempt *attempt =
        report(EDGE, "1:c", 10 * SECOND, 3 * SECOND, VERDICT_UNKNOWN, 0, 1);
    views[CORE].ended = true;
    views[CORE].ended_at = 20 * SECOND;
    cr_assert(fleet_ready(policy, attempt, views, WINDOW));
    cr_assert_eq(decide(attempt).reason, REASON_ABSENT_CORE_SIDE);
    views[CORE].ended_at = 5 * SECOND; /* its capture stopped before the attempt */
    cr_assert_eq(decide(attempt).verdict, VERDICT_UNKNOWN);
    cr_assert_eq(decide(attempt).reason, REASON_CORE_SIDE_SILENT);
    views[CORE].ended = false;
    views[CORE].quiet = true;
    cr_assert(fleet_ready(policy, attempt, views, WINDOW), "a quiet sensor holds nothing back");
    cr_assert_eq(decide(attempt).reason, REASON_CORE_SIDE_SILENT);
}

Test(fleet, edge_block_evidence_stands_where_the_core_cannot_vouch)
{
    struct fleet_attempt *attempt = report(EDGE, "1:d", 10 * SECOND, SECOND, VERDICT_BLOCKED,
                                           EVIDENCE_BIT(EVIDENCE_NO_REPLY), 1);
    views[CORE].quiet = true;
    struct fleet_decision decision = decide(attempt);
    cr_assert_eq(decision.verdict, VERDICT_BLOCKED);
    cr_assert_eq(decision.reason, REASON_BLOCK_EVIDENCE);
}

Test(fleet, edge_leak_evidence_without_the_core)
{
    struct fleet_attempt *attempt = report(EDGE, "1:e", 10 * SECOND, SECOND, VERDICT_LEAKED,
                                           EVIDENCE_BIT(EVIDENCE_CLIENT_ACK), 1);
    views[CORE].quiet = true;
    cr_assert_eq(decide(attempt).reason, REASON_LEAK_EVIDENCE);
}

Test(fleet, allowed_planned_and_no_point)
{
    struct fleet_attempt *attempt =
        report(EDGE, "1:f", 10 * SECOND, SECOND, VERDICT_ALLOWED, EVIDENCE_BIT(EVIDENCE_DATA), 1);
    cr_assert_eq(decide(attempt).reason, REASON_MSA);
    attempt->reports[0].verdict = VERDICT_WOULD_BLOCK;
    attempt->pool = 1;
    cr_assert_eq(decide(attempt).verdict, VERDICT_WOULD_BLOCK);
    /* lte is carried by a third sensor too: it holds the decision back. */
    cr_assert(!fleet_ready(policy, attempt, views, WINDOW));
    attempt->pool = 2;
    attempt->reports[0].verdict = VERDICT_BLOCKED;
    struct fleet_decision decision = decide(attempt);
    cr_assert_eq(decision.verdict, VERDICT_BLOCKED);
    cr_assert_eq(decision.reason, REASON_NO_BLOCKING_POINT);
    cr_assert_eq(decision.point, POLICY_NO_INDEX);
}

Test(fleet, removing_keeps_the_order_of_first_reports)
{
    struct fleet_attempt *a = report(EDGE, "1:g", 10 * SECOND, SECOND, VERDICT_UNKNOWN, 0, 4);
    struct fleet_attempt *b = report(EDGE, "1:h", 11 * SECOND, SECOND, VERDICT_UNKNOWN, 0, 7);
    report(EDGE, "1:i", 12 * SECOND, SECOND, VERDICT_UNKNOWN, 0, 8);
    cr_assert_eq(join.oldest, a);
    join_remove(&join, a);
    cr_assert_eq(join.oldest, b);
    cr_assert_eq(join.oldest->first_offset, 7);
    join_remove(&join, join.newest);
    cr_assert_eq(join.newest, b);
    cr_assert_eq(join.count, 1);
}

Test(fleet, event_reader_takes_the_sensors_lines)
{
    const char *line =
        "{\"type\":\"attempt\",\"v\":1,\"ts\":\"2026-01-15T09:00:30.000000Z\",\"sensor\":\"core\","
        "\"src_ip\":\"198.51.100.30\",\"src_port\":45003,\"dst_ip\":\"203.0.113.142\","
        "\"dst_port\":25,\"proto\":\"tcp\",\"community_id\":\"1:L1Yu2dvFxCgol9OHdhSwhwfg66w=\","
        "\"pool\":\"ftth\",\"verdict\":\"leaked\",\"evidence\":[\"syn_core_side\"],"
        "\"syn_count\":3,\"close_reason\":\"idle\",\"duration\":3.000000}";
    struct fleet_input input;
    fleet_input_read(policy, "attempt", line, strlen(line), &input);
    cr_assert_eq(input.kind, INPUT_ATTEMPT);
    cr_assert_eq(input.sensor, CORE);
    cr_assert_eq(input.end - input.ts, 3 * SECOND);
    cr_assert_eq(input.ts, (packet_time)1768467630 * SECOND);
    cr_assert_eq(input.evidence, EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE));
    cr_assert_eq(input.pool, 0);
    const char *stranger =
        "{\"type\":\"sensor_stats\",\"v\":1,\"ts\":\"2026-01-15T09:00:30.000000Z\","
        "\"sensor\":\"elsewhere\",\"final\":true}";
    fleet_input_read(policy, NULL, stranger, strlen(stranger), &input);
    cr_assert_eq(input.kind, INPUT_STRANGER);
    fleet_input_read(policy, NULL, "not json", 8, &input);
    cr_assert_eq(input.kind, INPUT_BAD);
    fleet_input_read(policy, "bot_suspect", "{}", 2, &input);
    cr_assert_eq(input.kind, INPUT_OTHER);
}
