/* The audit report's collector and writers: coverage per blocking point, leaks with their
 * evidence, attempts over time, the pre-rollout impact tables, bot suspects and evasion
 * findings, fed the way the sensor feeds them (attempt reports and findings through the
 * event observers), and the three formats, including escaping of what came off the wire. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "record/coverage.h"
#include "output/event.h"
#include "record/finding.h"
#include "record/attempt_record.h"
#include "policy/policy.h"
#include "report/report.h"

static const char policy_text[] =
    "sensor: {name: report-test, position: edge-side}\n"
    "own_prefixes: [203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32]\n"
    "blocking_points:\n"
    "  - {name: bras, level: terminator, state: active, reject: drop}\n"
    "  - {name: edge, level: edge, state: planned, reject: icmp}\n"
    "pools:\n"
    "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25, 2001:db8:100::/40],\n"
    "     blocking_point: bras}\n"
    "  - {name: fwa, type: dynamic, prefixes: [203.0.113.128/26], blocking_point: bras}\n"
    "  - {name: dsl, type: dynamic, prefixes: [198.51.100.0/25], blocking_point: edge}\n"
    "  - {name: lost, type: dynamic, prefixes: [198.51.100.128/26]}\n"
    "  - {name: business, type: static, prefixes: [198.51.100.192/26]}\n"
    "msas:\n"
    "  - {name: isp-msa, prefixes: [203.0.113.225/32], ports: [25, 587]}\n"
    "segments:\n"
    "  - {name: access, vlan: 100, expects: [ftth, fwa]}\n";

struct fixture {
    struct policy *policy;
    struct events events;
    struct bus bus;
    struct report *report;
    struct coverage coverage;
};

static void setup(struct fixture *f)
{
    char error[512] = "";
    f->policy =
        policy_load_text("report.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(f->policy, "policy: %s", error);
    events_init(&f->events, f->policy);
    bus_init(&f->bus);
    cr_assert_eq(bus_subscribe(&f->bus, events_subscriber(&f->events)), 0);
    f->report = report_new(f->policy);
    cr_assert_not_null(f->report);
    cr_assert_eq(report_attach(f->report, &f->bus), 0);
    cr_assert_eq(coverage_init(&f->coverage, f->policy->pool_count), 0);
}

static void teardown(struct fixture *f)
{
    report_free(f->report);
    coverage_free(&f->coverage);
    policy_free(f->policy);
}

static struct address v4(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "%s", text);
    return address;
}

/* One finished attempt, told to the observers and counted in coverage as the sensor does. */
static void attempt(struct fixture *f, const char *client, uint16_t port, const char *server,
                    int pool, enum verdict verdict, evidence_set evidence, packet_time ts,
                    const struct smtp_facts *smtp)
{
    struct address src = v4(client), dst = v4(server);
    struct attempt_record record = {
        .flow = {.src = src, .dst = dst, .src_port = port, .dst_port = 25, .proto = 6},
        .first_seen = ts,
        .last_seen = ts,
        .pool = pool,
        .segment = 0,
        .msa = -1,
        .verdict = verdict,
        .evidence = evidence,
        .syn_count = 1,
        .close_reason = "fin",
        .smtp = smtp,
        .server_stream = smtp != NULL, /* a dialogue: the SYN-ACK was seen */
    };
    bus_attempt(&f->bus, &record);
    coverage_add(&f->coverage, pool, src.family, verdict);
}

static void finish(struct fixture *f)
{
    struct sensor_counters counters;
    memset(&counters, 0, sizeof(counters));
    counters.packets = 1234;
    struct output_counts written = events_counts(&f->events);
    cr_assert_eq(report_finish(f->report, &written, &counters, &f->coverage,
                               f->report->last_ts + PACKET_TIME_SECOND, "end_of_input"),
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

#define T0 ((packet_time)1768467600 * PACKET_TIME_SECOND) /* 2026-01-15T09:00:00Z */
#define LEAK_SMTP (EVIDENCE_BIT(EVIDENCE_SYN_ACK) | EVIDENCE_BIT(EVIDENCE_BANNER))

/* No table cell of the page begins or ends with a separator whose other side is empty. */
static void expect_no_dangling_separators(const char *html)
{
    for (const char *cell = strstr(html, "<td"); cell != NULL; cell = strstr(cell + 1, "<td")) {
        const char *start = strchr(cell, '>');
        const char *end = strstr(cell, "</td>");
        cr_assert(start != NULL && end != NULL);
        size_t length = (size_t)(end - start - 1);
        const char *text = start + 1;
        static const char *const separators[] = {", ", " / ", " (", "; "};
        for (size_t i = 0; i < sizeof(separators) / sizeof(separators[0]); i++) {
            size_t n = strlen(separators[i]);
            bool trailing = length >= n && strncmp(text + length - n, separators[i], n) == 0;
            bool leading = length >= n && strncmp(text, separators[i], n) == 0;
            cr_expect(!trailing && !leading, "a dangling '%s' in <td>%.*s</td>", separators[i],
                      (int)length, text);
        }
    }
}

TestSuite(report, .timeout = 60);

Test(report, blocking_points_sum_their_pools_per_family)
{
    struct fixture f;
    setup(&f);
    evidence_set silent = EVIDENCE_BIT(EVIDENCE_NO_REPLY);
    for (int i = 0; i < 6; i++)
        attempt(&f, "203.0.113.45", (uint16_t)(40000 + i), "192.0.2.1", 0, VERDICT_BLOCKED, silent,
                T0 + i * PACKET_TIME_SECOND, NULL);
    attempt(&f, "203.0.113.77", 50000, "192.0.2.2", 0, VERDICT_LEAKED, LEAK_SMTP, T0, NULL);
    attempt(&f, "203.0.113.130", 50001, "192.0.2.3", 1, VERDICT_LEAKED, LEAK_SMTP, T0, NULL);
    attempt(&f, "2001:db8:100::9", 50002, "2001:db8:ffff::1", 0, VERDICT_BLOCKED, silent, T0, NULL);
    attempt(&f, "198.51.100.23", 50003, "192.0.2.4", 2, VERDICT_WOULD_BLOCK, LEAK_SMTP, T0, NULL);
    finish(&f);

    struct coverage_counts bras4, bras6, edge4;
    report_point_counts(f.report, 0, ADDRESS_V4, &bras4);
    report_point_counts(f.report, 0, ADDRESS_V6, &bras6);
    report_point_counts(f.report, 1, ADDRESS_V4, &edge4);
    cr_expect_eq(bras4.by_verdict[VERDICT_BLOCKED], 6);
    cr_expect_eq(bras4.by_verdict[VERDICT_LEAKED], 2); /* one from ftth, one from fwa */
    cr_expect_eq(bras6.by_verdict[VERDICT_BLOCKED], 1);
    cr_expect_eq(edge4.by_verdict[VERDICT_WOULD_BLOCK], 1);
    double ratio;
    cr_expect(coverage_ratio(&bras4, &ratio) && ratio == 0.75);
    cr_expect(report_point_has_family(f.policy, 0, ADDRESS_V6));
    cr_expect(!report_point_has_family(f.policy, 1, ADDRESS_V6));

    char *json = render(f.report, report_write_json);
    cr_expect(strstr(json, "\"name\": \"bras\"") != NULL);
    cr_expect(strstr(json, "\"coverage\": 0.7500") != NULL, "%s", json);
    /* A planned point has no blocked or leaked attempts: its coverage is not known. */
    cr_expect(strstr(json, "\"coverage\": null") != NULL);
    char *text = render(f.report, report_write_text);
    cr_expect(strstr(text, "Pools without a blocking point: lost") != NULL, "%s", text);
    free(json);
    free(text);
    teardown(&f);
}

Test(report, leaks_keep_their_evidence_and_dialogue)
{
    struct fixture f;
    setup(&f);
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    snprintf(smtp.helo, sizeof(smtp.helo), "<script>alert(1)</script>");
    snprintf(smtp.mail_from_domain, sizeof(smtp.mail_from_domain), "spam&co.example");
    smtp.helo_seen = true;
    smtp.rcpt_count = 3;
    evidence_set evidence = LEAK_SMTP | EVIDENCE_BIT(EVIDENCE_EHLO) |
                            EVIDENCE_BIT(EVIDENCE_MAIL_FROM) | EVIDENCE_BIT(EVIDENCE_RCPT);
    attempt(&f, "203.0.113.77", 50177, "192.0.2.120", 0, VERDICT_LEAKED, evidence, T0, &smtp);
    attempt(&f, "203.0.113.78", 50178, "192.0.2.121", 0, VERDICT_LEAKED,
            EVIDENCE_BIT(EVIDENCE_SYN_ACK), T0, NULL);
    finish(&f);
    cr_assert_eq(f.report->leak_count, 2);
    cr_expect_eq(f.report->leaks_total, 2);
    cr_expect_eq(f.report->leak_stages[EVIDENCE_RCPT], 1);
    cr_expect_eq(f.report->leak_stages[EVIDENCE_SYN_ACK], 1);
    const struct report_leak *leak = &f.report->leaks[0];
    cr_expect_eq(leak->src_port, 50177);
    cr_expect_eq(leak->evidence, evidence);
    cr_expect_eq(leak->rcpt_count, 3);

    char *json = render(f.report, report_write_json);
    cr_expect(strstr(json, "\"evidence\": [\n") != NULL);
    cr_expect(strstr(json, "\"stage\": \"rcpt\"") != NULL);
    cr_expect(strstr(json, "\"helo\": \"<script>alert(1)</script>\"") != NULL);
    char *html = render(f.report, report_write_html);
    /* What the subscriber chose to send is shown, never run. */
    cr_expect(strstr(html, "<script>") == NULL, "raw markup from the wire in the HTML");
    cr_expect(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    cr_expect(strstr(html, "spam&amp;co.example") != NULL);
    /* Named columns; the leak without a dialogue leaves its SMTP cells empty. */
    const char *leaks = strstr(html, "<h2>4. Leaks, one by one: 2</h2>");
    cr_assert_not_null(leaks, "%s", html);
    cr_expect(strstr(leaks, "<tr><th>time</th><th>subscriber</th><th>server</th><th>pool</th>"
                            "<th>segment</th><th>reached</th><th>SYNs</th><th>EHLO</th><th>mail "
                            "from</th><th>RCPT</th><th>messages</th><th>AUTH</th>"
                            "<th>TLS</th><th>ended by</th></tr>") != NULL,
              "%s", leaks);
    cr_expect(strstr(leaks, "<td>203.0.113.78:50178</td><td>192.0.2.121:25</td><td>ftth</td>"
                            "<td>access</td><td>syn_ack</td><td class=\"n\">1</td><td></td>"
                            "<td></td><td class=\"n\"></td>") != NULL,
              "%s", leaks);
    expect_no_dangling_separators(html);
    free(json);
    free(html);
    teardown(&f);
}

Test(report, leaks_leave_out_counts_the_capture_could_not_show)
{
    struct fixture f;
    setup(&f);
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.rcpt_count = 1;
    smtp.commands_unseen = true; /* a segment the mirror lost: the count may be low */
    attempt(&f, "203.0.113.79", 50179, "192.0.2.122", 0, VERDICT_LEAKED,
            LEAK_SMTP | EVIDENCE_BIT(EVIDENCE_RCPT), T0, &smtp);
    smtp.commands_unseen = false;
    smtp.message_answers_unseen = true; /* only the answer to the message was missed */
    attempt(&f, "203.0.113.80", 50180, "192.0.2.123", 0, VERDICT_LEAKED,
            LEAK_SMTP | EVIDENCE_BIT(EVIDENCE_RCPT), T0, &smtp);
    finish(&f);
    char *json = render(f.report, report_write_json);
    char *first = strstr(json, "50179");
    char *second = strstr(json, "50180");
    cr_assert(first != NULL && second != NULL && first < second);
    cr_expect(strstr(first, "\"rcpt_count\"") > second, "no count for the first leak:\n%s", json);
    cr_expect(strstr(second, "\"rcpt_count\": 1") != NULL);
    cr_expect(strstr(first, "\"auth\"") > second, "no auth for the first leak");
    cr_expect(strstr(second, "\"auth\": false") != NULL);
    cr_expect(strstr(second, "\"messages_accepted\"") == NULL);
    char *text = render(f.report, report_write_text);
    cr_expect(strstr(text, "rcpt 1") != NULL);
    char *html = render(f.report, report_write_html);
    /* The leak table's RCPT, AUTH and TLS cells: empty where not known. */
    cr_expect(strstr(html, "50179</td><td>192.0.2.122:25</td><td>ftth</td><td>access</td>"
                           "<td>rcpt</td><td class=\"n\">1</td><td class=\"n\"></td><td></td>"
                           "<td></td>") != NULL,
              "%s", html);
    cr_expect(strstr(html, "50180</td><td>192.0.2.123:25</td><td>ftth</td><td>access</td>"
                           "<td>rcpt</td><td class=\"n\">1</td><td class=\"n\">1</td><td>no</td>"
                           "<td>no</td>") != NULL,
              "%s", html);
    free(json);
    free(text);
    free(html);
    teardown(&f);
}

Test(report, leaks_beyond_the_bound_are_counted_not_listed)
{
    struct fixture f;
    setup(&f);
    for (int i = 0; i < REPORT_LEAKS_MAX + 50; i++)
        attempt(&f, "203.0.113.77", (uint16_t)(1024 + i), "192.0.2.1", 0, VERDICT_LEAKED,
                EVIDENCE_BIT(EVIDENCE_SYN_ACK), T0 + i, NULL);
    finish(&f);
    cr_expect_eq(f.report->leak_count, REPORT_LEAKS_MAX);
    cr_expect_eq(f.report->leaks_total, REPORT_LEAKS_MAX + 50);
    teardown(&f);
}

Test(report, attempts_over_time_stay_bounded_and_keep_every_attempt)
{
    struct fixture f;
    setup(&f);
    /* Out of order and spread over a day: buckets widen, nothing is lost. */
    uint64_t expected[VERDICT_COUNT] = {0};
    for (int i = 0; i < 500; i++) {
        packet_time ts = T0 + (packet_time)((i * 7919) % 86400) * PACKET_TIME_SECOND;
        enum verdict verdict = (enum verdict)(i % VERDICT_COUNT);
        attempt(&f, "203.0.113.45", (uint16_t)(2000 + i), "192.0.2.1", 0, verdict, 0, ts, NULL);
        expected[verdict]++;
    }
    const struct report_timeline *timeline = &f.report->timeline;
    cr_assert(timeline->used <= REPORT_TIMELINE_BUCKETS);
    uint64_t seen[VERDICT_COUNT] = {0};
    for (size_t b = 0; b < timeline->used; b++)
        for (int v = 0; v < VERDICT_COUNT; v++)
            seen[v] += timeline->counts[b][v];
    for (int v = 0; v < VERDICT_COUNT; v++)
        cr_expect_eq(seen[v], expected[v], "verdict %d", v);
    /* A day in at most 96 buckets: each is at least 15 minutes, a power of two seconds. */
    cr_expect_geq(timeline->width, 900 * PACKET_TIME_SECOND);
    cr_expect_eq(
        (timeline->width / PACKET_TIME_SECOND) & (timeline->width / PACKET_TIME_SECOND - 1), 0);
    /* Every attempt falls in the bucket that covers it. */
    cr_expect_leq(timeline->origin, T0);
    cr_expect_gt(timeline->origin + (packet_time)timeline->used * timeline->width,
                 T0 + 86399 * PACKET_TIME_SECOND);
    teardown(&f);
}

static struct flow_tuple tuple(const char *src, uint16_t src_port, const char *dst,
                               uint16_t dst_port)
{
    return (struct flow_tuple){
        .src = v4(src), .dst = v4(dst), .src_port = src_port, .dst_port = dst_port, .proto = 6};
}

/* connections_587: what the finding knows of the server's 587 so far. */
static void third_party(struct fixture *f, const char *subscriber, const char *server,
                        packet_time ts, uint64_t connections_587)
{
    struct finding finding;
    finding_init(&finding, EVENT_THIRD_PARTY_SUBMISSION, ts);
    struct flow_tuple flow = tuple(subscriber, 50000, server, 25);
    finding_set_flow(&finding, &flow);
    finding.pool = 0;
    finding.as.submission.msa = -1;
    snprintf(finding.as.submission.smtp.auth_mechanism,
             sizeof(finding.as.submission.smtp.auth_mechanism), "PLAIN");
    finding.as.submission.port_587_connections = connections_587;
    bus_finding(&f->bus, &finding);
}

Test(report, third_party_msas_count_subscribers_sessions_and_submission_ports)
{
    struct fixture f;
    setup(&f);
    third_party(&f, "203.0.113.10", "192.0.2.50", T0, 0);
    third_party(&f, "203.0.113.10", "192.0.2.50", T0 + 5, 0);
    third_party(&f, "203.0.113.11", "192.0.2.50", T0 + 9, 2);
    third_party(&f, "203.0.113.12", "192.0.2.60", T0 + 3, 0);
    third_party(&f, "203.0.113.13", "192.0.2.70", T0 + 4, 0);
    /* An open submission server on 587 at .70 says .70 serves submission too. */
    struct finding open;
    finding_init(&open, EVENT_OPEN_SUBMISSION, T0 + 6);
    struct flow_tuple open_flow = tuple("203.0.113.14", 40000, "192.0.2.70", 587);
    finding_set_flow(&open, &open_flow);
    open.as.submission.msa = -1;
    bus_finding(&f.bus, &open);
    finish(&f);

    const struct report_servers *servers = &f.report->third_party;
    cr_assert_eq(servers->count, 3);
    const struct report_server *a = &servers->items[0], *b = &servers->items[1],
                               *c = &servers->items[2];
    cr_expect_eq(a->sessions, 3);
    cr_expect_eq(a->subscriber_count, 2);
    cr_expect(a->submission_port_seen);
    cr_expect_eq(a->first_seen, T0);
    cr_expect_eq(a->last_seen, T0 + 9);
    cr_expect(!b->submission_port_seen, "no 587 or 465 connection is no submission port");
    cr_expect(c->submission_port_seen, "seen on 587 by another finding");
    cr_expect_eq(f.report->open_submission.count, 1);
    cr_expect_eq(f.report->open_submission.items[0].port, 587);

    char *text = render(f.report, report_write_text);
    cr_expect(strstr(text, "192.0.2.50  3 sessions, 2 subscribers, also seen on 587/465") != NULL,
              "%s", text);
    cr_expect(strstr(text, "192.0.2.60  1 sessions, 1 subscribers, NOT seen on 587/465") != NULL);
    free(text);
    teardown(&f);
}

static void bot(struct fixture *f, const char *subscriber, double score, uint32_t fanout)
{
    struct finding finding;
    finding_init(&finding, EVENT_BOT_SUSPECT, T0);
    struct address address = v4(subscriber);
    finding_set_key(&finding, &address);
    finding.pool = 0;
    struct bot_finding *bot = &finding.as.bot;
    bot->address = address;
    bot->subscriber = (struct prefix){.address = address, .length = 32};
    bot->window_start = T0 - 300 * PACKET_TIME_SECOND;
    bot->window_end = T0;
    bot->score = score;
    bot->score_threshold = 50;
    bot->features.fanout = fanout;
    bot->features.odd_helo = 1;
    snprintf(bot->odd_helo, sizeof(bot->odd_helo), "localhost");
    bot->odd_helo_kind = "localhost";
    bus_finding(&f->bus, &finding);
}

Test(report, bot_suspects_rank_by_their_best_score)
{
    struct fixture f;
    setup(&f);
    bot(&f, "203.0.113.1", 3.5, 12);
    bot(&f, "203.0.113.2", 9.0, 40);
    bot(&f, "203.0.113.1", 7.25, 30); /* the same subscriber, a later window scored higher */
    bot(&f, "203.0.113.3", 1.0, 2);
    bot(&f, "203.0.113.2", 2.0, 1); /* lower: the best stays */
    finish(&f);
    cr_expect_eq(f.report->findings_total[EVENT_BOT_SUSPECT], 5);
    cr_expect_eq(f.report->suspect_count, 3);
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed = report_top_suspects(f.report, order, REPORT_TOP_SUSPECTS);
    cr_assert_eq(listed, 3);
    double scores[3];
    for (size_t i = 0; i < 3; i++)
        scores[i] = f.report->suspects[order[i]].as.bot.score;
    cr_expect(scores[0] == 9.0 && scores[1] == 7.25 && scores[2] == 1.0, "%f %f %f", scores[0],
              scores[1], scores[2]);
    /* The listing walks the event's own fields: the kept finding is the later window's. */
    char *fields = report_finding_fields(f.report, &f.report->suspects[order[1]], false);
    cr_expect_str_eq(fields,
                     "src_ip=203.0.113.1, subscriber=203.0.113.1, "
                     "window_start=2026-01-15T08:55:00.000000Z, "
                     "window_end=2026-01-15T09:00:00.000000Z, score=7.2, score_threshold=50, "
                     "features={attempts=0, fanout=30, mx_direct=0, nonstandard_smtp=0, "
                     "rcpt_accepted=0, rcpt_rejected=0, messages=0, deferred=0, odd_helo=1, "
                     "receives_smtp=false}, odd_helo_example=localhost, odd_helo_kind=localhost");
    free(fields);
    fields = report_finding_fields(f.report, &f.report->suspects[order[1]], true);
    cr_expect(strstr(fields, "\"score\":7.2,\"score_threshold\":50,\"features\":{\"attempts\":0,"
                             "\"fanout\":30,") != NULL,
              "%s", fields);
    free(fields);
    char *html = render(f.report, report_write_html);
    const char *table = strstr(html, "<h2>5. Bot suspects</h2>");
    cr_assert_not_null(table);
    cr_expect(strstr(table, "<tr><th>#</th><th>score</th><th>subscriber</th><th>pool</th>"
                            "<th>window</th><th>attempts</th><th>fan-out</th>") != NULL,
              "%s", table);
    cr_expect(strstr(table,
                     "<tr><td class=\"n\">1</td><td class=\"n\">9.00</td>"
                     "<td>203.0.113.2</td><td>ftth</td><td>08:55:00 to 09:00:00</td>") != NULL,
              "%s", table);
    cr_expect(strstr(table, "<td>localhost (localhost)</td>") != NULL);
    expect_no_dangling_separators(html);
    free(html);
    char *json = render(f.report, report_write_json);
    const char *top = strstr(json, "\"top\": [");
    cr_assert_not_null(top);
    const char *first = strstr(top, "\"subscriber\": \"203.0.113.2\"");
    const char *second = strstr(top, "\"subscriber\": \"203.0.113.1\"");
    cr_expect(first != NULL && second != NULL && first < second, "ranked by score");
    free(json);
    teardown(&f);
}

Test(report, evasion_findings_are_counted_and_listed_up_to_the_bound)
{
    struct fixture f;
    setup(&f);
    struct address spammer = v4("203.0.113.66"), relay = v4("192.0.2.99"),
                   target = v4("192.0.2.25");
    for (int i = 0; i < REPORT_FINDINGS_KEPT + 10; i++) {
        struct finding finding;
        finding_init(&finding, EVENT_TRIANGULAR_SPAM, T0 + i);
        struct flow_tuple flow = {
            .src = spammer, .dst = target, .src_port = (uint16_t)(30000 + i), .dst_port = 25};
        finding_set_flow(&finding, &flow);
        finding.as.triangular.relay = relay;
        finding.as.triangular.reply_segment = -1;
        finding.as.triangular.reply_seen = T0 + i;
        bus_finding(&f.bus, &finding);
    }
    finish(&f);
    cr_expect_eq(f.report->findings_total[EVENT_TRIANGULAR_SPAM], REPORT_FINDINGS_KEPT + 10);
    cr_expect_eq(f.report->finding_count[EVENT_TRIANGULAR_SPAM], REPORT_FINDINGS_KEPT);
    char *listed =
        report_finding_fields(f.report, &f.report->findings[EVENT_TRIANGULAR_SPAM][0], false);
    cr_expect_str_eq(listed, "relay_ip=192.0.2.99, variant=rewritten, isn=0, syn_count=0, "
                             "reply_seen=2026-01-15T09:00:00.000000Z");
    free(listed);
    char *text = render(f.report, report_write_text);
    char line[64];
    snprintf(line, sizeof(line), "triangular_spam: %d (the first %d listed)",
             REPORT_FINDINGS_KEPT + 10, REPORT_FINDINGS_KEPT);
    cr_expect(strstr(text, line) != NULL, "%s", line);
    char *html = render(f.report, report_write_html);
    cr_expect(strstr(html, "<h3>triangular_spam</h3>") != NULL);
    /* A table of named columns from the finding's members, not a key=value listing. */
    const char *table = strstr(html, "<h3>triangular_spam</h3>");
    cr_assert_not_null(table);
    cr_expect(strstr(table, "<tr><th>time</th><th>spammer</th><th>relay</th><th>target</th>"
                            "<th>variant</th><th>SYNs</th><th>reply seen</th></tr>") != NULL,
              "no tunnel, pool or segment column: no row has one\n%s", table);
    cr_expect(strstr(table, "<td>09:00:00</td><td>203.0.113.66:30000</td><td>192.0.2.99</td>"
                            "<td>192.0.2.25:25</td><td>rewritten</td>") != NULL,
              "%s", table);
    cr_expect(strstr(html, "relay_ip=") == NULL, "a key=value blob in the HTML");
    expect_no_dangling_separators(html);
    free(text);
    free(html);
    teardown(&f);
}

Test(report, findings_tables_show_a_column_when_any_row_has_a_value)
{
    struct fixture f;
    setup(&f);
    struct address relay = v4("192.0.2.99");
    for (int i = 0; i < 2; i++) {
        struct finding finding;
        finding_init(&finding, EVENT_TRIANGULAR_SPAM, T0 + i * PACKET_TIME_SECOND);
        struct flow_tuple flow = tuple("203.0.113.66", (uint16_t)(30000 + i), "192.0.2.25", 25);
        finding_set_flow(&finding, &flow);
        finding.pool = 0;
        finding.segment = -1;
        finding.as.triangular.relay = relay;
        finding.as.triangular.reply_segment = -1;
        finding.as.triangular.tunnelled = i == 1;
        finding.as.triangular.tunnel = TUNNEL_GRE;
        finding.as.triangular.tunnel_src = relay;
        bus_finding(&f.bus, &finding);
    }
    finish(&f);
    char *html = render(f.report, report_write_html);
    const char *table = strstr(html, "<h3>triangular_spam</h3>");
    cr_assert_not_null(table);
    cr_expect(strstr(table, "<th>variant</th><th>tunnel</th><th>tunnel source</th>"
                            "<th>pool</th><th>SYNs</th>") != NULL,
              "%s", table);
    /* The rewritten one has no tunnel: empty cells, never a dangling separator. */
    cr_expect(strstr(table, "<td>rewritten</td><td></td><td></td><td>ftth</td>") != NULL, "%s",
              table);
    cr_expect(strstr(table, "<td>tunnelled</td><td>gre</td><td>192.0.2.99</td><td>ftth</td>") !=
                  NULL,
              "%s", table);
    expect_no_dangling_separators(html);
    free(html);
    teardown(&f);
}

/* The summary section of an HTML report (malloc'd). */
static char *summary_of(const char *html)
{
    const char *summary = strstr(html, "<section class=\"summary\"");
    cr_assert_not_null(summary, "no summary");
    const char *end = strstr(summary, "</section>");
    cr_assert_not_null(end);
    cr_expect(summary < strstr(html, "<h2>1. Coverage audit"), "the summary comes first");
    return strndup(summary, (size_t)(end - summary));
}

Test(report, the_summary_marks_each_point_counts_leaks_and_says_what_to_do)
{
    struct fixture f;
    setup(&f);
    evidence_set blocked = EVIDENCE_BIT(EVIDENCE_NO_REPLY), leaked = EVIDENCE_BIT(EVIDENCE_SYN_ACK);
    for (int i = 0; i < 6; i++)
        attempt(&f, "203.0.113.45", (uint16_t)(40000 + i), "192.0.2.1", 0, VERDICT_BLOCKED, blocked,
                T0 + i, NULL);
    attempt(&f, "203.0.113.46", 41000, "192.0.2.2", 0, VERDICT_LEAKED, leaked, T0 + 10, NULL);
    attempt(&f, "203.0.113.46", 41001, "192.0.2.3", 0, VERDICT_LEAKED, leaked, T0 + 11, NULL);
    for (int i = 0; i < 3; i++)
        attempt(&f, "198.51.100.7", (uint16_t)(42000 + i), "192.0.2.4", 2, VERDICT_WOULD_BLOCK,
                blocked, T0 + 20 + i, NULL);
    attempt(&f, "198.51.100.130", 43000, "192.0.2.5", 3, VERDICT_LEAKED, leaked, T0 + 30, NULL);
    finish(&f);
    char *html = render(f.report, report_write_html);
    char *summary = summary_of(html);
    /* 6 blocked, 3 leaked (2 through bras, 1 from the pool without a point): 66.7%. */
    cr_expect(strstr(summary, "data-figure=\"coverage\"><b>66.7%</b>") != NULL, "%s", summary);
    cr_expect(strstr(summary, "data-figure=\"leaks\"><b>3</b>") != NULL);
    cr_expect(strstr(summary, "data-figure=\"infected\"><b>0</b>") != NULL);
    cr_expect(strstr(summary, "data-figure=\"evasion\"><b>0</b>") != NULL);
    cr_expect(strstr(summary, "<tr data-point=\"bras\"><td>bras</td><td><span class=\"mark "
                              "leaking\">LEAKING</span></td><td class=\"n\">75.0%</td>") != NULL,
              "%s", summary);
    cr_expect(strstr(summary, "<tr data-point=\"edge\"><td>edge</td><td><span class=\"mark "
                              "planned\">PLANNED</span></td><td class=\"n\">n/a</td>") != NULL);
    cr_expect(strstr(summary, "<tr data-pool=\"lost\"><td>pool lost has none</td><td><span "
                              "class=\"mark leaking\">UNFILTERED</span>") != NULL);
    cr_expect(strstr(summary, "3 leaks: 2 through bras (from ftth 2); 1 from pools without a "
                              "blocking point (lost 1). By the furthest stage reached: "
                              "syn_ack 3.") != NULL,
              "%s", summary);
    /* The steps, most urgent first: only the family that leaked is named. */
    const char *leak = strstr(summary, "<li>Blocking point bras leaked 2 attempts from pool ftth: "
                                       "check that its ACL denies TCP/25 from 203.0.113.0/25 (");
    const char *lost = strstr(summary, "<li>Pool lost has no blocking point: port 25 from it is "
                                       "filtered nowhere (1 attempt seen, 1 got out).");
    const char *planned = strstr(summary, "<li>Planned blocking point edge would stop 3 attempts");
    cr_expect(leak != NULL && lost != NULL && planned != NULL, "%s", summary);
    cr_expect(leak < lost && lost < planned, "steps out of order");
    cr_expect(strstr(summary, "2001:db8:100::/40") == NULL, "IPv6 did not leak");
    cr_expect(strstr(summary, "Nothing to do") == NULL);
    free(summary);

    char *text = render(f.report, report_write_text);
    cr_expect(strstr(text, "Summary\n-------\ncoverage 66.7%, 3 leaks, 0 infected subscribers, 0 "
                           "evasion findings\n") != NULL,
              "%s", text);
    cr_expect(strstr(text, "\nbras                         LEAKING       75.0%") != NULL, "%s",
              text);
    cr_expect(strstr(text, "\npool lost has none           UNFILTERED") != NULL, "%s", text);
    cr_expect(strstr(text, "What to do next:\n  1. Blocking point bras leaked 2 attempts") != NULL,
              "%s", text);
    free(text);
    free(html);
    teardown(&f);
}

Test(report, a_network_whose_blocks_hold_has_nothing_to_do)
{
    static const char quiet[] =
        "sensor: {name: quiet, position: edge-side}\n"
        "own_prefixes: [203.0.113.0/24]\n"
        "blocking_points:\n"
        "  - {name: bras, level: terminator, state: active, reject: drop}\n"
        "pools:\n"
        "  - {name: ftth, type: dynamic, prefixes: [203.0.113.0/25], blocking_point: bras}\n";
    char error[512];
    struct policy *policy =
        policy_load_text("quiet.yaml", quiet, strlen(quiet), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    struct report *report = report_new(policy);
    struct coverage coverage;
    cr_assert_eq(coverage_init(&coverage, policy->pool_count), 0);
    coverage_add(&coverage, 0, ADDRESS_V4, VERDICT_BLOCKED);
    struct sensor_counters counters = {0};
    cr_assert_eq(report_finish(report, NULL, &counters, &coverage, T0, "end_of_input"), 0);
    char *html = render(report, report_write_html);
    char *summary = summary_of(html);
    cr_expect(strstr(summary, "data-figure=\"coverage\"><b>100.0%</b>") != NULL, "%s", summary);
    cr_expect(strstr(summary, "<span class=\"mark holds\">HOLDS</span>") != NULL);
    cr_expect(strstr(summary, "<ol class=\"steps\">\n<li>Nothing to do: every active blocking "
                              "point held and no finding needs action.</li>\n</ol>") != NULL,
              "%s", summary);
    free(summary);
    free(html);
    report_free(report);
    coverage_free(&coverage);
    policy_free(policy);
}

Test(report, html_is_self_contained)
{
    struct fixture f;
    setup(&f);
    attempt(&f, "203.0.113.45", 40000, "192.0.2.1", 0, VERDICT_BLOCKED,
            EVIDENCE_BIT(EVIDENCE_NO_REPLY), T0, NULL);
    finish(&f);
    char *html = render(f.report, report_write_html);
    cr_expect(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    cr_expect(strstr(html, "<svg") != NULL);
    /* Nothing the page would fetch: no scripts, stylesheets, images or fonts from outside. */
    const char *forbidden[] = {"http://", "https://", "<script", "<link",
                               "<img",    "@import",  "url("};
    for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
        cr_expect(strstr(html, forbidden[i]) == NULL, "%s in the page", forbidden[i]);
    cr_expect(strstr(html, "@media print") != NULL);
    free(html);
    teardown(&f);
}

Test(report, file_format_comes_from_the_extension)
{
    cr_expect_eq(report_format_of("audit.json"), REPORT_JSON);
    cr_expect_eq(report_format_of("/tmp/x/audit.HTML"), REPORT_HTML);
    cr_expect_eq(report_format_of("audit.txt"), REPORT_TEXT);
    cr_expect_eq(report_format_of("audit.pdf"), -1);
    cr_expect_eq(report_format_of("audit"), -1);
    cr_expect_eq(report_format_of("dir.json/audit"), -1);
}
