#include "util/community_id.h"

#include <stdbool.h>
#include <string.h>

#include "util/sha1.h"

enum { PROTO_SCTP = 132 };

/* The spec maps an ICMP message type to its answer's type, so both halves of an exchange
 * share one ID; a type with no counterpart makes the flow one-way (never reordered). */
static bool icmp_counterpart(uint8_t proto, uint8_t type, uint8_t *answer)
{
    static const uint8_t icmp4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
                                       {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
    static const uint8_t icmp6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133},
                                       {135, 136}, {136, 135}, {130, 131}, {131, 130},
                                       {139, 140}, {140, 139}, {144, 145}, {145, 144}};
    const uint8_t(*table)[2] = proto == IPPROTO_NUMBER_ICMP ? icmp4 : icmp6;
    size_t count = proto == IPPROTO_NUMBER_ICMP ? sizeof(icmp4) / sizeof(icmp4[0])
                                                : sizeof(icmp6) / sizeof(icmp6[0]);
    for (size_t i = 0; i < count; i++) {
        if (table[i][0] == type) {
            *answer = table[i][1];
            return true;
        }
    }
    return false;
}

static size_t base64_encode(const uint8_t *data, size_t length, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t written = 0;
    for (size_t i = 0; i < length; i += 3) {
        uint32_t chunk = (uint32_t)data[i] << 16;
        if (i + 1 < length)
            chunk |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < length)
            chunk |= data[i + 2];
        out[written++] = alphabet[(chunk >> 18) & 63];
        out[written++] = alphabet[(chunk >> 12) & 63];
        out[written++] = i + 1 < length ? alphabet[(chunk >> 6) & 63] : '=';
        out[written++] = i + 2 < length ? alphabet[chunk & 63] : '=';
    }
    out[written] = '\0';
    return written;
}

size_t community_id_v1(uint16_t seed, const struct address *src, const struct address *dst,
                       uint8_t proto, uint16_t src_port, uint16_t dst_port, char *buffer,
                       size_t size)
{
    if (src->family != dst->family || size < COMMUNITY_ID_TEXT_MAX)
        return 0;
    bool has_ports = proto == IPPROTO_NUMBER_TCP || proto == IPPROTO_NUMBER_UDP ||
                     proto == PROTO_SCTP || proto == IPPROTO_NUMBER_ICMP ||
                     proto == IPPROTO_NUMBER_ICMPV6;
    bool one_way = false;
    if (proto == IPPROTO_NUMBER_ICMP || proto == IPPROTO_NUMBER_ICMPV6) {
        uint8_t answer;
        if (icmp_counterpart(proto, (uint8_t)src_port, &answer))
            dst_port = answer;
        else
            one_way = true;
    }
    const struct address *first = src, *second = dst;
    uint16_t first_port = src_port, second_port = dst_port;
    if (!one_way) {
        int order = memcmp(src->bytes, dst->bytes, address_length(src));
        if (order > 0 || (order == 0 && src_port > dst_port)) {
            first = dst;
            second = src;
            first_port = dst_port;
            second_port = src_port;
        }
    }
    uint8_t input[2 + 16 + 16 + 2 + 4];
    size_t length = 0;
    size_t address_bytes = address_length(src);
    input[length++] = (uint8_t)(seed >> 8);
    input[length++] = (uint8_t)seed;
    memcpy(input + length, first->bytes, address_bytes);
    length += address_bytes;
    memcpy(input + length, second->bytes, address_bytes);
    length += address_bytes;
    input[length++] = proto;
    input[length++] = 0;
    if (has_ports) {
        input[length++] = (uint8_t)(first_port >> 8);
        input[length++] = (uint8_t)first_port;
        input[length++] = (uint8_t)(second_port >> 8);
        input[length++] = (uint8_t)second_port;
    }
    uint8_t digest[SHA1_DIGEST_LENGTH];
    sha1_digest(input, length, digest);
    buffer[0] = '1';
    buffer[1] = ':';
    return 2 + base64_encode(digest, sizeof(digest), buffer + 2);
}
