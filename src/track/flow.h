/* A bounded flow table with packet-time timer lists, for any owner: the key, the index,
 * the lists and the times are here; what the owner keeps of an entry is its own record,
 * stored beside the entry. Every slot is preallocated up front
 * (pages are only touched when first used), lookups and inserts never allocate, and when
 * the table is full the caller evicts the oldest entry of a list of its choice, so state
 * can never grow past the configured capacity.
 *
 * Slots are found through an open-addressing index of (hash, slot) pairs at most two
 * thirds full: a lookup that misses, the common case under a SYN flood, reads one cache line of
 * the index and no slot at all, where chained buckets read a slot per link. */
#ifndef OP25B_FLOW_H
#define OP25B_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/flow_tuple.h"
#include "util/address.h"
#include "util/packet_time.h"

#define FLOW_NONE UINT32_MAX

/* Oriented by the connection: client is the side that opened it. */
struct flow_key {
    uint8_t client[16];
    uint8_t server[16];
    uint16_t client_port;
    uint16_t server_port;
    uint8_t family;
    uint8_t proto;
    uint8_t padding[2]; /* always zero, so keys compare with memcmp */
};

/* The one way to build a key, so equal flows always compare equal byte for byte. proto
 * is the IP protocol for connections, or a table's own kind for other keys; client or
 * server may be NULL (their bytes stay zero), the family is the first one given. */
static inline void flow_key_make(struct flow_key *key, uint8_t proto, const struct address *client,
                                 const struct address *server, uint16_t client_port,
                                 uint16_t server_port)
{
    __builtin_memset(key, 0, sizeof(*key));
    if (client != NULL)
        __builtin_memcpy(key->client, client->bytes, sizeof(key->client));
    if (server != NULL)
        __builtin_memcpy(key->server, server->bytes, sizeof(key->server));
    key->client_port = client_port;
    key->server_port = server_port;
    key->family = client != NULL ? client->family : server != NULL ? server->family : 0;
    key->proto = proto;
}

/* The key's connection as a record names it (client as src). */
static inline void flow_key_tuple(const struct flow_key *key, struct flow_tuple *tuple)
{
    __builtin_memset(tuple, 0, sizeof(*tuple));
    tuple->src.family = tuple->dst.family = key->family;
    __builtin_memcpy(tuple->src.bytes, key->client, sizeof(tuple->src.bytes));
    __builtin_memcpy(tuple->dst.bytes, key->server, sizeof(tuple->dst.bytes));
    tuple->src_port = key->client_port;
    tuple->dst_port = key->server_port;
    tuple->proto = key->proto;
}

/* Lists an owner may keep its entries on (or on none), each kept in deadline order
 * because every entry on one list shares one timeout: appending at the tail on each
 * refresh keeps the soonest deadline at the head. The owner names them (the attempt
 * tracker's are "no answer yet", "answered" and "no answer, backing off"; most tables use
 * one, as least recently used first). */
#define FLOW_LISTS 3
#define FLOW_LIST_NONE FLOW_LISTS

/* The part of an entry every table shares: its key, its place in the index and on a list,
 * and the times its timers run from. The owner's own record follows it in the same slot
 * (flow_table_new's record_size, reached with flow_record), so one cache line brings both. */
struct flow {
    struct flow_key key;
    uint32_t hash; /* flow_key_hash of key while in the table; links free slots after */
    uint32_t slot; /* its own place, so no pointer arithmetic divides by the slot size */
    uint32_t list_prev;
    uint32_t list_next;
    uint8_t list; /* 0 .. FLOW_LISTS - 1, or FLOW_LIST_NONE */
    packet_time first_seen;
    packet_time last_seen;
    packet_time mark; /* a time of the owner's choosing (the attempt tracker: its last SYN) */
};

/* The owner's record of an entry: record_size bytes right after it, zeroed by flow_insert. */
static inline void *flow_record(const struct flow *flow)
{
    return (void *)(flow + 1);
}

/* Which time of an entry its list's timeout runs from. */
enum flow_time {
    FLOW_TIME_FIRST_SEEN,
    FLOW_TIME_LAST_SEEN,
    FLOW_TIME_MARK,
};

struct flow_table;

/* capacity: the most flows held at once (at least 1); record_size: the owner's record
 * beside each entry (0 for none). NULL when out of memory. */
struct flow_table *flow_table_new(uint32_t capacity, size_t record_size);
void flow_table_free(struct flow_table *table);

uint32_t flow_key_hash(const struct flow_key *key);
struct flow *flow_lookup(const struct flow_table *table, const struct flow_key *key, uint32_t hash);
/* Asks the processor to fetch the index entry where hash's probe starts: called before
 * other work, the cache miss of the flow_lookup that follows overlaps it. */
void flow_prefetch(const struct flow_table *table, uint32_t hash);
/* A flow holding key, on no list, its times and record zeroed; NULL when the table is full. */
struct flow *flow_insert(struct flow_table *table, const struct flow_key *key, uint32_t hash);
void flow_remove(struct flow_table *table, struct flow *flow);
/* Forgets every flow at once, as if each had been removed: for draining a table at the
 * end, where millions of single removals would cost a cache miss each. */
void flow_table_clear(struct flow_table *table);

/* Declares that an entry of list is due timeout after its field, and that the owner skips
 * its timer work until *due: every append then lowers *due to the entry's deadline when
 * that is sooner, so no entry can come due unnoticed while the owner is not called. */
void flow_table_set_timer(struct flow_table *table, unsigned list, enum flow_time field,
                          packet_time timeout, packet_time *due);
/* The soonest deadline among the heads of the lists with a timer; INT64_MAX when none.
 * Entries of a list share one timeout and are appended as they are refreshed, so the head
 * is the soonest of its list. */
packet_time flow_table_next_deadline(const struct flow_table *table);

/* Puts the flow at the tail of list (taking it off any list it was on). */
void flow_list_append(struct flow_table *table, struct flow *flow, unsigned list);
struct flow *flow_list_head(const struct flow_table *table, unsigned list);
/* For an owner that evicts the head of a list again and again (a full table under a
 * flood): fetches what the next removals will read, the index entry of the entry after the
 * head and the slot of the one after that, so each removal finds them in the cache. Call
 * it after a removal; changes nothing. */
void flow_list_prefetch(const struct flow_table *table, unsigned list);
struct flow *flow_list_next(const struct flow_table *table, const struct flow *flow);

uint32_t flow_table_count(const struct flow_table *table);
uint32_t flow_table_capacity(const struct flow_table *table);
uint32_t flow_index(const struct flow_table *table, const struct flow *flow);

#endif
