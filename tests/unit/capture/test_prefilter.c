/* The prefilter derived from a policy: what it keeps and drops, read by libpcap's own
 * filter engine over hand-built frames, and the shape of the expression. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "capture/prefilter.h"

static struct policy *policy_of(const char *text)
{
    char error[512];
    struct policy *policy = policy_load_text("t.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    return policy;
}

static const char *const POLICY =
    "sensor: {name: s, position: edge-side}\n"
    "own_prefixes: [198.51.100.0/22, 2001:db8::/32]\n"
    "resolvers: [198.51.100.53]\n"
    "pools:\n"
    "  - {name: p, type: dynamic, prefixes: [198.51.100.0/24, 10.16.0.0/20]}\n"
    "  - {name: q, type: dynamic, prefixes: [198.51.101.0/24]}\n"
    "msas:\n"
    "  - {name: m, prefixes: [192.0.2.25/32], ports: [587]}\n";

enum { TCP = 6, UDP = 17, ICMP = 1, GRE = 47 };

/* Ethernet, an optional 802.1Q tag, IPv4 and 20 bytes of transport header. */
static size_t frame(uint8_t *out, int vlan, const char *src, const char *dst, int proto,
                    uint16_t sport, uint16_t dport)
{
    size_t at = 12;
    memset(out, 0, 128);
    if (vlan >= 0) {
        out[at++] = 0x81;
        out[at++] = 0x00;
        out[at++] = (uint8_t)(vlan >> 8);
        out[at++] = (uint8_t)vlan;
    }
    out[at++] = 0x08;
    out[at++] = 0x00;
    uint8_t *ip = out + at;
    ip[0] = 0x45;
    ip[3] = 40;
    ip[8] = 64;
    ip[9] = (uint8_t)proto;
    inet_pton(AF_INET, src, ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    uint8_t *l4 = ip + 20;
    l4[0] = (uint8_t)(sport >> 8);
    l4[1] = (uint8_t)sport;
    l4[2] = (uint8_t)(dport >> 8);
    l4[3] = (uint8_t)dport;
    if (proto == TCP)
        l4[12] = 0x50;
    return at + 40;
}

static bool kept(const char *expression, const uint8_t *data, size_t length)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    struct bpf_program program;
    cr_assert_eq(pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN), 0, "%s",
                 pcap_geterr(dead));
    struct pcap_pkthdr header = {.caplen = (bpf_u_int32)length, .len = (bpf_u_int32)length};
    bool result = pcap_offline_filter(&program, &header, data) != 0;
    pcap_freecode(&program);
    pcap_close(dead);
    return result;
}

Test(prefilter, keeps_what_the_detections_read_and_drops_the_rest)
{
    struct policy *policy = policy_of(POLICY);
    static char expression[PREFILTER_TEXT_MAX];
    cr_assert_gt(prefilter_expression(policy, true, expression, sizeof(expression)), 0);
    struct {
        const char *what;
        int vlan;
        const char *src, *dst;
        int proto;
        uint16_t sport, dport;
        bool keep;
    } cases[] = {
        {"subscriber to a web site", -1, "198.51.100.7", "203.0.113.9", TCP, 40000, 443, true},
        {"web site to subscriber", -1, "203.0.113.9", "10.16.3.4", TCP, 443, 40000, true},
        {"subscriber QUIC", -1, "198.51.100.7", "203.0.113.9", UDP, 40000, 443, false},
        {"subscriber DNS", -1, "198.51.100.7", "8.8.8.8", UDP, 40000, 53, true},
        {"transit web", -1, "203.0.113.9", "192.0.2.200", TCP, 443, 40000, false},
        {"transit DNS", -1, "203.0.113.9", "192.0.2.200", UDP, 53, 40000, false},
        {"spoofed source to port 25", -1, "203.0.113.9", "192.0.2.200", TCP, 40000, 25, true},
        {"reply from port 25 to transit", -1, "192.0.2.200", "203.0.113.9", TCP, 25, 40000, true},
        {"transit ICMP", -1, "203.0.113.9", "192.0.2.200", ICMP, 0x0303, 0, true},
        {"transit GRE", -1, "203.0.113.9", "192.0.2.200", GRE, 0, 0x0800, true},
        {"outside to the MSA", -1, "203.0.113.9", "192.0.2.25", TCP, 40000, 587, true},
        {"tagged subscriber QUIC", 100, "198.51.100.7", "203.0.113.9", UDP, 40000, 443, false},
        {"tagged subscriber web", 100, "198.51.100.7", "203.0.113.9", TCP, 40000, 443, true},
        {"tagged transit web", 100, "203.0.113.9", "192.0.2.200", TCP, 443, 40000, false},
        {"tagged port 25", 100, "203.0.113.9", "192.0.2.200", TCP, 40000, 25, true},
        /* The UDP tunnels the decoder opens (decode.h), between addresses that are not the
         * ISP's: a mobile core's GTP-U, a fabric's VXLAN. */
        {"transit VXLAN", -1, "203.0.113.9", "192.0.2.200", UDP, 51000, 4789, true},
        {"transit GTP-U uplink", -1, "203.0.113.9", "192.0.2.200", UDP, 2152, 2152, true},
        {"transit GTP-U, one port", -1, "203.0.113.9", "192.0.2.200", UDP, 40000, 2152, true},
        {"transit GTP-U, other port", -1, "203.0.113.9", "192.0.2.200", UDP, 2152, 40000, true},
        {"subscriber VXLAN", -1, "198.51.100.7", "203.0.113.9", UDP, 51000, 4789, true},
        {"tagged transit GTP-U", 300, "203.0.113.9", "192.0.2.200", UDP, 2152, 2152, true},
        {"tagged transit VXLAN", 300, "203.0.113.9", "192.0.2.200", UDP, 51000, 4789, true},
        /* The decoder reads VXLAN by its destination port only. */
        {"transit UDP from port 4789", -1, "203.0.113.9", "192.0.2.200", UDP, 4789, 51000, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t data[128];
        size_t length = frame(data, cases[i].vlan, cases[i].src, cases[i].dst, cases[i].proto,
                              cases[i].sport, cases[i].dport);
        cr_assert_eq(kept(expression, data, length), cases[i].keep, "%s: %s", cases[i].what,
                     cases[i].keep ? "dropped" : "kept");
    }
    /* Not IP at all (ARP): for the decoder to judge. */
    uint8_t arp[64] = {0};
    arp[12] = 0x08;
    arp[13] = 0x06;
    cr_assert(kept(expression, arp, sizeof(arp)));
    policy_free(policy);
}

Test(prefilter, each_prefix_once_and_none_inside_another)
{
    struct policy *policy = policy_of(POLICY);
    static char expression[PREFILTER_TEXT_MAX];
    prefilter_expression(policy, false, expression, sizeof(expression));
    /* 198.51.100.0/24 and /101.0/24 and the resolver lie in own 198.51.100.0/22. */
    cr_assert_not_null(strstr(expression, "net 198.51.100.0/22"), "%s", expression);
    cr_assert_null(strstr(expression, "net 198.51.100.0/24"), "%s", expression);
    cr_assert_null(strstr(expression, "198.51.101.0/24"), "%s", expression);
    cr_assert_null(strstr(expression, "198.51.100.53"), "%s", expression);
    cr_assert_not_null(strstr(expression, "net 10.16.0.0/20"), "%s", expression);
    cr_assert_not_null(strstr(expression, "net 192.0.2.25/32"), "%s", expression);
    cr_assert_not_null(strstr(expression, "net 2001:db8::/32"), "%s", expression);
    cr_assert_null(strstr(expression, "vlan"), "the untagged form has no vlan part");
    /* It compiles where libpcap has no VLANs (Linux cooked capture v2). */
    pcap_t *dead = pcap_open_dead(DLT_LINUX_SLL2, 65535);
    struct bpf_program program;
    cr_assert_eq(pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN), 0, "%s",
                 pcap_geterr(dead));
    pcap_freecode(&program);
    pcap_close(dead);
    policy_free(policy);
}

Test(prefilter, too_long_for_the_buffer_is_none)
{
    struct policy *policy = policy_of(POLICY);
    char small[64] = "x";
    cr_assert_eq(prefilter_expression(policy, true, small, sizeof(small)), 0);
    cr_assert_eq(small[0], '\0');
    policy_free(policy);
}
