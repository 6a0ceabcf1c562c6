/* The one time type: packet time in microseconds since the Unix epoch. Every timer runs
 * on it, never on the wall clock, so a replay gives the same events every run. */
#ifndef OP25B_PACKET_TIME_H
#define OP25B_PACKET_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t packet_time;

#define PACKET_TIME_SECOND ((packet_time)1000000)

/* RFC 3339, UTC, microseconds: 2026-11-24T03:35:00.000000Z (27 characters). */
#define PACKET_TIME_TEXT_LENGTH 27
#define PACKET_TIME_TEXT_MAX 32
size_t packet_time_format(packet_time time, char *buffer, size_t size);

#endif
