#include "record/coverage.h"

#include <stdlib.h>

#include "util/address.h"

int coverage_init(struct coverage *coverage, size_t pool_count)
{
    coverage->pool_count = pool_count;
    coverage->counts = calloc(pool_count * 2 + 1, sizeof(struct coverage_counts));
    return coverage->counts == NULL ? -1 : 0;
}

void coverage_free(struct coverage *coverage)
{
    free(coverage->counts);
    coverage->counts = NULL;
}

static size_t slot(int pool, int family)
{
    return (size_t)pool * 2 + (family == ADDRESS_V6 ? 1 : 0);
}

void coverage_add(struct coverage *coverage, int pool, int family, enum verdict verdict)
{
    if (pool < 0 || (size_t)pool >= coverage->pool_count || verdict >= VERDICT_COUNT)
        return;
    coverage->counts[slot(pool, family)].by_verdict[verdict]++;
}

void coverage_add_collateral(struct coverage *coverage, int pool, int family)
{
    if (coverage == NULL || pool < 0 || (size_t)pool >= coverage->pool_count)
        return;
    coverage->counts[slot(pool, family)].collateral++;
}

const struct coverage_counts *coverage_get(const struct coverage *coverage, int pool, int family)
{
    return &coverage->counts[slot(pool, family)];
}

uint64_t coverage_attempts(const struct coverage_counts *counts)
{
    uint64_t total = 0;
    for (int i = 0; i < VERDICT_COUNT; i++)
        total += counts->by_verdict[i];
    return total;
}

bool coverage_ratio(const struct coverage_counts *counts, double *ratio)
{
    uint64_t blocked = counts->by_verdict[VERDICT_BLOCKED];
    uint64_t leaked = counts->by_verdict[VERDICT_LEAKED];
    if (blocked + leaked == 0)
        return false;
    *ratio = (double)blocked / (double)(blocked + leaked);
    return true;
}
