/* Where a packet was seen (src/policy/segment.c): the policy's segments by VLAN id, capture
 * interface and router MAC, a packet that matches none, and the documented precedence when
 * several match: the segment listed first in the policy, whatever kind it is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/segment.h"

static const char policy_text[] =
    "sensor: { name: unit-segment, position: edge-side }\n"
    "own_prefixes: [198.51.100.0/22]\n"
    "pools:\n"
    "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24] }\n"
    "  - { name: business, type: static, prefixes: [198.51.103.0/24] }\n"
    "segments:\n"
    "  - { name: access-a, vlan: 100, expects: [ftth] }\n"
    "  - { name: uplink, interface: mirror1, expects: [ftth] }\n"
    "  - { name: bras-b, mac: 02:00:5e:00:00:0b, expects: [ftth] }\n"
    "  - { name: business, vlan: 300, expects: [business] }\n"
    "  - { name: lab, interface: mirror2, expects: [business] }\n"
    "  - { name: bras-c, mac: 02-00-5e-00-00-0c, expects: [ftth] }\n"
    "  - { name: vlan-zero, vlan: 0, expects: [ftth] }\n"
    "  - { name: vlan-max, vlan: 4095, expects: [ftth] }\n";

enum { ACCESS_A = 0, UPLINK, BRAS_B, BUSINESS, LAB, BRAS_C, VLAN_ZERO, VLAN_MAX, NONE = -1 };
enum { MIRROR0 = 0, MIRROR1, MIRROR2, MIRROR1_AGAIN, UNNAMED };

static const uint8_t mac_b[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x0b};
static const uint8_t mac_c[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x0c};
static const uint8_t mac_other[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x99};

static struct policy *policy;
static struct segment_map map;

static void setup(void)
{
    char error[256];
    policy = policy_load_text("unit.yaml", policy_text, strlen(policy_text), error, sizeof(error));
    cr_assert_not_null(policy, "%s", error);
    /* Capture sources in the order given on the command line; one has no name. */
    static const char *const sources[] = {"mirror0", "mirror1", "mirror2", "mirror1", NULL};
    cr_assert_eq(segment_map_init(&map, policy, sources, 5), 0);
}

static void teardown(void)
{
    segment_map_free(&map);
    policy_free(policy);
}

TestSuite(segment, .init = setup, .fini = teardown);

/* A packet from source mirror0 (no interface segment), untagged, with MACs of no router. */
static struct packet plain(void)
{
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    packet.source = MIRROR0;
    packet.has_mac = true;
    memcpy(packet.src_mac, mac_other, 6);
    memcpy(packet.dst_mac, mac_other, 6);
    return packet;
}

static struct packet tagged(uint16_t outer, int inner)
{
    struct packet packet = plain();
    packet.vlan_count = inner >= 0 ? 2 : 1;
    packet.vlan[0] = outer;
    packet.vlan[1] = inner >= 0 ? (uint16_t)inner : 0;
    return packet;
}

Test(segment, a_packet_matching_nothing_is_no_segment)
{
    struct packet packet = plain();
    cr_assert_eq(segment_of(&map, &packet), NONE);
    packet = tagged(999, -1);
    cr_assert_eq(segment_of(&map, &packet), NONE);
    packet.has_mac = false;
    cr_assert_eq(segment_of(&map, &packet), NONE);
}

Test(segment, vlan_ids_map_to_their_segment)
{
    struct packet packet = tagged(100, -1);
    cr_assert_eq(segment_of(&map, &packet), ACCESS_A);
    packet = tagged(300, -1);
    cr_assert_eq(segment_of(&map, &packet), BUSINESS);
    packet = tagged(0, -1);
    cr_assert_eq(segment_of(&map, &packet), VLAN_ZERO, "VLAN 0 is a VLAN like any other");
    packet = tagged(4095, -1);
    cr_assert_eq(segment_of(&map, &packet), VLAN_MAX);
    /* Untagged is not VLAN 0. */
    packet = plain();
    cr_assert_eq(segment_of(&map, &packet), NONE);
}

Test(segment, either_tag_of_a_double_tagged_packet_can_name_it)
{
    struct packet packet = tagged(999, 300); /* outer tag of no segment, inner of one */
    cr_assert_eq(segment_of(&map, &packet), BUSINESS);
    packet = tagged(300, 999);
    cr_assert_eq(segment_of(&map, &packet), BUSINESS);
    /* Both tags name one: the one listed first, not the outer one. */
    packet = tagged(300, 100);
    cr_assert_eq(segment_of(&map, &packet), ACCESS_A);
}

Test(segment, the_capture_interface_names_the_segment_of_its_source)
{
    struct packet packet = plain();
    packet.source = MIRROR1;
    cr_assert_eq(segment_of(&map, &packet), UPLINK);
    packet.source = MIRROR2;
    cr_assert_eq(segment_of(&map, &packet), LAB);
    packet.source = MIRROR1_AGAIN; /* the same interface given twice */
    cr_assert_eq(segment_of(&map, &packet), UPLINK);
    packet.source = UNNAMED;
    cr_assert_eq(segment_of(&map, &packet), NONE);
    packet.source = 5; /* past the sources given */
    cr_assert_eq(segment_of(&map, &packet), NONE);
    packet.source = SEGMENT_MAX_SOURCES + 3; /* past the table: no match, no read past it */
    cr_assert_eq(segment_of(&map, &packet), NONE);
}

Test(segment, a_router_mac_names_it_as_source_or_destination)
{
    struct packet packet = plain();
    memcpy(packet.src_mac, mac_b, 6);
    cr_assert_eq(segment_of(&map, &packet), BRAS_B, "frames the router forwards to us");
    packet = plain();
    memcpy(packet.dst_mac, mac_c, 6);
    cr_assert_eq(segment_of(&map, &packet), BRAS_C, "frames sent to it (written with dashes)");
    /* Without a link layer, MACs say nothing. */
    packet.has_mac = false;
    cr_assert_eq(segment_of(&map, &packet), NONE);
    /* Two routers in one frame: the one listed first. */
    packet = plain();
    memcpy(packet.src_mac, mac_c, 6);
    memcpy(packet.dst_mac, mac_b, 6);
    cr_assert_eq(segment_of(&map, &packet), BRAS_B);
}

Test(segment, several_matches_go_to_the_segment_listed_first)
{
    /* An interface against a VLAN listed before it. */
    struct packet packet = tagged(100, -1);
    packet.source = MIRROR1;
    cr_assert_eq(segment_of(&map, &packet), ACCESS_A);
    /* A VLAN and a MAC against an interface listed before them. */
    packet = tagged(300, -1);
    packet.source = MIRROR1;
    memcpy(packet.src_mac, mac_b, 6);
    cr_assert_eq(segment_of(&map, &packet), UPLINK);
    /* A VLAN and an interface against a MAC listed before them. */
    packet = tagged(300, -1);
    packet.source = MIRROR2;
    memcpy(packet.dst_mac, mac_b, 6);
    cr_assert_eq(segment_of(&map, &packet), BRAS_B);
    /* An interface and a MAC against a VLAN listed before them. */
    packet = tagged(300, -1);
    packet.source = MIRROR2;
    memcpy(packet.dst_mac, mac_c, 6);
    cr_assert_eq(segment_of(&map, &packet), BUSINESS);
}

Test(segment, a_policy_without_segments_places_nothing)
{
    static const char text[] = "sensor: { name: unit-segment, position: edge-side }\n"
                               "own_prefixes: []\n"
                               "pools:\n"
                               "  - { name: ftth, type: dynamic, prefixes: [198.51.100.0/24] }\n";
    char error[256];
    struct policy *bare = policy_load_text("bare.yaml", text, strlen(text), error, sizeof(error));
    cr_assert_not_null(bare, "%s", error);
    struct segment_map empty;
    static const char *const sources[] = {"mirror1"};
    cr_assert_eq(segment_map_init(&empty, bare, sources, 1), 0);
    struct packet packet = tagged(100, 300);
    packet.source = 0;
    memcpy(packet.src_mac, mac_b, 6);
    cr_assert_eq(segment_of(&empty, &packet), NONE);
    segment_map_free(&empty);
    policy_free(bare);
}

Test(segment, flags_are_kept_per_segment_and_for_no_segment)
{
    bool flags[1 + 8] = {false};
    segment_flag_set(flags, NONE);
    cr_assert(flags[0], "no segment has slot 0");
    cr_assert(segment_flag(flags, NONE));
    cr_assert_not(segment_flag(flags, ACCESS_A));
    segment_flag_set(flags, BUSINESS);
    cr_assert(segment_flag(flags, BUSINESS));
    cr_assert(flags[BUSINESS + 1]);
    for (int s = 0; s < 8; s++)
        if (s != BUSINESS)
            cr_assert_not(segment_flag(flags, s), "segment %d", s);
}
