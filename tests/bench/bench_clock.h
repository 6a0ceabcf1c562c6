/* The one clock the benchmark's helpers time with: monotonic, so a clock step during a run
 * cannot bend a figure. */
#ifndef OP25B_BENCH_CLOCK_H
#define OP25B_BENCH_CLOCK_H

#include <time.h>

static inline double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

#endif
