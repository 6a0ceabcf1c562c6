#include "track/duplicates.h"

#include <string.h>

/* What the identity reads of a payload: enough to tell two packets with equal headers
 * apart (a DNS query's id, a retransmission's bytes), little enough to stay cheap. */
#define PAYLOAD_KEPT 64

void duplicate_filter_init(struct duplicate_filter *filter)
{
    memset(filter, 0, sizeof(*filter));
}

/* A multiply per word, and one avalanche at the end (identity_of): the identity only has
 * to tell packets apart, and it is computed for most packets. */
static inline uint64_t mix(uint64_t h, uint64_t word)
{
    return (h ^ word) * 0x9fb21c651e98df25ull;
}

static inline uint64_t load64(const uint8_t *bytes)
{
    uint64_t word;
    memcpy(&word, bytes, sizeof(word));
    return word;
}

static inline uint64_t mix_address(uint64_t h, const struct address *address)
{
    return mix(mix(h, load64(address->bytes)), load64(address->bytes + 8));
}

static uint64_t mix_payload(uint64_t h, const uint8_t *bytes, size_t length)
{
    size_t i = 0;
    for (; i + 8 <= length; i += 8)
        h = mix(h, load64(bytes + i));
    if (i < length) {
        uint64_t word = 0;
        memcpy(&word, bytes + i, length - i);
        h = mix(h, word);
    }
    return h;
}

/* The fields a router forwarding the packet leaves as they are (duplicates.h). */
static uint64_t identity_of(const struct packet *packet)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    h = mix(h, (uint64_t)packet->ip_version << 56 | (uint64_t)packet->proto << 48 |
                   (uint64_t)packet->tunnel << 40 | (uint64_t)packet->src_port << 16 |
                   packet->dst_port);
    h = mix_address(h, &packet->src);
    h = mix_address(h, &packet->dst);
    if (packet->tunnel != TUNNEL_NONE) {
        h = mix_address(h, &packet->outer_src);
        h = mix_address(h, &packet->outer_dst);
    }
    if (packet->proto == IPPROTO_NUMBER_TCP)
        h = mix(h,
                ((uint64_t)packet->seq << 32 | packet->ack) ^
                    ((uint64_t)packet->tcp_flags << 16 | packet->window) * 0x2545f4914f6cdd1dull);
    if (packet->is_icmp_error) {
        const struct quoted_header *quote = &packet->quote;
        h = mix(h, (uint64_t)packet->icmp_type << 8 | packet->icmp_code);
        h = mix_address(h, &quote->src);
        h = mix_address(h, &quote->dst);
        h = mix(h, (uint64_t)quote->seq << 32 | (uint64_t)quote->src_port << 16 | quote->dst_port);
    }
    h = mix(h, packet->payload_wire_length);
    uint32_t kept = packet->payload_length < PAYLOAD_KEPT ? packet->payload_length : PAYLOAD_KEPT;
    if (kept > 0)
        h = mix_payload(h, packet->payload, kept);
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

/* Pure ACKs are not compared (duplicates.h), nor what the sensor reads nothing of. */
static bool compared(const struct packet *packet)
{
    if (packet->proto == IPPROTO_NUMBER_TCP)
        return (packet->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)) != 0 ||
               packet->payload_wire_length > 0 || packet->payload_length > 0;
    return packet->proto == IPPROTO_NUMBER_UDP || packet->is_icmp_error;
}

bool duplicate_seen(struct duplicate_filter *filter, const struct packet *packet)
{
    if (!compared(packet))
        return false;
    uint64_t identity = identity_of(packet);
    uint32_t tag = (uint32_t)(identity >> 32) | 1u; /* never 0, the empty mark */
    size_t bucket_index = identity & (DUPLICATE_BUCKETS - 1);
    struct duplicate_entry *bucket = &filter->entries[bucket_index * DUPLICATE_WAYS];
    uint32_t now = (uint32_t)packet->ts;
    for (unsigned i = 0; i < DUPLICATE_WAYS; i++) {
        if (bucket[i].tag != tag)
            continue;
        /* Times wrap with the 32-bit clock; a copy may arrive a little out of order. */
        int32_t age = (int32_t)(now - bucket[i].time);
        if (age <= DUPLICATE_WINDOW && age >= -DUPLICATE_WINDOW)
            return true;
    }
    uint8_t *next = &filter->next[bucket_index];
    bucket[*next] = (struct duplicate_entry){tag, now};
    *next = (uint8_t)((*next + 1) % DUPLICATE_WAYS);
    return false;
}
