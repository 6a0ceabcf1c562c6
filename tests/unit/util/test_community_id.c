/* Community ID v1 against the published values of the specification's baseline
 * (corelight/community-id-spec, baseline/baseline_deflt.json, seed 0) and Zeek's test. */
#include <criterion/criterion.h>
#include <string.h>

#include "util/community_id.h"
#include "decode/decode.h"

static void check(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport,
                  const char *expected)
{
    struct address a, b;
    cr_assert(address_parse(src, &a));
    cr_assert(address_parse(dst, &b));
    char text[COMMUNITY_ID_TEXT_MAX];
    size_t length = community_id_v1(0, &a, &b, proto, sport, dport, text, sizeof(text));
    cr_assert_eq(length, strlen(expected), "%s -> %s: length %zu", src, dst, length);
    cr_assert_str_eq(text, expected, "%s:%u -> %s:%u proto %u", src, sport, dst, dport, proto);
}

Test(community_id, tcp_ipv4_both_directions)
{
    check("128.232.110.120", "66.35.250.204", 6, 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    check("66.35.250.204", "128.232.110.120", 6, 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    check("1.2.3.4", "5.6.7.8", 6, 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
}

Test(community_id, tcp_ipv6_smtp)
{
    check("2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 6, 63943, 25,
          "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
    check("2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 6, 25, 63943,
          "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
}

Test(community_id, udp_and_sctp)
{
    check("192.168.1.52", "8.8.8.8", 17, 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
    check("8.8.8.8", "192.168.1.52", 17, 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
    check("1.2.3.4", "5.6.7.8", 17, 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=");
    check("192.168.170.8", "192.168.170.56", 132, 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=");
    check("192.168.170.56", "192.168.170.8", 132, 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=");
}

Test(community_id, icmp_types_map_to_their_answers)
{
    /* Echo request and echo reply share one ID; time exceeded has no answer: one-way. */
    check("192.168.0.89", "192.168.0.1", 1, 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    check("192.168.0.1", "192.168.0.89", 1, 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    check("10.0.0.1", "10.0.0.2", 1, 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
}

Test(community_id, icmpv6)
{
    check("fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 58, 135, 0,
          "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
    check("fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 58, 136, 0,
          "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
    check("fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 58, 135, 0,
          "1:zavyT/cezQr1fmImYCwYnMXbgck=");
    check("3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 3, 0,
          "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=");
    check("3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 58, 1, 4,
          "1:hLZd0XGWojozrvxqE0dWB1iM6R0=");
    check("3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 58, 128, 0,
          "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=");
}

Test(community_id, protocol_without_ports)
{
    check("10.1.12.1", "10.1.12.2", 46, 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
    check("10.1.12.2", "10.1.12.1", 46, 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
}

Test(community_id, mixed_families_are_refused)
{
    struct address a, b;
    cr_assert(address_parse("192.0.2.1", &a));
    cr_assert(address_parse("2001:db8::1", &b));
    char text[COMMUNITY_ID_TEXT_MAX];
    cr_assert_eq(community_id_v1(0, &a, &b, 6, 1, 2, text, sizeof(text)), 0);
}
