/* The one time type: packet time in microseconds since the Unix epoch. Every timer runs
 * on it, never on the wall clock, so a replay gives the same events every run. */
#ifndef OP25B_PACKET_TIME_H
#define OP25B_PACKET_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t packet_time;

#define PACKET_TIME_SECOND ((packet_time)1000000)

/* The instants RFC 3339 can write, with its four-digit years: 0000-01-01T00:00:00.000000Z to
 * 9999-12-31T23:59:59.999999Z. Packet sources clamp to them (capture.c), and so every time
 * the sensor computes stays some 36 times inside int64_t's range: sums and differences of
 * two of them, and a policy's durations added to one, cannot overflow. */
#define PACKET_TIME_MIN ((packet_time)-62167219200LL * PACKET_TIME_SECOND)
#define PACKET_TIME_MAX ((packet_time)253402300800LL * PACKET_TIME_SECOND - 1)

static inline packet_time packet_time_clamp(packet_time time)
{
    return time < PACKET_TIME_MIN   ? PACKET_TIME_MIN
           : time > PACKET_TIME_MAX ? PACKET_TIME_MAX
                                    : time;
}

/* RFC 3339, UTC, microseconds: 2026-11-24T03:35:00.000000Z (27 characters). A time outside
 * the years 0000-9999 is written as the nearest of the two ends, never with another number
 * of digits. Returns the length of the whole text, as snprintf, and always terminates a
 * buffer of at least one byte. */
#define PACKET_TIME_TEXT_LENGTH 27
#define PACKET_TIME_TEXT_MAX 32
size_t packet_time_format(packet_time time, char *buffer, size_t size);

/* The same text for times that mostly share their second with the one before (every event
 * carries one, and packets come in time order): the date and time of day are formatted once
 * a second, only the microseconds each time. Zero it before first use. */
struct packet_time_memo {
    int64_t second; /* the whole second whose text is kept, when known */
    int known;
    char text[PACKET_TIME_TEXT_MAX];
};
size_t packet_time_format_memo(struct packet_time_memo *memo, packet_time time,
                               char buffer[PACKET_TIME_TEXT_MAX]);

#endif
