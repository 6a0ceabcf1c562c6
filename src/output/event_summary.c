#include "output/event_summary.h"

#include <stdlib.h>
#include <string.h>

#include "output/event_writer.h"
#include "util/window_set.h"

#define SUMMARY_SAMPLES 3
#define SUMMARY_INITIAL 1024
/* Distinct (subscriber, destination) and (subscriber, port) pairs an interval may hold,
 * per subscriber the table holds: past it the counts are lower bounds (distinct_capped). */
#define DISTINCT_PER_SUBSCRIBER 4
#define INDEX_EMPTY 0

enum { KIND_SUBSCRIBER = 1, KIND_DESTINATION, KIND_PORT };

struct summary_entry {
    struct prefix subscriber;
    int16_t pool;
    bool capped;
    uint8_t sample_count;
    uint32_t serial; /* this entry's pairs in the distinct set are its own, even after reuse */
    uint32_t attempts;
    uint32_t syn_count;
    uint32_t distinct_destinations;
    uint32_t distinct_ports;
    uint32_t by_verdict[VERDICT_COUNT];
    uint32_t by_evidence[EVIDENCE_COUNT];
    packet_time first_seen;
    packet_time last_seen;
    struct address samples[SUMMARY_SAMPLES];
};

struct event_summaries {
    uint32_t summarize; /* the policy's bit per verdict */
    packet_time interval;
    uint32_t bound;    /* entries at most */
    uint32_t capacity; /* entries allocated */
    uint32_t count;
    uint32_t cursor; /* the next entry an eviction writes: the oldest */
    struct summary_entry *entries;
    uint64_t *index; /* hash << 32 | (entry + 1), open addressing; INDEX_EMPTY is free */
    uint32_t index_mask;
    struct window_set *distinct;
    uint32_t next_serial;
    bool started; /* an interval is open */
    packet_time window_start;
    packet_time window_end;
    packet_time now; /* the latest packet time a record carried */
    uint64_t folded;
    uint64_t evictions;
};

static uint32_t index_slots_for(uint32_t entries)
{
    uint32_t slots = 16;
    while (slots < (uint64_t)entries * 2)
        slots <<= 1;
    return slots;
}

struct event_summaries *event_summaries_new(const struct policy *policy)
{
    if (policy->events.summarize == 0)
        return NULL;
    struct event_summaries *summaries = calloc(1, sizeof(*summaries));
    if (summaries == NULL)
        return NULL;
    summaries->summarize = policy->events.summarize;
    summaries->interval = policy->events.summary_interval;
    summaries->bound = policy->events.summary_subscribers;
    summaries->capacity = summaries->bound < SUMMARY_INITIAL ? summaries->bound : SUMMARY_INITIAL;
    uint32_t slots = index_slots_for(summaries->capacity);
    summaries->entries = calloc(summaries->capacity, sizeof(struct summary_entry));
    summaries->index = calloc(slots, sizeof(uint64_t));
    summaries->index_mask = slots - 1;
    uint64_t pairs = (uint64_t)summaries->bound * DISTINCT_PER_SUBSCRIBER;
    summaries->distinct = window_set_new(SUMMARY_INITIAL * DISTINCT_PER_SUBSCRIBER,
                                         pairs > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)pairs);
    if (summaries->entries == NULL || summaries->index == NULL || summaries->distinct == NULL) {
        event_summaries_free(summaries);
        return NULL;
    }
    return summaries;
}

void event_summaries_free(struct event_summaries *summaries)
{
    if (summaries == NULL)
        return;
    free(summaries->entries);
    free(summaries->index);
    window_set_free(summaries->distinct);
    free(summaries);
}

bool event_summaries_want(const struct event_summaries *summaries, enum verdict verdict)
{
    return summaries != NULL && verdict != VERDICT_LEAKED &&
           (summaries->summarize & (1u << verdict)) != 0;
}

uint64_t event_summaries_folded(const struct event_summaries *summaries)
{
    return summaries != NULL ? summaries->folded : 0;
}

uint64_t event_summaries_evictions(const struct event_summaries *summaries)
{
    return summaries != NULL ? summaries->evictions : 0;
}

/* ---- The line ---- */

static void write_summary(struct events *events, const struct summary_entry *entry, packet_time ts,
                          packet_time window_start, bool evicted, bool final)
{
    const struct policy *policy = events->policy;
    char subscriber[PREFIX_TEXT_MAX], time_text[PACKET_TIME_TEXT_MAX];
    size_t length =
        entry->subscriber.address.family == ADDRESS_V6
            ? prefix_format(&entry->subscriber, subscriber, sizeof(subscriber))
            : address_format(&entry->subscriber.address, subscriber, sizeof(subscriber));
    struct json_writer writer;
    event_begin(events, &writer, EVENT_ATTEMPT_SUMMARY, ts);
    json_key_plain(&writer, "subscriber", subscriber, length);
    event_write_place(&writer, policy, entry->pool, -1);
    json_key_plain(&writer, "window_start", time_text,
                   packet_time_format(window_start, time_text, sizeof(time_text)));
    json_key_u64(&writer, "attempts", entry->attempts);
    for (int v = 0; v < VERDICT_COUNT; v++) {
        if (policy->events.summarize & (1u << v))
            json_key_u64(&writer, verdict_name((enum verdict)v), entry->by_verdict[v]);
    }
    json_key_object_begin(&writer, "evidence_counts");
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (entry->by_evidence[e] > 0)
            json_key_u64(&writer, evidence_name((enum evidence)e), entry->by_evidence[e]);
    }
    json_object_end(&writer);
    json_key_u64(&writer, "syn_count", entry->syn_count);
    json_key_u64(&writer, "distinct_dst_ips", entry->distinct_destinations);
    json_key_u64(&writer, "distinct_dst_ports", entry->distinct_ports);
    if (entry->capped)
        json_key_bool(&writer, "distinct_capped", true);
    json_key_plain(&writer, "first_seen", time_text,
                   packet_time_format(entry->first_seen, time_text, sizeof(time_text)));
    json_key_plain(&writer, "last_seen", time_text,
                   packet_time_format(entry->last_seen, time_text, sizeof(time_text)));
    json_key_array_begin(&writer, "sample_dst_ips");
    for (unsigned i = 0; i < entry->sample_count; i++) {
        char text[ADDRESS_TEXT_MAX];
        address_format(&entry->samples[i], text, sizeof(text));
        json_array_string(&writer, text);
    }
    json_array_end(&writer);
    if (evicted)
        json_key_bool(&writer, "evicted", true);
    json_key_bool(&writer, "final", final);
    event_emit(events, &writer, EVENT_ATTEMPT_SUMMARY, subscriber);
}

/* ---- The table ---- */

static uint32_t subscriber_hash(const struct prefix *subscriber, int pool)
{
    uint8_t key[20];
    key[0] = subscriber->address.family;
    memcpy(key + 1, subscriber->address.bytes, 16);
    key[17] = subscriber->length;
    key[18] = (uint8_t)pool;
    key[19] = (uint8_t)(pool >> 8);
    uint64_t hash = window_set_hash(KIND_SUBSCRIBER, key, sizeof(key));
    return (uint32_t)(hash >> 32);
}

static bool same_subscriber(const struct summary_entry *entry, const struct prefix *subscriber,
                            int pool)
{
    return entry->pool == pool && entry->subscriber.length == subscriber->length &&
           address_equal(&entry->subscriber.address, &subscriber->address);
}

/* The index position holding the subscriber, or the free one where it would go. */
static uint32_t index_find(const struct event_summaries *summaries, const struct prefix *subscriber,
                           int pool, uint32_t hash)
{
    uint32_t position = hash & summaries->index_mask;
    for (;;) {
        uint64_t item = summaries->index[position];
        if (item == INDEX_EMPTY)
            return position;
        if ((uint32_t)(item >> 32) == hash &&
            same_subscriber(&summaries->entries[(uint32_t)item - 1], subscriber, pool))
            return position;
        position = (position + 1) & summaries->index_mask;
    }
}

/* Linear probing's deletion: later items of the run move back so no probe stops early. */
static void index_remove(struct event_summaries *summaries, uint32_t position)
{
    uint32_t mask = summaries->index_mask;
    uint32_t hole = position;
    for (uint32_t next = (hole + 1) & mask; summaries->index[next] != INDEX_EMPTY;
         next = (next + 1) & mask) {
        uint32_t home = (uint32_t)(summaries->index[next] >> 32) & mask;
        /* It may fill the hole when its home is not within (hole, next]. */
        bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!stays) {
            summaries->index[hole] = summaries->index[next];
            hole = next;
        }
    }
    summaries->index[hole] = INDEX_EMPTY;
}

static bool grow(struct event_summaries *summaries)
{
    uint64_t wanted = (uint64_t)summaries->capacity * 2;
    uint32_t capacity = wanted > summaries->bound ? summaries->bound : (uint32_t)wanted;
    uint32_t slots = index_slots_for(capacity);
    struct summary_entry *entries =
        realloc(summaries->entries, (size_t)capacity * sizeof(struct summary_entry));
    if (entries == NULL)
        return false;
    summaries->entries = entries;
    uint64_t *index = calloc(slots, sizeof(uint64_t));
    if (index == NULL)
        return false;
    free(summaries->index);
    summaries->index = index;
    summaries->index_mask = slots - 1;
    summaries->capacity = capacity;
    for (uint32_t i = 0; i < summaries->count; i++) {
        const struct summary_entry *entry = &entries[i];
        uint32_t hash = subscriber_hash(&entry->subscriber, entry->pool);
        uint32_t position = index_find(summaries, &entry->subscriber, entry->pool, hash);
        index[position] = (uint64_t)hash << 32 | (i + 1);
    }
    return true;
}

/* The table is full at its bound: the oldest entry's summary is written now and its place
 * taken. Returns that place. */
static uint32_t evict(struct events *events, struct event_summaries *summaries)
{
    uint32_t victim = summaries->cursor;
    const struct summary_entry *entry = &summaries->entries[victim];
    write_summary(events, entry, summaries->now, summaries->window_start, true, false);
    summaries->evictions++;
    uint32_t hash = subscriber_hash(&entry->subscriber, entry->pool);
    index_remove(summaries, index_find(summaries, &entry->subscriber, entry->pool, hash));
    summaries->cursor = (victim + 1) % summaries->count;
    return victim;
}

/* The subscriber's entry, made when new; NULL when memory fails. */
static struct summary_entry *entry_for(struct events *events, struct event_summaries *summaries,
                                       const struct prefix *subscriber, int pool)
{
    uint32_t hash = subscriber_hash(subscriber, pool);
    uint32_t position = index_find(summaries, subscriber, pool, hash);
    if (summaries->index[position] != INDEX_EMPTY)
        return &summaries->entries[(uint32_t)summaries->index[position] - 1];
    uint32_t slot;
    if (summaries->count < summaries->capacity ||
        (summaries->capacity < summaries->bound && grow(summaries))) {
        slot = summaries->count++;
    } else if (summaries->count == summaries->bound) {
        slot = evict(events, summaries);
    } else {
        return NULL;
    }
    /* Growing or evicting moved things in the index: find the free place again. */
    position = index_find(summaries, subscriber, pool, hash);
    summaries->index[position] = (uint64_t)hash << 32 | (slot + 1);
    struct summary_entry *entry = &summaries->entries[slot];
    memset(entry, 0, sizeof(*entry));
    entry->subscriber = *subscriber;
    entry->pool = (int16_t)pool;
    entry->serial = summaries->next_serial++;
    return entry;
}

static void clear(struct event_summaries *summaries)
{
    summaries->count = 0;
    summaries->cursor = 0;
    memset(summaries->index, 0, ((size_t)summaries->index_mask + 1) * sizeof(uint64_t));
    window_set_clear(summaries->distinct);
    summaries->started = false;
}

static void flush(struct events *events, packet_time ts, bool final)
{
    struct event_summaries *summaries = events->summaries;
    for (uint32_t i = 0; i < summaries->count; i++)
        write_summary(events, &summaries->entries[i], ts, summaries->window_start, false, final);
    clear(summaries);
}

/* ---- Folding ---- */

static void add_saturating(uint32_t *counter, uint32_t amount)
{
    *counter = *counter > UINT32_MAX - amount ? UINT32_MAX : *counter + amount;
}

/* A pair new in this interval adds one to its count: "is this the entry's first attempt to
 * this destination (port)?" */
static bool first_of_pair(struct event_summaries *summaries, struct summary_entry *entry, int kind,
                          const void *value, size_t length)
{
    uint8_t key[4 + 17];
    memcpy(key, &entry->serial, 4);
    memcpy(key + 4, value, length);
    enum window_set_result added =
        window_set_add(summaries->distinct, window_set_hash((uint64_t)kind, key, 4 + length));
    if (added == WINDOW_SET_FULL)
        entry->capped = true;
    return added == WINDOW_SET_ADDED;
}

/* The first few destinations, each once (compared here, not through the distinct set, which
 * may be full). */
static void note_sample(struct summary_entry *entry, const struct address *destination)
{
    if (entry->sample_count == SUMMARY_SAMPLES)
        return;
    for (unsigned i = 0; i < entry->sample_count; i++) {
        if (address_equal(&entry->samples[i], destination))
            return;
    }
    entry->samples[entry->sample_count++] = *destination;
}

static void fold(struct event_summaries *summaries, struct summary_entry *entry,
                 const struct attempt_record *attempt)
{
    const struct flow_tuple *flow = &attempt->flow;
    if (entry->attempts == 0 || attempt->first_seen < entry->first_seen)
        entry->first_seen = attempt->first_seen;
    if (entry->attempts == 0 || attempt->last_seen > entry->last_seen)
        entry->last_seen = attempt->last_seen;
    add_saturating(&entry->attempts, 1);
    add_saturating(&entry->by_verdict[attempt->verdict], 1);
    add_saturating(&entry->syn_count, attempt->syn_count);
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (attempt->evidence & EVIDENCE_BIT(e))
            add_saturating(&entry->by_evidence[e], 1);
    }
    uint8_t destination[17];
    destination[0] = flow->dst.family;
    memcpy(destination + 1, flow->dst.bytes, 16);
    if (first_of_pair(summaries, entry, KIND_DESTINATION, destination, sizeof(destination)))
        add_saturating(&entry->distinct_destinations, 1);
    note_sample(entry, &flow->dst);
    uint8_t port[2] = {(uint8_t)(flow->dst_port >> 8), (uint8_t)flow->dst_port};
    if (first_of_pair(summaries, entry, KIND_PORT, port, sizeof(port)))
        add_saturating(&entry->distinct_ports, 1);
}

/* The start of the interval holding ts, and its end, which saturates at the end of time. */
static void open_window(struct event_summaries *summaries, packet_time ts)
{
    packet_time interval = summaries->interval;
    packet_time start = ts / interval * interval;
    if (start > ts)
        start -= interval; /* division rounds towards zero; times before 1970 are negative */
    summaries->window_start = start;
    summaries->window_end = start > INT64_MAX - interval ? INT64_MAX : start + interval;
    summaries->started = true;
}

void event_summaries_advance(struct events *events, packet_time now)
{
    struct event_summaries *summaries = events->summaries;
    if (summaries == NULL)
        return;
    if (now > summaries->now)
        summaries->now = now;
    if (summaries->started && now >= summaries->window_end)
        flush(events, summaries->window_end, false);
}

bool event_summaries_add(struct events *events, const struct attempt_record *attempt)
{
    struct event_summaries *summaries = events->summaries;
    event_summaries_advance(events, attempt->closed);
    if (!summaries->started)
        open_window(summaries, summaries->now);
    struct prefix subscriber = policy_subscriber(events->policy, attempt->pool, &attempt->flow.src);
    struct summary_entry *entry = entry_for(events, summaries, &subscriber, attempt->pool);
    if (entry == NULL)
        return false;
    fold(summaries, entry, attempt);
    summaries->folded++;
    return true;
}

void event_summaries_finish(struct events *events, packet_time now)
{
    struct event_summaries *summaries = events->summaries;
    if (summaries == NULL)
        return;
    if (now > summaries->now)
        summaries->now = now;
    flush(events, summaries->now, true);
}
