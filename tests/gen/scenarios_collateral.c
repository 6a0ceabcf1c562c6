/* What the block must not break (issue #18): submission on 587 and 465 refused by an ICMP
 * error, a reset and silence; port 25 to the designated MSAs refused; a static /29 carved
 * out of a dynamic pool refused on port 25; and beside each, the traps that must not be
 * flagged (answered, a lone SYN, the server's own reset, another ICMP error, a planned or
 * core-side point, a one-way segment). Also a BRAS mirror behind the subscribers' home
 * routers. Read under tests/scenarios/collateral.yaml and position.yaml. */
#include <string.h>

#include "scenario.h"

enum { VLAN_NONE = 0 };

/* A SYN sent `count` times, as a stack does when nothing answers (1 s, then 2 s more...). */
static void unanswered(struct gen_conn *conn, double t, int count)
{
    static const double backoff[] = {0, 1, 3, 7};
    for (int i = 0; i < count && i < 4; i++)
        gen_conn_syn(conn, at(t + backoff[i]));
}

/* A submission that gets through: handshake, the server's greeting, EHLO, QUIT. */
static void submission_answered(struct pcapgen *out, const struct gen_link *link,
                                const char *client, uint16_t port, const char *server,
                                uint16_t server_port, double t)
{
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, port, server, server_port);
    handshake(&conn, t);
    gen_conn_server_text(&conn, at(t + 0.050), "220 smtp.example.org ESMTP\r\n");
    gen_conn_client_text(&conn, at(t + 0.060), "EHLO laptop.home.example\r\n");
    gen_conn_server_text(&conn, at(t + 0.080), "250-smtp.example.org\r\n250 AUTH PLAIN\r\n");
    gen_conn_client_text(&conn, at(t + 0.090), "QUIT\r\n");
    gen_conn_server_text(&conn, at(t + 0.100), "221 Bye\r\n");
    close_both(&conn, t + 0.110);
}

/* 587 and 465 from dynamic pools, refused the three ways, and the traps. */
static void write_submission(void)
{
    const char *name = "scenario-collateral-submission.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_link mobile = vlan_link(VLAN_MOBILE);
    struct gen_link bare;
    memset(&bare, 0, sizeof(bare));
    struct gen_conn conn;

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);
    web_exchange(out, &mobile, "198.51.102.20", "203.0.113.80", 0.6);

    /* dsl-edge answers ICMP 3/13, on 587 and on 465. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.10", 51001, "203.0.113.50", 587);
    gen_conn_syn(&conn, at(1.0));
    gen_conn_icmp_error(&conn, at(1.001), "198.51.101.1", 3, 13);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.11", 51002, "203.0.113.51", 465);
    gen_conn_syn(&conn, at(2.0));
    gen_conn_icmp_error(&conn, at(2.001), "198.51.101.1", 3, 13);
    /* The same client tries again at once: one finding per subscriber, server, port and
     * reason in a window. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.10", 51003, "203.0.113.50", 587);
    gen_conn_syn(&conn, at(3.0));
    gen_conn_icmp_error(&conn, at(3.001), "198.51.101.1", 3, 13);

    /* cable-cmts rejects with resets in the server's name. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.140", 51004, "203.0.113.52", 587);
    gen_conn_syn(&conn, at(4.0));
    gen_conn_server_rst(&conn, at(4.001));
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.141", 51005, "203.0.113.53", 465);
    gen_conn_syn(&conn, at(5.0));
    gen_conn_server_rst(&conn, at(5.001));

    /* bras-east drops: the SYNs are sent again and nothing answers. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.30", 51006, "203.0.113.54", 587);
    unanswered(&conn, 6.0, 3);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.31", 51007, "203.0.113.55", 465);
    unanswered(&conn, 7.0, 2);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "2001:db8:1000:30::5", 51008,
              "2001:db8:f000::56", 587);
    unanswered(&conn, 8.0, 2);

    /* Traps. Answered: the block let it through. */
    submission_answered(out, &access, "198.51.100.32", 51009, "203.0.113.57", 587, 9.0);
    /* A lone SYN (a scanner's): silence is only evidence once the SYN was sent again. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.33", 51010, "203.0.113.58", 587);
    gen_conn_syn(&conn, at(10.0));
    /* The server's own reset (bras-east drops, it sends no resets): the SYN got there. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.34", 51011, "203.0.113.59", 587);
    gen_conn_syn(&conn, at(11.0));
    gen_conn_server_rst(&conn, at(11.040));
    /* Host unreachable is an answer, and no ACL's. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.12", 51012, "203.0.113.60", 587);
    gen_conn_syn(&conn, at(12.0));
    gen_conn_icmp_error(&conn, at(12.100), "203.0.113.1", 3, 1);
    /* lte-core is only planned: it refuses nothing yet, whatever answers. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &mobile, "198.51.102.10", 51013, "203.0.113.61", 587);
    gen_conn_syn(&conn, at(13.0));
    gen_conn_icmp_error(&conn, at(13.001), "198.51.102.1", 3, 13);
    /* Seen where no reply ever travels (no segment, no return traffic): silence says nothing. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &bare, "198.51.100.35", 51014, "203.0.113.62", 465);
    unanswered(&conn, 14.0, 3);
    /* Another port: not submission. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.36", 51015, "203.0.113.63", 443);
    unanswered(&conn, 15.0, 3);

    web_exchange(out, &access, "198.51.100.21", "203.0.113.80", 120.0);
    close_capture(out, name);
}

/* Port 25 to the designated MSAs, refused at the blocking point, and the traps. */
static void write_msa(void)
{
    const char *name = "scenario-collateral-msa.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_link mobile = vlan_link(VLAN_MOBILE);
    struct gen_conn conn;

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);
    web_exchange(out, &mobile, "198.51.102.20", "203.0.113.80", 0.6);

    /* The ISP's MSA, three SYNs dropped at bras-east. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.40", 52001, "192.0.2.25", 25);
    unanswered(&conn, 1.0, 3);
    /* The partner MSA serves DSL on 25; dsl-edge answers ICMP 3/13 all the same. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.40", 52002, "192.0.2.26", 25);
    gen_conn_syn(&conn, at(2.0));
    gen_conn_icmp_error(&conn, at(2.001), "198.51.101.1", 3, 13);
    /* cable-cmts resets it. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.150", 52003, "192.0.2.25", 25);
    gen_conn_syn(&conn, at(3.0));
    gen_conn_server_rst(&conn, at(3.001));
    /* IPv6: ICMPv6 1/1 from the BRAS. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "2001:db8:1000:40::7", 52004,
              "2001:db8:25::25", 25);
    gen_conn_syn(&conn, at(4.0));
    gen_conn_icmp_error(&conn, at(4.001), "2001:db8:1000::1", 1, 1);

    /* Traps. The MSA answers: allowed, and nothing refused. */
    session(out, &access, "198.51.100.41", 52005, "192.0.2.25", 5.0, DEPTH_DATA, "user-pc.example");
    /* The partner MSA does not serve FTTH: its block is the point doing its job. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.42", 52006, "192.0.2.26", 25);
    unanswered(&conn, 6.0, 2);
    /* One SYN, never sent again. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.43", 52007, "192.0.2.25", 25);
    gen_conn_syn(&conn, at(7.0));
    /* Behind a planned point. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &mobile, "198.51.102.40", 52008, "192.0.2.25", 25);
    unanswered(&conn, 8.0, 2);

    web_exchange(out, &access, "198.51.100.21", "203.0.113.80", 120.0);
    close_capture(out, name);
}

/* A business /29 carved out of the FWA pool: port 25 from it must pass fwa-edge. */
static void write_static(void)
{
    const char *name = "scenario-collateral-static.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    struct gen_conn conn;

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);
    web_exchange(out, &business, "198.51.103.20", "203.0.113.80", 0.6);

    /* The /29's MTA meets fwa-edge's ICMP 3/13, then its silence elsewhere. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &business, "10.16.4.9", 53001, "203.0.113.70", 25);
    gen_conn_syn(&conn, at(1.0));
    gen_conn_icmp_error(&conn, at(1.001), "10.16.0.1", 3, 13);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &business, "10.16.4.10", 53002, "203.0.113.71", 25);
    unanswered(&conn, 2.0, 3);
    /* ... and queues the same message again: one finding in the window. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &business, "10.16.4.10", 53003, "203.0.113.71", 25);
    unanswered(&conn, 12.0, 2);
    /* Submission from the /29 is refused too. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &business, "10.16.4.11", 53004, "203.0.113.72", 587);
    gen_conn_syn(&conn, at(3.0));
    gen_conn_icmp_error(&conn, at(3.001), "10.16.0.1", 3, 13);

    /* Traps. The /29's mail that gets out. */
    session(out, &business, "10.16.4.12", 53005, "203.0.113.73", 4.0, DEPTH_DATA,
            "mail.business.example");
    /* A static line in no dynamic block and behind no point: nothing can be blamed. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &business, "198.51.103.10", 53006, "203.0.113.74", 25);
    unanswered(&conn, 5.0, 3);
    /* The rest of the /20 is dynamic: its port 25 is the block doing its job. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "10.16.4.20", 53007, "203.0.113.75", 25);
    gen_conn_syn(&conn, at(6.0));
    gen_conn_icmp_error(&conn, at(6.001), "10.16.0.1", 3, 13);

    web_exchange(out, &access, "198.51.100.21", "203.0.113.80", 120.0);
    close_capture(out, name);
}

/* A mirror at the BRAS: behind the home routers of the managed pool (any SYN it sees got
 * past one), in front of the BRAS's own ACL. */
static void write_home_router(void)
{
    const char *name = "scenario-position-home-router.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_conn conn;

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);

    /* The managed pool's home routers should stop these: each that reaches the mirror is a
     * leak, however it ends. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.104.10", 54001, "203.0.113.90", 25);
    unanswered(&conn, 1.0, 2);
    session(out, &access, "198.51.104.11", 54002, "203.0.113.91", 2.0, DEPTH_DATA, "bot11.example");
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.104.12", 54003, "203.0.113.92", 25);
    gen_conn_syn(&conn, at(3.0));
    gen_conn_server_rst(&conn, at(3.040));
    /* Its MSA is allowed there as anywhere. */
    session(out, &access, "198.51.104.13", 54004, "192.0.2.25", 4.0, DEPTH_DATA, "user-pc.example");
    /* Behind a home router the sensor cannot see 587 refused: no finding. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.104.14", 54005, "203.0.113.93", 587);
    unanswered(&conn, 5.0, 3);

    /* The FTTH pool, in front of the BRAS's ACL: silence is the block holding. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.50", 54006, "203.0.113.94", 25);
    unanswered(&conn, 6.0, 2);
    session(out, &access, "198.51.100.51", 54007, "203.0.113.95", 7.0, DEPTH_DATA, "bot51.example");
    /* A home-router point declared edge-side (a mirror inside a lab's LAN). */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.105.10", 54008, "203.0.113.96", 25);
    unanswered(&conn, 8.0, 2);

    web_exchange(out, &access, "198.51.100.21", "203.0.113.80", 120.0);
    close_capture(out, name);
}

void scenarios_collateral(void)
{
    isn_reseed(0x18b10c00u);
    write_submission();
    write_msa();
    write_static();
    write_home_router();
}
