/* The fleet family: one story captured on the two sides of the blocking points, for
 * op25b-correlate (tests/kafka/fleet_test.py). The edge-side capture (a mirror between
 * the subscribers and the ACLs) has every packet: VLAN 100 both ways, VLAN 101 only the
 * subscribers' direction (a one-way mirror, where silence proves nothing). The core-side
 * capture (behind the ACLs, untagged) has only what got through them. Each story draws
 * its ISNs from a seed of its own, so the packets it puts in both captures are the same. */
#include <stdio.h>
#include <string.h>

#include "scenario.h"

#define FLEET_SEED 0x6a3d21c5u
enum { VLAN_ACCESS_TWO_WAY = 100, VLAN_ACCESS_ONE_WAY = 101 };

struct fleet_side {
    struct pcapgen *out;
    struct gen_link two_way; /* VLAN 100 at the edge; untagged at the core */
    struct gen_link one_way; /* VLAN 101 at the edge; untagged at the core */
    bool edge;
};

static void story(uint32_t number)
{
    isn_reseed(FLEET_SEED + number);
}

/* SYNs at each time, unanswered (or answered where the mirror does not show it). */
static void lone_syns(const struct fleet_side *side, const struct gen_link *link,
                      const char *client, uint16_t port, const char *server, const double *times,
                      int count)
{
    struct gen_conn conn;
    conn_open(&conn, side->out, LINKTYPE_ETHERNET, link, client, port, server, 25);
    for (int i = 0; i < count; i++)
        gen_conn_syn(&conn, at(times[i]));
}

/* Every story, on one side: what that side's mirror shows. */
static void write_side(const struct fleet_side *side)
{
    static const double held[] = {10.0, 11.0, 13.0};
    static const double unknown_leaked[] = {30.0, 31.0, 33.0};
    static const double unknown_held[] = {40.0, 41.0, 43.0};
    static const double reused[] = {50.0, 51.0};
    static const double v6_held[] = {160.0, 161.0};
    static const double edge_blocked_core_leaked[] = {190.0, 191.0};
    static const double not_carried[] = {210.0, 211.0};

    story(0);
    web_exchange(side->out, &side->two_way, "198.51.100.20", "203.0.113.80", 0.5);
    /* 1. Held at bras-east: the edge sees three SYNs go unanswered, the core none. */
    story(1);
    if (side->edge)
        lone_syns(side, &side->two_way, "198.51.100.60", 45001, "203.0.113.140", held, 3);
    /* 2. Leaked past bras-east: the whole dialogue on both sides. */
    story(2);
    session(side->out, &side->two_way, "198.51.100.61", 45002, "203.0.113.141", 20.0, DEPTH_DATA,
            "bot61.example");
    /* 3. One-way at the edge (unknown there); the core sees the SYNs: leaked past dsl-edge. */
    story(3);
    lone_syns(side, &side->one_way, "198.51.101.30", 45003, "203.0.113.142", unknown_leaked, 3);
    /* 4. One-way at the edge (unknown there), nothing at the core: held at dsl-edge. */
    story(4);
    if (side->edge)
        lone_syns(side, &side->one_way, "198.51.101.31", 45004, "203.0.113.143", unknown_held, 3);
    /* 5. The same five-tuple twice: the first connection held, the second (a new ISN,
     *    19 s later) leaked. Two attempts, never one. */
    story(5);
    if (side->edge)
        lone_syns(side, &side->two_way, "198.51.100.62", 45005, "203.0.113.145", reused, 2);
    story(55);
    session(side->out, &side->two_way, "198.51.100.62", 45005, "203.0.113.145", 70.0, DEPTH_MAIL,
            "reuse.example");
    web_exchange(side->out, &side->two_way, "198.51.100.21", "203.0.113.81", 120.0);
    /* 6, 7. IPv6, two /64s of one /56 subscriber: one held, one leaked. */
    story(6);
    if (side->edge)
        lone_syns(side, &side->two_way, "2001:db8:1000:5::60", 45006, "2001:db8:f000::140", v6_held,
                  2);
    story(7);
    session(side->out, &side->two_way, "2001:db8:1000:6::61", 45007, "2001:db8:f000::141", 170.0,
            DEPTH_RCPT, "v6-bot.example");
    /* 8. To the ISP's MSA: allowed on both sides. */
    story(8);
    session(side->out, &side->two_way, "198.51.100.64", 45008, "192.0.2.25", 180.0, DEPTH_DATA,
            "user-pc.example");
    /* 9. The edge sees no answer (blocked there), but the core saw the SYNs pass: the
     *    server was silent, the ACL was not. */
    story(9);
    lone_syns(side, &side->two_way, "198.51.100.63", 45009, "203.0.113.146",
              edge_blocked_core_leaked, 2);
    /* 10. The LTE pool's blocking point is planned: would_block on both sides. */
    story(10);
    session(side->out, &side->two_way, "198.51.102.20", 45010, "203.0.113.147", 200.0, DEPTH_EHLO,
            "phone.example");
    /* 11. A pool no core-side sensor carries, one-way at the edge: the fleet cannot tell. */
    story(11);
    if (side->edge)
        lone_syns(side, &side->one_way, "198.51.101.140", 45011, "203.0.113.148", not_carried, 2);
    story(12);
    web_exchange(side->out, &side->two_way, "198.51.100.22", "203.0.113.82", 250.0);
    web_exchange(side->out, &side->two_way, "198.51.100.23", "203.0.113.83", 300.0);
}

void scenarios_fleet(void)
{
    isn_reseed(FLEET_SEED);
    const char *edge_name = "scenario-fleet-edge.pcap";
    const char *core_name = "scenario-fleet-core.pcap";
    struct fleet_side edge = {.out = open_capture(edge_name, LINKTYPE_ETHERNET),
                              .two_way = vlan_link(VLAN_ACCESS_TWO_WAY),
                              .one_way = vlan_link(VLAN_ACCESS_ONE_WAY),
                              .edge = true};
    write_side(&edge);
    close_capture(edge.out, edge_name);
    struct fleet_side core = {.out = open_capture(core_name, LINKTYPE_ETHERNET)};
    memset(&core.two_way, 0, sizeof(core.two_way));
    memset(&core.one_way, 0, sizeof(core.one_way));
    write_side(&core);
    close_capture(core.out, core_name);
}
