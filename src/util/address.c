#include "util/address.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool address_parse(const char *text, struct address *out)
{
    memset(out, 0, sizeof(*out));
    if (strchr(text, ':') != NULL) {
        if (inet_pton(AF_INET6, text, out->bytes) != 1)
            return false;
        out->family = ADDRESS_V6;
        return true;
    }
    if (inet_pton(AF_INET, text, out->bytes) != 1)
        return false;
    out->family = ADDRESS_V4;
    return true;
}

/* Dotted quad by hand: every event names an address or two, and glibc's inet_ntop goes
 * through sprintf for each IPv4 address. */
static size_t format_v4(const uint8_t bytes[4], char *buffer)
{
    char *out = buffer;
    for (int i = 0; i < 4; i++) {
        unsigned value = bytes[i];
        if (value >= 100)
            *out++ = (char)('0' + value / 100);
        if (value >= 10)
            *out++ = (char)('0' + value / 10 % 10);
        *out++ = (char)('0' + value % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
    return (size_t)(out - buffer - 1);
}

/* RFC 5952 text by hand, as glibc's inet_ntop writes it (through sprintf, 7,000
 * instructions an address): lower-case hex without leading zeros, the longest run of two or
 * more zero groups (the first of equals) as "::", and inet_ntop's embedded IPv4 forms
 * (::a.b.c.d, ::ffff:a.b.c.d). */
static size_t format_v6(const uint8_t bytes[16], char *buffer)
{
    static const char hex[] = "0123456789abcdef";
    unsigned groups[8];
    for (int i = 0; i < 8; i++)
        groups[i] = (unsigned)bytes[2 * i] << 8 | bytes[2 * i + 1];
    int best = -1, best_length = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            i++;
            continue;
        }
        int start = i;
        while (i < 8 && groups[i] == 0)
            i++;
        if (i - start > best_length) {
            best = start;
            best_length = i - start;
        }
    }
    if (best_length < 2)
        best = -1;
    char *out = buffer;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *out++ = ':';
            i += best_length - 1;
            if (i == 7)
                *out++ = ':';
            continue;
        }
        if (i > 0)
            *out++ = ':';
        if (i == 6 && best == 0 &&
            (best_length == 6 || (best_length == 7 && groups[7] != 1) ||
             (best_length == 5 && groups[5] == 0xffff))) {
            return (size_t)(out - buffer) + format_v4(bytes + 12, out);
        }
        unsigned group = groups[i];
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned digit = (group >> shift) & 15;
            if (digit != 0 || started || shift == 0) {
                *out++ = hex[digit];
                started = true;
            }
        }
    }
    *out = '\0';
    return (size_t)(out - buffer);
}

size_t address_format(const struct address *address, char *buffer, size_t size)
{
    const char *written = NULL;
    if (address->family == ADDRESS_V4 && size >= INET_ADDRSTRLEN)
        return format_v4(address->bytes, buffer);
    if (address->family == ADDRESS_V6 && size >= INET6_ADDRSTRLEN)
        return format_v6(address->bytes, buffer);
    if (address->family == ADDRESS_V4)
        written = inet_ntop(AF_INET, address->bytes, buffer, (socklen_t)size);
    else if (address->family == ADDRESS_V6)
        written = inet_ntop(AF_INET6, address->bytes, buffer, (socklen_t)size);
    if (written == NULL) {
        if (size > 1) {
            buffer[0] = '-';
            buffer[1] = '\0';
            return 1;
        }
        if (size == 1)
            buffer[0] = '\0';
        return 0;
    }
    return strlen(buffer);
}

int address_compare(const struct address *a, const struct address *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

bool address_equal(const struct address *a, const struct address *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

void address_set_v4(struct address *out, const uint8_t bytes[4])
{
    memset(out, 0, sizeof(*out));
    out->family = ADDRESS_V4;
    memcpy(out->bytes, bytes, 4);
}

void address_set_v6(struct address *out, const uint8_t bytes[16])
{
    out->family = ADDRESS_V6;
    memcpy(out->bytes, bytes, 16);
}
