#include <criterion/criterion.h>

#include <pcap/pcap.h>
#include <string.h>

#include "decode/decode.h"
#include "proto/ndpi_classify.h"

/* A TCP conversation between a subscriber and a server port, built packet by packet. */
struct conversation {
    struct packet template;
    uint32_t client_seq, server_seq;
    int64_t ts;
};

static void start(struct conversation *c, const char *client, const char *server, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    cr_assert(address_parse(client, &c->template.src));
    cr_assert(address_parse(server, &c->template.dst));
    c->template.ip_version = c->template.src.family == ADDRESS_V4 ? 4 : 6;
    c->template.proto = IPPROTO_NUMBER_TCP;
    c->template.ttl = 64;
    c->template.src_port = 40000;
    c->template.dst_port = port;
    c->template.window = 65535;
    c->client_seq = 1000;
    c->server_seq = 90000;
    c->ts = 1768467600LL * 1000000;
}

static struct packet make(struct conversation *c, bool from_client, uint8_t flags, const char *text)
{
    struct packet p = c->template;
    if (!from_client) {
        p.src = c->template.dst;
        p.dst = c->template.src;
        p.src_port = c->template.dst_port;
        p.dst_port = c->template.src_port;
    }
    uint32_t *seq = from_client ? &c->client_seq : &c->server_seq;
    p.seq = *seq;
    p.ack = from_client ? c->server_seq : c->client_seq;
    p.tcp_flags = flags;
    p.payload = (const uint8_t *)text;
    p.payload_length = text != NULL ? (uint32_t)strlen(text) : 0;
    *seq += p.payload_length + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
    c->ts += 1000;
    p.ts = c->ts;
    return p;
}

/* Plays turns ('C' or 'S' and text) after a handshake; returns the first decision. */
static enum ndpi_classify_result play(struct ndpi_classifier *classifier, uint32_t slot,
                                      struct conversation *c, const char *const *turns,
                                      size_t count)
{
    struct packet handshake[3] = {make(c, true, TCP_SYN, NULL),
                                  make(c, false, TCP_SYN | TCP_ACK, NULL),
                                  make(c, true, TCP_ACK, NULL)};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ndpi_classifier_packet(classifier, slot, &handshake[i]), NDPI_CLASSIFY_PENDING,
                     "nothing is known before the payload");
    for (size_t i = 0; i < count; i++) {
        struct packet p = make(c, turns[i][0] == 'C', TCP_ACK | TCP_PSH, turns[i] + 1);
        enum ndpi_classify_result result = ndpi_classifier_packet(classifier, slot, &p);
        if (result != NDPI_CLASSIFY_PENDING)
            return result;
    }
    return NDPI_CLASSIFY_PENDING;
}

static const char *const SMTP_TURNS[] = {
    "S220 relay.example ESMTP Postfix\r\n",
    "CEHLO WIN-7QK2M1\r\n",
    "S250-relay.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
    "CMAIL FROM:<a@b.example>\r\n",
    "S250 2.1.0 Ok\r\n",
    "CRCPT TO:<c@d.example>\r\n",
    "S250 2.1.5 Ok\r\n",
};

Test(ndpi_classify, smtp_on_any_port)
{
    struct ndpi_classifier *classifier = ndpi_classifier_new(4);
    cr_assert_not_null(classifier);
    static const uint16_t ports[] = {2525, 8080, 443, 26};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        struct conversation c;
        start(&c, "198.51.100.80", "203.0.113.9", ports[i]);
        uint32_t slot = ndpi_classifier_begin(classifier);
        cr_assert_neq(slot, NDPI_CLASSIFY_NONE);
        cr_assert_eq(play(classifier, slot, &c, SMTP_TURNS, 7), NDPI_CLASSIFY_SMTP, "port %u",
                     ports[i]);
        cr_assert_str_eq(ndpi_classifier_protocol(classifier, slot), "SMTP");
        ndpi_classifier_end(classifier, slot);
    }
    /* And over IPv6. */
    struct conversation c;
    start(&c, "2001:db8:1000::80", "2001:db8:ffff::9", 2525);
    uint32_t slot = ndpi_classifier_begin(classifier);
    cr_assert_eq(play(classifier, slot, &c, SMTP_TURNS, 7), NDPI_CLASSIFY_SMTP);
    ndpi_classifier_end(classifier, slot);
    cr_assert_eq(ndpi_classifier_in_use(classifier), 0);
    ndpi_classifier_free(classifier);
}

Test(ndpi_classify, web_is_decided_at_once)
{
    struct ndpi_classifier *classifier = ndpi_classifier_new(1);
    struct conversation c;
    start(&c, "198.51.100.80", "203.0.113.9", 8080);
    uint32_t slot = ndpi_classifier_begin(classifier);
    static const char *const http[] = {
        "CGET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/7.88\r\n\r\n",
        "SHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    };
    cr_assert_eq(play(classifier, slot, &c, http, 2), NDPI_CLASSIFY_OTHER);
    cr_assert_str_eq(ndpi_classifier_protocol(classifier, slot), "HTTP");
    ndpi_classifier_end(classifier, slot);
    ndpi_classifier_free(classifier);
}

Test(ndpi_classify, unknown_bytes_end_at_the_cap)
{
    struct ndpi_classifier *classifier = ndpi_classifier_new(1);
    struct conversation c;
    start(&c, "198.51.100.80", "203.0.113.9", 31337);
    uint32_t slot = ndpi_classifier_begin(classifier);
    enum ndpi_classify_result result = NDPI_CLASSIFY_PENDING;
    int packets = 0;
    while (result == NDPI_CLASSIFY_PENDING && packets < 100) {
        struct packet p = make(&c, packets % 2 == 0, TCP_ACK, "\x01\x7f\x33 binary junk \x02");
        result = ndpi_classifier_packet(classifier, slot, &p);
        packets++;
    }
    cr_assert_eq(result, NDPI_CLASSIFY_OTHER);
    cr_assert_leq(packets, NDPI_CLASSIFY_PACKETS_MAX);
    ndpi_classifier_end(classifier, slot);
    ndpi_classifier_free(classifier);
}

Test(ndpi_classify, giveup_on_a_short_flow)
{
    struct ndpi_classifier *classifier = ndpi_classifier_new(1);
    struct conversation c;
    start(&c, "198.51.100.80", "203.0.113.9", 4000);
    uint32_t slot = ndpi_classifier_begin(classifier);
    struct packet syn = make(&c, true, TCP_SYN, NULL);
    cr_assert_eq(ndpi_classifier_packet(classifier, slot, &syn), NDPI_CLASSIFY_PENDING);
    cr_assert_eq(ndpi_classifier_giveup(classifier, slot), NDPI_CLASSIFY_OTHER);
    /* Decided once and for all. */
    cr_assert_eq(ndpi_classifier_packet(classifier, slot, &syn), NDPI_CLASSIFY_OTHER);
    ndpi_classifier_end(classifier, slot);
    ndpi_classifier_free(classifier);
}

Test(ndpi_classify, slots_are_bounded_and_reused)
{
    struct ndpi_classifier *classifier = ndpi_classifier_new(2);
    cr_assert_eq(ndpi_classifier_capacity(classifier), 2);
    uint32_t a = ndpi_classifier_begin(classifier);
    uint32_t b = ndpi_classifier_begin(classifier);
    cr_assert_neq(a, NDPI_CLASSIFY_NONE);
    cr_assert_neq(b, NDPI_CLASSIFY_NONE);
    cr_assert_eq(ndpi_classifier_begin(classifier), NDPI_CLASSIFY_NONE);
    cr_assert_eq(ndpi_classifier_in_use(classifier), 2);
    ndpi_classifier_end(classifier, a);
    uint32_t again = ndpi_classifier_begin(classifier);
    cr_assert_eq(again, a);
    /* A reused slot starts clean: an SMTP flow after an HTTP one is SMTP. */
    struct conversation c;
    start(&c, "198.51.100.81", "203.0.113.10", 2525);
    cr_assert_eq(play(classifier, again, &c, SMTP_TURNS, 7), NDPI_CLASSIFY_SMTP);
    ndpi_classifier_free(classifier); /* with both slots still in use */
}

/* A real SMTP session from the corpus, its server port rewritten to 2587. */
Test(ndpi_classify, corpus_session_on_another_port)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcaps/smtp/ndpi__smtp.pcap", OP25B_CORPUS_DIR);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *capture = pcap_open_offline(path, error);
    cr_assert_not_null(capture, "%s", error);
    struct ndpi_classifier *classifier = ndpi_classifier_new(1);
    uint32_t slot = ndpi_classifier_begin(classifier);
    struct pcap_pkthdr *header;
    const u_char *data;
    enum ndpi_classify_result result = NDPI_CLASSIFY_PENDING;
    int packets = 0;
    while (result == NDPI_CLASSIFY_PENDING && pcap_next_ex(capture, &header, &data) == 1) {
        struct packet p;
        memset(&p, 0, sizeof(p));
        if (decode_packet(pcap_datalink(capture), data, header->caplen, &p) != DECODE_OK)
            continue;
        p.ts = (int64_t)header->ts.tv_sec * 1000000 + header->ts.tv_usec;
        if (p.dst_port == 25)
            p.dst_port = 2587;
        if (p.src_port == 25)
            p.src_port = 2587;
        result = ndpi_classifier_packet(classifier, slot, &p);
        packets++;
    }
    pcap_close(capture);
    cr_assert_eq(result, NDPI_CLASSIFY_SMTP, "after %d packets", packets);
    ndpi_classifier_free(classifier);
}
