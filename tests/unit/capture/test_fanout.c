/* The fanout program, run by a small classic-BPF interpreter over hand-built packets: both
 * directions of a flow and the ICMP error quoting it must pick the same worker, and flows
 * must spread. (tests/live/live_test.py runs it in the kernel.) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>

#include "cbpf_run.h"
#include "capture/fanout.h"

static struct sock_filter program[FANOUT_PROGRAM_MAX];
static int program_length;

static void setup(void)
{
    program_length = fanout_program(program, FANOUT_PROGRAM_MAX, 64);
    cr_assert_gt(program_length, 0);
}

TestSuite(fanout, .init = setup);

static size_t ipv4_tcp(uint8_t *p, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
    memset(p, 0, 40);
    p[0] = 0x45;
    p[3] = 40;
    p[8] = 64;
    p[9] = 6;
    inet_pton(AF_INET, src, p + 12);
    inet_pton(AF_INET, dst, p + 16);
    p[20] = (uint8_t)(sport >> 8), p[21] = (uint8_t)sport;
    p[22] = (uint8_t)(dport >> 8), p[23] = (uint8_t)dport;
    return 40;
}

static uint32_t v4(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
    uint8_t p[40];
    ipv4_tcp(p, src, dst, sport, dport);
    return cbpf_run(program, program_length, 0x0800, p, sizeof(p));
}

Test(fanout, both_directions_pick_one_worker)
{
    cr_assert_eq(v4("198.51.100.10", "203.0.113.10", 40000, 25),
                 v4("203.0.113.10", "198.51.100.10", 25, 40000));
}

Test(fanout, one_subscribers_traffic_meets_in_one_worker)
{
    /* Its attempts to several MXs, its DNS query and mail sent to it: the per-subscriber
     * windows need all of them in one worker. */
    uint32_t worker = v4("198.51.100.10", "203.0.113.10", 40000, 25);
    cr_assert_eq(v4("198.51.100.10", "203.0.113.99", 40001, 25), worker);
    cr_assert_eq(v4("198.51.100.10", "192.0.2.53", 53000, 53), worker);
    cr_assert_eq(v4("203.0.113.7", "198.51.100.10", 25, 61000), worker);
    cr_assert_neq(v4("198.51.100.11", "203.0.113.10", 40000, 25), worker,
                  "these two subscribers happen to collide: pick other addresses");
}

Test(fanout, icmp_error_follows_the_packet_it_quotes)
{
    uint8_t syn[40];
    ipv4_tcp(syn, "198.51.100.10", "203.0.113.10", 40000, 25);
    uint8_t error[20 + 8 + 28];
    memset(error, 0, sizeof(error));
    error[0] = 0x45;
    error[9] = 1;
    inet_pton(AF_INET, "198.51.101.1", error + 12); /* the router */
    inet_pton(AF_INET, "198.51.100.10", error + 16);
    error[20] = 3;  /* destination unreachable */
    error[21] = 13; /* communication administratively prohibited */
    memcpy(error + 28, syn, 28);
    uint32_t quoted = cbpf_run(program, program_length, 0x0800, error, sizeof(error));
    cr_assert_eq(quoted, v4("198.51.100.10", "203.0.113.10", 40000, 25));
    /* A quoted header behind IP options is found too. */
    uint8_t with_options[24 + 8 + 28];
    memcpy(with_options, error, 20);
    with_options[0] = 0x46;
    memset(with_options + 20, 1, 4); /* NOP options */
    memcpy(with_options + 24, error + 20, 8 + 28);
    cr_assert_eq(cbpf_run(program, program_length, 0x0800, with_options, sizeof(with_options)),
                 quoted);
    /* An echo request is no error: it is hashed by its own pair, like any packet whose
     * ports say nothing. */
    error[20] = 8;
    cr_assert_eq(cbpf_run(program, program_length, 0x0800, error, sizeof(error)),
                 v4("198.51.101.1", "198.51.100.10", 1000, 1000));
}

static size_t ipv6_tcp(uint8_t *p, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
    memset(p, 0, 60);
    p[0] = 0x60;
    p[5] = 20;
    p[6] = 6;
    inet_pton(AF_INET6, src, p + 8);
    inet_pton(AF_INET6, dst, p + 24);
    p[40] = (uint8_t)(sport >> 8), p[41] = (uint8_t)sport;
    p[42] = (uint8_t)(dport >> 8), p[43] = (uint8_t)dport;
    return 60;
}

static uint32_t v6(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
    uint8_t p[60];
    ipv6_tcp(p, src, dst, sport, dport);
    return cbpf_run(program, program_length, 0x86dd, p, sizeof(p));
}

/* The ACL's ICMPv6 "administratively prohibited", from `router` to the subscriber, quoting
 * the subscriber's SYN from src:40000 to dst:25. */
static size_t icmpv6_prohibited(uint8_t error[40 + 8 + 60], const char *router, const char *src,
                                const char *dst)
{
    uint8_t syn[60];
    ipv6_tcp(syn, src, dst, 40000, 25);
    memset(error, 0, 40 + 8 + 60);
    error[0] = 0x60;
    error[6] = 58;
    inet_pton(AF_INET6, router, error + 8);
    inet_pton(AF_INET6, src, error + 24);
    error[40] = 1; /* destination unreachable */
    error[41] = 1; /* administratively prohibited */
    memcpy(error + 48, syn, sizeof(syn));
    return 40 + 8 + 60;
}

Test(fanout, icmpv6_error_follows_the_packet_it_quotes)
{
    uint32_t forward = v6("2001:db8:1000::10", "2001:db8:f000::25", 40000, 25);
    cr_assert_eq(forward, v6("2001:db8:f000::25", "2001:db8:1000::10", 25, 40000));
    /* Another address of the same /64 (a privacy address) is the same subscriber. */
    cr_assert_eq(forward, v6("2001:db8:1000::abcd:1234", "2001:db8:f000::99", 40001, 25));
    uint8_t error[40 + 8 + 60];
    size_t size =
        icmpv6_prohibited(error, "2001:db8:1000::1", "2001:db8:1000::10", "2001:db8:f000::25");
    cr_assert_eq(cbpf_run(program, program_length, 0x86dd, error, size), forward);
}

Test(fanout, flows_spread_over_workers)
{
    unsigned per_worker[4] = {0};
    for (int i = 0; i < 1000; i++) {
        char src[32], dst[32];
        snprintf(src, sizeof(src), "198.51.%d.%d", 100 + i / 250, i % 250);
        snprintf(dst, sizeof(dst), "203.0.113.%d", (i * 7) % 250);
        per_worker[v4(src, dst, 40000, 25) % 4]++;
    }
    for (int w = 0; w < 4; w++)
        cr_assert_gt(per_worker[w], 150, "worker %d got %u of 1000 flows", w, per_worker[w]);
}

Test(fanout, what_is_not_plain_ip_goes_to_worker_0)
{
    uint8_t arp[28] = {0};
    cr_assert_eq(cbpf_run(program, program_length, 0x0806, arp, sizeof(arp)), 0);
    cr_assert_eq(cbpf_run(program, program_length, 0x8864, arp, sizeof(arp)), 0);
}

/* The hash of a TCP packet from src:40000 to port 25 under a program for `bits`. */
static uint32_t v6_with(unsigned bits, const char *src, const char *dst)
{
    struct sock_filter code[FANOUT_PROGRAM_MAX];
    int length = fanout_program(code, FANOUT_PROGRAM_MAX, bits);
    cr_assert_gt(length, 0);
    uint8_t p[60];
    ipv6_tcp(p, src, dst, 40000, 25);
    return cbpf_run(code, length, 0x86dd, p, sizeof(p));
}

Test(fanout, every_64_of_a_delegated_ipv6_prefix_meets_in_one_worker)
{
    /* A pool with ipv6_subscriber_length 56: its subscriber's LAN /64s differ in bits 56 to
     * 63, and its bot score and windows are kept for the /56. */
    uint32_t home = v6_with(56, "2001:db8:1000:1200::10", "2001:db8:f000::25");
    cr_assert_eq(v6_with(56, "2001:db8:1000:12ff::77", "2001:db8:f000::25"), home);
    cr_assert_eq(v6_with(56, "2001:db8:1000:1234::1", "2001:db8:f000::99"), home);
    /* The next /56 is another subscriber; with /64 subscribers so are the /64s. */
    cr_assert_neq(v6_with(56, "2001:db8:1000:1300::10", "2001:db8:f000::25"), home,
                  "these two /56s happen to collide: pick others");
    cr_assert_neq(v6_with(64, "2001:db8:1000:12ff::77", "2001:db8:f000::25"),
                  v6_with(64, "2001:db8:1000:1200::10", "2001:db8:f000::25"),
                  "these two /64s happen to collide: pick others");
    /* A /48 and a /32: what lies beyond the prefix counts for nothing. */
    cr_assert_eq(v6_with(48, "2001:db8:1000:ffff::1", "2001:db8:f000::25"),
                 v6_with(48, "2001:db8:1000:1::2", "2001:db8:f000::25"));
    cr_assert_eq(v6_with(32, "2001:db8:ffff:ffff::1", "2001:db8:f000::25"),
                 v6_with(32, "2001:db8:1:1::2", "2001:db8:f000::25"));
    cr_assert_neq(v6_with(32, "2001:db9::1", "2001:db8:f000::25"),
                  v6_with(32, "2001:db8::1", "2001:db8:f000::25"),
                  "these two /32s happen to collide: pick others");
    /* Longer subscriber prefixes hash the whole /64, as 64 does. */
    cr_assert_eq(v6_with(128, "2001:db8:1000:1200::10", "2001:db8:f000::25"),
                 v6_with(64, "2001:db8:1000:1200::10", "2001:db8:f000::25"));
}

Test(fanout, an_icmpv6_error_follows_its_quote_under_a_delegated_prefix)
{
    struct sock_filter code[FANOUT_PROGRAM_MAX];
    int length = fanout_program(code, FANOUT_PROGRAM_MAX, 56);
    cr_assert_gt(length, 0);
    uint8_t error[40 + 8 + 60];
    size_t size =
        icmpv6_prohibited(error, "2001:db8:1000::1", "2001:db8:1000:12ab::10", "2001:db8:f000::25");
    cr_assert_eq(cbpf_run(code, length, 0x86dd, error, size),
                 v6_with(56, "2001:db8:1000:1200::1", "2001:db8:f000::25"));
}
