#include "app/summary.h"

#include "record/coverage.h"

static void print_totals(FILE *out, const struct policy *policy, const struct sensor *sensor,
                         double seconds)
{
    const struct sensor_counters *counters = sensor_counters(sensor);
    const struct coverage *coverage = sensor_coverage(sensor);
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

static void print_suspects(FILE *out, const struct policy *policy,
                           const struct bot_ranking *suspects)
{
    const struct bot_rank *ranks;
    size_t ranked = suspects != NULL ? bot_ranking_top(suspects, &ranks) : 0;
    if (ranked > 0)
        fprintf(out, "  top bot suspects:\n");
    for (size_t i = 0; i < ranked; i++)
        fprintf(out, "  %2zu. %-24s score %5.1f in %u window%s%s%s\n", i + 1, ranks[i].subscriber,
                ranks[i].score, ranks[i].windows, ranks[i].windows == 1 ? "" : "s",
                ranks[i].pool >= 0 ? ", pool " : "",
                ranks[i].pool >= 0 ? policy->pools[ranks[i].pool].name : "");
}

void summary_print(FILE *out, const struct policy *policy, const struct sensor *sensor,
                   const struct bot_ranking *suspects, double seconds)
{
    print_totals(out, policy, sensor, seconds);
    print_pool_coverage(out, policy, sensor_coverage(sensor));
    print_losses(out, sensor_counters(sensor));
    print_suspects(out, policy, suspects);
}
