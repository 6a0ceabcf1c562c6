/* bot_suspect: counts features per dynamic subscriber in back-to-back windows of
 * thresholds.window (aligned to multiples of it in packet time), and writes the subscribers
 * whose score reaches thresholds.score once each window is over. Port-25 attempts come from
 * the attempt tracker, SMTP on other ports and msa_abuse windows from the submission family,
 * all as records published when they are over; MX queries and inbound SMTP are seen in the
 * packets.
 *
 * Every feature is counted in the window of the packet that shows it: a packet's in the
 * window of its time, an attempt's (and everything its dialogue showed) in the window of
 * its first SYN, a nonstandard_port_smtp finding's in the window its connection began. An
 * attempt's record comes after its last SYN and timeouts.syn more, so a window stays open
 * for records a grace period past its end (two windows are open at once, the current one
 * and the one before it) and is written when the grace is over. */
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

/* The weights of the score; rules/README.md ("The bot_suspect score") says why each is
 * what it is. They sum to 130 and the score stops at 100: no bot shows every sign (a
 * blocked one shows no dialogue), so a score need not. */
#define WEIGHT_FANOUT 30.0
/* Fan-out past thresholds.fanout, up to SPRAY_FACTOR times it: enough with the attempts
 * for a spray of blocked SYNs alone to reach 50 (30 + 15 + 10 = 55), too little for the
 * volume an MTA explains (fan-out, spray, MX queries, recipients, attempts: 95) to reach it
 * once halved. */
#define WEIGHT_SPRAY 15.0
#define SPRAY_FACTOR 5
#define WEIGHT_MX_DIRECT 25.0
#define WEIGHT_RCPT 15.0
#define WEIGHT_ATTEMPTS 10.0
#define WEIGHT_NONSTANDARD 10.0
#define WEIGHT_ODD_HELO 10.0
/* An msa_abuse finding of the subscriber for the window: draft 3.3's pattern I, mail (or
 * guessed passwords) through the ISP's own MSA, weighed as rcpt_accepted is (what gets
 * through). Never a bot_suspect alone: msa_abuse is its own finding. */
#define WEIGHT_MSA_ABUSE 15.0
#define SCORE_MAX 100.0
#define RECEIVES_SMTP_FACTOR 0.5

/* How long after its first SYN a blocked attempt may still be retransmitting: Linux's
 * default of six retries ends 63 s after the first SYN (1 + 2 + 4 + 8 + 16 + 32), the
 * longest of the common stacks; rounded up for the slack of real timers. A window waits
 * this plus timeouts.syn past its end for the records of the attempts that began in it
 * (two minutes with the defaults), or one window at most. The tracker writes a backing-off
 * attempt the larger of timeouts.syn and its 40 s backoff hold after the last SYN
 * (track/attempt.c): 103 s for Linux, inside the two minutes. */
#define SYN_RETRIES_SPAN (90 * PACKET_TIME_SECOND)

struct subscriber_record {
    struct address address; /* the first address of the subscriber seen in the window */
    struct bot_features features;
    char odd_helo[ODD_HELO_KEPT]; /* the first odd name */
    uint8_t oddity;               /* enum helo_oddity of that name */
    int16_t pool;
};

/* A window that is open: the current one, or the one before it during its grace. */
struct bot_window {
    packet_time end;          /* 0: not open */
    struct window_set *pairs; /* the (subscriber, server) pairs counted in it */
};

struct bot_detector {
    struct detector base;
    const struct policy *policy;
    struct bus *bus;
    struct sensor_counters *counters;
    /* key.client: the subscriber's address or prefix, key.proto: its window's index in
     * windows[] plus one; each entry's record is a subscriber_record, on the list of its
     * window (the list's index is the window's), least recently active first. */
    struct flow_table *subscribers;
    struct bot_window windows[FLOW_LISTS];
    unsigned current;  /* the index of the current window in windows[] */
    packet_time grace; /* how long a window stays open for records past its end */
    packet_time now;   /* the latest time seen */
};

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

/* The fan-out past its threshold, a share of WEIGHT_SPRAY up to SPRAY_FACTOR times it. */
static double spray(uint32_t fanout, uint32_t threshold)
{
    uint64_t full = (uint64_t)threshold * SPRAY_FACTOR;
    if (fanout <= threshold)
        return 0.0;
    if (fanout >= full)
        return WEIGHT_SPRAY;
    return WEIGHT_SPRAY * (double)(fanout - threshold) / (double)(full - threshold);
}

packet_time bot_window_grace(const struct policy *policy)
{
    packet_time grace = policy->timeouts.syn + SYN_RETRIES_SPAN;
    return grace < policy->thresholds.window ? grace : policy->thresholds.window;
}

double bot_score(const struct bot_features *features, const struct policy *policy)
{
    double score = part(features->fanout, policy->thresholds.fanout, WEIGHT_FANOUT) +
                   spray(features->fanout, policy->thresholds.fanout) +
                   part(features->mx_direct, policy->thresholds.mx_direct, WEIGHT_MX_DIRECT) +
                   part(features->rcpt_accepted, policy->thresholds.rcpt, WEIGHT_RCPT) +
                   part(features->attempts, policy->thresholds.attempts, WEIGHT_ATTEMPTS) +
                   part(features->nonstandard_smtp, 1, WEIGHT_NONSTANDARD) +
                   part(features->odd_helo, 1, WEIGHT_ODD_HELO) +
                   part(features->msa_abuse, 1, WEIGHT_MSA_ABUSE);
    if (score > SCORE_MAX)
        score = SCORE_MAX;
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

static packet_time window_start(const struct bot_detector *detector, unsigned index)
{
    return detector->windows[index].end - detector->policy->thresholds.window;
}

/* Writes a window's suspects, least recently active first, and forgets the window. end is
 * its end, or earlier when the input ended. */
static void close_window(struct bot_detector *detector, unsigned index, packet_time end)
{
    struct bot_window *window = &detector->windows[index];
    packet_time start = window_start(detector, index);
    struct flow *entry;
    while ((entry = flow_list_head(detector->subscribers, index)) != NULL) {
        struct address key;
        key_address(entry, &key);
        emit(detector, flow_record(entry), &key, start, end);
        flow_remove(detector->subscribers, entry);
    }
    window_set_clear(window->pairs);
    window->end = 0;
}

/* The first time seen opens the first window. */
static void start_windows(struct bot_detector *detector, packet_time now)
{
    if (now > detector->now)
        detector->now = now;
    struct bot_window *current = &detector->windows[detector->current];
    if (current->end == 0)
        current->end =
            (now / detector->policy->thresholds.window + 1) * detector->policy->thresholds.window;
}

/* Packet time moved on: the window before the current one is written once its grace is
 * over, and the current one becomes the one before when it ends. */
static void roll_window(struct bot_detector *detector, packet_time now)
{
    packet_time window = detector->policy->thresholds.window;
    start_windows(detector, now);
    for (;;) {
        unsigned before = detector->current ^ 1;
        packet_time before_end = detector->windows[before].end;
        if (before_end != 0 && now >= before_end + detector->grace)
            close_window(detector, before, before_end);
        if (now < detector->windows[detector->current].end)
            return;
        /* The grace is at most a window, so the one before is closed by now; this only
         * keeps two windows from sharing an index whatever the times. */
        if (detector->windows[before].end != 0)
            close_window(detector, before, detector->windows[before].end);
        detector->current = before;
        detector->windows[before].end = (now / window + 1) * window;
    }
}

/* The open window a time belongs to: the one before the current one while it is open and
 * the time is in it or earlier (a record later than the grace counts in the oldest window
 * still open), else the current one (a time past its end, which the clock has not reached,
 * counts there too). */
static unsigned window_of(struct bot_detector *detector, packet_time ts)
{
    start_windows(detector, ts);
    unsigned before = detector->current ^ 1;
    if (detector->windows[before].end != 0 && ts < detector->windows[before].end)
        return before;
    return detector->current;
}

/* Full: the least recently active subscriber of the oldest open window goes, written out
 * first if it already scores, so a suspect is never lost to the bound. */
static void evict_one(struct bot_detector *detector)
{
    unsigned index = detector->current ^ 1;
    struct flow *oldest = flow_list_head(detector->subscribers, index);
    packet_time end = detector->windows[index].end;
    if (oldest == NULL) {
        index = detector->current;
        oldest = flow_list_head(detector->subscribers, index);
        end = detector->now; /* the current window ends early for it */
    }
    struct address oldest_key;
    key_address(oldest, &oldest_key);
    detector->counters->detector_evictions++;
    emit(detector, flow_record(oldest), &oldest_key, window_start(detector, index), end);
    flow_remove(detector->subscribers, oldest);
    /* Full once, full for every new subscriber after (a flood): the next ones evicted. */
    flow_list_prefetch(detector->subscribers, index);
}

/* The subscriber's key in a window: its address or prefix (*key) as a flow key. */
static void subscriber_key(const struct bot_detector *detector, const struct address *address,
                           int pool, unsigned index, struct address *key, struct flow_key *flow_key)
{
    struct prefix prefix = policy_subscriber(detector->policy, pool, address);
    *key = prefix.address;
    flow_key_make(flow_key, (uint8_t)(index + 1), key, NULL, 0, 0);
}

/* The subscriber's record under flow_key (made by subscriber_key), made when new. */
static struct subscriber_record *subscriber_entry(struct bot_detector *detector,
                                                  const struct flow_key *flow_key, uint32_t hash,
                                                  const struct address *address, int pool,
                                                  unsigned index)
{
    struct flow *entry = flow_lookup(detector->subscribers, flow_key, hash);
    if (entry == NULL) {
        entry = flow_insert(detector->subscribers, flow_key, hash);
        if (entry == NULL) {
            evict_one(detector);
            entry = flow_insert(detector->subscribers, flow_key, hash);
        }
        struct subscriber_record *record = flow_record(entry);
        memset(record, 0, sizeof(*record));
        record->address = *address;
        record->pool = (int16_t)pool;
    }
    flow_list_append(detector->subscribers, entry, index);
    return flow_record(entry);
}

/* The subscriber's record in the window of ts; *index is that window's. */
static struct subscriber_record *subscriber_of(struct bot_detector *detector,
                                               const struct address *address, int pool,
                                               packet_time ts, struct address *key, unsigned *index)
{
    *index = window_of(detector, ts);
    struct flow_key flow_key;
    subscriber_key(detector, address, pool, *index, key, &flow_key);
    return subscriber_entry(detector, &flow_key, flow_key_hash(&flow_key), address, pool, *index);
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
    /* The first SYN is the packet that shows the attempt. Under a flood of new subscribers
     * both tables miss the cache: their places are fetched together, before either is read. */
    unsigned window = window_of(detector, attempt->first_seen);
    struct address key;
    struct flow_key flow_key;
    subscriber_key(detector, client, attempt->pool, window, &key, &flow_key);
    uint32_t hash = flow_key_hash(&flow_key);
    uint8_t pair[2][16];
    memcpy(pair[0], key.bytes, 16);
    memcpy(pair[1], attempt->flow.dst.bytes, 16);
    uint64_t pair_key = window_set_hash(PAIR_KIND, pair, sizeof(pair));
    flow_prefetch(detector->subscribers, hash);
    window_set_prefetch(detector->windows[window].pairs, pair_key);
    struct subscriber_record *record =
        subscriber_entry(detector, &flow_key, hash, client, attempt->pool, window);
    struct bot_features *features = &record->features;
    const struct smtp_facts *smtp = attempt->smtp;
    /* A 4xx and nothing delivered: greylisting, which a real MTA retries; not an attempt
     * of its own. */
    if (smtp != NULL && smtp->replies_4xx > 0 && smtp->rcpt_accepted == 0 &&
        smtp->messages_accepted == 0)
        add(&features->deferred, 1);
    else
        add(&features->attempts, 1);
    enum window_set_result added = window_set_add(detector->windows[window].pairs, pair_key);
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
    unsigned window;
    /* The finding's time is when its connection began. */
    struct subscriber_record *record =
        subscriber_of(detector, &finding->flow.src, finding->pool, finding->ts, &key, &window);
    add(&record->features.nonstandard_smtp, 1);
}

/* The msa_abuse counts write a window no later than this detector does (the same wait,
 * bot_window_grace) and, being the submission family's, are advanced and finished before
 * it (detectors.c calls the families in order): the finding counts in the window it is
 * about. The submission family must stay before the bot score in detectors.c. */
static void count_msa_abuse(struct bot_detector *detector, const struct finding *finding)
{
    const struct msa_abuse_finding *abuse = &finding->as.msa_abuse;
    if (!is_dynamic(detector->policy, finding->pool))
        return;
    struct address key;
    unsigned window;
    struct subscriber_record *record =
        subscriber_of(detector, &abuse->address, finding->pool, abuse->window_start, &key, &window);
    add(&record->features.msa_abuse, 1);
}

static void on_attempt(void *context, const struct attempt_record *attempt)
{
    count_attempt(context, attempt);
}

static void on_finding(void *context, const struct finding *finding)
{
    if (finding->type == EVENT_NONSTANDARD_PORT_SMTP)
        count_nonstandard(context, finding);
    else if (finding->type == EVENT_MSA_ABUSE)
        count_msa_abuse(context, finding);
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
    unsigned window;
    struct subscriber_record *record =
        subscriber_of(detector, &packet->src, pool, packet->ts, &key, &window);
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
    struct bot_detector *detector = of(base);
    roll_window(detector, now);
    /* Next: the current window's end, or the end of the grace of the one before. */
    base->due = detector->windows[detector->current].end;
    packet_time before_end = detector->windows[detector->current ^ 1].end;
    if (before_end != 0 && before_end + detector->grace < base->due)
        base->due = before_end + detector->grace;
}

/* The window before is written whole; the current one ends early, now. */
static void bot_finish(struct detector *base, packet_time now, const char *reason)
{
    (void)reason;
    struct bot_detector *detector = of(base);
    unsigned before = detector->current ^ 1;
    if (detector->windows[before].end != 0)
        close_window(detector, before, detector->windows[before].end);
    if (detector->windows[detector->current].end != 0)
        close_window(detector, detector->current, now);
}

static void bot_free(struct detector *base)
{
    struct bot_detector *detector = of(base);
    if (detector == NULL)
        return;
    flow_table_free(detector->subscribers);
    for (unsigned i = 0; i < FLOW_LISTS; i++)
        window_set_free(detector->windows[i].pairs);
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
    if (detector->subscribers == NULL)
        goto fail;
    for (unsigned i = 0; i < FLOW_LISTS; i++) {
        detector->windows[i].pairs = window_set_new(PAIRS_INITIAL, capacity * PAIRS_PER_SUBSCRIBER);
        if (detector->windows[i].pairs == NULL)
            goto fail;
    }
    detector->grace = bot_window_grace(policy);
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

bool bot_rank_before(const struct bot_rank *a, const struct bot_rank *b)
{
    return ranks_before(a, b);
}
