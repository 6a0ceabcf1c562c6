/* DNS query parsing (RFC 1035 section 4.1): enough of a query to know what it asks for,
 * so the bot detection can count MX queries a subscriber sends past the ISP's resolvers.
 * Every read is bounds-checked and every loop a crafted message could stretch is capped;
 * a bad message yields an error code, never a read past its end. No allocation. */
#ifndef OP25B_DNS_H
#define OP25B_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_PORT 53
#define DNS_TYPE_MX 15        /* RFC 1035 3.2.2 */
#define DNS_NAME_TEXT_MAX 256 /* 255 octets on the wire (RFC 1035 2.3.4) read as text */
#define DNS_QUESTIONS_READ 4  /* queries hold one question (RFC 9619); a few more are read */

enum dns_result {
    DNS_OK = 0,
    DNS_NOT_QUERY, /* a response, or an opcode other than QUERY: not ours, not an error */
    DNS_TRUNCATED, /* the message ends inside the header or the question */
    DNS_MALFORMED, /* impossible: no question, a label or name too long, a pointer loop */
};

struct dns_question {
    uint16_t id;
    uint16_t question_count; /* QDCOUNT */
    uint16_t type;           /* QTYPE of the first question */
    uint16_t class;          /* QCLASS of the first question */
    /* Some question read (the first DNS_QUESTIONS_READ; later names may point back into
     * earlier ones) asks for MX. */
    bool asks_mx;
    /* The first question's name in lower case, labels joined by '.', "." for the root. Bytes that
     * are not letters, digits, '-' or '_' are written as '?', so the text is safe in an event. */
    char name[DNS_NAME_TEXT_MAX];
};

/* A DNS message as UDP carries it. */
enum dns_result dns_parse_query(const uint8_t *message, size_t length, struct dns_question *out);
/* A TCP segment that starts a DNS message with its two-byte length (RFC 1035 4.2.2); the
 * question must lie within the segment. */
enum dns_result dns_parse_tcp_query(const uint8_t *data, size_t length, struct dns_question *out);

const char *dns_result_name(enum dns_result result);

#endif
