#include "app/progress.h"

#include <time.h>
#include <unistd.h>

/* How many packets pass between two looks at the clock. */
#define PROGRESS_CHECK_EVERY 256

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void progress_init(struct progress *progress, FILE *out, bool enabled)
{
    progress->enabled = enabled && isatty(fileno(out));
    progress->shown = false;
    progress->out = out;
    progress->calls = 0;
    progress->last_shown = monotonic_seconds();
    progress->last_packets = 0;
}

size_t progress_format(char *buffer, size_t size, uint64_t done, uint64_t total, uint64_t packets,
                       double packets_per_second)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    double amount = (double)total;
    size_t unit = 0;
    while (amount >= 1000 && unit + 1 < sizeof(units) / sizeof(units[0])) {
        amount /= 1000;
        unit++;
    }
    double percent = total > 0 ? 100.0 * (double)done / (double)total : 0;
    int length =
        snprintf(buffer, size, "op25b-watch: %.1f%% of %.1f %s, %llu packets, %.0f packets/s",
                 percent > 100 ? 100 : percent, amount, units[unit], (unsigned long long)packets,
                 packets_per_second);
    return length < 0 ? 0 : (size_t)length;
}

void progress_update(struct progress *progress, const struct capture *capture, uint64_t packets)
{
    if (!progress->enabled || ++progress->calls % PROGRESS_CHECK_EVERY != 0)
        return;
    double now = monotonic_seconds();
    double elapsed = now - progress->last_shown;
    if (elapsed < (progress->shown ? PROGRESS_INTERVAL_SECONDS : PROGRESS_FIRST_SECONDS))
        return;
    uint64_t done, total;
    capture_progress(capture, &done, &total);
    if (total == 0) {
        progress->enabled = false; /* size unknown: nothing meaningful to show */
        return;
    }
    char line[160];
    progress_format(line, sizeof(line), done, total, packets,
                    (double)(packets - progress->last_packets) / elapsed);
    /* Carriage return and erase-to-end-of-line (ECMA-48 EL): the line is redrawn in place. */
    fprintf(progress->out, "\r\033[K%s", line);
    fflush(progress->out);
    progress->shown = true;
    progress->last_shown = now;
    progress->last_packets = packets;
}

void progress_clear(struct progress *progress)
{
    if (!progress->shown)
        return;
    fputs("\r\033[K", progress->out);
    fflush(progress->out);
    progress->shown = false;
}
