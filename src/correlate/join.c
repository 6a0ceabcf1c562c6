#include "correlate/join.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS_MIN 1024

static uint64_t hash_text(const char *text)
{
    /* FNV-1a */
    uint64_t hash = UINT64_C(14695981039346656037);
    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++)
        hash = (hash ^ *c) * UINT64_C(1099511628211);
    return hash;
}

int join_init(struct join *join)
{
    memset(join, 0, sizeof(*join));
    join->buckets = calloc(BUCKETS_MIN, sizeof(*join->buckets));
    if (join->buckets == NULL)
        return -1;
    join->mask = BUCKETS_MIN - 1;
    return 0;
}

void join_free(struct join *join)
{
    struct fleet_attempt *attempt = join->oldest;
    while (attempt != NULL) {
        struct fleet_attempt *next = attempt->newer;
        free(attempt);
        attempt = next;
    }
    free(join->buckets);
    memset(join, 0, sizeof(*join));
}

/* Doubles the buckets when there are more attempts than buckets. */
static void grow(struct join *join)
{
    size_t size = (join->mask + 1) * 2;
    struct fleet_attempt **buckets = calloc(size, sizeof(*buckets));
    if (buckets == NULL)
        return; /* longer chains, still correct */
    for (struct fleet_attempt *a = join->oldest; a != NULL; a = a->newer) {
        a->bucket_next = buckets[a->hash & (size - 1)];
        buckets[a->hash & (size - 1)] = a;
    }
    free(join->buckets);
    join->buckets = buckets;
    join->mask = size - 1;
}

const struct fleet_report *join_report_of(const struct fleet_attempt *attempt, int sensor)
{
    for (int i = 0; i < attempt->report_count; i++) {
        if (attempt->reports[i].sensor == sensor)
            return &attempt->reports[i];
    }
    return NULL;
}

/* One attempt: the same connection (Community ID), times that overlap within the skew,
 * and no report of this sensor yet. */
static bool belongs(const struct fleet_attempt *attempt, const struct fleet_input *input,
                    packet_time skew)
{
    return strcmp(attempt->community_id, input->community_id) == 0 &&
           join_report_of(attempt, input->sensor) == NULL && input->ts <= attempt->end + skew &&
           attempt->start <= input->end + skew;
}

static struct fleet_attempt *create(struct join *join, const struct fleet_input *input,
                                    const char *key, size_t key_length, int64_t offset,
                                    uint64_t hash)
{
    struct fleet_attempt *attempt = calloc(1, sizeof(*attempt));
    if (attempt == NULL)
        return NULL;
    memcpy(attempt->community_id, input->community_id, sizeof(attempt->community_id));
    size_t kept = key_length < FLEET_KEY_MAX - 1 ? key_length : FLEET_KEY_MAX - 1;
    memcpy(attempt->key, key, kept);
    memcpy(attempt->src, input->src, sizeof(attempt->src));
    memcpy(attempt->dst, input->dst, sizeof(attempt->dst));
    attempt->src_port = input->src_port;
    attempt->dst_port = input->dst_port;
    attempt->family = input->family;
    attempt->pool = input->pool;
    attempt->start = input->ts;
    attempt->end = input->end;
    attempt->first_offset = offset;
    attempt->hash = hash;
    attempt->bucket_next = join->buckets[hash & join->mask];
    join->buckets[hash & join->mask] = attempt;
    attempt->older = join->newest;
    if (join->newest != NULL)
        join->newest->newer = attempt;
    else
        join->oldest = attempt;
    join->newest = attempt;
    if (++join->count > join->mask + 1)
        grow(join);
    return attempt;
}

struct fleet_attempt *join_add(struct join *join, const struct fleet_input *input, const char *key,
                               size_t key_length, int64_t offset, packet_time skew)
{
    uint64_t hash = hash_text(input->community_id);
    struct fleet_attempt *attempt = join->buckets[hash & join->mask];
    while (attempt != NULL && !(attempt->hash == hash && belongs(attempt, input, skew)))
        attempt = attempt->bucket_next;
    if (attempt == NULL && (attempt = create(join, input, key, key_length, offset, hash)) == NULL)
        return NULL;
    if (attempt->report_count == FLEET_REPORTS_MAX) {
        join->reports_dropped++;
        return attempt;
    }
    attempt->reports[attempt->report_count++] = (struct fleet_report){
        .sensor = input->sensor,
        .verdict = input->verdict,
        .evidence = input->evidence,
        .ts = input->ts,
        .end = input->end,
        .offset = offset,
    };
    if (input->ts < attempt->start)
        attempt->start = input->ts;
    if (input->end > attempt->end)
        attempt->end = input->end;
    return attempt;
}

void join_remove(struct join *join, struct fleet_attempt *attempt)
{
    struct fleet_attempt **link = &join->buckets[attempt->hash & join->mask];
    while (*link != attempt)
        link = &(*link)->bucket_next;
    *link = attempt->bucket_next;
    if (attempt->older != NULL)
        attempt->older->newer = attempt->newer;
    else
        join->oldest = attempt->newer;
    if (attempt->newer != NULL)
        attempt->newer->older = attempt->older;
    else
        join->newest = attempt->older;
    join->count--;
    free(attempt);
}
