#include "output/event_summary.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "output/event_writer.h"
#include "util/window_set.h"

#define SUMMARY_SAMPLES 3
/* Distinct ports kept in the entry itself; destinations are kept there as the samples. A
 * subscriber of a few attempts, as most in an outbreak, never needs the distinct set. */
#define INLINE_PORTS 2
#define DISTINCT_INITIAL 4096
/* The index starts small and doubles at half full: the subscribers of a quiet interval, or
 * of an outbreak of a few thousand, stay in a few cache-friendly pages. */
#define INDEX_INITIAL 512
/* Distinct (subscriber, destination) and (subscriber, port) pairs an interval may hold,
 * per subscriber the table holds: past it the counts are lower bounds (distinct_capped). */
#define DISTINCT_PER_SUBSCRIBER 4
#define INDEX_EMPTY 0

enum { KIND_SUBSCRIBER = 1, KIND_DESTINATION, KIND_PORT };

/* Hot fields first: an attempt folded into an entry of a few attempts touches its first two
 * cache lines only. */
struct summary_entry {
    struct prefix subscriber;
    int16_t pool;
    uint8_t sample_count;
    uint8_t port_count; /* ports[] in use, while the ports are not spilled */
    bool capped;
    bool destinations_spilled; /* past the samples: destinations counted in the set */
    bool ports_spilled;
    uint32_t serial; /* this entry's pairs in the distinct set are its own, even after reuse */
    uint32_t slot;   /* where the index holds it */
    uint32_t attempts;
    uint32_t syn_count;
    uint32_t distinct_destinations;
    uint32_t distinct_ports;
    uint16_t ports[INLINE_PORTS];
    packet_time first_seen;
    packet_time last_seen;
    uint32_t by_verdict[VERDICT_COUNT];
    uint32_t by_evidence[EVIDENCE_COUNT];
    struct address samples[SUMMARY_SAMPLES];
};

struct event_summaries {
    uint32_t summarize; /* the policy's bit per verdict */
    packet_time interval;
    uint32_t bound; /* entries at most, reserved at once */
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

/* The table's arrays are reserved whole at the bound, straight from mmap: memory is taken
 * as subscribers fill them (nothing is copied to grow), zeroed by the kernel, and in huge
 * pages where it gives them on request, for a million subscribers are a few hundred MiB read
 * at random, which 4 KiB pages would spend on TLB misses. */
static void *table_alloc(size_t bytes)
{
    void *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        return NULL;
    (void)madvise(memory, bytes, MADV_HUGEPAGE);
    return memory;
}

static void table_free(void *memory, size_t bytes)
{
    if (memory != NULL)
        munmap(memory, bytes);
}

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
    uint32_t slots = index_slots_for(INDEX_INITIAL);
    summaries->entries = table_alloc((size_t)summaries->bound * sizeof(struct summary_entry));
    summaries->index = table_alloc((size_t)slots * sizeof(uint64_t));
    summaries->index_mask = slots - 1;
    uint64_t pairs = (uint64_t)summaries->bound * DISTINCT_PER_SUBSCRIBER;
    summaries->distinct =
        window_set_new(DISTINCT_INITIAL, pairs > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)pairs);
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
    table_free(summaries->entries, (size_t)summaries->bound * sizeof(struct summary_entry));
    table_free(summaries->index, ((size_t)summaries->index_mask + 1) * sizeof(uint64_t));
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
    event_write_place_cached(events, &writer, entry->pool, -1);
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
            summaries->entries[(uint32_t)summaries->index[hole] - 1].slot = hole;
            hole = next;
        }
    }
    summaries->index[hole] = INDEX_EMPTY;
}

/* Twice the places, every entry placed again (the entries do not move). */
static bool grow_index(struct event_summaries *summaries)
{
    uint32_t slots = (summaries->index_mask + 1) * 2;
    uint64_t *index = table_alloc((size_t)slots * sizeof(uint64_t));
    if (index == NULL)
        return false;
    table_free(summaries->index, ((size_t)summaries->index_mask + 1) * sizeof(uint64_t));
    summaries->index = index;
    summaries->index_mask = slots - 1;
    for (uint32_t i = 0; i < summaries->count; i++) {
        struct summary_entry *entry = &summaries->entries[i];
        uint32_t hash = subscriber_hash(&entry->subscriber, entry->pool);
        uint32_t position = index_find(summaries, &entry->subscriber, entry->pool, hash);
        index[position] = (uint64_t)hash << 32 | (i + 1);
        entry->slot = position;
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

/* The subscriber's entry, made when new (the oldest written early to make room). */
static struct summary_entry *entry_for(struct events *events, struct event_summaries *summaries,
                                       const struct prefix *subscriber, int pool)
{
    uint32_t hash = subscriber_hash(subscriber, pool);
    uint32_t position = index_find(summaries, subscriber, pool, hash);
    if (summaries->index[position] != INDEX_EMPTY)
        return &summaries->entries[(uint32_t)summaries->index[position] - 1];
    uint32_t slot;
    if (summaries->count < summaries->bound) {
        /* At most half full, or probes grow long; where memory fails it fills on. */
        if ((uint64_t)(summaries->count + 1) * 2 > (uint64_t)summaries->index_mask + 1 &&
            summaries->count + 1 < summaries->index_mask && grow_index(summaries))
            position = index_find(summaries, subscriber, pool, hash);
        slot = summaries->count++;
    } else {
        slot = evict(events, summaries);
        /* Evicting moved things in the index: find the free place again. */
        position = index_find(summaries, subscriber, pool, hash);
    }
    summaries->index[position] = (uint64_t)hash << 32 | (slot + 1);
    struct summary_entry *entry = &summaries->entries[slot];
    memset(entry, 0, sizeof(*entry));
    entry->slot = position;
    entry->subscriber = *subscriber;
    entry->pool = (int16_t)pool;
    entry->serial = summaries->next_serial++;
    return entry;
}

static void clear(struct event_summaries *summaries)
{
    /* Only the index's places in use are cleared: a quiet interval costs next to nothing. */
    for (uint32_t i = 0; i < summaries->count; i++)
        summaries->index[summaries->entries[i].slot] = INDEX_EMPTY;
    summaries->count = 0;
    summaries->cursor = 0;
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

static bool pair_added(struct event_summaries *summaries, struct summary_entry *entry, int kind,
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

static bool destination_pair_added(struct event_summaries *summaries, struct summary_entry *entry,
                                   const struct address *destination)
{
    uint8_t value[17];
    value[0] = destination->family;
    memcpy(value + 1, destination->bytes, 16);
    return pair_added(summaries, entry, KIND_DESTINATION, value, sizeof(value));
}

static bool port_pair_added(struct event_summaries *summaries, struct summary_entry *entry,
                            uint16_t port)
{
    uint8_t value[2] = {(uint8_t)(port >> 8), (uint8_t)port};
    return pair_added(summaries, entry, KIND_PORT, value, sizeof(value));
}

/* A destination new to the entry in this interval: the samples hold every one while there
 * are at most as many; the one after them moves all into the distinct set. */
static void count_destination(struct event_summaries *summaries, struct summary_entry *entry,
                              const struct address *destination)
{
    if (!entry->destinations_spilled) {
        for (unsigned i = 0; i < entry->sample_count; i++) {
            if (address_equal(&entry->samples[i], destination))
                return;
        }
        if (entry->sample_count < SUMMARY_SAMPLES) {
            entry->samples[entry->sample_count++] = *destination;
            add_saturating(&entry->distinct_destinations, 1);
            return;
        }
        entry->destinations_spilled = true;
        for (unsigned i = 0; i < entry->sample_count; i++)
            (void)destination_pair_added(summaries, entry, &entry->samples[i]);
    }
    if (destination_pair_added(summaries, entry, destination))
        add_saturating(&entry->distinct_destinations, 1);
}

static void count_port(struct event_summaries *summaries, struct summary_entry *entry,
                       uint16_t port)
{
    if (!entry->ports_spilled) {
        for (unsigned i = 0; i < entry->port_count; i++) {
            if (entry->ports[i] == port)
                return;
        }
        if (entry->port_count < INLINE_PORTS) {
            entry->ports[entry->port_count++] = port;
            add_saturating(&entry->distinct_ports, 1);
            return;
        }
        entry->ports_spilled = true;
        for (unsigned i = 0; i < entry->port_count; i++)
            (void)port_pair_added(summaries, entry, entry->ports[i]);
    }
    if (port_pair_added(summaries, entry, port))
        add_saturating(&entry->distinct_ports, 1);
}

static void fold(struct event_summaries *summaries, struct summary_entry *entry,
                 const struct attempt_record *attempt)
{
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
    count_destination(summaries, entry, &attempt->flow.dst);
    count_port(summaries, entry, attempt->flow.dst_port);
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
