#include "proto/dns.h"

#define DNS_HEADER_LENGTH 12
#define DNS_LABEL_MAX 63 /* RFC 1035 2.3.4 */
#define DNS_WIRE_NAME_MAX 255
/* Each pointer must go strictly backwards, so a loop is impossible; the cap bounds the work
 * a crafted chain of pointers to pointers can cause all the same. */
#define DNS_POINTERS_MAX 32

static uint16_t read16(const uint8_t *bytes)
{
    return (uint16_t)(bytes[0] << 8 | bytes[1]);
}

static char name_char(uint8_t byte)
{
    if (byte >= 'A' && byte <= 'Z')
        return (char)(byte - 'A' + 'a');
    if ((byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') || byte == '-' || byte == '_')
        return (char)byte;
    return '?';
}

/* RFC 1035 4.1.4: a name is labels ending in the root label, or in a pointer (two bytes
 * with the top bits set) to a name earlier in the message. On success *end is the offset
 * just after the name where it starts, at *offset. */
static enum dns_result read_name(const uint8_t *message, size_t length, size_t offset, size_t *end,
                                 char *text)
{
    size_t at = offset;
    size_t wire = 0;
    size_t written = 0;
    int pointers = 0;
    bool jumped = false;
    for (;;) {
        if (at >= length)
            return DNS_TRUNCATED;
        uint8_t label = message[at];
        if ((label & 0xc0) == 0xc0) {
            if (at + 1 >= length)
                return DNS_TRUNCATED;
            size_t target = (size_t)(label & 0x3f) << 8 | message[at + 1];
            if (target < DNS_HEADER_LENGTH || target >= at || ++pointers > DNS_POINTERS_MAX)
                return DNS_MALFORMED;
            if (!jumped)
                *end = at + 2;
            jumped = true;
            at = target;
            continue;
        }
        /* 0x40 and 0x80 are the extended label types of RFC 6891 6.2, never in a name. */
        if (label & 0xc0)
            return DNS_MALFORMED;
        wire += 1u + label;
        if (wire > DNS_WIRE_NAME_MAX)
            return DNS_MALFORMED;
        if (label == 0) {
            if (!jumped)
                *end = at + 1;
            break;
        }
        if (at + 1 + label > length)
            return DNS_TRUNCATED;
        if (written > 0)
            text[written++] = '.';
        for (size_t i = 0; i < label; i++)
            text[written++] = name_char(message[at + 1 + i]);
        at += 1u + label;
    }
    if (written == 0)
        text[written++] = '.';
    text[written] = '\0';
    return DNS_OK;
}

enum dns_result dns_parse_query(const uint8_t *message, size_t length, struct dns_question *out)
{
    if (length < DNS_HEADER_LENGTH)
        return DNS_TRUNCATED;
    uint16_t flags = read16(message + 2);
    /* RFC 1035 4.1.1: QR is the top bit, OPCODE the next four; 0 is a standard query. */
    if ((flags & 0x8000) != 0 || ((flags >> 11) & 0xf) != 0)
        return DNS_NOT_QUERY;
    out->id = read16(message);
    out->question_count = read16(message + 4);
    if (out->question_count == 0)
        return DNS_MALFORMED;
    out->asks_mx = false;
    size_t at = DNS_HEADER_LENGTH;
    char later_name[DNS_NAME_TEXT_MAX];
    for (unsigned q = 0; q < out->question_count && q < DNS_QUESTIONS_READ; q++) {
        size_t end = 0;
        enum dns_result result =
            read_name(message, length, at, &end, q == 0 ? out->name : later_name);
        if (result != DNS_OK)
            return result;
        if (end + 4 > length)
            return DNS_TRUNCATED;
        uint16_t type = read16(message + end);
        if (q == 0) {
            out->type = type;
            out->class = read16(message + end + 2);
        }
        out->asks_mx = out->asks_mx || type == DNS_TYPE_MX;
        at = end + 4;
    }
    return DNS_OK;
}

enum dns_result dns_parse_tcp_query(const uint8_t *data, size_t length, struct dns_question *out)
{
    if (length < 2)
        return DNS_TRUNCATED;
    size_t message_length = read16(data);
    if (message_length < DNS_HEADER_LENGTH)
        return DNS_MALFORMED;
    size_t available = length - 2 < message_length ? length - 2 : message_length;
    return dns_parse_query(data + 2, available, out);
}

const char *dns_result_name(enum dns_result result)
{
    switch (result) {
    case DNS_OK:
        return "ok";
    case DNS_NOT_QUERY:
        return "not_query";
    case DNS_TRUNCATED:
        return "truncated";
    case DNS_MALFORMED:
        return "malformed";
    }
    return "unknown";
}
