/* Coverage per blocking point and pool (the `coverage` event): how many attempts got
 * each verdict, per address family, and blocked / (blocked + leaked). */
#ifndef OP25B_COVERAGE_H
#define OP25B_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/verdict.h"

struct coverage_counts {
    uint64_t by_verdict[VERDICT_COUNT];
    /* collateral_block findings about the pool's subscribers: what the block refused that
     * it must let through. Not attempts: no verdict, no share in the ratio. */
    uint64_t collateral;
};

struct coverage {
    size_t pool_count;
    struct coverage_counts *counts; /* [pool][family: 0 IPv4, 1 IPv6] */
};

int coverage_init(struct coverage *coverage, size_t pool_count);
void coverage_free(struct coverage *coverage);
void coverage_add(struct coverage *coverage, int pool, int family, enum verdict verdict);
void coverage_add_collateral(struct coverage *coverage, int pool, int family);
const struct coverage_counts *coverage_get(const struct coverage *coverage, int pool, int family);
uint64_t coverage_attempts(const struct coverage_counts *counts);
/* blocked / (blocked + leaked); false when neither happened (the ratio is unknown). */
bool coverage_ratio(const struct coverage_counts *counts, double *ratio);

#endif
