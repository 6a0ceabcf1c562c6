#include <criterion/criterion.h>

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "proto/tls_hello.h"

struct builder {
    uint8_t bytes[4096];
    size_t length;
};

static void put(struct builder *b, const void *data, size_t length)
{
    memcpy(b->bytes + b->length, data, length);
    b->length += length;
}

static void put16(struct builder *b, size_t value)
{
    uint8_t bytes[2] = {(uint8_t)(value >> 8), (uint8_t)value};
    put(b, bytes, 2);
}

/* A ClientHello in one record: a session id, two suites, null compression, an ALPN-ish
 * filler extension of `padding` bytes, then server_name for `name` (none when NULL). */
static void hello(struct builder *b, const char *name, size_t padding)
{
    struct builder body = {.length = 0};
    put16(&body, 0x0303);
    uint8_t random[32];
    memset(random, 0xab, sizeof(random));
    put(&body, random, sizeof(random));
    const uint8_t session[] = {4, 1, 2, 3, 4};
    put(&body, session, sizeof(session));
    const uint8_t suites[] = {0, 4, 0x13, 0x01, 0xc0, 0x2f};
    put(&body, suites, sizeof(suites));
    const uint8_t compression[] = {1, 0};
    put(&body, compression, sizeof(compression));
    struct builder extensions = {.length = 0};
    put16(&extensions, 0x0010);
    put16(&extensions, padding);
    uint8_t filler[1024];
    memset(filler, 0x55, sizeof(filler));
    put(&extensions, filler, padding);
    if (name != NULL) {
        size_t n = strlen(name);
        put16(&extensions, 0x0000);
        put16(&extensions, n + 5);
        put16(&extensions, n + 3);
        const uint8_t host_name = 0;
        put(&extensions, &host_name, 1);
        put16(&extensions, n);
        put(&extensions, name, n);
    }
    put16(&body, extensions.length);
    put(&body, extensions.bytes, extensions.length);

    b->length = 0;
    const uint8_t record[] = {22, 3, 1};
    put(b, record, sizeof(record));
    put16(b, body.length + 4);
    const uint8_t handshake[] = {1, 0, (uint8_t)(body.length >> 8), (uint8_t)body.length};
    put(b, handshake, sizeof(handshake));
    put(b, body.bytes, body.length);
}

Test(tls_hello, server_name)
{
    struct builder b;
    hello(&b, "Smtp.Example.NET", 20);
    struct tls_hello out;
    cr_assert_eq(tls_hello_parse(b.bytes, b.length, false, &out), TLS_HELLO_OK);
    cr_assert_eq(out.record_version, 0x0301);
    cr_assert_eq(out.client_version, 0x0303);
    cr_assert(out.has_sni);
    cr_assert_str_eq(out.sni, "smtp.example.net");
}

Test(tls_hello, without_server_name)
{
    struct builder b;
    hello(&b, NULL, 8);
    struct tls_hello out;
    cr_assert_eq(tls_hello_parse(b.bytes, b.length, false, &out), TLS_HELLO_OK);
    cr_assert(!out.has_sni);
    cr_assert_str_eq(out.sni, "");
}

Test(tls_hello, every_prefix_needs_more)
{
    struct builder b;
    hello(&b, "mail.example.org", 100);
    for (size_t cut = 0; cut < b.length; cut++) {
        struct tls_hello out;
        enum tls_hello_result result = tls_hello_parse(b.bytes, cut, false, &out);
        cr_assert_eq(result, TLS_HELLO_NEED_MORE, "cut at %zu of %zu: %d", cut, b.length, result);
        /* With no more to come, a hello cut short still counts, without its name. */
        if (cut >= 9) {
            cr_assert_eq(tls_hello_parse(b.bytes, cut, true, &out), TLS_HELLO_OK, "cut %zu", cut);
            cr_assert(!out.has_sni);
        }
    }
}

Test(tls_hello, not_a_hello)
{
    struct tls_hello out;
    const uint8_t smtp[] = "EHLO example\r\n";
    cr_assert_eq(tls_hello_parse(smtp, sizeof(smtp) - 1, false, &out), TLS_HELLO_NOT_HELLO);
    const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
    cr_assert_eq(tls_hello_parse(alert, sizeof(alert), false, &out), TLS_HELLO_NOT_HELLO);
    const uint8_t server_hello[] = {22, 3, 3, 0, 4, 2, 0, 0, 0};
    cr_assert_eq(tls_hello_parse(server_hello, sizeof(server_hello), false, &out),
                 TLS_HELLO_NOT_HELLO);
    const uint8_t sslv2ish[] = {22, 2, 0};
    cr_assert_eq(tls_hello_parse(sslv2ish, sizeof(sslv2ish), false, &out), TLS_HELLO_NOT_HELLO);
    cr_assert_eq(tls_hello_parse(smtp, 0, false, &out), TLS_HELLO_NEED_MORE);
}

Test(tls_hello, lengths_that_do_not_add_up)
{
    struct builder b;
    hello(&b, "a.example", 4);
    struct tls_hello out;
    /* The server_name list claims one byte more than its extension holds. */
    size_t list_at = b.length - strlen("a.example") - 5;
    b.bytes[list_at + 1]++;
    cr_assert_eq(tls_hello_parse(b.bytes, b.length, false, &out), TLS_HELLO_MALFORMED);
    /* The extensions claim less than the hello holds. */
    hello(&b, "a.example", 4);
    size_t extensions_at = 9 + 2 + 32 + 5 + 6 + 2;
    b.bytes[extensions_at + 1]--;
    cr_assert_eq(tls_hello_parse(b.bytes, b.length, false, &out), TLS_HELLO_MALFORMED);
    /* A record too short for a handshake header. */
    const uint8_t tiny[] = {22, 3, 1, 0, 2, 1, 0, 0, 0};
    cr_assert_eq(tls_hello_parse(tiny, sizeof(tiny), false, &out), TLS_HELLO_MALFORMED);
}

Test(tls_hello, a_hello_in_two_records)
{
    /* The record ends before the hello does: what the record holds is read. */
    struct builder b;
    hello(&b, "first.example", 10);
    size_t record_length = b.length - 5;
    size_t shorter = record_length - 40;
    b.bytes[3] = (uint8_t)(shorter >> 8);
    b.bytes[4] = (uint8_t)shorter;
    struct tls_hello out;
    cr_assert_eq(tls_hello_parse(b.bytes, b.length, false, &out), TLS_HELLO_OK);
    cr_assert(!out.has_sni, "the name lay in the part of the hello the record did not hold");
}

Test(tls_hello, mutations_stay_in_bounds)
{
    struct builder b;
    hello(&b, "x.example", 3);
    for (size_t i = 0; i < b.length; i++) {
        for (int value = 0; value < 256; value += 7) {
            uint8_t *copy = malloc(b.length);
            memcpy(copy, b.bytes, b.length);
            copy[i] = (uint8_t)value;
            struct tls_hello out;
            if (tls_hello_parse(copy, b.length, true, &out) == TLS_HELLO_OK && out.has_sni)
                cr_assert_lt(strlen(out.sni), TLS_SNI_TEXT_MAX);
            free(copy);
        }
    }
}

static struct tls_hello corpus_hello(const char *relative_path, unsigned frame)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcaps/%s", OP25B_CORPUS_DIR, relative_path);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    cr_assert_not_null(capture, "%s", error);
    struct pcap_pkthdr *header;
    const u_char *data;
    for (unsigned i = 0; i < frame; i++)
        cr_assert_eq(pcap_next_ex(capture, &header, &data), 1);
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    cr_assert_eq(decode_packet(pcap_datalink(capture), data, header->caplen, &packet), DECODE_OK);
    struct tls_hello out;
    cr_assert_eq(tls_hello_parse(packet.payload, packet.payload_length, false, &out), TLS_HELLO_OK,
                 "%s frame %u", relative_path, frame);
    pcap_close(capture);
    return out;
}

/* The frames tshark dissects as ClientHello (tls.handshake.type == 1), with its SNI. */
Test(tls_hello, corpus)
{
    struct tls_hello out = corpus_hello("submission/ndpi__smtps.pcapng", 3);
    cr_assert(!out.has_sni);
    cr_assert_eq(out.client_version, 0x0303);
    out = corpus_hello("submission/suricata__smtp-tls-protodetect.pcap", 4);
    cr_assert(!out.has_sni);
    out = corpus_hello("other/zeek__tls-chrome-34-google.pcap", 4);
    cr_assert(out.has_sni);
    cr_assert_str_eq(out.sni, "google.de");
}
