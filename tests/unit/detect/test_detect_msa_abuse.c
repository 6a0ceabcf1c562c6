#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "detect/detect_bot.h"
#include "detect/detect_msa_abuse.h"
#include "record/finding.h"
#include "record/finding_fields.h"

#define T0 ((packet_time)1768467600 * PACKET_TIME_SECOND) /* a multiple of 300 s */
#define FOUND_MAX 64

static packet_time seconds(double s)
{
    return T0 + (packet_time)(s * PACKET_TIME_SECOND);
}

struct found {
    struct finding items[FOUND_MAX];
    size_t count;
    size_t total; /* msa_abuse findings, kept or not */
    size_t bots;
    struct bot_finding bot[FOUND_MAX];
};

static void keep(void *context, const struct finding *finding)
{
    struct found *found = context;
    if (finding->type == EVENT_MSA_ABUSE && found->count < FOUND_MAX)
        found->items[found->count++] = *finding;
    if (finding->type == EVENT_MSA_ABUSE)
        found->total++;
    if (finding->type == EVENT_BOT_SUSPECT && found->bots < FOUND_MAX)
        found->bot[found->bots++] = finding->as.bot;
}

struct rig {
    struct policy *policy;
    struct bus bus;
    struct sensor_counters counters;
    struct msa_abuse *abuse;
    struct detector *bot; /* NULL unless asked for */
    struct found found;
};

static void rig_start(struct rig *rig, const char *extra, bool with_bot)
{
    memset(rig, 0, sizeof(*rig));
    char text[2048];
    snprintf(text, sizeof(text),
             "sensor: {name: s, position: edge-side}\n"
             "own_prefixes: [198.51.100.0/22, 2001:db8:1000::/36]\n"
             "pools:\n"
             "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24, 2001:db8:1000::/40]}\n"
             "  - {name: b, type: static, prefixes: [198.51.101.0/24]}\n"
             "msas:\n"
             "  - {name: isp-msa, prefixes: [192.0.2.25/32], ports: [25, 587, 465]}\n"
             "%s",
             extra);
    char error[512];
    rig->policy = policy_load_text("t.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(rig->policy, "%s", error);
    bus_init(&rig->bus);
    if (with_bot) {
        struct detector_context context = {
            .policy = rig->policy, .bus = &rig->bus, .counters = &rig->counters};
        bool disabled;
        rig->bot = detect_bot_new(&context, &disabled);
        cr_assert_not_null(rig->bot);
    }
    struct bus_subscriber subscriber = {.finding = keep, .context = &rig->found};
    cr_assert_eq(bus_subscribe(&rig->bus, subscriber), 0);
    rig->abuse = msa_abuse_new(rig->policy, &rig->bus, &rig->counters);
    cr_assert_not_null(rig->abuse);
}

static void rig_stop(struct rig *rig)
{
    msa_abuse_free(rig->abuse);
    if (rig->bot != NULL)
        rig->bot->ops->free(rig->bot);
    policy_free(rig->policy);
}

/* Packet time reaches t: the submission family advances the counts, then the bot score
 * runs, as the sensor calls them in the registry's order. */
static void tick(struct rig *rig, double t)
{
    if (seconds(t) >= msa_abuse_next_deadline(rig->abuse))
        msa_abuse_advance(rig->abuse, seconds(t));
    if (rig->bot != NULL && seconds(t) >= rig->bot->due)
        rig->bot->ops->advance(rig->bot, seconds(t));
}

static struct msa_connection connection(const char *client, uint16_t port, double first,
                                        double last)
{
    struct msa_connection c;
    memset(&c, 0, sizeof(c));
    cr_assert(address_parse(client, &c.client));
    c.pool = strncmp(client, "198.51.101.", 11) == 0 ? 1 : 0;
    c.msa = 0;
    c.port = port;
    c.first_seen = seconds(first);
    c.last_seen = seconds(last);
    return c;
}

/* A dialogue read in the clear: AUTH refused, or recipients, or quota replies. */
static struct smtp_facts clear_dialogue(uint32_t auth_rejected, uint32_t rcpt, uint32_t replies_421,
                                        uint32_t replies_452)
{
    struct smtp_facts smtp;
    memset(&smtp, 0, sizeof(smtp));
    smtp.banner_seen = true;
    smtp.banner_code = 220;
    smtp.auth_attempted = auth_rejected > 0;
    smtp.auth_failed = auth_rejected > 0;
    smtp.auth_rejected = auth_rejected;
    smtp.rcpt_count = rcpt;
    smtp.replies_421 = replies_421;
    smtp.replies_452 = replies_452;
    return smtp;
}

static bool has_reason(const struct finding *finding, enum msa_abuse_reason reason)
{
    return (finding->as.msa_abuse.reasons & (1u << reason)) != 0;
}

Test(msa_abuse, a_password_guesser_in_the_clear)
{
    struct rig rig;
    rig_start(&rig, "", false);
    struct smtp_facts refused = clear_dialogue(1, 0, 0, 0);
    for (int i = 0; i < 12; i++) {
        struct msa_connection c = connection("198.51.100.7", 587, 10.0 + i * 4, 11.5 + i * 4);
        c.client_bytes = 120;
        c.smtp = &refused;
        tick(&rig, 11.5 + i * 4);
        msa_abuse_connection(rig.abuse, &c);
    }
    /* Written bot_window_grace() after the window's end (30 + 90 s), not before. */
    tick(&rig, 300.0);
    tick(&rig, 419.9);
    cr_assert_eq(rig.found.count, 0);
    tick(&rig, 420.0);
    cr_assert_eq(rig.found.count, 1);
    const struct finding *f = &rig.found.items[0];
    const struct msa_abuse_finding *a = &f->as.msa_abuse;
    cr_assert_eq(f->ts, seconds(300));
    cr_assert_eq(a->window_start, seconds(0));
    cr_assert_eq(a->window_end, seconds(300));
    cr_assert_eq(a->connections, 12);
    cr_assert_eq(a->connections_587, 12);
    cr_assert_eq(a->auth_failures, 12);
    cr_assert_eq(a->clear_dialogues, 12);
    cr_assert_eq(a->tls_connections, 0);
    cr_assert_eq(a->peak_concurrency, 1, "one after the other");
    cr_assert_eq(a->msa, 0);
    cr_assert(has_reason(f, MSA_ABUSE_AUTH_FAILURES));
    cr_assert(!has_reason(f, MSA_ABUSE_CONNECTIONS) && !has_reason(f, MSA_ABUSE_CONCURRENCY));
    cr_assert_str_eq(msa_abuse_reason_name(MSA_ABUSE_AUTH_FAILURES), "auth_failures");
    char text[64];
    address_format(&a->subscriber.address, text, sizeof(text));
    cr_assert_str_eq(text, "198.51.100.7");
    rig_stop(&rig);
}

/* Under STARTTLS nothing of the login can be read: a run of short connections of one size
 * is taken for failed logins. */
Test(msa_abuse, a_password_guesser_under_tls)
{
    struct rig rig;
    rig_start(&rig, "", false);
    for (int i = 0; i < 15; i++) {
        struct msa_connection c = connection("198.51.100.8", 587, 10.0 + i * 5, 12.0 + i * 5);
        c.tls = true;
        c.client_bytes = 1480 + (uint32_t)(i % 5) * 8; /* passwords of different lengths */
        tick(&rig, 12.0 + i * 5);
        msa_abuse_connection(rig.abuse, &c);
    }
    /* A real user's submissions beside: long messages, each of its own size. */
    for (int i = 0; i < 5; i++) {
        struct msa_connection c = connection("198.51.100.9", 587, 20.0 + i * 30, 23.0 + i * 30);
        c.tls = true;
        c.client_bytes = 1500 + (uint32_t)i * 7000;
        msa_abuse_connection(rig.abuse, &c);
    }
    msa_abuse_finish(rig.abuse, seconds(200));
    cr_assert_eq(rig.found.count, 1);
    const struct msa_abuse_finding *a = &rig.found.items[0].as.msa_abuse;
    char text[64];
    address_format(&a->address, text, sizeof(text));
    cr_assert_str_eq(text, "198.51.100.8");
    cr_assert_eq(a->tls_connections, 15);
    cr_assert_eq(a->tls_short, 15);
    cr_assert_eq(a->tls_similar, 15);
    cr_assert_eq(a->tls_similar_bytes, 1480);
    cr_assert_eq(a->auth_failures, 0, "none could be read");
    cr_assert(has_reason(&rig.found.items[0], MSA_ABUSE_TLS_GUESSING));
    cr_assert_eq(a->window_end, seconds(200), "the input ended the window early");
    rig_stop(&rig);
}

/* Alike sizes hidden among others: the guesser's group survives the Misra-Gries count. */
Test(msa_abuse, alike_sizes_among_many_others)
{
    struct rig rig;
    rig_start(&rig, "thresholds: {msa_abuse: {connections: 1000}}\n", false);
    for (int i = 0; i < 60; i++) {
        struct msa_connection c = connection("198.51.100.10", 465, 10.0 + i, 11.0 + i);
        c.tls = true;
        c.client_bytes = i % 3 == 0 ? 2000 : 3000 + (uint32_t)i * 80;
        msa_abuse_connection(rig.abuse, &c);
    }
    msa_abuse_finish(rig.abuse, seconds(100));
    cr_assert_eq(rig.found.count, 1);
    const struct msa_abuse_finding *a = &rig.found.items[0].as.msa_abuse;
    cr_assert_eq(a->connections_465, 60);
    cr_assert_geq(a->tls_similar, 10);
    cr_assert_leq(a->tls_similar, 20);
    cr_assert_eq(a->tls_similar_bytes, 2000);
    rig_stop(&rig);
}

Test(msa_abuse, concurrency_connections_and_what_is_not_counted)
{
    struct rig rig;
    rig_start(&rig, "", false);
    /* Ten at once, however they close. */
    for (int i = 0; i < 10; i++) {
        struct msa_connection c = connection("198.51.100.11", 25, 10.0 + i * 0.1, 60.0 - i);
        msa_abuse_connection(rig.abuse, &c);
    }
    /* Nine at once: below. */
    for (int i = 0; i < 9; i++) {
        struct msa_connection c = connection("198.51.100.12", 587, 10.0 + i * 0.1, 20.0);
        msa_abuse_connection(rig.abuse, &c);
    }
    /* Thirty in a row: connections. */
    for (int i = 0; i < 30; i++) {
        struct msa_connection c = connection("198.51.100.13", 587, 10.0 + i * 2, 11.0 + i * 2);
        msa_abuse_connection(rig.abuse, &c);
    }
    /* A static line and a server that is no MSA: never counted. */
    for (int i = 0; i < 40; i++) {
        struct msa_connection c = connection("198.51.101.5", 587, 10.0 + i, 10.5 + i);
        msa_abuse_connection(rig.abuse, &c);
        c = connection("198.51.100.14", 587, 10.0 + i, 10.5 + i);
        c.msa = -1;
        msa_abuse_connection(rig.abuse, &c);
    }
    msa_abuse_finish(rig.abuse, seconds(290));
    cr_assert_eq(rig.found.count, 2);
    const struct finding *first = &rig.found.items[0], *second = &rig.found.items[1];
    cr_assert_eq(first->as.msa_abuse.peak_concurrency, 10);
    cr_assert_eq(first->as.msa_abuse.connections_25, 10);
    cr_assert(has_reason(first, MSA_ABUSE_CONCURRENCY));
    cr_assert_eq(second->as.msa_abuse.connections, 30);
    cr_assert_eq(second->as.msa_abuse.peak_concurrency, 1);
    cr_assert(has_reason(second, MSA_ABUSE_CONNECTIONS));
    cr_assert(!has_reason(second, MSA_ABUSE_CONCURRENCY));
    rig_stop(&rig);
}

Test(msa_abuse, quota_replies_recipients_and_the_policy)
{
    struct rig rig;
    rig_start(&rig, "thresholds: {msa_abuse: {rcpt: 40, quota_replies: 2}}\n", false);
    struct smtp_facts bulk = clear_dialogue(0, 20, 0, 0);
    struct smtp_facts over = clear_dialogue(0, 5, 1, 1);
    struct msa_connection c = connection("198.51.100.15", 587, 10.0, 12.0);
    c.smtp = &bulk;
    msa_abuse_connection(rig.abuse, &c);
    c.first_seen = seconds(20.0);
    msa_abuse_connection(rig.abuse, &c);
    c = connection("198.51.100.16", 587, 10.0, 12.0);
    c.smtp = &over;
    msa_abuse_connection(rig.abuse, &c);
    c = connection("198.51.100.17", 587, 10.0, 12.0);
    c.smtp = &bulk;
    msa_abuse_connection(rig.abuse, &c);
    msa_abuse_finish(rig.abuse, seconds(100));
    cr_assert_eq(rig.found.count, 2);
    cr_assert_eq(rig.found.items[0].as.msa_abuse.rcpt, 40);
    cr_assert(has_reason(&rig.found.items[0], MSA_ABUSE_RCPT));
    cr_assert_eq(rig.found.items[1].as.msa_abuse.quota_replies, 2);
    cr_assert(has_reason(&rig.found.items[1], MSA_ABUSE_QUOTA_REPLIES));
    cr_assert_eq(rig.policy->thresholds.msa_abuse.connections, 30, "the default");
    rig_stop(&rig);
}

/* An IPv6 subscriber is its /64: two of its addresses add up. */
Test(msa_abuse, an_ipv6_subscriber_is_its_prefix)
{
    struct rig rig;
    rig_start(&rig, "", false);
    struct smtp_facts refused = clear_dialogue(1, 0, 0, 0);
    for (int i = 0; i < 10; i++) {
        struct msa_connection c = connection(i % 2 ? "2001:db8:1000:5::a" : "2001:db8:1000:5::b",
                                             587, 10.0 + i, 10.5 + i);
        c.smtp = &refused;
        msa_abuse_connection(rig.abuse, &c);
    }
    msa_abuse_finish(rig.abuse, seconds(100));
    cr_assert_eq(rig.found.count, 1);
    char text[64];
    prefix_format(&rig.found.items[0].as.msa_abuse.subscriber, text, sizeof(text));
    cr_assert_str_eq(text, "2001:db8:1000:5::/64");
    address_format(&rig.found.items[0].key, text, sizeof(text));
    cr_assert_str_eq(text, "2001:db8:1000:5::");
    rig_stop(&rig);
}

/* Full: a subscriber is given up, counted, and written first when it already qualifies. */
Test(msa_abuse, a_full_table_evicts_and_counts)
{
    struct rig rig;
    rig_start(&rig, "limits: {flows: 8}\nthresholds: {msa_abuse: {connections: 1}}\n", false);
    char client[64];
    for (int i = 0; i < 257; i++) {
        snprintf(client, sizeof(client), "2001:db8:1000:%x::1", i);
        struct msa_connection c = connection(client, 587, 10.0, 10.5);
        msa_abuse_connection(rig.abuse, &c);
    }
    cr_assert_eq(rig.counters.detector_evictions, 1);
    cr_assert_eq(rig.found.count, 1, "the evicted one qualified: written at once");
    msa_abuse_finish(rig.abuse, seconds(20));
    cr_assert_eq(rig.found.total, 257);
    rig_stop(&rig);
}

/* The bot score hears of the finding before it writes the same window: msa_abuse adds 15,
 * and beside 30 blocked SYNs to 10 servers (40, below the threshold alone) the subscriber
 * is a suspect. */
Test(msa_abuse, the_bot_score_counts_the_finding_in_its_window)
{
    struct rig rig;
    rig_start(&rig, "", true);
    tick(&rig, 1.0);
    struct smtp_facts refused = clear_dialogue(1, 0, 0, 0);
    for (int i = 0; i < 10; i++) {
        struct msa_connection c = connection("198.51.100.20", 587, 250.0 + i, 250.5 + i);
        c.smtp = &refused;
        msa_abuse_connection(rig.abuse, &c);
    }
    for (int i = 0; i < 30; i++) {
        struct attempt_record attempt;
        memset(&attempt, 0, sizeof(attempt));
        cr_assert(address_parse("198.51.100.20", &attempt.flow.src));
        char server[32];
        snprintf(server, sizeof(server), "203.0.113.%d", 1 + i % 10);
        cr_assert(address_parse(server, &attempt.flow.dst));
        attempt.flow.dst_port = 25;
        attempt.first_seen = attempt.last_seen = seconds(260.0 + i * 0.5);
        attempt.pool = 0;
        attempt.segment = -1;
        attempt.msa = -1;
        attempt.verdict = VERDICT_BLOCKED;
        bus_attempt(&rig.bus, &attempt);
    }
    tick(&rig, 300.0);
    tick(&rig, 420.0);
    cr_assert_eq(rig.found.count, 1);
    cr_assert_eq(rig.found.bots, 1);
    cr_assert_eq(rig.found.bot[0].features.msa_abuse, 1);
    cr_assert_eq(rig.found.bot[0].window_end, seconds(300));
    cr_assert_eq(rig.found.bot[0].features.fanout, 10);
    cr_assert_eq(rig.found.bot[0].features.attempts, 30);
    cr_assert_float_eq(rig.found.bot[0].score, 30.0 + 10.0 + 15.0, 1e-9);
    rig_stop(&rig);
}
