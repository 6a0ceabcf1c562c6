#include "policy/segment.h"

#include <stdlib.h>
#include <string.h>

int segment_map_init(struct segment_map *map, const struct policy *policy,
                     const char *const *source_names, size_t source_count)
{
    memset(map, 0, sizeof(*map));
    map->policy = policy;
    for (size_t i = 0; i < 4096; i++)
        map->by_vlan[i] = -1;
    for (size_t i = 0; i < SEGMENT_MAX_SOURCES; i++)
        map->by_source[i] = -1;
    map->macs = calloc(policy->segment_count + 1, sizeof(*map->macs));
    if (map->macs == NULL)
        return -1;
    /* Walk backwards so the first segment in policy order wins each slot. */
    for (size_t s = policy->segment_count; s-- > 0;) {
        const struct segment *segment = &policy->segments[s];
        switch (segment->match) {
        case SEGMENT_VLAN:
            map->by_vlan[segment->vlan & 4095] = (int16_t)s;
            break;
        case SEGMENT_INTERFACE:
            for (size_t i = 0; i < source_count && i < SEGMENT_MAX_SOURCES; i++) {
                if (source_names[i] != NULL && strcmp(source_names[i], segment->interface) == 0)
                    map->by_source[i] = (int16_t)s;
            }
            break;
        case SEGMENT_MAC:
            memcpy(map->macs[map->mac_count].mac, segment->mac, 6);
            map->macs[map->mac_count].segment = (int16_t)s;
            map->mac_count++;
            break;
        }
    }
    return 0;
}

void segment_map_free(struct segment_map *map)
{
    free(map->macs);
    map->macs = NULL;
}

static int earliest(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int segment_of(const struct segment_map *map, const struct packet *packet)
{
    int found = -1;
    if (packet->source < SEGMENT_MAX_SOURCES)
        found = map->by_source[packet->source];
    for (int i = 0; i < packet->vlan_count && i < 2; i++)
        found = earliest(found, map->by_vlan[packet->vlan[i] & 4095]);
    /* A router's MAC is the source of what it forwards to us and the destination of
     * what we send it, so either side names the segment. */
    if (packet->has_mac) {
        for (size_t i = 0; i < map->mac_count; i++) {
            if (memcmp(map->macs[i].mac, packet->src_mac, 6) == 0 ||
                memcmp(map->macs[i].mac, packet->dst_mac, 6) == 0)
                found = earliest(found, map->macs[i].segment);
        }
    }
    return found;
}
