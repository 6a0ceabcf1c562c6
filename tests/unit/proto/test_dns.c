#include <criterion/criterion.h>

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "proto/dns.h"

/* A query built by hand: header with the given flags and QDCOUNT, then raw question bytes. */
static size_t build(uint8_t *out, uint16_t flags, uint16_t questions, const uint8_t *body,
                    size_t body_length)
{
    const uint8_t header[12] = {
        0x12, 0x34, (uint8_t)(flags >> 8), (uint8_t)flags, 0, (uint8_t)questions, 0, 0, 0, 0, 0, 0};
    memcpy(out, header, sizeof(header));
    memcpy(out + sizeof(header), body, body_length);
    return sizeof(header) + body_length;
}

/* "Example.COM" MX IN, recursion desired (flags 0x0100). */
static const uint8_t EXAMPLE_MX[] = {7,   'E', 'x', 'a', 'm', 'p', 'l', 'e', 3,
                                     'C', 'O', 'M', 0,   0,   15,  0,   1};

Test(dns, mx_query)
{
    uint8_t message[512];
    size_t length = build(message, 0x0100, 1, EXAMPLE_MX, sizeof(EXAMPLE_MX));
    struct dns_question question;
    cr_assert_eq(dns_parse_query(message, length, &question), DNS_OK);
    cr_assert_eq(question.id, 0x1234);
    cr_assert_eq(question.question_count, 1);
    cr_assert_eq(question.type, DNS_TYPE_MX);
    cr_assert_eq(question.class, 1);
    cr_assert(question.asks_mx);
    cr_assert_str_eq(question.name, "example.com");
}

Test(dns, responses_and_other_opcodes_are_not_queries)
{
    uint8_t message[512];
    struct dns_question question;
    size_t length = build(message, 0x8180, 1, EXAMPLE_MX, sizeof(EXAMPLE_MX));
    cr_assert_eq(dns_parse_query(message, length, &question), DNS_NOT_QUERY);
    length = build(message, 0x2800, 1, EXAMPLE_MX, sizeof(EXAMPLE_MX)); /* UPDATE, opcode 5 */
    cr_assert_eq(dns_parse_query(message, length, &question), DNS_NOT_QUERY);
}

Test(dns, root_and_odd_bytes)
{
    const uint8_t root[] = {0, 0, 2, 0, 1};
    const uint8_t odd[] = {3, 'a', '.', 0xff, 2, 'x', '_', 0, 0, 1, 0, 1};
    uint8_t message[512];
    struct dns_question question;
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, root, sizeof(root)), &question),
                 DNS_OK);
    cr_assert_str_eq(question.name, ".");
    cr_assert_eq(question.type, 2);
    cr_assert(!question.asks_mx);
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, odd, sizeof(odd)), &question),
                 DNS_OK);
    cr_assert_str_eq(question.name, "a??.x_");
}

Test(dns, compression_in_a_later_question)
{
    /* Question 1: mail.example.org A; question 2: a pointer to "example.org" in it, MX. */
    const uint8_t body[] = {4,   'm', 'a', 'i', 'l', 7, 'e', 'x', 'a',  'm', 'p', 'l', 'e', 3,
                            'o', 'r', 'g', 0,   0,   1, 0,   1,   0xc0, 17,  0,   15,  0,   1};
    uint8_t message[512];
    struct dns_question question;
    size_t length = build(message, 0x0100, 2, body, sizeof(body));
    cr_assert_eq(dns_parse_query(message, length, &question), DNS_OK);
    cr_assert_str_eq(question.name, "mail.example.org");
    cr_assert_eq(question.type, 1);
    cr_assert(question.asks_mx);
    /* A label then a pointer to a name before it. */
    const uint8_t partial[] = {7, 'e', 'x', 'a', 'm', 'p',  'l', 'e', 0,  0, 1, 0,
                               1, 3,   'w', 'w', 'w', 0xc0, 12,  0,   15, 0, 1};
    length = build(message, 0, 2, partial, sizeof(partial));
    cr_assert_eq(dns_parse_query(message, length, &question), DNS_OK);
    cr_assert(question.asks_mx);
}

Test(dns, pointers_must_go_backwards)
{
    uint8_t message[512];
    struct dns_question question;
    /* A pointer into the header, to itself, and forwards. */
    const uint8_t into_header[] = {0xc0, 2, 0, 15, 0, 1};
    const uint8_t to_itself[] = {0xc0, 12, 0, 15, 0, 1};
    const uint8_t forwards[] = {0xc0, 16, 0, 15, 0, 1, 1, 'a', 0};
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, into_header, 6), &question),
                 DNS_MALFORMED);
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, to_itself, 6), &question),
                 DNS_MALFORMED);
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, forwards, 9), &question),
                 DNS_MALFORMED);
    /* A label, then a pointer back to it: a loop, stopped by the pointer cap. */
    const uint8_t loop[] = {1, 'a', 0xc0, 12, 0, 1, 0, 1};
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, loop, sizeof(loop)), &question),
                 DNS_MALFORMED);
}

Test(dns, limits)
{
    uint8_t message[1024];
    uint8_t body[600];
    struct dns_question question;
    /* A 64-byte label uses the 0x40 extended-label bits: refused. */
    memset(body, 'a', sizeof(body));
    body[0] = 64;
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, body, 70), &question),
                 DNS_MALFORMED);
    /* Four 63-byte labels make 256 octets with the root: one too many (RFC 1035 2.3.4). */
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        body[at] = 63;
        memset(body + at + 1, 'b', 63);
        at += 64;
    }
    body[at++] = 0;
    memcpy(body + at, "\0\x0f\0\x01", 4);
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, body, at + 4), &question),
                 DNS_MALFORMED);
    /* Three 63-byte labels and a 61-byte one make exactly 255: the longest name. */
    body[192] = 61;
    body[254] = 0;
    memcpy(body + 255, "\0\x0f\0\x01", 4);
    cr_assert_eq(dns_parse_query(message, build(message, 0, 1, body, 259), &question), DNS_OK);
    cr_assert_eq(strlen(question.name), 253);
    cr_assert(question.asks_mx);
    /* No question at all. */
    cr_assert_eq(dns_parse_query(message, build(message, 0, 0, body, 0), &question), DNS_MALFORMED);
}

Test(dns, every_cut_is_truncated)
{
    uint8_t message[512];
    size_t length = build(message, 0x0100, 1, EXAMPLE_MX, sizeof(EXAMPLE_MX));
    struct dns_question question;
    for (size_t cut = 0; cut < length; cut++)
        cr_assert_eq(dns_parse_query(message, cut, &question), DNS_TRUNCATED, "cut at %zu", cut);
}

Test(dns, mutations_never_read_past_the_end)
{
    /* Each byte of a real query set to each value: any result, but within bounds (run
     * under the sanitizers to make that an assertion). */
    uint8_t message[512];
    size_t length = build(message, 0x0100, 2, EXAMPLE_MX, sizeof(EXAMPLE_MX));
    for (size_t i = 0; i < length; i++) {
        for (int value = 0; value < 256; value++) {
            uint8_t *copy = malloc(length);
            memcpy(copy, message, length);
            copy[i] = (uint8_t)value;
            struct dns_question question;
            enum dns_result result = dns_parse_query(copy, length, &question);
            if (result == DNS_OK)
                cr_assert_lt(strlen(question.name), DNS_NAME_TEXT_MAX);
            free(copy);
        }
    }
}

Test(dns, tcp_framing)
{
    uint8_t segment[512];
    size_t length = build(segment + 2, 0x0100, 1, EXAMPLE_MX, sizeof(EXAMPLE_MX));
    segment[0] = 0;
    segment[1] = (uint8_t)length;
    struct dns_question question;
    cr_assert_eq(dns_parse_tcp_query(segment, length + 2, &question), DNS_OK);
    cr_assert_str_eq(question.name, "example.com");
    /* The length prefix bounds the message even when the segment holds more. */
    segment[1] = 12;
    cr_assert_eq(dns_parse_tcp_query(segment, length + 2, &question), DNS_TRUNCATED);
    segment[1] = 11;
    cr_assert_eq(dns_parse_tcp_query(segment, length + 2, &question), DNS_MALFORMED);
    cr_assert_eq(dns_parse_tcp_query(segment, 1, &question), DNS_TRUNCATED);
}

/* The queries in a corpus capture, read through the sensor's own decoder. */
struct corpus_query {
    unsigned frame;
    const char *name;
    uint16_t type;
};

static void check_capture(const char *relative_path, bool tcp, const struct corpus_query *want,
                          size_t want_count)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcaps/%s", OP25B_CORPUS_DIR, relative_path);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    cr_assert_not_null(capture, "%s: %s", relative_path, error);
    struct pcap_pkthdr *header;
    const u_char *data;
    unsigned frame = 0;
    size_t found = 0;
    while (pcap_next_ex(capture, &header, &data) == 1) {
        frame++;
        struct packet packet;
        memset(&packet, 0, sizeof(packet));
        if (decode_packet(pcap_datalink(capture), data, header->caplen, &packet) != DECODE_OK ||
            packet.dst_port != DNS_PORT || packet.payload_length == 0)
            continue;
        struct dns_question question;
        enum dns_result result =
            tcp ? dns_parse_tcp_query(packet.payload, packet.payload_length, &question)
                : dns_parse_query(packet.payload, packet.payload_length, &question);
        cr_assert_eq(result, DNS_OK, "%s frame %u: %s", relative_path, frame,
                     dns_result_name(result));
        cr_assert_lt(found, want_count, "%s: more queries than expected", relative_path);
        cr_assert_eq(frame, want[found].frame);
        cr_assert_str_eq(question.name, want[found].name);
        cr_assert_eq(question.type, want[found].type);
        cr_assert_eq(question.asks_mx, want[found].type == DNS_TYPE_MX);
        found++;
    }
    pcap_close(capture);
    cr_assert_eq(found, want_count, "%s: %zu queries, expected %zu", relative_path, found,
                 want_count);
}

/* Names and types as tshark dissects them (dns.qry.name, dns.qry.type). */
Test(dns, corpus_queries)
{
    static const struct corpus_query google[] = {
        {1, "google.com", 1}, {3, "google.com", 28}, {5, "google.com", DNS_TYPE_MX}};
    check_capture("dns/suricata__dns-udp-google.com-a-aaaa-mx.pcap", false, google, 3);
    static const struct corpus_query over_tcp[] = {{4, "www.tcpdump.org", 1}};
    check_capture("dns/tcpdump__dns_tcp.pcap", true, over_tcp, 1);
}

Test(dns, corpus_tunnel_names)
{
    /* dnscat2 tunnels data through long MX, CNAME and TXT names. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcaps/dns/ndpi__dns_exfiltration.pcap", OP25B_CORPUS_DIR);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    cr_assert_not_null(capture, "%s", error);
    struct pcap_pkthdr *header;
    const u_char *data;
    unsigned queries = 0, mx = 0, responses = 0;
    while (pcap_next_ex(capture, &header, &data) == 1) {
        struct packet packet;
        memset(&packet, 0, sizeof(packet));
        if (decode_packet(pcap_datalink(capture), data, header->caplen, &packet) != DECODE_OK ||
            packet.proto != IPPROTO_NUMBER_UDP)
            continue;
        struct dns_question question;
        enum dns_result result = dns_parse_query(packet.payload, packet.payload_length, &question);
        if (packet.src_port == DNS_PORT) {
            cr_assert_eq(result, DNS_NOT_QUERY);
            responses++;
            continue;
        }
        cr_assert_eq(result, DNS_OK);
        cr_assert(strncmp(question.name, "dnscat.", 7) == 0, "%s", question.name);
        queries++;
        mx += question.asks_mx;
    }
    pcap_close(capture);
    cr_assert_gt(queries, 0);
    cr_assert_eq(queries, responses);
    cr_assert_gt(mx, 0);
    cr_assert_lt(mx, queries);
}
