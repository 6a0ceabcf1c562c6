#include "track/isn_memory.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4

struct remembered {
    uint64_t fingerprint; /* 0: empty */
    packet_time seen;     /* the last SYN it stands for */
};

struct isn_memory {
    struct remembered *buckets; /* bucket_count buckets of WAYS entries */
    uint32_t bucket_mask;
    bool used; /* anything remembered yet: until then a lookup costs nothing */
};

struct isn_memory *isn_memory_new(uint32_t entries)
{
    struct isn_memory *memory = calloc(1, sizeof(*memory));
    if (memory == NULL)
        return NULL;
    uint64_t buckets = 1;
    while (buckets * WAYS < entries)
        buckets <<= 1;
    memory->buckets = calloc(buckets * WAYS, sizeof(*memory->buckets));
    if (memory->buckets == NULL) {
        free(memory);
        return NULL;
    }
    memory->bucket_mask = (uint32_t)(buckets - 1);
    return memory;
}

void isn_memory_free(struct isn_memory *memory)
{
    if (memory == NULL)
        return;
    free(memory->buckets);
    free(memory);
}

static inline uint64_t mix(uint64_t h, uint64_t word)
{
    h ^= word;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

/* 64 bits of the key and the ISN; never 0, the empty mark. */
static uint64_t fingerprint_of(const struct flow_key *key, uint32_t isn)
{
    const uint8_t *bytes = (const uint8_t *)key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ isn;
    for (size_t i = 0; i + 8 <= sizeof(*key); i += 8) {
        uint64_t word;
        memcpy(&word, bytes + i, sizeof(word));
        h = mix(h, word);
    }
    h = mix(h, isn);
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    return h != 0 ? h : 1;
}

static struct remembered *bucket_of(const struct isn_memory *memory, uint64_t fingerprint)
{
    return &memory->buckets[(size_t)((fingerprint >> 32) & memory->bucket_mask) * WAYS];
}

void isn_memory_remember(struct isn_memory *memory, const struct flow_key *key, uint32_t isn,
                         packet_time last_syn)
{
    uint64_t fingerprint = fingerprint_of(key, isn);
    struct remembered *bucket = bucket_of(memory, fingerprint);
    /* The same attempt again, or an empty entry, or else the one remembered longest. */
    struct remembered *slot = &bucket[0];
    for (unsigned i = 0; i < WAYS; i++) {
        if (bucket[i].fingerprint == fingerprint || bucket[i].fingerprint == 0) {
            slot = &bucket[i];
            break;
        }
        if (bucket[i].seen < slot->seen)
            slot = &bucket[i];
    }
    slot->fingerprint = fingerprint;
    slot->seen = last_syn;
    memory->used = true;
}

bool isn_memory_recall(struct isn_memory *memory, const struct flow_key *key, uint32_t isn,
                       packet_time now)
{
    if (!memory->used)
        return false;
    uint64_t fingerprint = fingerprint_of(key, isn);
    struct remembered *bucket = bucket_of(memory, fingerprint);
    for (unsigned i = 0; i < WAYS; i++) {
        if (bucket[i].fingerprint != fingerprint)
            continue;
        /* Packet time may step back a little between sources: that is no age. */
        if (now - bucket[i].seen > ISN_MEMORY_HOLD)
            return false;
        if (now > bucket[i].seen)
            bucket[i].seen = now;
        return true;
    }
    return false;
}
