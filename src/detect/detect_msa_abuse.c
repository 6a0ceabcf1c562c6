/* msa_abuse: see detect_msa_abuse.h. Two windows are open at once, as the bot score's are:
 * the current one, and the one before it while connections that began in it may still end.
 * A bounded table holds one record per subscriber and window. */
#include "detect/detect_msa_abuse.h"

#include <stdlib.h>
#include <string.h>

#include "detect/detect_bot.h"
#include "record/finding.h"
#include "track/flow.h"

/* A sixty-fourth of the attempt table, within these bounds: only the subscribers that talk
 * to an MSA in a window take a record. */
#define SUBSCRIBERS_MIN 256
#define SUBSCRIBERS_MAX 65536
/* The most recent connections of a subscriber kept for its peak concurrency: exact up to
 * this many at once, a lower bound past it (far above any default threshold). */
#define INTERVALS_KEPT 32
/* Groups of alike client byte counts followed per subscriber (Misra-Gries: a group that
 * holds more than a fifth of the short TLS connections is never lost). */
#define SIZE_GROUPS 4
#define MILLISECOND (PACKET_TIME_SECOND / 1000)

/* A connection's span, in milliseconds from its window's start. */
struct interval {
    uint32_t start;
    uint32_t end;
};

struct size_group {
    uint32_t bytes; /* the client byte count of the connection that opened the group */
    uint32_t count;
};

struct subscriber_record {
    struct address address; /* the first address of the subscriber seen in the window */
    int16_t pool;
    int16_t msa;
    struct msa_abuse_finding counts; /* the counts, as the finding will carry them */
    uint8_t interval_count;
    uint8_t interval_next; /* ring: the oldest is replaced first */
    struct interval intervals[INTERVALS_KEPT];
    struct size_group groups[SIZE_GROUPS];
};

struct abuse_window {
    packet_time end; /* 0: not open */
};

struct msa_abuse {
    const struct policy *policy;
    struct bus *bus;
    struct sensor_counters *counters;
    /* key.client: the subscriber, key.proto: its window's index plus one; each entry is on
     * its window's list, least recently active first. */
    struct flow_table *subscribers;
    struct abuse_window windows[2];
    unsigned current;
    packet_time grace;
    packet_time now;
};

/* ---- Counting ---- */

static void add(uint32_t *counter, uint32_t amount)
{
    *counter = UINT32_MAX - *counter < amount ? UINT32_MAX : *counter + amount;
}

static uint32_t milliseconds_after(packet_time start, packet_time at)
{
    if (at <= start)
        return 0;
    packet_time ms = (at - start) / MILLISECOND;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Keeps the connection's span and raises the peak: the most connections open at once is
 * reached at the start of one of them, so only the new one's start and the starts of the
 * kept ones inside its span can give a new peak. */
static void count_concurrency(struct subscriber_record *record, struct interval span)
{
    record->intervals[record->interval_next] = span;
    record->interval_next = (uint8_t)((record->interval_next + 1) % INTERVALS_KEPT);
    if (record->interval_count < INTERVALS_KEPT)
        record->interval_count++;
    for (unsigned i = 0; i < record->interval_count; i++) {
        uint32_t point = record->intervals[i].start;
        if (point < span.start || point > span.end)
            continue;
        uint32_t open = 0;
        for (unsigned j = 0; j < record->interval_count; j++) {
            if (record->intervals[j].start <= point && point <= record->intervals[j].end)
                open++;
        }
        if (open > record->counts.peak_concurrency)
            record->counts.peak_concurrency = open;
    }
}

/* A short TLS connection's client byte count joins the group it is close to, or opens one;
 * with every group taken, each loses one instead (Misra-Gries), so the largest group of a
 * guesser's alike connections survives any mix of others. */
static void group_size(struct subscriber_record *record, uint32_t bytes)
{
    struct size_group *free_group = NULL;
    for (unsigned i = 0; i < SIZE_GROUPS; i++) {
        struct size_group *group = &record->groups[i];
        if (group->count == 0) {
            free_group = free_group != NULL ? free_group : group;
            continue;
        }
        uint32_t distance = group->bytes > bytes ? group->bytes - bytes : bytes - group->bytes;
        if (distance <= MSA_TLS_SIMILAR_BYTES) {
            group->count++;
            return;
        }
    }
    if (free_group != NULL) {
        *free_group = (struct size_group){.bytes = bytes, .count = 1};
        return;
    }
    for (unsigned i = 0; i < SIZE_GROUPS; i++)
        record->groups[i].count--;
}

static bool tls_short(const struct msa_connection *connection)
{
    return connection->tls && connection->client_bytes > 0 &&
           connection->client_bytes <= MSA_TLS_SHORT_CLIENT_BYTES &&
           connection->last_seen - connection->first_seen <=
               (packet_time)MSA_TLS_SHORT_SECONDS * PACKET_TIME_SECOND;
}

static void count_connection(struct subscriber_record *record, packet_time window_start,
                             const struct msa_connection *connection)
{
    struct msa_abuse_finding *counts = &record->counts;
    add(&counts->connections, 1);
    if (connection->port == 25)
        add(&counts->connections_25, 1);
    else if (connection->port == 587)
        add(&counts->connections_587, 1);
    else if (connection->port == 465)
        add(&counts->connections_465, 1);
    const struct smtp_facts *smtp = connection->smtp;
    if (smtp != NULL) {
        /* What was read was read in the clear: the parser stops where TLS begins. */
        add(&counts->quota_replies, smtp->replies_421);
        add(&counts->quota_replies, smtp->replies_452);
        add(&counts->auth_failures, smtp->auth_rejected);
        add(&counts->rcpt, smtp->rcpt_count);
        if (smtp->banner_seen && !smtp->encrypted)
            add(&counts->clear_dialogues, 1);
    }
    if (connection->tls)
        add(&counts->tls_connections, 1);
    if (tls_short(connection)) {
        add(&counts->tls_short, 1);
        group_size(record, connection->client_bytes);
    }
    struct interval span = {milliseconds_after(window_start, connection->first_seen),
                            milliseconds_after(window_start, connection->last_seen)};
    count_concurrency(record, span);
}

/* ---- Findings ---- */

static uint32_t reasons_of(const struct policy *policy, const struct msa_abuse_finding *counts)
{
    const struct msa_abuse_thresholds *limit = &policy->thresholds.msa_abuse;
    uint32_t reasons = 0;
    if (counts->connections >= limit->connections)
        reasons |= 1u << MSA_ABUSE_CONNECTIONS;
    if (counts->peak_concurrency >= limit->concurrency)
        reasons |= 1u << MSA_ABUSE_CONCURRENCY;
    if (counts->auth_failures >= limit->auth_failures)
        reasons |= 1u << MSA_ABUSE_AUTH_FAILURES;
    if (counts->quota_replies >= limit->quota_replies)
        reasons |= 1u << MSA_ABUSE_QUOTA_REPLIES;
    if (counts->rcpt >= limit->rcpt)
        reasons |= 1u << MSA_ABUSE_RCPT;
    /* Under TLS a failed login cannot be read: each of a run of alike short connections is
     * taken for one, against the same threshold. */
    if (counts->tls_similar >= limit->auth_failures)
        reasons |= 1u << MSA_ABUSE_TLS_GUESSING;
    return reasons;
}

static void emit(struct msa_abuse *abuse, struct subscriber_record *record,
                 const struct address *key, packet_time start, packet_time end)
{
    struct msa_abuse_finding *counts = &record->counts;
    for (unsigned i = 0; i < SIZE_GROUPS; i++) {
        if (record->groups[i].count > counts->tls_similar) {
            counts->tls_similar = record->groups[i].count;
            counts->tls_similar_bytes = record->groups[i].bytes;
        }
    }
    uint32_t reasons = reasons_of(abuse->policy, counts);
    if (reasons == 0)
        return;
    struct finding finding;
    finding_init(&finding, EVENT_MSA_ABUSE, end);
    finding.pool = record->pool;
    finding_set_key(&finding, key);
    struct msa_abuse_finding *out = &finding.as.msa_abuse;
    *out = *counts;
    out->reasons = reasons;
    out->address = record->address;
    out->subscriber = policy_subscriber(abuse->policy, record->pool, key);
    if (key->family != ADDRESS_V6)
        out->subscriber.address = *key;
    out->msa = record->msa;
    out->window_start = start;
    out->window_end = end;
    bus_finding(abuse->bus, &finding);
}

/* ---- Windows ---- */

static void key_address(const struct flow *entry, struct address *key)
{
    key->family = entry->key.family;
    memcpy(key->bytes, entry->key.client, sizeof(key->bytes));
}

static packet_time window_start(const struct msa_abuse *abuse, unsigned index)
{
    return abuse->windows[index].end - abuse->policy->thresholds.window;
}

/* Writes a window's subscribers that reached a threshold (least recently active first) and
 * forgets the window. end is its end, or earlier when the input ended. */
static void close_window(struct msa_abuse *abuse, unsigned index, packet_time end)
{
    packet_time start = window_start(abuse, index);
    struct flow *entry;
    while ((entry = flow_list_head(abuse->subscribers, index)) != NULL) {
        struct address key;
        key_address(entry, &key);
        emit(abuse, flow_record(entry), &key, start, end);
        flow_remove(abuse->subscribers, entry);
    }
    abuse->windows[index].end = 0;
}

static packet_time end_after(const struct msa_abuse *abuse, packet_time now)
{
    packet_time window = abuse->policy->thresholds.window;
    return (now / window + 1) * window;
}

static void start_windows(struct msa_abuse *abuse, packet_time now)
{
    if (now > abuse->now)
        abuse->now = now;
    if (abuse->windows[abuse->current].end == 0)
        abuse->windows[abuse->current].end = end_after(abuse, now);
}

void msa_abuse_advance(struct msa_abuse *abuse, packet_time now)
{
    if (abuse->windows[abuse->current].end == 0)
        return; /* nothing counted yet: the first connection opens the first window */
    start_windows(abuse, now);
    for (;;) {
        unsigned before = abuse->current ^ 1;
        packet_time before_end = abuse->windows[before].end;
        if (before_end != 0 && now >= before_end + abuse->grace)
            close_window(abuse, before, before_end);
        if (now < abuse->windows[abuse->current].end)
            return;
        if (abuse->windows[before].end != 0)
            close_window(abuse, before, abuse->windows[before].end);
        abuse->current = before;
        abuse->windows[before].end = end_after(abuse, now);
    }
}

packet_time msa_abuse_next_deadline(const struct msa_abuse *abuse)
{
    packet_time due = abuse->windows[abuse->current].end;
    if (due == 0)
        return INT64_MAX;
    packet_time before_end = abuse->windows[abuse->current ^ 1].end;
    if (before_end != 0 && before_end + abuse->grace < due)
        due = before_end + abuse->grace;
    return due;
}

/* The window before the current one while it is open and the time is in it or earlier (a
 * connection that ended past its wait counts in the oldest window still open), else the
 * current one. */
static unsigned window_of(struct msa_abuse *abuse, packet_time ts)
{
    start_windows(abuse, ts);
    unsigned before = abuse->current ^ 1;
    if (abuse->windows[before].end != 0 && ts < abuse->windows[before].end)
        return before;
    return abuse->current;
}

/* Full: the least recently active subscriber of the oldest open window goes, written out
 * first if it already reached a threshold. */
static void evict_one(struct msa_abuse *abuse)
{
    unsigned index = abuse->current ^ 1;
    struct flow *oldest = flow_list_head(abuse->subscribers, index);
    packet_time end = abuse->windows[index].end;
    if (oldest == NULL) {
        index = abuse->current;
        oldest = flow_list_head(abuse->subscribers, index);
        end = abuse->now;
    }
    struct address key;
    key_address(oldest, &key);
    abuse->counters->detector_evictions++;
    emit(abuse, flow_record(oldest), &key, window_start(abuse, index), end);
    flow_remove(abuse->subscribers, oldest);
}

static struct subscriber_record *
subscriber_of(struct msa_abuse *abuse, const struct msa_connection *connection, unsigned *index)
{
    *index = window_of(abuse, connection->first_seen);
    struct prefix prefix = policy_subscriber(abuse->policy, connection->pool, &connection->client);
    struct flow_key key;
    flow_key_make(&key, (uint8_t)(*index + 1), &prefix.address, NULL, 0, 0);
    uint32_t hash = flow_key_hash(&key);
    struct flow *entry = flow_lookup(abuse->subscribers, &key, hash);
    if (entry == NULL) {
        entry = flow_insert(abuse->subscribers, &key, hash);
        if (entry == NULL) {
            evict_one(abuse);
            entry = flow_insert(abuse->subscribers, &key, hash);
        }
        struct subscriber_record *record = flow_record(entry);
        memset(record, 0, sizeof(*record));
        record->address = connection->client;
        record->pool = (int16_t)connection->pool;
        record->msa = (int16_t)connection->msa;
    }
    flow_list_append(abuse->subscribers, entry, *index);
    return flow_record(entry);
}

void msa_abuse_connection(struct msa_abuse *abuse, const struct msa_connection *connection)
{
    const struct policy *policy = abuse->policy;
    if (connection->pool < 0 || (size_t)connection->pool >= policy->pool_count ||
        policy->pools[connection->pool].type != POOL_DYNAMIC || connection->msa < 0)
        return;
    unsigned index;
    struct subscriber_record *record = subscriber_of(abuse, connection, &index);
    count_connection(record, window_start(abuse, index), connection);
}

void msa_abuse_finish(struct msa_abuse *abuse, packet_time now)
{
    unsigned before = abuse->current ^ 1;
    if (abuse->windows[before].end != 0)
        close_window(abuse, before, abuse->windows[before].end);
    if (abuse->windows[abuse->current].end != 0)
        close_window(abuse, abuse->current, now > abuse->now ? now : abuse->now);
}

struct msa_abuse *msa_abuse_new(const struct policy *policy, struct bus *bus,
                                struct sensor_counters *counters)
{
    struct msa_abuse *abuse = calloc(1, sizeof(*abuse));
    if (abuse == NULL)
        return NULL;
    abuse->policy = policy;
    abuse->bus = bus;
    abuse->counters = counters;
    abuse->grace = bot_window_grace(policy);
    uint32_t capacity = policy->limits.flows / 64;
    capacity = capacity < SUBSCRIBERS_MIN   ? SUBSCRIBERS_MIN
               : capacity > SUBSCRIBERS_MAX ? SUBSCRIBERS_MAX
                                            : capacity;
    abuse->subscribers = flow_table_new(capacity, sizeof(struct subscriber_record));
    if (abuse->subscribers == NULL) {
        free(abuse);
        return NULL;
    }
    return abuse;
}

void msa_abuse_free(struct msa_abuse *abuse)
{
    if (abuse == NULL)
        return;
    flow_table_free(abuse->subscribers);
    free(abuse);
}
