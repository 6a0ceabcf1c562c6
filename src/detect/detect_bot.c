/* bot_suspect: counts features per dynamic subscriber in back-to-back windows of
 * thresholds.window (aligned to multiples of it in packet time), and writes the subscribers
 * whose score reaches thresholds.score when each window ends. Port-25 attempts come from
 * the attempt tracker and SMTP on other ports from the submission family, both as events;
 * MX queries and inbound SMTP are seen in the packets. */
#include "detect/detect_bot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/dns.h"
#include "record/finding.h"
#include "track/flow.h"
#include "proto/smtp.h"
#include "util/window_set.h"

#define SMTP_PORT 25
#define ODD_HELO_KEPT 48
/* An eighth of the attempt table, within these bounds. */
#define SUBSCRIBERS_MIN 64
#define SUBSCRIBERS_MAX (1u << 20)
/* Distinct (subscriber, server) pairs per window: eight per subscriber on average. */
#define PAIRS_PER_SUBSCRIBER 8
#define PAIRS_INITIAL 4096
#define PAIR_KIND 1

/* The weights of the score (rules/README.md); they sum to 100. */
#define WEIGHT_FANOUT 30.0
#define WEIGHT_MX_DIRECT 25.0
#define WEIGHT_RCPT 15.0
#define WEIGHT_ATTEMPTS 10.0
#define WEIGHT_NONSTANDARD 10.0
#define WEIGHT_ODD_HELO 10.0
#define RECEIVES_SMTP_FACTOR 0.5

struct subscriber_record {
    struct address address; /* the first address of the subscriber seen in the window */
    struct bot_features features;
    char odd_helo[ODD_HELO_KEPT]; /* the first odd name */
    uint8_t oddity;               /* enum helo_oddity of that name */
    int16_t pool;
};

struct bot_detector {
    struct detector base;
    const struct policy *policy;
    struct bus *bus;
    struct sensor_counters *counters;
    /* key.client: the subscriber's address or prefix; each entry's record is a
     * subscriber_record. */
    struct flow_table *subscribers;
    struct window_set *pairs;
    packet_time window_end; /* 0 until the first packet */
};

/* The one list of the subscriber table: least recently active first. */
enum { LIST_RECENT = 0 };

static struct bot_detector *of(struct detector *detector)
{
    return (struct bot_detector *)detector;
}

/* ---- Score and names ---- */

/* A feature at or past its threshold scores its whole weight, below it a share. */
static double part(uint32_t value, uint32_t threshold, double weight)
{
    return value >= threshold ? weight : weight * value / threshold;
}

double bot_score(const struct bot_features *features, const struct policy *policy)
{
    double score = part(features->fanout, policy->thresholds.fanout, WEIGHT_FANOUT) +
                   part(features->mx_direct, policy->thresholds.mx_direct, WEIGHT_MX_DIRECT) +
                   part(features->rcpt_accepted, policy->thresholds.rcpt, WEIGHT_RCPT) +
                   part(features->attempts, policy->thresholds.attempts, WEIGHT_ATTEMPTS) +
                   part(features->nonstandard_smtp, 1, WEIGHT_NONSTANDARD) +
                   part(features->odd_helo, 1, WEIGHT_ODD_HELO);
    return features->receives_smtp ? score * RECEIVES_SMTP_FACTOR : score;
}

enum helo_oddity bot_helo_oddity(const char *helo, const struct address *client)
{
    size_t length = strlen(helo);
    struct address named;
    if (length >= 2 && helo[0] == '[' && helo[length - 1] == ']') {
        /* RFC 5321 4.1.3: "[" IPv4 "]" or "[IPv6:" IPv6 "]". */
        char inner[SMTP_HELO_MAX];
        const char *start = helo + 1;
        size_t inner_length = length - 2;
        if (inner_length > 5 && strncasecmp(start, "IPv6:", 5) == 0) {
            start += 5;
            inner_length -= 5;
        }
        if (inner_length >= sizeof(inner))
            return HELO_LITERAL_NOT_SOURCE;
        memcpy(inner, start, inner_length);
        inner[inner_length] = '\0';
        if (address_parse(inner, &named) && address_equal(&named, client))
            return HELO_FINE;
        return HELO_LITERAL_NOT_SOURCE;
    }
    if (address_parse(helo, &named))
        return HELO_BARE_ADDRESS;
    if (strcasecmp(helo, "localhost") == 0 || strcasecmp(helo, "localhost.localdomain") == 0)
        return HELO_LOCALHOST;
    if (length == 0 || strchr(helo, '.') == NULL)
        return HELO_NOT_FQDN;
    return HELO_FINE;
}

const char *helo_oddity_name(enum helo_oddity oddity)
{
    switch (oddity) {
    case HELO_FINE:
        return "fine";
    case HELO_LITERAL_NOT_SOURCE:
        return "literal_not_source";
    case HELO_BARE_ADDRESS:
        return "bare_address";
    case HELO_LOCALHOST:
        return "localhost";
    case HELO_NOT_FQDN:
        return "not_fqdn";
    }
    return "unknown";
}

/* ---- Subscribers ---- */

static void add(uint32_t *counter, uint32_t amount)
{
    *counter = UINT32_MAX - *counter < amount ? UINT32_MAX : *counter + amount;
}

static void emit(struct bot_detector *detector, const struct subscriber_record *record,
                 const struct address *key, packet_time start, packet_time end)
{
    const struct policy *policy = detector->policy;
    double score = bot_score(&record->features, policy);
    if (score < policy->thresholds.score)
        return;
    struct finding finding;
    finding_init(&finding, EVENT_BOT_SUSPECT, end);
    finding.pool = record->pool;
    finding_set_key(&finding, key);
    struct bot_finding *out = &finding.as.bot;
    out->address = record->address;
    out->subscriber = policy_subscriber(policy, record->pool, key);
    if (key->family != ADDRESS_V6)
        out->subscriber.address = *key;
    out->window_start = start;
    out->window_end = end;
    out->score = score;
    out->score_threshold = policy->thresholds.score;
    out->features = record->features;
    if (record->features.odd_helo > 0) {
        snprintf(out->odd_helo, sizeof(out->odd_helo), "%s", record->odd_helo);
        out->odd_helo_kind = helo_oddity_name((enum helo_oddity)record->oddity);
    }
    bus_finding(detector->bus, &finding);
}

static void key_address(const struct flow *entry, struct address *key)
{
    key->family = entry->key.family;
    memcpy(key->bytes, entry->key.client, sizeof(key->bytes));
}

/* Writes the window's suspects, least recently active first, and forgets the window. */
static void close_window(struct bot_detector *detector, packet_time end)
{
    packet_time start = detector->window_end - detector->policy->thresholds.window;
    struct flow *entry;
    while ((entry = flow_list_head(detector->subscribers, LIST_RECENT)) != NULL) {
        struct address key;
        key_address(entry, &key);
        emit(detector, flow_record(entry), &key, start,
             end);
        flow_remove(detector->subscribers, entry);
    }
    window_set_clear(detector->pairs);
}

static void roll_window(struct bot_detector *detector, packet_time now)
{
    packet_time window = detector->policy->thresholds.window;
    if (detector->window_end != 0 && now < detector->window_end)
        return;
    if (detector->window_end != 0)
        close_window(detector, detector->window_end);
    detector->window_end = (now / window + 1) * window;
}

static struct subscriber_record *subscriber_of(struct bot_detector *detector,
                                               const struct address *address, int pool,
                                               packet_time now, struct address *key)
{
    roll_window(detector, now);
    struct prefix prefix = policy_subscriber(detector->policy, pool, address);
    *key = prefix.address;
    struct flow_key flow_key;
    flow_key_make(&flow_key, 0, key, NULL, 0, 0);
    uint32_t hash = flow_key_hash(&flow_key);
    struct flow *entry = flow_lookup(detector->subscribers, &flow_key, hash);
    if (entry == NULL) {
        entry = flow_insert(detector->subscribers, &flow_key, hash);
        if (entry == NULL) {
            /* Full: the least recently active goes, written out first if it already
             * scores, so a suspect is never lost to the bound. */
            struct flow *oldest = flow_list_head(detector->subscribers, LIST_RECENT);
            struct address oldest_key;
            key_address(oldest, &oldest_key);
            detector->counters->detector_evictions++;
            emit(detector, flow_record(oldest),
                 &oldest_key, detector->window_end - detector->policy->thresholds.window, now);
            flow_remove(detector->subscribers, oldest);
            entry = flow_insert(detector->subscribers, &flow_key, hash);
        }
        struct subscriber_record *record =
            flow_record(entry);
        memset(record, 0, sizeof(*record));
        record->address = *address;
        record->pool = (int16_t)pool;
    }
    flow_list_append(detector->subscribers, entry, LIST_RECENT);
    return flow_record(entry);
}

static bool is_dynamic(const struct policy *policy, int pool)
{
    return pool >= 0 && (size_t)pool < policy->pool_count &&
           policy->pools[pool].type == POOL_DYNAMIC;
}

/* ---- What is counted ---- */

static void count_helo(struct subscriber_record *record, const struct smtp_facts *smtp,
                       const struct address *client)
{
    if (!smtp->helo_seen)
        return;
    enum helo_oddity oddity = bot_helo_oddity(smtp->helo, client);
    if (oddity == HELO_FINE)
        return;
    if (record->features.odd_helo == 0) {
        snprintf(record->odd_helo, sizeof(record->odd_helo), "%.*s",
                 (int)sizeof(record->odd_helo) - 1, smtp->helo);
        record->oddity = (uint8_t)oddity;
    }
    add(&record->features.odd_helo, 1);
}

static void count_attempt(struct bot_detector *detector, const struct attempt_record *attempt)
{
    /* Submission to the ISP's own MSA is what subscribers are meant to do. */
    if (attempt->to_designated_msa || !is_dynamic(detector->policy, attempt->pool))
        return;
    const struct address *client = &attempt->flow.src;
    struct address key;
    struct subscriber_record *record =
        subscriber_of(detector, client, attempt->pool, attempt->last_seen, &key);
    struct bot_features *features = &record->features;
    const struct smtp_facts *smtp = attempt->smtp;
    /* A 4xx and nothing delivered: greylisting, which a real MTA retries; not an attempt
     * of its own. */
    if (smtp != NULL && smtp->replies_4xx > 0 && smtp->rcpt_accepted == 0 &&
        smtp->messages_accepted == 0)
        add(&features->deferred, 1);
    else
        add(&features->attempts, 1);
    uint8_t pair[2][16];
    memcpy(pair[0], key.bytes, 16);
    memcpy(pair[1], attempt->flow.dst.bytes, 16);
    enum window_set_result added =
        window_set_add(detector->pairs, window_set_hash(PAIR_KIND, pair, sizeof(pair)));
    if (added == WINDOW_SET_ADDED) {
        add(&features->fanout, 1);
    } else if (added == WINDOW_SET_FULL) {
        features->fanout_capped = true;
        detector->counters->detector_exhausted++;
    }
    if (smtp == NULL)
        return;
    add(&features->rcpt_accepted, smtp->rcpt_accepted);
    add(&features->rcpt_rejected, smtp->rcpt_rejected);
    add(&features->messages, smtp->messages_accepted);
    count_helo(record, smtp, client);
}

/* A dialogue on another port that authenticated is a user on an alternative submission
 * port (2525 is common), not a relay: it is reported, but not scored. */
static void count_nonstandard(struct bot_detector *detector, const struct finding *finding)
{
    if (!finding->has_flow || !is_dynamic(detector->policy, finding->pool) ||
        finding->as.submission.smtp.auth_success)
        return;
    struct address key;
    struct subscriber_record *record =
        subscriber_of(detector, &finding->flow.src, finding->pool, finding->ts, &key);
    add(&record->features.nonstandard_smtp, 1);
}

static void on_attempt(void *context, const struct attempt_record *attempt)
{
    count_attempt(context, attempt);
}

static void on_finding(void *context, const struct finding *finding)
{
    if (finding->type == EVENT_NONSTANDARD_PORT_SMTP)
        count_nonstandard(context, finding);
}

static void count_packet(struct bot_detector *detector, const struct packet *packet)
{
    const struct policy *policy = detector->policy;
    bool mx_candidate = packet->proto == IPPROTO_NUMBER_UDP && packet->dst_port == DNS_PORT;
    /* The subscriber answers a SYN on port 25: it runs a mail server of its own. */
    bool answers_smtp = packet->proto == IPPROTO_NUMBER_TCP && packet->src_port == SMTP_PORT &&
                        (packet->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
    if (!mx_candidate && !answers_smtp)
        return;
    if (mx_candidate && policy_is_resolver(policy, &packet->dst))
        return;
    int pool = policy_pool_of(policy, &packet->src);
    if (!is_dynamic(policy, pool))
        return;
    struct dns_question question;
    if (mx_candidate &&
        (dns_parse_query(packet->payload, packet->payload_length, &question) != DNS_OK ||
         !question.asks_mx))
        return;
    struct address key;
    struct subscriber_record *record =
        subscriber_of(detector, &packet->src, pool, packet->ts, &key);
    if (mx_candidate)
        add(&record->features.mx_direct, 1);
    else
        record->features.receives_smtp = true;
}

/* ---- Detector ---- */

static void bot_packet(struct detector *base, const struct packet *packet, int segment)
{
    (void)segment;
    count_packet(of(base), packet);
}

static void bot_advance(struct detector *base, packet_time now)
{
    roll_window(of(base), now);
    base->due = of(base)->window_end;
}

static void bot_finish(struct detector *base, packet_time now, const char *reason)
{
    (void)reason;
    struct bot_detector *detector = of(base);
    if (detector->window_end != 0)
        close_window(detector, now);
}

static void bot_free(struct detector *base)
{
    struct bot_detector *detector = of(base);
    if (detector == NULL)
        return;
    flow_table_free(detector->subscribers);
    window_set_free(detector->pairs);
    free(detector);
}

static const struct detector_ops bot_ops = {
    .name = "bot",
    .packet = bot_packet,
    .advance = bot_advance,
    .finish = bot_finish,
    .free = bot_free,
};

struct detector *detect_bot_new(const struct detector_context *context, bool *disabled)
{
    const struct policy *policy = context->policy;
    *disabled = false;
    struct bot_detector *detector = calloc(1, sizeof(*detector));
    if (detector == NULL)
        return NULL;
    detector->base.ops = &bot_ops;
    detector->policy = policy;
    detector->bus = context->bus;
    detector->counters = context->counters;
    uint32_t capacity = policy->limits.flows / 8;
    capacity = capacity < SUBSCRIBERS_MIN   ? SUBSCRIBERS_MIN
               : capacity > SUBSCRIBERS_MAX ? SUBSCRIBERS_MAX
                                            : capacity;
    detector->subscribers = flow_table_new(capacity, sizeof(struct subscriber_record));
    detector->pairs = window_set_new(PAIRS_INITIAL, capacity * PAIRS_PER_SUBSCRIBER);
    if (detector->subscribers == NULL || detector->pairs == NULL)
        goto fail;
    struct bus_subscriber subscriber = {
        .attempt = on_attempt, .finding = on_finding, .context = detector};
    if (bus_subscribe(context->bus, subscriber) != 0)
        goto fail;
    return &detector->base;

fail:
    bot_free(&detector->base);
    return NULL;
}

/* ---- Ranking ---- */

struct bot_ranking {
    size_t size;
    size_t count;
    struct bot_rank *ranks; /* kept sorted, best first */
};

struct bot_ranking *bot_ranking_new(size_t size)
{
    struct bot_ranking *ranking = calloc(1, sizeof(*ranking));
    if (ranking == NULL)
        return NULL;
    ranking->size = size > 0 ? size : 1;
    ranking->ranks = calloc(ranking->size, sizeof(struct bot_rank));
    if (ranking->ranks == NULL) {
        free(ranking);
        return NULL;
    }
    return ranking;
}

void bot_ranking_free(struct bot_ranking *ranking)
{
    if (ranking == NULL)
        return;
    free(ranking->ranks);
    free(ranking);
}

static bool ranks_before(const struct bot_rank *a, const struct bot_rank *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->windows != b->windows)
        return a->windows > b->windows;
    return strcmp(a->subscriber, b->subscriber) < 0;
}

/* Moves the rank at index to where the order puts it. */
static void resort(struct bot_ranking *ranking, size_t index)
{
    struct bot_rank moving = ranking->ranks[index];
    while (index > 0 && ranks_before(&moving, &ranking->ranks[index - 1])) {
        ranking->ranks[index] = ranking->ranks[index - 1];
        index--;
    }
    while (index + 1 < ranking->count && ranks_before(&ranking->ranks[index + 1], &moving)) {
        ranking->ranks[index] = ranking->ranks[index + 1];
        index++;
    }
    ranking->ranks[index] = moving;
}

static void rank_suspect(struct bot_ranking *ranking, const struct finding *finding)
{
    const struct bot_finding *bot = &finding->as.bot;
    char subscriber[PREFIX_TEXT_MAX];
    if (bot->subscriber.address.family == ADDRESS_V6)
        prefix_format(&bot->subscriber, subscriber, sizeof(subscriber));
    else
        address_format(&bot->subscriber.address, subscriber, sizeof(subscriber));
    double score = bot->score;
    size_t index = 0;
    while (index < ranking->count && strcmp(ranking->ranks[index].subscriber, subscriber) != 0)
        index++;
    if (index == ranking->count) {
        /* The lowest score on a full list only rises, so a subscriber that never made
         * it, or fell off it, belongs there only with a higher score than the last. */
        if (ranking->count == ranking->size) {
            if (score <= ranking->ranks[ranking->count - 1].score)
                return;
            ranking->count--;
        }
        index = ranking->count++;
        struct bot_rank *rank = &ranking->ranks[index];
        memset(rank, 0, sizeof(*rank));
        snprintf(rank->subscriber, sizeof(rank->subscriber), "%s", subscriber);
        rank->pool = finding->pool;
    }
    struct bot_rank *rank = &ranking->ranks[index];
    rank->windows++;
    if (score > rank->score || rank->windows == 1) {
        rank->score = score;
        rank->ts = finding->ts;
    }
    resort(ranking, index);
}

static void ranking_finding(void *context, const struct finding *finding)
{
    if (finding->type == EVENT_BOT_SUSPECT)
        rank_suspect(context, finding);
}

int bot_ranking_attach(struct bot_ranking *ranking, struct bus *bus)
{
    struct bus_subscriber subscriber = {.finding = ranking_finding, .context = ranking};
    return bus_subscribe(bus, subscriber);
}

size_t bot_ranking_top(const struct bot_ranking *ranking, const struct bot_rank **ranks)
{
    *ranks = ranking->ranks;
    return ranking->count;
}
