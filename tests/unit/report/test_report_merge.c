/* --report with --workers: a stream of attempts and findings is told to one report whole
 * and, split by subscriber as the workers' fanout splits it, to two others; the two are
 * saved, merged and written, and must read as the one that saw everything. Then the
 * damaged and foreign states the parent may meet. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/coverage.h"
#include "output/event.h"
#include "record/finding.h"
#include "record/attempt_record.h"
#include "policy/policy.h"
#include "report/report.h"

static const char policy_text[] =
    "sensor: {name: merge-test, position: edge-side}\n"
    "own_prefixes: [203.0.113.0/24, 2001:db8::/32]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator, state: active, reject: drop}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25, 2001:db8:100::/40],\n"
    "     blocking_point: bras}\n"
    "  - {name: fwa, type: dynamic, prefixes: [203.0.113.128/26], blocking_point: bras}\n"
    "msas:\n"
    "  - {name: isp-msa, prefixes: [203.0.113.225/32, 2001:db8:ffff::25/128],\n"
    "     ports: [25, 587, 465], planned_close: [25]}\n";

#define T0 ((packet_time)1768467600 * PACKET_TIME_SECOND) /* 2026-01-15T09:00:00Z */
#define PARTS 3                                           /* whole, worker 0, worker 1 */

struct side {
    struct events events;
    struct bus bus;
    struct report *report;
    struct coverage coverage;
    uint64_t packets;
};

static struct policy *policy;
static struct side sides[PARTS];

static void setup(void)
{
    char error[512] = "";
    policy = policy_load_text("merge.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(policy, "policy: %s", error);
    for (int i = 0; i < PARTS; i++) {
        events_init(&sides[i].events, policy);
        bus_init(&sides[i].bus);
        cr_assert_eq(bus_subscribe(&sides[i].bus, events_subscriber(&sides[i].events)), 0);
        sides[i].report = report_new(policy);
        cr_assert_not_null(sides[i].report);
        cr_assert_eq(report_attach(sides[i].report, &sides[i].bus), 0);
        cr_assert_eq(coverage_init(&sides[i].coverage, policy->pool_count), 0);
        sides[i].packets = 0;
    }
}

static void teardown(void)
{
    for (int i = 0; i < PARTS; i++) {
        report_free(sides[i].report);
        coverage_free(&sides[i].coverage);
        events_close(&sides[i].events);
    }
    policy_free(policy);
}

/* The whole, and the worker the subscriber's address falls to. */
static void each(int worker, void (*tell)(struct side *, const void *), const void *what)
{
    tell(&sides[0], what);
    tell(&sides[1 + worker], what);
}

struct attempt_item {
    struct attempt_record record;
    struct smtp_facts smtp;
    bool has_smtp;
    enum verdict verdict;
    evidence_set evidence;
};

static void tell_attempt(struct side *side, const void *what)
{
    const struct attempt_item *item = what;
    struct attempt_record record = item->record;
    record.smtp = item->has_smtp ? &item->smtp : NULL;
    record.verdict = item->verdict;
    record.evidence = item->evidence;
    record.close_reason = "fin";
    bus_attempt(&side->bus, &record);
    coverage_add(&side->coverage, record.pool, record.flow.src.family, item->verdict);
    side->packets += 3;
}

static void tell_connection(struct side *side, const void *what)
{
    bus_connection(&side->bus, what);
    side->packets += 4;
}

static void tell_finding(struct side *side, const void *what)
{
    bus_finding(&side->bus, what);
    side->packets += 5;
}

static struct address address_of(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "%s", text);
    return address;
}

static void attempt(int n, packet_time ts)
{
    static const enum verdict verdicts[] = {VERDICT_BLOCKED, VERDICT_LEAKED, VERDICT_UNKNOWN,
                                            VERDICT_ALLOWED, VERDICT_LEAKED};
    struct attempt_item item;
    memset(&item, 0, sizeof(item));
    char client[64], server[64];
    if (n % 7 == 0)
        snprintf(client, sizeof(client), "2001:db8:100:%x::5", n % 11);
    else
        snprintf(client, sizeof(client), "203.0.113.%d", n % 13 == 0 ? 130 + n % 5 : n % 100);
    snprintf(server, sizeof(server), n % 7 == 0 ? "2001:db8:ffff::%x" : "192.0.2.%d", n % 50);
    struct address src = address_of(client), dst = address_of(server);
    item.record.flow.src = src;
    item.record.flow.dst = dst;
    item.record.flow.src_port = (uint16_t)(40000 + n);
    item.record.flow.dst_port = 25;
    item.record.flow.proto = 6;
    item.record.pool = n % 13 == 0 ? 1 : 0;
    item.record.segment = -1;
    item.record.msa = -1;
    item.record.first_seen = item.record.last_seen = ts;
    item.record.syn_count = 1;
    item.verdict = verdicts[n % 5];
    item.evidence = item.verdict == VERDICT_LEAKED
                        ? EVIDENCE_BIT(EVIDENCE_SYN_ACK) | EVIDENCE_BIT(EVIDENCE_BANNER)
                        : EVIDENCE_BIT(EVIDENCE_NO_REPLY);
    if (item.verdict == VERDICT_LEAKED && n % 2 == 0) {
        item.has_smtp = true;
        item.smtp.banner_seen = item.smtp.helo_seen = true;
        snprintf(item.smtp.helo, sizeof(item.smtp.helo), "bot-%d", n);
        item.smtp.rcpt_count = (uint32_t)(n % 9);
    }
    /* By subscriber, as the fanout does: all of one subscriber's in one worker. */
    each(src.bytes[src.family == ADDRESS_V4 ? 3 : 7] % 2, tell_attempt, &item);
}

static void third_party(int n, packet_time ts)
{
    struct finding finding;
    finding_init(&finding, EVENT_THIRD_PARTY_SUBMISSION, ts);
    char client[32], server[32];
    snprintf(client, sizeof(client), "203.0.113.%d", 10 + n % 6);
    snprintf(server, sizeof(server), "192.0.2.%d", 200 + n % 4);
    struct address src = address_of(client), dst = address_of(server);
    struct flow_tuple flow = {
        .src = src, .dst = dst, .src_port = (uint16_t)(50000 + n), .dst_port = 25, .proto = 6};
    finding_set_flow(&finding, &flow);
    finding.pool = 0;
    finding.as.submission.msa = -1;
    snprintf(finding.as.submission.smtp.auth_mechanism,
             sizeof(finding.as.submission.smtp.auth_mechanism), "PLAIN");
    finding.as.submission.port_587_connections = n % 8 == 3 ? 1 : 0;
    each(src.bytes[3] % 2, tell_finding, &finding);
}

static void open_submission(int n, packet_time ts)
{
    struct finding finding;
    finding_init(&finding, EVENT_OPEN_SUBMISSION, ts);
    char client[32];
    snprintf(client, sizeof(client), "203.0.113.%d", 20 + n % 4);
    struct flow_tuple flow = {.src = address_of(client),
                              .dst = address_of("192.0.2.202"),
                              .src_port = (uint16_t)(51000 + n),
                              .dst_port = 587,
                              .proto = 6};
    finding_set_flow(&finding, &flow);
    finding.pool = 0;
    finding.as.submission.msa = -1;
    struct address src = flow.src;
    each(src.bytes[3] % 2, tell_finding, &finding);
}

static void bot(int n, packet_time ts)
{
    struct finding finding;
    finding_init(&finding, EVENT_BOT_SUSPECT, ts);
    char subscriber[32];
    snprintf(subscriber, sizeof(subscriber), "203.0.113.%d", 30 + n % 9);
    struct address address = address_of(subscriber);
    finding_set_key(&finding, &address);
    finding.pool = 0;
    struct bot_finding *bot = &finding.as.bot;
    bot->address = address;
    bot->subscriber = (struct prefix){.address = address, .length = 32};
    /* Distinct scores; each subscriber's best comes at a different point of the stream. */
    bot->score = 40.0 + (n * 37 % 101) / 2.0;
    bot->features.fanout = (uint32_t)(n % 30);
    each(address.bytes[3] % 2, tell_finding, &finding);
}

static void triangular(int n, packet_time ts)
{
    struct finding finding;
    finding_init(&finding, EVENT_TRIANGULAR_SPAM, ts);
    char spammer[32];
    snprintf(spammer, sizeof(spammer), "203.0.113.%d", 60 + n % 5);
    struct address src = address_of(spammer), relay = address_of("192.0.2.99"),
                   target = address_of("192.0.2.25");
    struct flow_tuple flow = {
        .src = src, .dst = target, .src_port = (uint16_t)(30000 + n), .dst_port = 25, .proto = 6};
    finding_set_flow(&finding, &flow);
    finding.as.triangular.relay = relay;
    finding.as.triangular.reply_segment = -1;
    each(src.bytes[3] % 2, tell_finding, &finding);
}

/* What the block breaks: a refused submission or MSA connection, its row by reason and port. */
static void collateral(int count, packet_time ts)
{
    int n = count / 10; /* the stream calls every tenth: vary by the call */
    struct finding finding;
    finding_init(&finding, EVENT_COLLATERAL_BLOCK, ts);
    static const uint16_t ports[] = {25, 587, 465};
    char client[32];
    snprintf(client, sizeof(client), "203.0.113.%d", n % 3 == 0 ? 140 + n % 7 : 70 + n % 9);
    struct address src = address_of(client);
    struct flow_tuple flow = {.src = src,
                              .dst = address_of(n % 2 ? "203.0.113.225" : "192.0.2.87"),
                              .src_port = (uint16_t)(52000 + count),
                              .dst_port = ports[n % 3],
                              .proto = 6};
    finding_set_flow(&finding, &flow);
    finding.pool = n % 3 == 0 ? 1 : 0;
    finding.blocking_point = 0;
    struct collateral_finding *facts = &finding.as.collateral;
    facts->reason = flow.dst_port == 25 ? COLLATERAL_DESIGNATED_MSA : COLLATERAL_SUBMISSION_PORT;
    facts->evidence = (uint8_t)(n % COLLATERAL_EVIDENCES);
    facts->subscriber = (struct prefix){.address = src, .length = 32};
    facts->msa = -1;
    facts->syn_count = (uint16_t)(1 + n % 3);
    facts->last_syn = ts;
    each(src.bytes[3] % 2, tell_finding, &finding);
}

/* Submission to the MSA, whose port 25 is planned to close: port-25 attempts it takes
 * today (one IPv6 subscriber each, or one of 100 IPv4 ones: past the report's list of who
 * breaks at 7200 items), connections to 587 and 465. */
static void submission(int n, packet_time ts)
{
    char client[64];
    bool v6 = n % 4 != 1 && n % 4 != 3;
    if (v6)
        snprintf(client, sizeof(client), "2001:db8:100:%x::9", n);
    else
        snprintf(client, sizeof(client), "203.0.113.%d", n % 100);
    struct address src = address_of(client);
    struct flow_tuple flow = {.src = src,
                              .dst = address_of(v6 ? "2001:db8:ffff::25" : "203.0.113.225"),
                              .src_port = (uint16_t)(20000 + n),
                              .dst_port = n % 4 == 1   ? 587
                                          : n % 8 == 2 ? 465
                                                       : 25,
                              .proto = 6};
    int worker = src.bytes[src.family == ADDRESS_V4 ? 3 : 7] % 2;
    if (flow.dst_port != 25) {
        struct connection_record record = {
            .flow = flow, .first_seen = ts, .last_seen = ts, .segment = -1, .msa = 0};
        each(worker, tell_connection, &record);
        return;
    }
    struct attempt_item item;
    memset(&item, 0, sizeof(item));
    item.record.flow = flow;
    item.record.segment = -1;
    item.record.msa = 0;
    item.record.to_designated_msa = true;
    item.record.first_seen = item.record.last_seen = ts;
    item.record.syn_count = 1;
    item.verdict = VERDICT_WOULD_BLOCK;
    item.evidence = EVIDENCE_BIT(EVIDENCE_SYN_ACK) | EVIDENCE_BIT(EVIDENCE_DATA);
    item.has_smtp = true;
    item.smtp.banner_seen = item.smtp.helo_seen = true;
    item.smtp.mail_count = 1;
    item.smtp.auth_attempted = n % 3 == 0;
    each(worker, tell_attempt, &item);
}

/* count items over span seconds, every kind, one time each in rising order. */
static void stream(int count, int span_seconds)
{
    for (int n = 0; n < count; n++) {
        packet_time ts = T0 + (packet_time)n * span_seconds * PACKET_TIME_SECOND / count + n;
        switch (n % 10) {
        case 0:
            third_party(n, ts);
            break;
        case 1:
            bot(n, ts);
            break;
        case 2:
            open_submission(n, ts);
            break;
        case 3:
            triangular(n, ts);
            break;
        case 4:
            collateral(n, ts);
            break;
        case 5:
        case 6:
            submission(n / 10 * 2 + n % 10 - 5, ts); /* numbered by the call: 0, 1, 2... */
            break;
        default:
            attempt(n, ts);
        }
    }
}

static void finish(struct side *side, packet_time end)
{
    struct sensor_counters counters;
    memset(&counters, 0, sizeof(counters));
    counters.packets = side->packets;
    counters.bytes = side->packets * 100;
    struct output_counts written = events_counts(&side->events);
    cr_assert_eq(report_finish(side->report, &written, &counters, &side->coverage, end, "shutdown"),
                 0);
}

static char *render(const struct report *report, int (*write)(const struct report *, FILE *))
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    cr_assert_not_null(out);
    cr_assert_eq(write(report, out), 0);
    fclose(out);
    return text;
}

static char *save(const struct report *report, size_t *length)
{
    char *state = NULL;
    FILE *out = open_memstream(&state, length);
    cr_assert_not_null(out);
    cr_assert_eq(report_save(report, out), 0);
    fclose(out);
    return state;
}

static int merge(struct report *into, const char *state, size_t length, char *error,
                 size_t error_size)
{
    FILE *in = fmemopen((void *)state, length, "r");
    cr_assert_not_null(in);
    int status = report_merge(into, in, error, error_size);
    fclose(in);
    return status;
}

/* The two workers' states merged; the caller frees it. */
static struct report *merged(void)
{
    struct report *report = report_new(policy);
    cr_assert_not_null(report);
    for (int w = 1; w < PARTS; w++) {
        size_t length;
        char *state = save(sides[w].report, &length);
        char error[256] = "";
        cr_assert_eq(merge(report, state, length, error, sizeof(error)), 0, "%s", error);
        free(state);
    }
    cr_assert_eq(report_merge_finish(report), 0);
    return report;
}

static void check_merge_equals_whole(int count, int span_seconds)
{
    setup();
    stream(count, span_seconds);
    packet_time end = T0 + (packet_time)span_seconds * PACKET_TIME_SECOND + count;
    for (int i = 0; i < PARTS; i++)
        finish(&sides[i], end);
    cr_assert_gt(sides[1].packets, 0, "the stream reaches both workers");
    cr_assert_gt(sides[2].packets, 0, "the stream reaches both workers");
    /* The move to 587 is in the reports; past the bounds, more break than are listed. */
    const struct report_migration *migration = sides[0].report->migration;
    cr_assert(report_migration_seen(migration));
    cr_assert_gt(migration->closing_count, 0);
    cr_assert_eq(migration->closing_beyond_subscribers > 0, count > 1000);
    struct report *report = merged();
    int (*writers[])(const struct report *, FILE *) = {report_write_json, report_write_text,
                                                       report_write_html};
    for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
        char *whole = render(sides[0].report, writers[i]);
        char *merged_text = render(report, writers[i]);
        cr_assert_str_eq(merged_text, whole, "writer %zu (count %d, span %d s)", i, count,
                         span_seconds);
        free(whole);
        free(merged_text);
    }
    report_free(report);
    teardown();
}

TestSuite(report_merge, .timeout = 60);

Test(report_merge, two_workers_read_as_the_whole)
{
    check_merge_equals_whole(300, 60);
}

/* Past every bound: more leaks, findings and suspects than the report lists, and a span
 * that makes the timeline coarsen several times. */
Test(report_merge, two_workers_read_as_the_whole_past_the_bounds)
{
    check_merge_equals_whole(7200, 3000);
}

Test(report_merge, damaged_and_foreign_states_are_refused_by_name)
{
    setup();
    stream(200, 30);
    finish(&sides[1], T0 + 31 * PACKET_TIME_SECOND);
    size_t length;
    char *state = save(sides[1].report, &length);
    char error[256];

    struct report *report = report_new(policy);
    cr_assert_eq(merge(report, state, length / 2, error, sizeof(error)), -1);
    cr_expect_str_eq(error, "a truncated report state");
    cr_assert_eq(merge(report, "not a state at all, not at all", 30, error, sizeof(error)), -1);
    cr_expect_str_eq(error, "not a report state");
    cr_assert_eq(merge(report, state, 0, error, sizeof(error)), -1);
    cr_expect_str_eq(error, "not a report state");
    report_free(report);

    /* A state made under another policy (another number of pools) is not added. */
    const char other_text[] = "sensor: {name: other, position: edge-side}\n"
                              "own_prefixes: [203.0.113.0/24]\n"
                              "blocking_points: []\n"
                              "pools:\n"
                              "  - {name: only, type: dynamic, prefixes: [203.0.113.0/24]}\n"
                              "msas: []\n";
    struct policy *other =
        policy_load_text("other.yaml", other_text, strlen(other_text), error, sizeof(error));
    cr_assert_not_null(other, "%s", error);
    report = report_new(other);
    cr_assert_eq(merge(report, state, length, error, sizeof(error)), -1);
    cr_expect_str_eq(error, "a report state of another build or policy");
    report_free(report);
    policy_free(other);

    /* The whole state still merges after all that. */
    report = report_new(policy);
    cr_assert_eq(merge(report, state, length, error, sizeof(error)), 0, "%s", error);
    cr_assert_eq(report_merge_finish(report), 0);
    cr_expect_eq(report->leaks_total, sides[1].report->leaks_total);
    report_free(report);
    free(state);
    teardown();
}
