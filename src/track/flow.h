/* A bounded flow table with packet-time timer lists. Every slot is preallocated up front
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
#include <stdint.h>

#include "util/address.h"
#include "util/packet_time.h"
#include "track/verdict.h"

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
static inline void flow_key_make(struct flow_key *key, uint8_t proto,
                                 const struct address *client, const struct address *server,
                                 uint16_t client_port, uint16_t server_port)
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

/* Timer lists, each kept in deadline order because every entry on one list shares one
 * timeout: appending at the tail on each refresh keeps the soonest deadline at the head. */
enum flow_list {
    FLOW_LIST_PENDING = 0, /* no answer yet: runs timeouts.syn from the last SYN */
    FLOW_LIST_ACTIVE,      /* answered or settled by leak evidence: runs timeouts.smtp_idle */
    FLOW_LIST_COUNT,
    FLOW_LIST_NONE = FLOW_LIST_COUNT
};

enum attempt_flag {
    ATTEMPT_SYN_SEEN = 0x0001,
    ATTEMPT_SYN_ACK_SEEN = 0x0002,
    ATTEMPT_CLIENT_FIN = 0x0004,
    ATTEMPT_SERVER_FIN = 0x0008,
    ATTEMPT_CLIENT_STREAM = 0x0010, /* client_next is known */
    ATTEMPT_SERVER_STREAM = 0x0020, /* server_next is known */
    ATTEMPT_ICMP_SEEN = 0x0040,
    ATTEMPT_TO_MSA = 0x0080,
    ATTEMPT_NO_SESSION = 0x0100, /* the dialogue could not be parsed: no session was free */
    ATTEMPT_TUNNELLED = 0x0200,
};

/* One tracked attempt. Kept small: 2 million of them must fit well under 1 GiB. */
struct flow {
    struct flow_key key;
    uint32_t hash; /* flow_key_hash of key while in the table; links free slots after */
    uint32_t list_prev;
    uint32_t list_next;
    uint8_t list; /* enum flow_list */
    uint8_t icmp_type;
    uint8_t icmp_code;
    int8_t segment; /* index in policy.segments, or -1 */
    packet_time first_seen;
    packet_time last_syn;
    packet_time last_packet;
    uint32_t client_isn;
    uint32_t server_isn;
    uint32_t client_next; /* next client sequence number expected (stream order) */
    uint32_t server_next;
    uint32_t session; /* dialogue parser slot, or FLOW_NONE */
    uint32_t client_bytes;
    uint32_t server_bytes;
    uint16_t flags; /* enum attempt_flag */
    uint16_t syn_count;
    evidence_set evidence;
    int16_t pool;
    int16_t msa;
    struct address icmp_from;
};

/* Which time of an entry its list's timeout runs from. */
enum flow_time {
    FLOW_TIME_FIRST_SEEN,
    FLOW_TIME_LAST_SYN,
    FLOW_TIME_LAST_PACKET,
};

struct flow_table;

/* capacity: the most flows held at once (at least 1). NULL when out of memory. */
struct flow_table *flow_table_new(uint32_t capacity);
void flow_table_free(struct flow_table *table);

uint32_t flow_key_hash(const struct flow_key *key);
struct flow *flow_lookup(const struct flow_table *table, const struct flow_key *key,
                         uint32_t hash);
/* A zeroed flow holding key, on no list; NULL when the table is full. */
struct flow *flow_insert(struct flow_table *table, const struct flow_key *key, uint32_t hash);
void flow_remove(struct flow_table *table, struct flow *flow);
/* Forgets every flow at once, as if each had been removed: for draining a table at the
 * end, where millions of single removals would cost a cache miss each. */
void flow_table_clear(struct flow_table *table);

/* Declares that an entry of list is due timeout after its field, and that the owner skips
 * its timer work until *due: every append then lowers *due to the entry's deadline when
 * that is sooner, so no entry can come due unnoticed while the owner is not called. */
void flow_table_set_timer(struct flow_table *table, enum flow_list list, enum flow_time field,
                          packet_time timeout, packet_time *due);
/* The soonest deadline among the heads of the lists with a timer; INT64_MAX when none.
 * Entries of a list share one timeout and are appended as they are refreshed, so the head
 * is the soonest of its list. */
packet_time flow_table_next_deadline(const struct flow_table *table);

/* Puts the flow at the tail of list (taking it off any list it was on). */
void flow_list_append(struct flow_table *table, struct flow *flow, enum flow_list list);
struct flow *flow_list_head(const struct flow_table *table, enum flow_list list);
struct flow *flow_list_next(const struct flow_table *table, const struct flow *flow);

uint32_t flow_table_count(const struct flow_table *table);
uint32_t flow_table_capacity(const struct flow_table *table);
uint32_t flow_index(const struct flow_table *table, const struct flow *flow);

#endif
