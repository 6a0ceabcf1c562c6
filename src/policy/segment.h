/* Where a packet was seen (a "segment", docs/concepts.md): a capture interface, a VLAN id or a
 * router MAC, mapped by the policy to the pools expected there. Resolved once per packet
 * through tables built at start-up. */
#ifndef OP25B_SEGMENT_H
#define OP25B_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/decode.h"
#include "policy/policy.h"

#define SEGMENT_MAX_SOURCES 64

struct segment_map {
    const struct policy *policy;
    int16_t by_vlan[4096];
    int16_t by_source[SEGMENT_MAX_SOURCES];
    size_t mac_count;
    struct {
        uint8_t mac[6];
        int16_t segment;
    } * macs;
};

/* source_names[i] is the interface (or file) name of capture source i. */
int segment_map_init(struct segment_map *map, const struct policy *policy,
                     const char *const *source_names, size_t source_count);
void segment_map_free(struct segment_map *map);
/* The first segment of the policy that matches the packet, or -1. */
int segment_of(const struct segment_map *map, const struct packet *packet);

/* What a segment has shown, one flag per segment (index + 1; 0 is "no segment"): read and
 * set whole, since with --workers another process may set the same flag at that moment
 * (worker_share.h). */
static inline bool segment_flag(const bool *flags, int segment)
{
    return __atomic_load_n(&flags[segment + 1], __ATOMIC_RELAXED);
}

static inline void segment_flag_set(bool *flags, int segment)
{
    __atomic_store_n(&flags[segment + 1], true, __ATOMIC_RELAXED);
}

#endif
