/* The hand-written formatters of the event path (packet times, IPv4 addresses, durations)
 * against the library calls they replaced, which serve as oracles: the same text for
 * every input tried, including the edges where a hand-written version goes wrong. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/address.h"
#include "util/json.h"
#include "util/packet_time.h"

static uint64_t random_state = 0x243f6a8885a308d3ull;

static uint64_t random_next(void)
{
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return random_state * 0x2545f4914f6cdd1dull;
}

/* What packet_time_format printed before it was written by hand. */
static void oracle_time(packet_time time, char *buffer, size_t size)
{
    int64_t seconds = time / PACKET_TIME_SECOND, micros = time % PACKET_TIME_SECOND;
    if (micros < 0) {
        micros += PACKET_TIME_SECOND;
        seconds -= 1;
    }
    time_t whole = (time_t)seconds;
    struct tm utc;
    cr_assert_not_null(gmtime_r(&whole, &utc));
    snprintf(buffer, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
             utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (long long)micros);
}

static void check_time(packet_time time)
{
    char got[PACKET_TIME_TEXT_MAX], want[64];
    size_t length = packet_time_format(time, got, sizeof(got));
    /* Outside the four-digit years the text is the nearest end (the test below). */
    oracle_time(packet_time_clamp(time), want, sizeof(want));
    cr_assert_str_eq(got, want, "time %lld", (long long)time);
    cr_assert_eq(length, strlen(want));
}

Test(format, packet_times_match_gmtime)
{
    static const int64_t edges[] = {
        0,          -1,         1,          86399,        86400,
        -86400,     951782399,  951782400,  951868800,    4107542399,
        4107542400, 946684799,  1768467600, 253402300799, -62167219200,
        1709164800, 1709251199, 1709251200,
    };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        for (int64_t micros = -1; micros <= 1; micros++)
            check_time(edges[i] * PACKET_TIME_SECOND + micros);
    /* Every day of 1900-2200 at a random moment, and random instants over years 0-9999. */
    for (int64_t day = -25567; day < 84006; day++)
        check_time((day * 86400 + (int64_t)(random_next() % 86400)) * PACKET_TIME_SECOND +
                   (int64_t)(random_next() % 1000000));
    for (int i = 0; i < 200000; i++)
        check_time((int64_t)(random_next() % 315569520000ull) * PACKET_TIME_SECOND -
                   62167219200LL * PACKET_TIME_SECOND + (int64_t)(random_next() % 1000000));
}

/* RFC 3339 has four-digit years: beyond them the text is the nearest end, whatever the
 * int64_t (damaged pcapng offsets once wrote years -283173 and 294247). */
Test(format, packet_times_beyond_four_digit_years_are_clamped)
{
    static const struct {
        packet_time time;
        const char *text;
    } cases[] = {
        {253402300800LL * PACKET_TIME_SECOND, "9999-12-31T23:59:59.999999Z"}, /* 10000-01-01 */
        {253402300799LL * PACKET_TIME_SECOND + 999999, "9999-12-31T23:59:59.999999Z"},
        {INT64_MAX, "9999-12-31T23:59:59.999999Z"},
        {9223372036854775807LL - 1, "9999-12-31T23:59:59.999999Z"},
        {-62167219201LL * PACKET_TIME_SECOND, "0000-01-01T00:00:00.000000Z"}, /* before year 0 */
        {-62167219200LL * PACKET_TIME_SECOND, "0000-01-01T00:00:00.000000Z"},
        {-62167219200LL * PACKET_TIME_SECOND + 1, "0000-01-01T00:00:00.000001Z"},
        {INT64_MIN, "0000-01-01T00:00:00.000000Z"},
        {INT64_MIN + 1, "0000-01-01T00:00:00.000000Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[PACKET_TIME_TEXT_MAX];
        cr_assert_eq(packet_time_format(cases[i].time, got, sizeof(got)), PACKET_TIME_TEXT_LENGTH);
        cr_assert_str_eq(got, cases[i].text, "time %lld", (long long)cases[i].time);
    }
    cr_assert_eq(packet_time_clamp(INT64_MAX), PACKET_TIME_MAX);
    cr_assert_eq(packet_time_clamp(INT64_MIN), PACKET_TIME_MIN);
    cr_assert_eq(packet_time_clamp(0), 0);
}

Test(format, packet_times_in_short_buffers)
{
    char small[10], want[64];
    size_t length = packet_time_format(1768467600LL * PACKET_TIME_SECOND, small, sizeof(small));
    oracle_time(1768467600LL * PACKET_TIME_SECOND, want, sizeof(want));
    cr_assert_eq(length, strlen(want), "the length the whole text needs, as snprintf");
    cr_assert_eq(strncmp(small, want, sizeof(small) - 1), 0);
    cr_assert_eq(small[sizeof(small) - 1], '\0');
    char one[1] = {'x'};
    cr_assert_eq(packet_time_format(0, one, sizeof(one)), PACKET_TIME_TEXT_LENGTH);
    cr_assert_eq(one[0], '\0');
    cr_assert_eq(packet_time_format(0, NULL, 0), PACKET_TIME_TEXT_LENGTH);
}

Test(format, ipv4_addresses_match_inet_ntop)
{
    for (int i = 0; i < 300000; i++) {
        uint8_t bytes[4];
        uint32_t value = (uint32_t)random_next();
        /* Every octet width: 0, one, two and three digits. */
        if (i < 256 * 4) {
            memset(bytes, 0, sizeof(bytes));
            bytes[i / 256] = (uint8_t)i;
        } else {
            memcpy(bytes, &value, sizeof(bytes));
        }
        struct address address;
        address_set_v4(&address, bytes);
        char got[ADDRESS_TEXT_MAX], want[INET_ADDRSTRLEN];
        size_t length = address_format(&address, got, sizeof(got));
        cr_assert_not_null(inet_ntop(AF_INET, bytes, want, sizeof(want)));
        cr_assert_str_eq(got, want);
        cr_assert_eq(length, strlen(want));
    }
    struct address address;
    address_set_v4(&address, (const uint8_t[]){255, 255, 255, 255});
    char exact[INET_ADDRSTRLEN];
    cr_assert_eq(address_format(&address, exact, sizeof(exact)), 15);
    cr_assert_str_eq(exact, "255.255.255.255");
}

/* Zero groups decide the text: each group is zero, small, or random, so every run length
 * at every position comes up, ties included, and the embedded IPv4 forms. */
static void random_v6(uint8_t bytes[16], int i)
{
    for (int g = 0; g < 8; g++) {
        uint64_t r = random_next();
        unsigned group = r % 3 == 0 ? 0 : r % 3 == 1 ? (unsigned)(r >> 8) % 16 : (unsigned)(r >> 8);
        if (i % 5 == 0 && g < 6)
            group = g == 5 && i % 10 == 0 ? 0xffff : 0; /* ::a.b.c.d and ::ffff:a.b.c.d */
        bytes[2 * g] = (uint8_t)(group >> 8);
        bytes[2 * g + 1] = (uint8_t)group;
    }
}

Test(format, ipv6_addresses_match_inet_ntop)
{
    for (int i = 0; i < 300000; i++) {
        uint8_t bytes[16];
        if (i < 256) {
            /* Every pattern of zero and non-zero groups. */
            for (int g = 0; g < 8; g++) {
                bytes[2 * g] = 0;
                bytes[2 * g + 1] = (uint8_t)((i >> g) & 1 ? g + 1 : 0);
            }
        } else if (i < 256 + 4) {
            static const uint8_t special[4][16] = {
                {0},                                       /* :: */
                {[15] = 1},                                /* ::1 */
                {[10] = 0xff, [11] = 0xff},                /* ::ffff:0.0.0.0 */
                {[10] = 0xff, [11] = 0xff, 0xc0, 0, 2, 1}, /* ::ffff:192.0.2.1 */
            };
            memcpy(bytes, special[i - 256], sizeof(bytes));
        } else {
            random_v6(bytes, i);
        }
        struct address address;
        memset(&address, 0, sizeof(address));
        address.family = ADDRESS_V6;
        memcpy(address.bytes, bytes, sizeof(bytes));
        char got[ADDRESS_TEXT_MAX], want[INET6_ADDRSTRLEN];
        size_t length = address_format(&address, got, sizeof(got));
        cr_assert_not_null(inet_ntop(AF_INET6, bytes, want, sizeof(want)));
        cr_assert_str_eq(got, want);
        cr_assert_eq(length, strlen(want));
    }
}

Test(format, durations_match_fixed_six_decimals)
{
    for (int i = 0; i < 200000; i++) {
        /* Below 2^50 us (35 years): beyond 2^53 the double of the oracle is no longer exact. */
        int64_t micros =
            i < 2000 ? i - 1000 : (int64_t)(random_next() >> (14 + random_next() % 50));
        if (i % 7 == 0)
            micros = -micros;
        char got[64], want[64];
        struct json_writer w;
        json_init(&w, got, sizeof(got));
        json_key_micros(&w, "d", micros);
        cr_assert(json_finish(&w));
        json_init(&w, want, sizeof(want));
        json_key_fixed(&w, "d", (double)micros / PACKET_TIME_SECOND, 6);
        cr_assert(json_finish(&w));
        cr_assert_str_eq(got, want, "%lld us", (long long)micros);
    }
}

/* The memo gives packet_time_format's text whatever order times come in: the same second,
 * the next, a jump back, across midnight and the ends of the range. */
Test(format, packet_times_through_the_memo)
{
    struct packet_time_memo memo;
    memset(&memo, 0, sizeof(memo));
    packet_time time = 1768467599LL * PACKET_TIME_SECOND;
    static const packet_time jumps[] = {INT64_MIN,
                                        -1,
                                        0,
                                        86399LL * PACKET_TIME_SECOND + 999999,
                                        PACKET_TIME_MAX,
                                        INT64_MAX,
                                        PACKET_TIME_MIN - 1};
    for (int i = 0; i < 300000; i++) {
        uint64_t pick = random_next() % 100;
        if (pick < 80)
            time += (packet_time)(random_next() % 300000);
        else if (pick < 90)
            time -= (packet_time)(random_next() % 3000000);
        else if (pick < 95)
            time = (packet_time)(random_next() % 315569520000ull) * PACKET_TIME_SECOND -
                   62167219200LL * PACKET_TIME_SECOND + (packet_time)(random_next() % 1000000);
        else
            time = jumps[random_next() % (sizeof(jumps) / sizeof(jumps[0]))];
        char got[PACKET_TIME_TEXT_MAX], want[PACKET_TIME_TEXT_MAX];
        cr_assert_eq(packet_time_format_memo(&memo, time, got), PACKET_TIME_TEXT_LENGTH);
        packet_time_format(time, want, sizeof(want));
        cr_assert_str_eq(got, want, "time %lld", (long long)time);
        if (time > PACKET_TIME_MAX || time < PACKET_TIME_MIN)
            time = 1768467599LL * PACKET_TIME_SECOND; /* back where steps cannot overflow */
    }
}

static void check_u64(uint64_t value)
{
    char buffer[64], want[32];
    struct json_writer writer;
    json_init(&writer, buffer, sizeof(buffer));
    json_value_u64(&writer, value);
    cr_assert(json_finish(&writer));
    snprintf(want, sizeof(want), "%llu\n", (unsigned long long)value);
    cr_assert_str_eq(buffer, want, "value %llu", (unsigned long long)value);
}

/* Counters two digits at a time: every value below 100,000, each power of ten and its
 * neighbours, the largest, and random ones, as printf writes them. */
Test(format, counters_match_printf)
{
    for (uint64_t value = 0; value < 100000; value++)
        check_u64(value);
    for (uint64_t power = 1; power <= UINT64_C(10000000000000000000); power *= 10) {
        check_u64(power - 1);
        check_u64(power);
        check_u64(power + 1);
        if (power > UINT64_MAX / 10)
            break;
    }
    check_u64(UINT64_MAX);
    for (int i = 0; i < 200000; i++)
        check_u64(random_next() >> (random_next() % 64));
}
