/* Event volume control in the event lines (output/event_summary.c, the rate limits of
 * output/event_finding.c): attempts folded per subscriber and interval, the table's bound,
 * and findings held back per minute, driven through the bus subscription as the sensor
 * drives it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/event.h"
#include "policy/policy.h"
#include "record/attempt_record.h"
#include "record/event_type.h"
#include "record/finding.h"
#include "record/verdict.h"

#define HEAD                                                                                       \
    "sensor: {name: s, position: edge-side}\n"                                                     \
    "own_prefixes: [198.51.100.0/24, 2001:db8::/32]\n"                                             \
    "blocking_points: [{name: bras, level: terminator}]\n"                                         \
    "pools:\n"                                                                                     \
    "  - {name: ftth, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1::/48],\n"              \
    "     blocking_point: bras}\n"
#define MINUTE (60 * PACKET_TIME_SECOND)
#define BASE (1768467600LL * PACKET_TIME_SECOND) /* 2026-01-15T09:00:00Z */
#define KEPT 8

/* A sink that counts every line and keeps the last few. */
struct kept_sink {
    struct sink base;
    char lines[KEPT][EVENT_LINE_MAX];
    size_t count;
    size_t by_type[EVENT_TYPE_COUNT];
};

static int kept_write(struct sink *sink, const struct event_line *line)
{
    struct kept_sink *kept = (struct kept_sink *)sink;
    char *slot = kept->lines[kept->count % KEPT];
    memcpy(slot, line->text, line->length);
    slot[line->length - 1] = '\0'; /* without the newline */
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        if (strcmp(line->type, event_type_name((enum event_type)t)) == 0)
            kept->by_type[t]++;
    }
    kept->count++;
    return 0;
}

static int kept_flush(struct sink *sink)
{
    (void)sink;
    return 0;
}

static uint64_t kept_close(struct sink *sink)
{
    (void)sink;
    return 0;
}

static const struct sink_ops kept_ops = {kept_write, kept_flush, kept_close};

static struct policy *policy;
static struct events events;
static struct kept_sink kept;
static struct bus_subscriber lines;
static struct coverage coverage;
static struct sensor_counters counters;

static void start(const char *events_section)
{
    char text[2048], error[256];
    snprintf(text, sizeof(text), HEAD "%s", events_section);
    policy = policy_load_text("test.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    memset(&kept, 0, sizeof(kept));
    kept.base.ops = &kept_ops;
    kept.base.name = "kept";
    events_init(&events, policy);
    cr_assert_eq(events_add_sink(&events, &kept.base), 0);
    lines = events_subscriber(&events);
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    memset(&counters, 0, sizeof(counters));
}

static void finish(packet_time now)
{
    struct periodic_record periodic = {
        .now = now, .final = true, .coverage = &coverage, .counters = &counters};
    lines.periodic(lines.context, &periodic);
}

static void stop(void)
{
    events_close(&events);
    coverage_free(&coverage);
    policy_free(policy);
}

static const char *last(size_t back)
{
    return kept.lines[(kept.count - 1 - back) % KEPT];
}

/* A blocked attempt from src to dst closed at `closed` (a SYN at first, 30 s before). */
static void attempt(const char *src, const char *dst, enum verdict verdict, packet_time closed)
{
    struct attempt_record record;
    memset(&record, 0, sizeof(record));
    cr_assert(address_parse(src, &record.flow.src));
    cr_assert(address_parse(dst, &record.flow.dst));
    record.flow.proto = 6;
    record.flow.src_port = 40000;
    record.flow.dst_port = 25;
    record.pool = 0;
    record.segment = -1;
    record.msa = -1;
    record.verdict = verdict;
    record.evidence = verdict == VERDICT_LEAKED ? EVIDENCE_BIT(EVIDENCE_SYN_ACK)
                                                : EVIDENCE_BIT(EVIDENCE_NO_REPLY);
    record.syn_count = 3;
    record.first_seen = closed - 30 * PACKET_TIME_SECOND;
    record.last_seen = closed - 27 * PACKET_TIME_SECOND;
    record.closed = closed;
    record.close_reason = "syn_timeout";
    lines.attempt(lines.context, &record);
}

Test(event_volume, policy_names_are_the_records_names)
{
    cr_assert_eq(POLICY_VERDICTS, VERDICT_COUNT);
    for (int v = 0; v < VERDICT_COUNT; v++)
        cr_assert_str_eq(policy_verdict_names[v], verdict_name((enum verdict)v));
    /* The finding types come first from EVENT_FIRST_FINDING on, then the periodic ones a
     * detector writes (submission_migration), which take no limit. */
    int findings = 0;
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        if (!event_type_is_finding((enum event_type)t))
            continue;
        cr_assert_eq(t, EVENT_FIRST_FINDING + findings, "%s after a type that is no finding",
                     event_type_name((enum event_type)t));
        findings++;
    }
    cr_assert_eq(POLICY_FINDING_TYPES, findings);
    for (int t = 0; t < POLICY_FINDING_TYPES; t++)
        cr_assert_str_eq(policy_finding_names[t],
                         event_type_name((enum event_type)(EVENT_FIRST_FINDING + t)));
}

Test(event_volume, attempts_fold_per_subscriber_and_leaks_stay_lines)
{
    start("events: {summarize: [blocked]}\n");
    attempt("198.51.100.7", "203.0.113.1", VERDICT_BLOCKED, BASE + 10 * PACKET_TIME_SECOND);
    attempt("198.51.100.7", "203.0.113.2", VERDICT_BLOCKED, BASE + 20 * PACKET_TIME_SECOND);
    attempt("198.51.100.7", "203.0.113.2", VERDICT_BLOCKED, BASE + 21 * PACKET_TIME_SECOND);
    attempt("198.51.100.7", "203.0.113.3", VERDICT_LEAKED, BASE + 22 * PACKET_TIME_SECOND);
    /* unknown is not listed: a line of its own */
    attempt("198.51.100.7", "203.0.113.4", VERDICT_UNKNOWN, BASE + 23 * PACKET_TIME_SECOND);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT], 2, "the leak and the unknown attempt");
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 0, "nothing before the interval ends");
    finish(BASE + 30 * PACKET_TIME_SECOND);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 1);
    /* The summary comes before the final coverage and sensor_stats lines. */
    cr_assert_str_eq(
        last(3),
        "{\"type\":\"attempt_summary\",\"v\":1,\"ts\":\"2026-01-15T09:00:30.000000Z\","
        "\"sensor\":\"s\",\"subscriber\":\"198.51.100.7\",\"pool\":\"ftth\","
        "\"blocking_point\":\"bras\",\"window_start\":\"2026-01-15T09:00:00.000000Z\","
        "\"attempts\":3,\"blocked\":3,\"evidence_counts\":{\"no_reply\":3},\"syn_count\":9,"
        "\"distinct_dst_ips\":2,\"distinct_dst_ports\":1,"
        "\"first_seen\":\"2026-01-15T08:59:40.000000Z\","
        "\"last_seen\":\"2026-01-15T08:59:54.000000Z\","
        "\"sample_dst_ips\":[\"203.0.113.1\",\"203.0.113.2\"],\"final\":true}");
    cr_assert(strstr(last(0), "\"attempts_summarized\":3,\"summary_evictions\":0,") != NULL, "%s",
              last(0));
    stop();
}

Test(event_volume, an_interval_ends_when_packet_time_passes_it)
{
    start("events: {summarize: [blocked, would_block]}\n");
    attempt("198.51.100.7", "203.0.113.1", VERDICT_BLOCKED, BASE + 59 * PACKET_TIME_SECOND);
    attempt("198.51.100.8", "203.0.113.1", VERDICT_WOULD_BLOCK, BASE + 59 * PACKET_TIME_SECOND);
    /* At 09:01:00 exactly the next interval begins: the first one's two are written first. */
    attempt("198.51.100.7", "203.0.113.1", VERDICT_BLOCKED, BASE + MINUTE);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 2);
    cr_assert(strstr(last(1), "\"ts\":\"2026-01-15T09:01:00.000000Z\"") != NULL, "%s", last(1));
    cr_assert(strstr(last(1), "\"subscriber\":\"198.51.100.7\"") != NULL, "in first-come order");
    cr_assert(strstr(last(0), "\"blocked\":0,\"would_block\":1,") != NULL, "%s", last(0));
    /* A periodic report past its end writes the open interval too, not final. */
    struct periodic_record periodic = {
        .now = BASE + 2 * MINUTE + 5, .coverage = &coverage, .counters = &counters};
    lines.periodic(lines.context, &periodic);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 3);
    /* Then two coverage lines (IPv4 and IPv6) and sensor_stats. */
    cr_assert(strstr(last(3), "\"window_start\":\"2026-01-15T09:01:00.000000Z\"") != NULL, "%s",
              last(3));
    finish(BASE + 3 * MINUTE);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 3, "nothing left for the end");
    stop();
}

Test(event_volume, an_ipv6_subscriber_is_its_prefix)
{
    start("events: {summarize: [blocked]}\n");
    attempt("2001:db8:1:5::a", "2001:db8:f::1", VERDICT_BLOCKED, BASE + PACKET_TIME_SECOND);
    attempt("2001:db8:1:5:ffff::b", "2001:db8:f::2", VERDICT_BLOCKED, BASE + PACKET_TIME_SECOND);
    attempt("2001:db8:1:6::a", "2001:db8:f::2", VERDICT_BLOCKED, BASE + PACKET_TIME_SECOND);
    finish(BASE + 2 * PACKET_TIME_SECOND);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 2);
    cr_assert(strstr(last(4), "\"subscriber\":\"2001:db8:1:5::/64\"") != NULL, "%s", last(4));
    cr_assert(strstr(last(4), "\"attempts\":2,") != NULL, "%s", last(4));
    cr_assert(strstr(last(3), "\"subscriber\":\"2001:db8:1:6::/64\"") != NULL, "%s", last(3));
    stop();
}

Test(event_volume, a_full_table_writes_its_oldest_early)
{
    start("events: {summarize: [blocked], summary_subscribers: 2}\n");
    attempt("198.51.100.1", "203.0.113.1", VERDICT_BLOCKED, BASE + 1);
    attempt("198.51.100.2", "203.0.113.1", VERDICT_BLOCKED, BASE + 2);
    attempt("198.51.100.1", "203.0.113.2", VERDICT_BLOCKED, BASE + 3);
    cr_assert_eq(kept.count, 0);
    attempt("198.51.100.3", "203.0.113.1", VERDICT_BLOCKED, BASE + 4);
    cr_assert_eq(kept.count, 1);
    cr_assert(strstr(last(0), "\"subscriber\":\"198.51.100.1\"") != NULL, "%s", last(0));
    cr_assert(strstr(last(0), "\"attempts\":2,") != NULL, "%s", last(0));
    cr_assert(strstr(last(0), "\"evicted\":true,\"final\":false}") != NULL, "%s", last(0));
    /* .1 again: .2 is now the oldest; .1's second summary starts from nothing. */
    attempt("198.51.100.1", "203.0.113.2", VERDICT_BLOCKED, BASE + 5);
    cr_assert_eq(kept.count, 2);
    cr_assert(strstr(last(0), "\"subscriber\":\"198.51.100.2\"") != NULL, "%s", last(0));
    finish(BASE + 6);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 4);
    /* The table's order: .3 took .1's place, .1 then .2's. */
    cr_assert(strstr(last(3), "\"subscriber\":\"198.51.100.1\"") != NULL, "%s", last(3));
    cr_assert(strstr(last(3), "\"attempts\":1,\"blocked\":1,") != NULL, "%s", last(3));
    cr_assert(strstr(last(3), "\"distinct_dst_ips\":1,") != NULL, "pairs of its own");
    cr_assert(strstr(last(0), "\"attempts_summarized\":5,\"summary_evictions\":2,") != NULL, "%s",
              last(0));
    stop();
}

Test(event_volume, the_table_holds_its_bound_without_evicting)
{
    start("events: {summarize: [blocked], summary_subscribers: 5000}\n");
    char src[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(src, sizeof(src), "198.51.100.%d", i % 250 + 1);
        /* 3000 subscribers: the addresses of the pool, then more of the IPv6 one */
        if (i >= 250)
            snprintf(src, sizeof(src), "2001:db8:1:%x::1", i);
        attempt(src, "203.0.113.1", VERDICT_BLOCKED, BASE + i);
        attempt(src, "203.0.113.2", VERDICT_BLOCKED, BASE + i);
    }
    cr_assert_eq(kept.count, 0);
    finish(BASE + 10000);
    cr_assert_eq(kept.by_type[EVENT_ATTEMPT_SUMMARY], 3000);
    cr_assert(strstr(last(0), "\"attempts_summarized\":6000,\"summary_evictions\":0,") != NULL,
              "%s", last(0));
    stop();
}

Test(event_volume, distinct_counts_say_when_capped)
{
    /* One subscriber: room for the set's least (16 pairs, some 24 once rounded to its
     * table), and 30 servers. */
    start("events: {summarize: [blocked], summary_subscribers: 1}\n");
    char dst[32];
    for (int i = 0; i < 30; i++) {
        snprintf(dst, sizeof(dst), "203.0.113.%d", i + 1);
        attempt("198.51.100.1", dst, VERDICT_BLOCKED, BASE + i);
    }
    finish(BASE + 100);
    const char *summary = last(3);
    cr_assert(strstr(summary, "\"distinct_capped\":true") != NULL, "%s", summary);
    cr_assert(strstr(summary, "\"sample_dst_ips\":[\"203.0.113.1\",\"203.0.113.2\","
                              "\"203.0.113.3\"]") != NULL,
              "%s", summary);
    unsigned distinct = 0;
    cr_assert(sscanf(strstr(summary, "\"distinct_dst_ips\":"), "\"distinct_dst_ips\":%u",
                     &distinct) == 1);
    cr_assert(distinct < 30 && distinct >= 16, "a lower bound: %u", distinct);
    stop();
}

static void spoofed(packet_time ts)
{
    struct finding finding;
    finding_init(&finding, EVENT_SPOOFED_SOURCE, ts);
    finding.pool = -1;
    finding.segment = -1;
    cr_assert(address_parse("192.0.2.1", &finding.key));
    finding.has_key = true;
    finding.as.window.count = 1;
    finding.as.window.first_seen = finding.as.window.last_seen = ts;
    finding.as.window.close_reason = "window";
    lines.finding(lines.context, &finding);
}

Test(event_volume, a_rate_limit_holds_lines_back_per_minute)
{
    start("events: {max_per_minute: {spoofed_source: 2}}\n");
    for (int i = 0; i < 5; i++)
        spoofed(BASE + i * PACKET_TIME_SECOND);
    cr_assert_eq(kept.by_type[EVENT_SPOOFED_SOURCE], 2);
    cr_assert(strstr(last(0), "suppressed_before") == NULL, "%s", last(0));
    /* The next minute: the first line says three were held back. */
    spoofed(BASE + MINUTE + 1);
    cr_assert_eq(kept.by_type[EVENT_SPOOFED_SOURCE], 3);
    cr_assert(strstr(last(0), "\"close_reason\":\"window\",\"suppressed_before\":3}") != NULL, "%s",
              last(0));
    spoofed(BASE + MINUTE + 2);
    cr_assert(strstr(last(0), "suppressed_before") == NULL, "told once: %s", last(0));
    spoofed(BASE + MINUTE + 3);
    cr_assert_eq(kept.by_type[EVENT_SPOOFED_SOURCE], 4);
    cr_assert_eq(events.found[EVENT_SPOOFED_SOURCE], 8, "every finding is counted");
    finish(BASE + MINUTE + 4);
    cr_assert(strstr(last(0), "\"events_suppressed_spoofed_source\":4,") != NULL, "%s", last(0));
    cr_assert(strstr(last(0), "attempts_summarized") == NULL, "no summaries asked for");
    stop();
}

/* With --workers the parent writes sensor_stats from the workers' tallies: what the events:
 * section held back adds up over them like the lines written. */
Test(event_volume, the_volume_counts_add_up_over_workers)
{
    struct events_tally sum, worker;
    memset(&sum, 0, sizeof(sum));
    memset(&worker, 0, sizeof(worker));
    worker.found[EVENT_BOT_SUSPECT] = 7;
    worker.suppressed[EVENT_BOT_SUSPECT] = 4;
    worker.attempts_summarized = 1000;
    worker.summary_evictions = 3;
    events_tally_add(&sum, &worker);
    events_tally_add(&sum, &worker);
    cr_assert_eq(sum.found[EVENT_BOT_SUSPECT], 14);
    cr_assert_eq(sum.suppressed[EVENT_BOT_SUSPECT], 8);
    cr_assert_eq(sum.attempts_summarized, 2000);
    cr_assert_eq(sum.summary_evictions, 6);
}
