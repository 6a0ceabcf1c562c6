/* libFuzzer target for the DNS query parser (src/proto/dns.c). Input: one byte whose bit 0
 * picks the transport (0: a message as UDP carries it, 1: a TCP segment starting with the two-byte
 * length of RFC 1035 4.2.2), then the bytes. make_seeds.py writes the queries and answers of
 * the captures in this form. Besides ASan and UBSan, the checks hold the parser to what
 * dns.h promises: the header decides NOT_QUERY and the counts, the name is NUL-terminated
 * lower-case text within its limits, the questions read agree with a second reading written
 * here from RFC 1035 4.1, the result does not depend on what the output held before, a cut
 * message is TRUNCATED and the TCP framing is the same parse. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dns.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_LENGTH 12       /* RFC 1035 4.1.1 */
#define LABEL_MAX 63           /* RFC 1035 2.3.4 */
#define WIRE_NAME_MAX 255      /* RFC 1035 2.3.4, length octets and the root label included */
#define NAME_TEXT_LONGEST 253  /* 255 octets less the first length octet and the root label */
#define TCP_LENGTH_MAX 0xffffu /* the two-byte length prefix (RFC 1035 4.2.2) */
/* dns.c: the cap on a chain of pointers to pointers (each must point further back, so there
 * is no loop; the cap bounds the work). A longer chain is MALFORMED. */
#define POINTERS_MAX 32

static uint16_t read16(const uint8_t *bytes)
{
    return (uint16_t)(bytes[0] << 8 | bytes[1]);
}

/* The text dns.h promises for one wire byte of a label. */
FUZZ_CHECKER static char expected_char(uint8_t byte)
{
    if (byte >= 'A' && byte <= 'Z')
        return (char)(byte - 'A' + 'a');
    if ((byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') || byte == '-' || byte == '_')
        return (char)byte;
    return '?';
}

FUZZ_CHECKER static bool name_char_allowed(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '?';
}

/* "lower case, labels joined by '.', "." for the root", and no longer than the wire allows. */
FUZZ_CHECKER static void check_name_text(const char *name)
{
    const char *nul = memchr(name, '\0', DNS_NAME_TEXT_MAX);
    if (nul == NULL)
        FUZZ_FAIL("the name is not NUL-terminated within its array");
    size_t length = (size_t)(nul - name);
    if (length == 0)
        FUZZ_FAIL("the name is empty (the root reads \".\")");
    if (length > NAME_TEXT_LONGEST)
        FUZZ_FAIL("the name has %zu characters, more than 255 wire octets can hold", length);
    if (strcmp(name, ".") == 0)
        return;
    size_t label = 0;
    for (size_t i = 0; i < length; i++) {
        if (name[i] == '.') {
            if (label == 0)
                FUZZ_FAIL("the name holds an empty label: %s", name);
            label = 0;
            continue;
        }
        if (!name_char_allowed(name[i]))
            FUZZ_FAIL("the name holds byte 0x%02x", (unsigned char)name[i]);
        if (++label > LABEL_MAX)
            FUZZ_FAIL("the name holds a label longer than %d: %s", LABEL_MAX, name);
    }
    if (label == 0)
        FUZZ_FAIL("the name ends in '.': %s", name);
}

FUZZ_CHECKER static bool same_question(const struct dns_question *a, const struct dns_question *b)
{
    return a->id == b->id && a->question_count == b->question_count && a->type == b->type &&
           a->class == b->class && a->asks_mx == b->asks_mx &&
           strncmp(a->name, b->name, DNS_NAME_TEXT_MAX) == 0;
}

/* Parses twice, into an output of zeros and one of 0xa5 bytes: the result must come from the
 * bytes alone (a field left unset would show here). */
static enum dns_result parse(bool tcp, const uint8_t *bytes, size_t length,
                             struct dns_question *out)
{
    struct dns_question other;
    memset(out, 0, sizeof(*out));
    memset(&other, 0xa5, sizeof(other));
    enum dns_result result =
        tcp ? dns_parse_tcp_query(bytes, length, out) : dns_parse_query(bytes, length, out);
    enum dns_result again =
        tcp ? dns_parse_tcp_query(bytes, length, &other) : dns_parse_query(bytes, length, &other);
    if ((unsigned)result > DNS_MALFORMED)
        FUZZ_FAIL("result %u out of range", (unsigned)result);
    if (strcmp(dns_result_name(result), "unknown") == 0)
        FUZZ_FAIL("a result without a name");
    if (again != result)
        FUZZ_FAIL("the same bytes gave %s, then %s", dns_result_name(result),
                  dns_result_name(again));
    if (result == DNS_OK) {
        check_name_text(out->name);
        check_name_text(other.name);
        if (!same_question(out, &other))
            FUZZ_FAIL("the question depends on what the output held before");
    }
    return result;
}

/* A copy of exactly the first `length` bytes, so ASan stops a read past the cut. */
static enum dns_result parse_copy(bool tcp, const uint8_t *bytes, size_t length,
                                  struct dns_question *out)
{
    uint8_t *copy = malloc(length > 0 ? length : 1);
    if (copy == NULL)
        abort();
    if (length > 0)
        memcpy(copy, bytes, length);
    enum dns_result result = parse(tcp, copy, length, out);
    free(copy);
    return result;
}

/* RFC 1035 4.1.1: what the header alone decides, and the counts it carries. */
FUZZ_CHECKER static void check_header(const uint8_t *message, size_t length, enum dns_result result,
                                      const struct dns_question *question)
{
    if (length < HEADER_LENGTH) {
        if (result != DNS_TRUNCATED)
            FUZZ_FAIL("%zu bytes, less than a header, gave %s", length, dns_result_name(result));
        return;
    }
    uint16_t flags = read16(message + 2);
    bool query = (flags & 0x8000) == 0 && ((flags >> 11) & 0xf) == 0;
    if (query != (result != DNS_NOT_QUERY))
        FUZZ_FAIL("flags 0x%04x gave %s", flags, dns_result_name(result));
    if (!query)
        return;
    if (read16(message + 4) == 0 && result != DNS_MALFORMED)
        FUZZ_FAIL("a query without a question gave %s", dns_result_name(result));
    if (result != DNS_OK)
        return;
    if (question->id != read16(message))
        FUZZ_FAIL("id %u, the header says %u", question->id, read16(message));
    if (question->question_count != read16(message + 4))
        FUZZ_FAIL("question_count %u, the header says %u", question->question_count,
                  read16(message + 4));
    if (question->type == DNS_TYPE_MX && !question->asks_mx)
        FUZZ_FAIL("the first question asks for MX but asks_mx is false");
    if (question->question_count == 1 && question->asks_mx != (question->type == DNS_TYPE_MX))
        FUZZ_FAIL("one question of type %u, asks_mx %d", question->type, question->asks_mx);
}

/* A second reading of the questions, written from RFC 1035 4.1.2, 4.1.4 and 2.3.4 and the
 * limits dns.h names, to hold the parser's answer against. Where a message is both cut and
 * too long, either answer is fair; elsewhere there is one. */
enum reading {
    READ_OK,
    READ_CUT,        /* must be DNS_TRUNCATED */
    READ_BAD,        /* must be DNS_MALFORMED */
    READ_CUT_OR_BAD, /* a label both too long and past the end */
};

struct reading_question {
    char name[DNS_NAME_TEXT_MAX];
    uint16_t type;
    uint16_t class;
    bool asks_mx;
};

FUZZ_CHECKER static enum reading read_name(const uint8_t *message, size_t length, size_t start,
                                           size_t *end, char *text)
{
    size_t at = start;
    size_t wire = 0;
    size_t written = 0;
    int pointers = 0;
    bool end_known = false;
    for (;;) {
        if (at >= length)
            return READ_CUT;
        uint8_t octet = message[at];
        if (octet >= 0xc0) {
            /* A pointer to a prior occurrence of a name, never into the header. */
            if (at + 1 >= length)
                return READ_CUT;
            size_t target = (size_t)(octet & 0x3f) << 8 | message[at + 1];
            if (target < HEADER_LENGTH || target >= at || ++pointers > POINTERS_MAX)
                return READ_BAD;
            if (!end_known)
                *end = at + 2;
            end_known = true;
            at = target;
            continue;
        }
        if (octet >= 0x40)
            return READ_BAD; /* extended label types (RFC 6891 6.2) */
        wire += 1u + octet;
        bool cut = octet > 0 && at + 1 + octet > length;
        if (wire > WIRE_NAME_MAX)
            return cut ? READ_CUT_OR_BAD : READ_BAD;
        if (octet == 0)
            break;
        if (cut)
            return READ_CUT;
        if (written > 0)
            text[written++] = '.';
        for (size_t i = 1; i <= octet; i++)
            text[written++] = expected_char(message[at + i]);
        at += 1u + octet;
    }
    if (!end_known)
        *end = at + 1;
    if (written == 0)
        text[written++] = '.';
    text[written] = '\0';
    return READ_OK;
}

FUZZ_CHECKER static enum reading read_questions(const uint8_t *message, size_t length,
                                                struct reading_question *first)
{
    char later[DNS_NAME_TEXT_MAX];
    unsigned count = read16(message + 4);
    size_t at = HEADER_LENGTH;
    first->asks_mx = false;
    for (unsigned q = 0; q < count && q < DNS_QUESTIONS_READ; q++) {
        size_t end = 0;
        enum reading reading = read_name(message, length, at, &end, q == 0 ? first->name : later);
        if (reading != READ_OK)
            return reading;
        if (end + 4 > length)
            return READ_CUT; /* QTYPE and QCLASS */
        uint16_t type = read16(message + end);
        if (q == 0) {
            first->type = type;
            first->class = read16(message + end + 2);
        }
        first->asks_mx = first->asks_mx || type == DNS_TYPE_MX;
        at = end + 4;
    }
    return READ_OK;
}

FUZZ_CHECKER static void check_reading(const uint8_t *message, size_t length,
                                       enum dns_result result, const struct dns_question *question)
{
    if (length < HEADER_LENGTH || result == DNS_NOT_QUERY || read16(message + 4) == 0)
        return; /* check_header's */
    struct reading_question expected;
    enum reading reading = read_questions(message, length, &expected);
    bool agrees =
        (reading == READ_OK && result == DNS_OK) ||
        (reading == READ_CUT && result == DNS_TRUNCATED) ||
        (reading == READ_BAD && result == DNS_MALFORMED) ||
        (reading == READ_CUT_OR_BAD && (result == DNS_TRUNCATED || result == DNS_MALFORMED));
    static const char *const readings[] = {"ok", "cut", "bad", "cut or bad"};
    if (!agrees)
        FUZZ_FAIL("the parser says %s, the RFC reading %s", dns_result_name(result),
                  readings[reading]);
    if (result != DNS_OK)
        return;
    if (strcmp(question->name, expected.name) != 0)
        FUZZ_FAIL("name \"%s\", the wire says \"%s\"", question->name, expected.name);
    if (question->type != expected.type || question->class != expected.class)
        FUZZ_FAIL("QTYPE %u QCLASS %u, the wire says %u %u", question->type, question->class,
                  expected.type, expected.class);
    if (question->asks_mx != expected.asks_mx)
        FUZZ_FAIL("asks_mx %d, the questions read say %d", question->asks_mx, expected.asks_mx);
}

/* Cuts of a message that parses: each one either still parses to the same question (the cut
 * is past the questions read) or is TRUNCATED, and the two sides meet at one length. The
 * boundary is found by bisection, every probe checked. */
static void check_cuts(const uint8_t *message, size_t length, const struct dns_question *whole)
{
    struct dns_question cut;
    size_t truncated = HEADER_LENGTH; /* a header alone holds no question */
    if (parse_copy(false, message, truncated, &cut) != DNS_TRUNCATED)
        FUZZ_FAIL("the header alone is not TRUNCATED");
    size_t parsed = length;
    while (parsed - truncated > 1) {
        size_t middle = truncated + (parsed - truncated) / 2;
        enum dns_result result = parse_copy(false, message, middle, &cut);
        if (result == DNS_OK) {
            if (!same_question(&cut, whole))
                FUZZ_FAIL("the first %zu bytes give another question", middle);
            parsed = middle;
        } else if (result == DNS_TRUNCATED) {
            truncated = middle;
        } else {
            FUZZ_FAIL("the first %zu bytes of a good query gave %s", middle,
                      dns_result_name(result));
        }
    }
}

/* RFC 1035 4.2.2: the same message behind its two-byte length parses the same, and a length
 * that promises more than the segment holds reads what is there. */
static void check_tcp_framing(const uint8_t *message, size_t length, enum dns_result expected,
                              const struct dns_question *question)
{
    if (length + 1 > TCP_LENGTH_MAX)
        return;
    uint8_t *segment = malloc(length + 2);
    if (segment == NULL)
        abort();
    if (length > 0)
        memcpy(segment + 2, message, length);
    for (size_t declared = length; declared <= length + 1; declared++) {
        segment[0] = (uint8_t)(declared >> 8);
        segment[1] = (uint8_t)declared;
        struct dns_question framed;
        enum dns_result result = parse(true, segment, length + 2, &framed);
        if (declared < HEADER_LENGTH) {
            if (result != DNS_MALFORMED)
                FUZZ_FAIL("a TCP length of %zu gave %s", declared, dns_result_name(result));
            continue;
        }
        if (result != expected)
            FUZZ_FAIL("over TCP (length %zu) %s, over UDP %s", declared, dns_result_name(result),
                      dns_result_name(expected));
        if (result == DNS_OK && !same_question(&framed, question))
            FUZZ_FAIL("over TCP another question than over UDP");
    }
    free(segment);
}

static enum dns_result check_message(const uint8_t *message, size_t length,
                                     struct dns_question *question)
{
    enum dns_result result = parse(false, message, length, question);
    check_header(message, length, result, question);
    check_reading(message, length, result, question);
    if (result == DNS_OK)
        check_cuts(message, length, question);
    check_tcp_framing(message, length, result, question);
    return result;
}

static void check_segment(const uint8_t *segment, size_t length)
{
    struct dns_question framed;
    enum dns_result result = parse(true, segment, length, &framed);
    if (length < 2) {
        if (result != DNS_TRUNCATED)
            FUZZ_FAIL("a segment of %zu bytes gave %s", length, dns_result_name(result));
        return;
    }
    size_t declared = read16(segment);
    if (declared < HEADER_LENGTH) {
        if (result != DNS_MALFORMED)
            FUZZ_FAIL("a TCP length of %zu gave %s", declared, dns_result_name(result));
        return;
    }
    size_t available = length - 2 < declared ? length - 2 : declared;
    uint8_t *message = malloc(available);
    if (message == NULL)
        abort();
    memcpy(message, segment + 2, available);
    struct dns_question question;
    enum dns_result expected = check_message(message, available, &question);
    free(message);
    if (result != expected)
        FUZZ_FAIL("the segment gave %s, its message %s", dns_result_name(result),
                  dns_result_name(expected));
    if (result == DNS_OK && !same_question(&framed, &question))
        FUZZ_FAIL("the segment and its message give different questions");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        check_segment(data + 1, size - 1);
    } else {
        struct dns_question question;
        check_message(data + 1, size - 1, &question);
    }
    return 0;
}
