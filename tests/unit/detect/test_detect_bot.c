#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "detect/detect_bot.h"
#include "record/finding.h"

static struct policy *policy_with(const char *thresholds)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "sensor: {name: s, position: edge-side}\n"
             "own_prefixes: [198.51.100.0/22]\n"
             "pools:\n"
             "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24]}\n"
             "%s",
             thresholds);
    char error[512];
    struct policy *policy = policy_load_text("t.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    return policy;
}

Test(bot_score, each_feature_scores_its_weight_at_its_threshold)
{
    struct policy *policy = policy_with("");
    struct bot_features f;
    memset(&f, 0, sizeof(f));
    cr_assert_float_eq(bot_score(&f, policy), 0.0, 1e-9);
    f.fanout = 10;
    cr_assert_float_eq(bot_score(&f, policy), 30.0, 1e-9);
    f.fanout = 5;
    cr_assert_float_eq(bot_score(&f, policy), 15.0, 1e-9);
    memset(&f, 0, sizeof(f));
    f.mx_direct = 10;
    cr_assert_float_eq(bot_score(&f, policy), 25.0, 1e-9);
    memset(&f, 0, sizeof(f));
    f.rcpt_accepted = 50;
    cr_assert_float_eq(bot_score(&f, policy), 15.0, 1e-9);
    memset(&f, 0, sizeof(f));
    f.attempts = 30;
    cr_assert_float_eq(bot_score(&f, policy), 10.0, 1e-9);
    memset(&f, 0, sizeof(f));
    f.nonstandard_smtp = 1;
    f.odd_helo = 7;
    cr_assert_float_eq(bot_score(&f, policy), 20.0, 1e-9);
    policy_free(policy);
}

Test(bot_score, fanout_past_its_threshold_adds_up_to_fifteen_more)
{
    struct policy *policy = policy_with("");
    struct bot_features f;
    memset(&f, 0, sizeof(f));
    f.fanout = 11;
    cr_assert_float_eq(bot_score(&f, policy), 30.0 + 15.0 * 1 / 40, 1e-9);
    f.fanout = 30;
    cr_assert_float_eq(bot_score(&f, policy), 37.5, 1e-9);
    f.fanout = 50; /* five times thresholds.fanout: the whole of it */
    cr_assert_float_eq(bot_score(&f, policy), 45.0, 1e-9);
    f.fanout = 100000;
    cr_assert_float_eq(bot_score(&f, policy), 45.0, 1e-9);
    policy_free(policy);
}

/* The subscriber the issue was about: 200 MXs in a minute, every SYN blocked, its MX
 * queries through the ISP's resolver. */
Test(bot_score, a_spray_of_blocked_attempts_alone_reaches_the_threshold)
{
    struct policy *policy = policy_with("");
    struct bot_features f = {.fanout = 200, .attempts = 200};
    cr_assert_float_eq(bot_score(&f, policy), 55.0, 1e-9);
    cr_assert_geq(bot_score(&f, policy), policy->thresholds.score);
    /* Where blocked attempts alone cross it: 37 servers, not 36. */
    f = (struct bot_features){.fanout = 36, .attempts = 36};
    cr_assert_lt(bot_score(&f, policy), policy->thresholds.score);
    f = (struct bot_features){.fanout = 37, .attempts = 37};
    cr_assert_geq(bot_score(&f, policy), policy->thresholds.score);
    policy_free(policy);
}

Test(bot_score, stops_at_100_and_an_mta_of_its_own_stays_below_50)
{
    struct policy *policy = policy_with("");
    /* Every sign at once: 115, scored 100; reported-only features add nothing. */
    struct bot_features f = {.fanout = 50,
                             .mx_direct = 10,
                             .rcpt_accepted = 50,
                             .attempts = 30,
                             .nonstandard_smtp = 1,
                             .odd_helo = 1,
                             .rcpt_rejected = 9999,
                             .messages = 9999,
                             .deferred = 9999};
    cr_assert_float_eq(bot_score(&f, policy), 100.0, 1e-9);
    /* A subscriber that receives SMTP itself (its own MTA) scores half. */
    f.receives_smtp = true;
    cr_assert_float_eq(bot_score(&f, policy), 50.0, 1e-9);
    /* What an MTA does, however much of it (every name fine, no SMTP on other ports):
     * 95, halved below the default threshold. */
    f.nonstandard_smtp = 0;
    f.odd_helo = 0;
    f.fanout = 100000;
    f.mx_direct = 100000;
    f.rcpt_accepted = 100000;
    f.attempts = 100000;
    cr_assert_float_eq(bot_score(&f, policy), 47.5, 1e-9);
    cr_assert_lt(bot_score(&f, policy), policy->thresholds.score);
    policy_free(policy);
}

Test(bot_score, thresholds_come_from_the_policy)
{
    struct policy *policy =
        policy_with("thresholds: {fanout: 4, mx_direct: 2, attempts: 8, rcpt: 5, score: 70}\n");
    struct bot_features f = {.fanout = 2, .mx_direct = 1, .attempts = 2, .rcpt_accepted = 1};
    cr_assert_float_eq(bot_score(&f, policy), 15.0 + 12.5 + 2.5 + 3.0, 1e-9);
    /* The spray saturates at five times the policy's fan-out: 20 servers. */
    f = (struct bot_features){.fanout = 12};
    cr_assert_float_eq(bot_score(&f, policy), 30.0 + 15.0 * 8 / 16, 1e-9);
    f.fanout = 20;
    cr_assert_float_eq(bot_score(&f, policy), 45.0, 1e-9);
    cr_assert_eq(policy->thresholds.score, 70);
    policy_free(policy);
    /* The largest threshold the policy takes: no overflow, and nothing past it. */
    policy = policy_with("thresholds: {fanout: 4294967295}\n");
    f = (struct bot_features){.fanout = UINT32_MAX};
    cr_assert_float_eq(bot_score(&f, policy), 30.0, 1e-9);
    policy_free(policy);
}

static enum helo_oddity oddity(const char *helo, const char *client)
{
    struct address address;
    cr_assert(address_parse(client, &address));
    return bot_helo_oddity(helo, &address);
}

Test(bot_helo, names)
{
    cr_assert_eq(oddity("mail.example.com", "198.51.100.7"), HELO_FINE);
    cr_assert_eq(oddity("[198.51.100.7]", "198.51.100.7"), HELO_FINE);
    cr_assert_eq(oddity("[IPv6:2001:db8::7]", "2001:db8::7"), HELO_FINE);
    cr_assert_eq(oddity("[ipv6:2001:DB8::7]", "2001:db8::7"), HELO_FINE);
    cr_assert_eq(oddity("[198.51.100.8]", "198.51.100.7"), HELO_LITERAL_NOT_SOURCE);
    cr_assert_eq(oddity("[IPv6:2001:db8::8]", "2001:db8::7"), HELO_LITERAL_NOT_SOURCE);
    cr_assert_eq(oddity("[not an address]", "198.51.100.7"), HELO_LITERAL_NOT_SOURCE);
    cr_assert_eq(oddity("[]", "198.51.100.7"), HELO_LITERAL_NOT_SOURCE);
    cr_assert_eq(oddity("198.51.100.7", "198.51.100.7"), HELO_BARE_ADDRESS);
    cr_assert_eq(oddity("2001:db8::7", "2001:db8::7"), HELO_BARE_ADDRESS);
    cr_assert_eq(oddity("localhost", "198.51.100.7"), HELO_LOCALHOST);
    cr_assert_eq(oddity("LocalHost.LocalDomain", "198.51.100.7"), HELO_LOCALHOST);
    cr_assert_eq(oddity("WIN-7QK2M1", "198.51.100.7"), HELO_NOT_FQDN);
    cr_assert_eq(oddity("xkqzvbrt", "198.51.100.7"), HELO_NOT_FQDN);
    cr_assert_eq(oddity("", "198.51.100.7"), HELO_NOT_FQDN);
    cr_assert_str_eq(helo_oddity_name(HELO_LITERAL_NOT_SOURCE), "literal_not_source");
}

/* ---- Ranking ---- */

static struct bus bus;
static struct policy *ranking_policy;

/* subscriber: an address, or an IPv6 prefix. */
static void suspect(const char *subscriber, double score)
{
    struct finding finding;
    finding_init(&finding, EVENT_BOT_SUSPECT, 1);
    const char *error;
    cr_assert(prefix_parse(subscriber, &finding.as.bot.subscriber, &error), "%s", subscriber);
    finding.as.bot.score = score;
    bus_finding(&bus, &finding);
}

static void setup(void)
{
    ranking_policy = policy_with("");
    bus_init(&bus);
}

static void teardown(void)
{
    policy_free(ranking_policy);
}

Test(bot_ranking, best_first_by_highest_window, .init = setup, .fini = teardown)
{
    struct bot_ranking *ranking = bot_ranking_new(3);
    cr_assert_eq(bot_ranking_attach(ranking, &bus), 0);
    suspect("198.51.100.1", 55.0);
    suspect("198.51.100.2", 80.0);
    suspect("198.51.100.3", 60.0);
    suspect("198.51.100.1", 90.0); /* a later, higher window counts */
    suspect("198.51.100.2", 51.0); /* a lower one does not lower it */
    const struct bot_rank *ranks;
    size_t count = bot_ranking_top(ranking, &ranks);
    cr_assert_eq(count, 3);
    cr_assert_str_eq(ranks[0].subscriber, "198.51.100.1");
    cr_assert_float_eq(ranks[0].score, 90.0, 1e-9);
    cr_assert_eq(ranks[0].windows, 2);
    cr_assert_str_eq(ranks[1].subscriber, "198.51.100.2");
    cr_assert_float_eq(ranks[1].score, 80.0, 1e-9);
    cr_assert_str_eq(ranks[2].subscriber, "198.51.100.3");
    /* A full list takes a newcomer only above its last. */
    suspect("198.51.100.4", 59.0);
    count = bot_ranking_top(ranking, &ranks);
    cr_assert_str_eq(ranks[2].subscriber, "198.51.100.3");
    suspect("2001:db8:1:2::/64", 70.0);
    count = bot_ranking_top(ranking, &ranks);
    cr_assert_eq(count, 3);
    cr_assert_str_eq(ranks[2].subscriber, "2001:db8:1:2::/64");
    /* Equal scores: more windows first; a newcomer that only ties the last stays out. */
    suspect("198.51.100.9", 80.0);
    suspect("198.51.100.8", 80.0);
    count = bot_ranking_top(ranking, &ranks);
    cr_assert_str_eq(ranks[0].subscriber, "198.51.100.1");
    cr_assert_str_eq(ranks[1].subscriber, "198.51.100.2");
    cr_assert_eq(ranks[1].windows, 2);
    cr_assert_str_eq(ranks[2].subscriber, "198.51.100.9");
    cr_assert_eq(ranks[2].windows, 1);
    /* Other findings are not ranked. */
    struct finding other;
    finding_init(&other, EVENT_OPEN_SUBMISSION, 1);
    const char *error;
    cr_assert(prefix_parse("198.51.100.50", &other.as.bot.subscriber, &error));
    other.as.bot.score = 99.0;
    bus_finding(&bus, &other);
    count = bot_ranking_top(ranking, &ranks);
    cr_assert_str_eq(ranks[0].subscriber, "198.51.100.1");
    bot_ranking_free(ranking);
}

/* ---- Windows: every feature in the window of the packet that shows it ---- */

#define T0 ((packet_time)1768467600 * PACKET_TIME_SECOND) /* a multiple of 300 s */

static packet_time seconds(double s)
{
    return T0 + (packet_time)(s * PACKET_TIME_SECOND);
}

struct suspects {
    struct bot_finding found[80];
    size_t count;
};

static void keep_suspect(void *context, const struct finding *finding)
{
    struct suspects *suspects = context;
    if (finding->type == EVENT_BOT_SUSPECT && suspects->count < 80)
        suspects->found[suspects->count++] = finding->as.bot;
}

struct rig {
    struct policy *policy;
    struct bus bus;
    struct sensor_counters counters;
    struct detector *bot;
    struct suspects suspects;
};

static void rig_start(struct rig *rig, const char *thresholds)
{
    memset(rig, 0, sizeof(*rig));
    rig->policy = policy_with(thresholds);
    bus_init(&rig->bus);
    struct detector_context context = {
        .policy = rig->policy, .bus = &rig->bus, .counters = &rig->counters};
    bool disabled = true;
    rig->bot = detect_bot_new(&context, &disabled);
    cr_assert_not_null(rig->bot);
    cr_assert(!disabled);
    struct bus_subscriber subscriber = {.finding = keep_suspect, .context = &rig->suspects};
    cr_assert_eq(bus_subscribe(&rig->bus, subscriber), 0);
}

static void rig_stop(struct rig *rig)
{
    rig->bot->ops->free(rig->bot);
    policy_free(rig->policy);
}

/* Packet time reaches t, as the sensor tells its detectors. */
static void tick(struct rig *rig, double t)
{
    if (seconds(t) >= rig->bot->due)
        rig->bot->ops->advance(rig->bot, seconds(t));
}

/* A blocked attempt: its first SYN at `first`, its record published now. */
static void blocked(struct rig *rig, const char *client, const char *server, double first)
{
    struct attempt_record attempt;
    memset(&attempt, 0, sizeof(attempt));
    cr_assert(address_parse(client, &attempt.flow.src));
    cr_assert(address_parse(server, &attempt.flow.dst));
    attempt.flow.src_port = 40000;
    attempt.flow.dst_port = 25;
    attempt.flow.proto = IPPROTO_NUMBER_TCP;
    attempt.first_seen = seconds(first);
    attempt.last_seen = seconds(first);
    attempt.pool = 0;
    attempt.segment = -1;
    attempt.msa = -1;
    attempt.verdict = VERDICT_BLOCKED;
    attempt.syn_count = 1;
    attempt.close_reason = "syn_timeout";
    bus_attempt(&rig->bus, &attempt);
}

/* A DNS query for the MX of example.com to a resolver that is not the ISP's. */
static void mx_query(struct rig *rig, const char *client, double t)
{
    static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
                                    3,    'c',  'o',  'm',  0,    0x00, 0x0f, 0x00, 0x01};
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.ts = seconds(t);
    packet.ip_version = 4;
    packet.proto = IPPROTO_NUMBER_UDP;
    cr_assert(address_parse(client, &packet.src));
    cr_assert(address_parse("203.0.113.53", &packet.dst));
    packet.src_port = 53000;
    packet.dst_port = 53;
    packet.payload = query;
    packet.payload_length = packet.payload_wire_length = sizeof(query);
    rig->bot->ops->packet(rig->bot, &packet, -1);
}

static void server_name(char *out, size_t size, int i)
{
    snprintf(out, size, "203.0.%d.%d", 113 + i / 250, 1 + i % 250);
}

/* 12 MX queries and 12 blocked SYNs in the 20 s before the window's end: the records come
 * 30 s after each SYN, in the next window, and still count in the SYNs' window, written
 * once its grace (timeouts.syn + 90 s) is over. */
Test(bot_windows, a_burst_before_the_edge_scores_in_its_own_window)
{
    struct rig rig;
    rig_start(&rig, "");
    tick(&rig, 1.0);
    char server[32];
    for (int i = 0; i < 12; i++) {
        tick(&rig, 280.0 + i * 1.5);
        mx_query(&rig, "198.51.100.7", 280.0 + i * 1.5);
    }
    for (int i = 0; i < 12; i++) {
        tick(&rig, 310.5 + i * 1.5);
        server_name(server, sizeof(server), i);
        blocked(&rig, "198.51.100.7", server, 280.5 + i * 1.5);
    }
    tick(&rig, 419.9);
    cr_assert_eq(rig.suspects.count, 0, "written before the grace is over");
    tick(&rig, 420.0);
    cr_assert_eq(rig.suspects.count, 1);
    const struct bot_finding *found = &rig.suspects.found[0];
    cr_assert_eq(found->window_start, seconds(0));
    cr_assert_eq(found->window_end, seconds(300));
    cr_assert_eq(found->features.fanout, 12);
    cr_assert_eq(found->features.attempts, 12);
    cr_assert_eq(found->features.mx_direct, 12);
    cr_assert_float_eq(found->score, 30.0 + 15.0 * 2 / 40 + 25.0 + 4.0, 1e-9);
    rig.bot->ops->finish(rig.bot, seconds(430), "end_of_input");
    cr_assert_eq(rig.suspects.count, 1, "nothing was left for the next window");
    rig_stop(&rig);
}

Test(bot_windows, the_quiet_bot_is_written)
{
    struct rig rig;
    rig_start(&rig, "");
    char server[32];
    tick(&rig, 10.0);
    for (int i = 0; i < 200; i++) {
        double first = 20.0 + i * 0.3;
        tick(&rig, first + 30.0);
        server_name(server, sizeof(server), i);
        blocked(&rig, "198.51.100.8", server, first);
    }
    tick(&rig, 600.0);
    cr_assert_eq(rig.suspects.count, 1);
    cr_assert_eq(rig.suspects.found[0].features.fanout, 200);
    cr_assert_float_eq(rig.suspects.found[0].score, 55.0, 1e-9);
    rig_stop(&rig);
}

/* A record that comes after its window was written (a dialogue that lasted past the
 * grace) counts in the oldest window still open. The end of input writes the window in its
 * grace whole, then the current one, ended early. */
Test(bot_windows, late_records_and_the_end_of_input)
{
    struct rig rig;
    rig_start(&rig, "thresholds: {score: 1}\n");
    tick(&rig, 100.0);
    blocked(&rig, "198.51.100.9", "203.0.113.1", 100.0);
    tick(&rig, 700.0); /* [0, 300) written, [600, 900) current */
    cr_assert_eq(rig.suspects.count, 1);
    blocked(&rig, "198.51.100.9", "203.0.113.2", 250.0);
    tick(&rig, 905.0); /* [600, 900) in its grace */
    blocked(&rig, "198.51.100.9", "203.0.113.3", 890.0);
    blocked(&rig, "198.51.100.9", "203.0.113.4", 901.0);
    rig.bot->ops->finish(rig.bot, seconds(910), "end_of_input");
    cr_assert_eq(rig.suspects.count, 3);
    const struct bot_finding *found = rig.suspects.found;
    cr_assert_eq(found[1].window_start, seconds(600));
    cr_assert_eq(found[1].window_end, seconds(900));
    cr_assert_eq(found[1].features.attempts, 2, "the late record and its own");
    cr_assert_eq(found[2].window_start, seconds(900));
    cr_assert_eq(found[2].window_end, seconds(910));
    cr_assert_eq(found[2].features.attempts, 1);
    rig_stop(&rig);
}

/* A window shorter than the grace waits one window at most: two are open at once. */
Test(bot_windows, a_short_window_waits_one_window)
{
    struct rig rig;
    rig_start(&rig, "thresholds: {window: 60s, score: 1}\n");
    tick(&rig, 10.0);
    tick(&rig, 70.0);
    blocked(&rig, "198.51.100.10", "203.0.113.1", 50.0);
    tick(&rig, 119.0);
    cr_assert_eq(rig.suspects.count, 0);
    tick(&rig, 120.0);
    cr_assert_eq(rig.suspects.count, 1);
    cr_assert_eq(rig.suspects.found[0].window_end, seconds(60));
    rig_stop(&rig);
}

/* Full: the oldest subscriber of the window in its grace goes first, written with its
 * window's true end. */
Test(bot_windows, eviction_takes_the_window_in_its_grace_first)
{
    struct rig rig;
    rig_start(&rig, "limits: {flows: 8}\nthresholds: {score: 1}\n"); /* 64 subscribers */
    char client[32];
    tick(&rig, 1.0);
    for (int i = 0; i < 64; i++) {
        snprintf(client, sizeof(client), "198.51.100.%d", 100 + i);
        blocked(&rig, client, "203.0.113.1", 10.0 + i);
    }
    tick(&rig, 310.0);
    blocked(&rig, "198.51.100.99", "203.0.113.1", 305.0);
    cr_assert_eq(rig.counters.detector_evictions, 1);
    cr_assert_eq(rig.suspects.count, 1);
    cr_assert_eq(rig.suspects.found[0].window_end, seconds(300));
    char text[64];
    address_format(&rig.suspects.found[0].address, text, sizeof(text));
    cr_assert_str_eq(text, "198.51.100.100");
    rig.bot->ops->finish(rig.bot, seconds(320), "end_of_input");
    cr_assert_eq(rig.suspects.count, 65);
    rig_stop(&rig);
}
