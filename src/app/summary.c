#include "app/summary.h"

#include <stdlib.h>
#include <string.h>

static void print_totals(FILE *out, const struct policy *policy,
                         const struct sensor_counters *counters, const struct coverage *coverage,
                         double seconds)
{
    uint64_t by_verdict[VERDICT_COUNT] = {0};
    for (size_t p = 0; p < policy->pool_count; p++) {
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts =
                coverage_get(coverage, (int)p, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
            for (int v = 0; v < VERDICT_COUNT; v++)
                by_verdict[v] += counts->by_verdict[v];
        }
    }
    uint64_t attempts = 0;
    for (int v = 0; v < VERDICT_COUNT; v++)
        attempts += by_verdict[v];
    fprintf(out,
            "op25b-watch: %llu packets, %llu bytes in %.2f s; %llu attempts: %llu allowed, "
            "%llu blocked, %llu leaked, %llu would_block, %llu unknown\n",
            (unsigned long long)counters->packets, (unsigned long long)counters->bytes, seconds,
            (unsigned long long)attempts, (unsigned long long)by_verdict[VERDICT_ALLOWED],
            (unsigned long long)by_verdict[VERDICT_BLOCKED],
            (unsigned long long)by_verdict[VERDICT_LEAKED],
            (unsigned long long)by_verdict[VERDICT_WOULD_BLOCK],
            (unsigned long long)by_verdict[VERDICT_UNKNOWN]);
}

static void print_pool_coverage(FILE *out, const struct policy *policy,
                                const struct coverage *coverage)
{
    for (size_t p = 0; p < policy->pool_count; p++) {
        const struct pool *pool = &policy->pools[p];
        if (pool->type != POOL_DYNAMIC)
            continue;
        for (int f = 0; f < 2; f++) {
            const struct coverage_counts *counts =
                coverage_get(coverage, (int)p, f == 0 ? ADDRESS_V4 : ADDRESS_V6);
            uint64_t total = coverage_attempts(counts);
            if (total == 0)
                continue;
            double ratio;
            char ratio_text[32] = "n/a";
            if (coverage_ratio(counts, &ratio))
                snprintf(ratio_text, sizeof(ratio_text), "%.1f%%", ratio * 100);
            fprintf(out, "  pool %s %s (%s): %llu attempts, coverage %s\n", pool->name,
                    f == 0 ? "IPv4" : "IPv6",
                    pool->blocking_point == POLICY_NO_INDEX
                        ? "no blocking point"
                        : policy->blocking_points[pool->blocking_point].name,
                    (unsigned long long)total, ratio_text);
        }
    }
}

static void print_losses(FILE *out, const struct sensor_counters *counters)
{
    uint64_t malformed = counters->decode[DECODE_TRUNCATED] + counters->decode[DECODE_MALFORMED] +
                         counters->decode[DECODE_TOO_DEEP];
    if (malformed > 0 || counters->flow_evictions > 0 || counters->capture_drops > 0)
        fprintf(out, "  %llu malformed packets skipped, %llu evictions, %llu capture drops\n",
                (unsigned long long)malformed, (unsigned long long)counters->flow_evictions,
                (unsigned long long)counters->capture_drops);
}

static void print_suspects(FILE *out, const struct policy *policy, const struct bot_rank *ranks,
                           size_t ranked)
{
    if (ranked > 0)
        fprintf(out, "  top bot suspects:\n");
    for (size_t i = 0; i < ranked; i++)
        fprintf(out, "  %2zu. %-24s score %5.1f in %u window%s%s%s\n", i + 1, ranks[i].subscriber,
                ranks[i].score, ranks[i].windows, ranks[i].windows == 1 ? "" : "s",
                ranks[i].pool >= 0 ? ", pool " : "",
                ranks[i].pool >= 0 ? policy->pools[ranks[i].pool].name : "");
}

void summary_print(FILE *out, const struct policy *policy, const struct sensor_counters *counters,
                   const struct coverage *coverage, const struct bot_rank *ranks, size_t rank_count,
                   double seconds)
{
    print_totals(out, policy, counters, coverage, seconds);
    print_pool_coverage(out, policy, coverage);
    print_losses(out, counters);
    print_suspects(out, policy, ranks, rank_count);
}

void summary_save(struct worker_summary *to, const struct bot_ranking *suspects)
{
    const struct bot_rank *ranks;
    size_t ranked = suspects != NULL ? bot_ranking_top(suspects, &ranks) : 0;
    if (ranked > SUMMARY_SUSPECTS)
        ranked = SUMMARY_SUSPECTS;
    __atomic_store_n(&to->count, 0, __ATOMIC_RELEASE);
    if (ranked > 0)
        memcpy(to->ranks, ranks, ranked * sizeof(*ranks));
    __atomic_store_n(&to->count, (uint32_t)ranked, __ATOMIC_RELEASE);
}

static int compare_ranks(const void *a, const void *b)
{
    if (bot_rank_before(a, b))
        return -1;
    return bot_rank_before(b, a) ? 1 : 0;
}

size_t summary_merge(const struct worker_summary *from, unsigned workers,
                     struct bot_rank ranks[SUMMARY_SUSPECTS])
{
    size_t capacity = (size_t)workers * SUMMARY_SUSPECTS, count = 0;
    struct bot_rank *all = calloc(capacity + 1, sizeof(*all));
    if (all == NULL)
        return 0;
    for (unsigned w = 0; w < workers; w++) {
        uint32_t saved = __atomic_load_n(&from[w].count, __ATOMIC_ACQUIRE);
        for (uint32_t i = 0; i < saved && i < SUMMARY_SUSPECTS; i++)
            all[count++] = from[w].ranks[i];
    }
    qsort(all, count, sizeof(*all), compare_ranks);
    if (count > SUMMARY_SUSPECTS)
        count = SUMMARY_SUSPECTS;
    memcpy(ranks, all, count * sizeof(*all));
    free(all);
    return count;
}
