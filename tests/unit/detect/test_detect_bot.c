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
    f.fanout = 1000; /* capped at the weight */
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
    /* Everything at once is 100; reported-only features add nothing. */
    f = (struct bot_features){.fanout = 10,
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
    policy_free(policy);
}

Test(bot_score, thresholds_come_from_the_policy)
{
    struct policy *policy =
        policy_with("thresholds: {fanout: 4, mx_direct: 2, attempts: 8, rcpt: 5, score: 70}\n");
    struct bot_features f = {.fanout = 2, .mx_direct = 1, .attempts = 2, .rcpt_accepted = 1};
    cr_assert_float_eq(bot_score(&f, policy), 15.0 + 12.5 + 2.5 + 3.0, 1e-9);
    cr_assert_eq(policy->thresholds.score, 70);
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
