#include "packet_time.h"

#include <stdio.h>
#include <time.h>

size_t packet_time_format(packet_time time, char *buffer, size_t size)
{
    /* Floor division, so times before 1970 still print a valid instant. */
    int64_t seconds = time / PACKET_TIME_SECOND;
    int64_t micros = time % PACKET_TIME_SECOND;
    if (micros < 0) {
        micros += PACKET_TIME_SECOND;
        seconds -= 1;
    }
    time_t whole = (time_t)seconds;
    struct tm utc;
    if (gmtime_r(&whole, &utc) == NULL) {
        int n = snprintf(buffer, size, "1970-01-01T00:00:00.000000Z");
        return n < 0 ? 0 : (size_t)n;
    }
    int n = snprintf(buffer, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     (long long)micros);
    return n < 0 ? 0 : (size_t)n;
}
