#include "util/packet_time.h"

#include <string.h>

/* Days since 1970-01-01 to a proleptic Gregorian date: count in 400-year eras starting on
 * 1 March, so the leap day falls at the end of each year of the era. */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    days += 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned day_of_era = (unsigned)(days - era * 146097);
    unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    unsigned month_from_march = (5 * day_of_year + 2) / 153;
    *day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    *month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    *year = (int64_t)year_of_era + era * 400 + (*month <= 2);
}

static char *digits(char *out, unsigned value, int count)
{
    for (int i = count - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return out + count;
}

/* Every event carries a time, so this is on the event path: by hand, it costs a few dozen
 * instructions where gmtime_r and snprintf cost a few thousand. */
static void format_whole(packet_time time, char *out)
{
    time = packet_time_clamp(time);
    /* Floor division, so times before 1970 still print a valid instant. */
    int64_t seconds = time / PACKET_TIME_SECOND;
    int64_t micros = time % PACKET_TIME_SECOND;
    if (micros < 0) {
        micros += PACKET_TIME_SECOND;
        seconds -= 1;
    }
    int64_t days = seconds / 86400;
    int64_t second_of_day = seconds % 86400;
    if (second_of_day < 0) {
        second_of_day += 86400;
        days -= 1;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    out = digits(out, (unsigned)year, 4);
    *out++ = '-';
    out = digits(out, month, 2);
    *out++ = '-';
    out = digits(out, day, 2);
    *out++ = 'T';
    out = digits(out, (unsigned)(second_of_day / 3600), 2);
    *out++ = ':';
    out = digits(out, (unsigned)(second_of_day / 60 % 60), 2);
    *out++ = ':';
    out = digits(out, (unsigned)(second_of_day % 60), 2);
    *out++ = '.';
    out = digits(out, (unsigned)micros, 6);
    *out++ = 'Z';
    *out = '\0';
}

size_t packet_time_format(packet_time time, char *buffer, size_t size)
{
    if (size >= PACKET_TIME_TEXT_LENGTH + 1) {
        format_whole(time, buffer);
    } else if (size > 0) {
        char whole[PACKET_TIME_TEXT_LENGTH + 1];
        format_whole(time, whole);
        memcpy(buffer, whole, size - 1);
        buffer[size - 1] = '\0';
    }
    return PACKET_TIME_TEXT_LENGTH;
}

size_t packet_time_format_memo(struct packet_time_memo *memo, packet_time time,
                               char buffer[PACKET_TIME_TEXT_MAX])
{
    time = packet_time_clamp(time);
    int64_t second = time / PACKET_TIME_SECOND;
    int64_t micros = time % PACKET_TIME_SECOND;
    if (micros < 0) {
        micros += PACKET_TIME_SECOND;
        second -= 1;
    }
    if (!memo->known || memo->second != second) {
        format_whole(time, memo->text);
        memo->second = second;
        memo->known = 1;
    }
    /* "YYYY-MM-DDThh:mm:ss." is the second's; then six digits and the Z. */
    enum { FRACTION_AT = 20 };
    memcpy(buffer, memo->text, FRACTION_AT);
    char *out = digits(buffer + FRACTION_AT, (unsigned)micros, 6);
    *out++ = 'Z';
    *out = '\0';
    return PACKET_TIME_TEXT_LENGTH;
}
