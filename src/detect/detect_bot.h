/* Infected subscribers (bot_suspect): per dynamic subscriber (an IPv4
 * address, or the pool's ipv6_subscriber_length prefix) and per thresholds.window, the
 * features of direct-to-MX spamming are counted and scored; a subscriber whose score
 * reaches thresholds.score is written out once per window with the score and every feature.
 * The formula is in rules/README.md; bot_score() is it. */
#ifndef OP25B_DETECT_BOT_H
#define OP25B_DETECT_BOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/address.h"
#include "detect/detector.h"
#include "record/bus.h"
#include "record/finding.h"
#include "policy/policy.h"
#include "policy/prefix.h"

/* Score 0..100 (rules/README.md): sum of weight x min(1, feature / threshold), plus a share
 * of 15 for a fan-out past thresholds.fanout up to five times it, at most 100; halved for a
 * subscriber that also receives SMTP: a self-hosted MTA, not a bot, also sends to many MXs.
 * One pure function of the features and the policy's thresholds. */
double bot_score(const struct bot_features *features, const struct policy *policy);

/* How long past its end a window waits for the records of the connections that began in
 * it before it is written: timeouts.syn + 90 s (a blocked stack's SYN retries), one window
 * at most. The msa_abuse windows wait as long, so their findings reach the bot score of
 * the same window. */
packet_time bot_window_grace(const struct policy *policy);

/* RFC 5321 4.1.1.1 and 4.1.3: EHLO names a fully qualified domain, or the client's own
 * address as a literal. What a bot says instead: */
enum helo_oddity {
    HELO_FINE = 0,
    HELO_LITERAL_NOT_SOURCE, /* [a.b.c.d] or [IPv6:...] that is not the client's address */
    HELO_BARE_ADDRESS,       /* an address without the brackets a literal needs */
    HELO_LOCALHOST,          /* localhost, localhost.localdomain */
    HELO_NOT_FQDN,           /* one label (no dot) or empty: a random or machine name */
};
enum helo_oddity bot_helo_oddity(const char *helo, const struct address *client);
const char *helo_oddity_name(enum helo_oddity oddity);

struct detector *detect_bot_new(const struct detector_context *context, bool *disabled);

/* The final summary's top suspects: a subscriber to bot_suspect findings that keeps the
 * highest-scoring subscribers of the whole run. The run loop makes one, attaches it to the
 * bus before the sensor starts, and prints bot_ranking_top() at the end. */
struct bot_rank {
    char subscriber[PREFIX_TEXT_MAX]; /* "198.51.100.7" or "2001:db8:1:2::/64" */
    double score;                     /* the highest of its windows */
    packet_time ts;                   /* the event that scored it */
    uint32_t windows;                 /* bot_suspect windows seen while it was ranked */
    int pool;                         /* index in policy.pools, or -1 */
};

struct bot_ranking;

struct bot_ranking *bot_ranking_new(size_t size);
void bot_ranking_free(struct bot_ranking *ranking);
int bot_ranking_attach(struct bot_ranking *ranking, struct bus *bus);
/* The ranking's order: a before b (a higher score, then more windows, then the name). */
bool bot_rank_before(const struct bot_rank *a, const struct bot_rank *b);
/* The ranked subscribers, best first (score, then windows, then name); returns the count. */
size_t bot_ranking_top(const struct bot_ranking *ranking, const struct bot_rank **ranks);

#endif
