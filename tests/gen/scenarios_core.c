/* The core sensor's scenarios: verdicts edge- and core-side, encapsulations, SMTP dialogue
 * details, a one-way mirror, and the shipped example (see tests/scenarios/manifest.txt). */
#include <stdio.h>
#include <string.h>

#include "scenario.h"

/* Every verdict and evidence kind a sensor on the subscriber side can show. */
static void write_edge_verdicts(void)
{
    const char *name = "scenario-edge-verdicts.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link access = vlan_link(VLAN_ACCESS);
    struct gen_link business = vlan_link(VLAN_BUSINESS);
    struct gen_link mobile = vlan_link(VLAN_MOBILE);
    struct gen_conn conn;

    /* Mid-connection at the start of the capture: RCPT with no handshake seen. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.40", 40024, "203.0.113.40", 25);
    gen_conn_client_text(&conn, at(0.0), "RCPT TO:<late@mx.example.net>\r\n");
    gen_conn_server_text(&conn, at(0.020), "250 2.1.5 Ok\r\n");
    close_both(&conn, 0.030);

    web_exchange(out, &access, "198.51.100.20", "203.0.113.80", 0.5);

    /* blocked, no_reply: three SYNs (one attempt), silence. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.10", 40001, "203.0.113.10", 25);
    gen_conn_syn(&conn, at(1.0));
    gen_conn_syn(&conn, at(2.0));
    gen_conn_syn(&conn, at(4.0));

    /* blocked, icmp_admin_prohibited: the DSL blocking point answers ICMP 3/13. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.10", 40002, "203.0.113.11", 25);
    gen_conn_syn(&conn, at(5.0));
    gen_conn_icmp_error(&conn, at(5.001), "198.51.101.1", 3, 13);
    gen_conn_syn(&conn, at(6.0));
    gen_conn_icmp_error(&conn, at(6.001), "198.51.101.1", 3, 13);

    /* blocked, rst_filter: the cable blocking point is declared reject: tcp-reset. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.101.130", 40003, "203.0.113.12", 25);
    gen_conn_syn(&conn, at(10.0));
    gen_conn_server_rst(&conn, at(10.001));

    /* leaked, rst_server: a closed port answers, so the SYN got there. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.11", 40004, "203.0.113.13", 25);
    gen_conn_syn(&conn, at(12.0));
    gen_conn_server_rst(&conn, at(12.050));

    /* leaked, syn_ack: the client resets right after the SYN-ACK (a port scan). */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.12", 40005, "203.0.113.14", 25);
    gen_conn_syn(&conn, at(14.0));
    gen_conn_syn_ack(&conn, at(14.050));
    gen_conn_client_rst(&conn, at(14.051));

    /* leaked at each dialogue depth. */
    session(out, &access, "198.51.100.13", 40006, "203.0.113.15", 16.0, DEPTH_HANDSHAKE, "");
    session(out, &access, "198.51.100.14", 40007, "203.0.113.16", 17.0, DEPTH_BANNER, "");
    session(out, &access, "198.51.100.15", 40008, "203.0.113.17", 18.0, DEPTH_EHLO,
            "bot15.example");
    session(out, &access, "198.51.100.16", 40009, "203.0.113.18", 19.0, DEPTH_MAIL,
            "bot16.example");
    session(out, &access, "198.51.100.17", 40010, "203.0.113.19", 20.0, DEPTH_RCPT,
            "bot17.example");
    session(out, &access, "198.51.100.18", 40011, "203.0.113.20", 21.0, DEPTH_DATA,
            "[198.51.100.18]");
    session(out, &access, "198.51.100.19", 40012, "203.0.113.21", 22.0, DEPTH_STARTTLS,
            "laptop.home.example");

    /* allowed: the ISP's own MSA on 25, and the partner MSA from the one pool it serves. */
    session(out, &access, "198.51.100.21", 40013, "192.0.2.25", 23.0, DEPTH_DATA,
            "user-pc.example");
    session(out, &access, "198.51.101.20", 40014, "192.0.2.26", 24.0, DEPTH_DATA,
            "dsl-user.example");
    /* ... but the partner MSA does not serve FTTH: an ordinary attempt, blocked. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.22", 40015, "192.0.2.26", 25);
    gen_conn_syn(&conn, at(25.0));

    /* would_block: the mobile pool's blocking point is only planned. */
    session(out, &mobile, "198.51.102.10", 40016, "203.0.113.22", 26.0, DEPTH_DATA,
            "phone.example");
    conn_open(&conn, out, LINKTYPE_ETHERNET, &mobile, "198.51.102.11", 40017, "203.0.113.23", 25);
    gen_conn_syn(&conn, at(27.0));

    /* ICMP host unreachable (3/1) is no ACL answer: not evidence, and not silence. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.23", 40018, "203.0.113.24", 25);
    gen_conn_syn(&conn, at(28.0));
    gen_conn_icmp_error(&conn, at(28.100), "203.0.113.1", 3, 1);

    /* IPv6: blocked by ICMPv6 1/1, and a leak to data. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "2001:db8:1000::10", 40019,
              "2001:db8:f000::25", 25);
    gen_conn_syn(&conn, at(29.0));
    gen_conn_icmp_error(&conn, at(29.001), "2001:db8:1000::1", 1, 1);
    session(out, &access, "2001:db8:1000::11", 40020, "2001:db8:f000::26", 30.0, DEPTH_DATA,
            "v6-bot.example");

    /* Not attempts: submission on 587, a static business line, and a static /29 carved
     * out of the dynamic /20 (longest prefix wins). */
    {
        struct gen_conn submission;
        conn_open(&submission, out, LINKTYPE_ETHERNET, &access, "198.51.100.24", 40021,
                  "203.0.113.50", 587);
        handshake(&submission, 31.0);
        gen_conn_server_text(&submission, at(31.050), "220 smtp.example.org ESMTP\r\n");
        gen_conn_client_text(&submission, at(31.060), "EHLO laptop\r\n");
        gen_conn_server_text(&submission, at(31.080), "250 AUTH PLAIN\r\n");
        close_both(&submission, 31.100);
    }
    session(out, &business, "198.51.103.10", 40022, "203.0.113.30", 32.0, DEPTH_DATA,
            "mail.business.example");
    conn_open(&conn, out, LINKTYPE_ETHERNET, &business, "10.16.4.9", 40023, "203.0.113.31", 25);
    gen_conn_syn(&conn, at(33.0));
    /* ... while the rest of the /20 is dynamic: blocked. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "10.16.4.20", 40025, "203.0.113.32", 25);
    gen_conn_syn(&conn, at(34.0));

    /* The same ports with a new ISN before the first attempt was settled: two attempts. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.25", 40026, "203.0.113.33", 25);
    gen_conn_syn(&conn, at(35.0));
    conn.client_isn = next_isn();
    conn.client_next = conn.client_isn;
    gen_conn_syn(&conn, at(37.0));

    /* More web traffic later on, then an attempt in the last second: its SYN timer cannot
     * run out before the capture ends, so it stays unknown. */
    web_exchange(out, &access, "198.51.100.26", "203.0.113.81", 60.0);
    conn_open(&conn, out, LINKTYPE_ETHERNET, &access, "198.51.100.27", 40027, "203.0.113.34", 25);
    gen_conn_syn(&conn, at(90.0));
    close_capture(out, name);
}

/* A sensor between the blocking points and the Internet sees only what got past them. */
static void write_core_verdicts(void)
{
    const char *name = "scenario-core-verdicts.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link core;
    memset(&core, 0, sizeof(core));
    struct gen_conn conn;

    /* A lone SYN past the ACL: leaked by syn_core_side, closed by the idle timer. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &core, "198.51.100.50", 41001, "203.0.113.60", 25);
    gen_conn_syn(&conn, at(0.0));
    gen_conn_syn(&conn, at(1.0));
    session(out, &core, "198.51.100.51", 41002, "203.0.113.61", 2.0, DEPTH_DATA, "bot51.example");
    session(out, &core, "198.51.100.52", 41003, "192.0.2.25", 3.0, DEPTH_DATA, "user.example");
    session(out, &core, "198.51.102.12", 41004, "203.0.113.62", 4.0, DEPTH_EHLO, "phone.example");
    /* A reset seen past the ACL is the server's, even where the pool's blocking point is
     * declared to answer with resets. */
    conn_open(&conn, out, LINKTYPE_ETHERNET, &core, "198.51.101.140", 41005, "203.0.113.63", 25);
    gen_conn_syn(&conn, at(5.0));
    gen_conn_server_rst(&conn, at(5.050));
    web_exchange(out, &core, "198.51.100.53", "203.0.113.82", 700.0);
    close_capture(out, name);
}

/* The same kinds of attempt carried every way a mirror port may deliver them. */
static void write_encapsulation(void)
{
    const char *name = "scenario-encapsulation.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link link = vlan_link(VLAN_ACCESS);
    web_exchange(out, &link, "198.51.100.20", "203.0.113.80", 0.0);

    /* 802.1Q */
    session(out, &link, "198.51.100.60", 42001, "203.0.113.70", 1.0, DEPTH_EHLO, "dot1q.example");
    /* QinQ: service tag 1000 outside, customer tag 100 inside */
    struct gen_link qinq = link;
    qinq.vlan[0] = 1000;
    qinq.vlan[1] = VLAN_ACCESS;
    qinq.vlan_count = 2;
    qinq.qinq = true;
    session(out, &qinq, "198.51.100.61", 42002, "203.0.113.71", 2.0, DEPTH_EHLO, "qinq.example");
    /* PPPoE session inside the access VLAN, IPv4 and IPv6 */
    struct gen_link pppoe = link;
    pppoe.pppoe = true;
    pppoe.pppoe_session = 0x1234;
    session(out, &pppoe, "198.51.100.62", 42003, "203.0.113.72", 3.0, DEPTH_EHLO, "pppoe.example");
    session(out, &pppoe, "2001:db8:1000::62", 42004, "2001:db8:f000::72", 4.0, DEPTH_EHLO,
            "pppoe6.example");
    /* MPLS, two labels, no VLAN: no segment */
    struct gen_link mpls;
    memset(&mpls, 0, sizeof(mpls));
    mpls.mpls[0] = 16001;
    mpls.mpls[1] = 24;
    mpls.mpls_count = 2;
    session(out, &mpls, "198.51.100.63", 42005, "203.0.113.73", 5.0, DEPTH_EHLO, "mpls.example");
    /* GRE and IP-in-IP between two routers of the ISP */
    struct gen_link gre = link;
    gre.tunnel = GEN_TUNNEL_GRE;
    gre.tunnel_src = gen_addr("198.51.100.254");
    gre.tunnel_dst = gen_addr("198.51.100.253");
    session(out, &gre, "198.51.100.64", 42006, "203.0.113.74", 6.0, DEPTH_EHLO, "gre.example");
    struct gen_link ipip = gre;
    ipip.tunnel = GEN_TUNNEL_IPIP;
    session(out, &ipip, "198.51.100.65", 42007, "203.0.113.75", 7.0, DEPTH_EHLO, "ipip.example");
    /* A blocked attempt inside PPPoE: the ICMP error travels the same way back. */
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, &pppoe, "198.51.101.66", 42008, "203.0.113.76", 25);
    gen_conn_syn(&conn, at(8.0));
    gen_conn_icmp_error(&conn, at(8.001), "198.51.101.1", 3, 13);
    close_capture(out, name);

    /* Linux cooked capture v2 (tcpdump -i any) has no VLAN tags and no MACs. */
    const char *sll_name = "scenario-linux-sll2.pcap";
    struct pcapgen *sll = open_capture(sll_name, LINKTYPE_LINUX_SLL2);
    struct gen_link plain;
    memset(&plain, 0, sizeof(plain));
    struct gen_conn cooked;
    conn_open(&cooked, sll, LINKTYPE_LINUX_SLL2, &plain, "198.51.100.67", 42009, "203.0.113.77",
              25);
    handshake(&cooked, 1.0);
    gen_conn_server_text(&cooked, at(1.050), "220 mx ESMTP\r\n");
    gen_conn_client_text(&cooked, at(1.060), "HELO sll2.example\r\n");
    close_both(&cooked, 1.100);
    conn_open(&cooked, sll, LINKTYPE_LINUX_SLL2, &plain, "198.51.100.68", 42010, "203.0.113.78",
              25);
    gen_conn_syn(&cooked, at(2.0));
    close_capture(sll, sll_name);
}

/* Dialogue details: pipelining, split and retransmitted commands, AUTH, STARTTLS refused,
 * multi-line replies, a lost segment. */
static void write_smtp_dialogue(void)
{
    const char *name = "scenario-smtp-dialogue.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link link = vlan_link(VLAN_ACCESS);
    struct gen_conn c;

    /* Pipelined MAIL/RCPT/RCPT/DATA in one segment, their replies in one segment. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.70", 43001, "203.0.113.90", 25);
    handshake(&c, 1.0);
    gen_conn_server_text(&c, at(1.05), "220-mx.example.net ESMTP\r\n220 no UCE\r\n");
    gen_conn_client_text(&c, at(1.06), "EHLO pipeline.example\r\n");
    gen_conn_server_text(&c, at(1.08), "250-mx.example.net\r\n250-PIPELINING\r\n250 SIZE\r\n");
    gen_conn_client_text(&c, at(1.09),
                         "MAIL FROM:<a@Pipe.Example>\r\nRCPT TO:<x@mx.example.net>\r\n"
                         "RCPT TO:<y@mx.example.net>\r\nDATA\r\n");
    gen_conn_server_text(&c, at(1.11), "250 Ok\r\n250 Ok\r\n550 No such user\r\n354 Go\r\n");
    gen_conn_client_text(&c, at(1.12), "Subject: x\r\n\r\nhello\r\n.\r\n");
    gen_conn_server_text(&c, at(1.14), "250 queued\r\n");
    gen_conn_client_text(&c, at(1.15), "QUIT\r\n");
    gen_conn_server_text(&c, at(1.16), "221 Bye\r\n");
    close_both(&c, 1.17);

    /* A command split over two segments, and a retransmitted RCPT counted once. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.71", 43002, "203.0.113.91", 25);
    handshake(&c, 2.0);
    gen_conn_server_text(&c, at(2.05), "220 mx ESMTP\r\n");
    gen_conn_client_text(&c, at(2.06), "HELO split.example\r\n");
    gen_conn_server_text(&c, at(2.07), "250 mx\r\n");
    gen_conn_client_text(&c, at(2.08), "MAIL FR");
    gen_conn_client_text(&c, at(2.09), "OM:<b@Split.Example>\r\n");
    gen_conn_server_text(&c, at(2.10), "250 Ok\r\n");
    gen_conn_client_text(&c, at(2.11), "RCPT TO:<z@mx.example.net>\r\n");
    gen_conn_client_retransmit(&c, at(2.41), strlen("RCPT TO:<z@mx.example.net>\r\n"),
                               strlen("RCPT TO:<z@mx.example.net>\r\n"));
    gen_conn_server_text(&c, at(2.42), "250 Ok\r\n");
    gen_conn_client_text(&c, at(2.43), "QUIT\r\n");
    gen_conn_server_text(&c, at(2.44), "221 Bye\r\n");
    close_both(&c, 2.45);

    /* AUTH LOGIN accepted on port 25 of a third-party server. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.72", 43003, "203.0.113.92", 25);
    handshake(&c, 3.0);
    gen_conn_server_text(&c, at(3.05), "220 smtp.provider.example ESMTP\r\n");
    gen_conn_client_text(&c, at(3.06), "EHLO home-pc\r\n");
    gen_conn_server_text(&c, at(3.07), "250-smtp.provider.example\r\n250 AUTH LOGIN PLAIN\r\n");
    gen_conn_client_text(&c, at(3.08), "AUTH LOGIN\r\n");
    gen_conn_server_text(&c, at(3.09), "334 VXNlcm5hbWU6\r\n");
    gen_conn_client_text(&c, at(3.10), "dXNlcg==\r\n");
    gen_conn_server_text(&c, at(3.11), "334 UGFzc3dvcmQ6\r\n");
    gen_conn_client_text(&c, at(3.12), "cGFzcw==\r\n");
    gen_conn_server_text(&c, at(3.13), "235 2.7.0 Authentication successful\r\n");
    gen_conn_client_text(&c, at(3.14), "MAIL FROM:<user@provider.example>\r\n");
    gen_conn_server_text(&c, at(3.15), "250 Ok\r\n");
    gen_conn_client_text(&c, at(3.16), "QUIT\r\n");
    gen_conn_server_text(&c, at(3.17), "221 Bye\r\n");
    close_both(&c, 3.18);

    /* AUTH PLAIN refused. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.73", 43004, "203.0.113.93", 25);
    handshake(&c, 4.0);
    gen_conn_server_text(&c, at(4.05), "220 mx ESMTP\r\n");
    gen_conn_client_text(&c, at(4.06), "EHLO guesser\r\n");
    gen_conn_server_text(&c, at(4.07), "250-mx\r\n250 AUTH PLAIN\r\n");
    gen_conn_client_text(&c, at(4.08), "AUTH PLAIN AGFkbWluAGFkbWlu\r\n");
    gen_conn_server_text(&c, at(4.09), "535 5.7.8 Authentication failed\r\n");
    gen_conn_client_text(&c, at(4.10), "QUIT\r\n");
    gen_conn_server_text(&c, at(4.11), "221 Bye\r\n");
    close_both(&c, 4.12);

    /* STARTTLS refused: the dialogue goes on in the clear. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.74", 43005, "203.0.113.94", 25);
    handshake(&c, 5.0);
    gen_conn_server_text(&c, at(5.05), "220 mx ESMTP\r\n");
    gen_conn_client_text(&c, at(5.06), "EHLO clear.example\r\n");
    gen_conn_server_text(&c, at(5.07), "250-mx\r\n250 STARTTLS\r\n");
    gen_conn_client_text(&c, at(5.08), "STARTTLS\r\n");
    gen_conn_server_text(&c, at(5.09), "454 4.7.0 TLS not available\r\n");
    gen_conn_client_text(&c, at(5.10), "MAIL FROM:<c@clear.example>\r\n");
    gen_conn_server_text(&c, at(5.11), "250 Ok\r\n");
    gen_conn_client_text(&c, at(5.12), "RCPT TO:<d@mx.example.net>\r\n");
    gen_conn_server_text(&c, at(5.13), "450 4.2.0 Greylisted, try again later\r\n");
    gen_conn_client_text(&c, at(5.14), "QUIT\r\n");
    gen_conn_server_text(&c, at(5.15), "221 Bye\r\n");
    close_both(&c, 5.16);

    /* A client segment lost on the mirror: the parser resumes at the next line. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.75", 43006, "203.0.113.95", 25);
    handshake(&c, 6.0);
    gen_conn_server_text(&c, at(6.05), "220 mx ESMTP\r\n");
    gen_conn_client_text(&c, at(6.06), "EHLO lossy.example\r\n");
    gen_conn_server_text(&c, at(6.07), "250 mx\r\n");
    c.client_next += (uint32_t)strlen("MAIL FROM:<lost@lossy.example>\r\n");
    gen_conn_server_text(&c, at(6.09), "250 Ok\r\n");
    gen_conn_client_text(&c, at(6.10), "RCPT TO:<e@mx.example.net>\r\n");
    gen_conn_server_text(&c, at(6.11), "250 Ok\r\n");
    gen_conn_client_text(&c, at(6.12), "QUIT\r\n");
    gen_conn_server_text(&c, at(6.13), "221 Bye\r\n");
    close_both(&c, 6.14);
    close_capture(out, name);
}

/* Only the subscriber-to-Internet direction is mirrored: silence proves nothing, but the
 * client's own handshake ACK and commands still prove a leak. */
static void write_one_way(void)
{
    const char *name = "scenario-one-way.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link link = vlan_link(VLAN_ACCESS);
    struct gen_conn c;

    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.80", 44001, "203.0.113.100", 25);
    gen_conn_syn(&c, at(1.0));
    gen_conn_syn(&c, at(2.0));
    gen_conn_syn(&c, at(4.0));

    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.81", 44002, "203.0.113.101", 25);
    gen_conn_syn(&c, at(5.0));
    c.server_next = c.server_isn + 1; /* the SYN-ACK the sensor never sees */
    gen_conn_ack(&c, at(5.040));
    gen_conn_client_text(&c, at(5.100), "ehlo one-way.example\r\n");
    gen_conn_client_text(&c, at(5.200), "mail from:<f@one-way.example>\r\n");
    gen_conn_client_text(&c, at(5.300), "rcpt to:<g@mx.example.net>\r\n");
    gen_conn_client_text(&c, at(5.400), "data\r\n");
    gen_conn_client_text(&c, at(5.500), "Subject: hi\r\n\r\nhi\r\n.\r\n");
    gen_conn_client_text(&c, at(5.600), "quit\r\n");
    gen_conn_client_fin(&c, at(5.700));

    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.82", 44003, "203.0.113.102", 25);
    gen_conn_syn(&c, at(6.0));
    c.server_next = c.server_isn + 1;
    gen_conn_ack(&c, at(6.040));
    gen_conn_client_text(&c, at(6.100), "EHLO tls.example\r\n");
    gen_conn_client_text(&c, at(6.200), "STARTTLS\r\n");
    static const uint8_t client_hello[] = {0x16, 0x03, 0x01, 0x00, 0x05,
                                           0x01, 0x00, 0x00, 0x01, 0x00};
    gen_conn_client_send(&c, at(6.300), client_hello, sizeof(client_hello));

    /* A late attempt keeps the capture running past the first SYN timers. */
    conn_open(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.83", 44004, "203.0.113.103", 25);
    gen_conn_syn(&c, at(50.0));
    close_capture(out, name);
}

/* The shipped example: a few minutes of the mirror port named in rules/example.yaml. The
 * FTTH ACL holds for most attempts but one subscriber's spam gets through; the DSL ACL is
 * only planned, so its bot's sessions show what the rollout would stop. */
static void write_example(void)
{
    const char *name = "example.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link ftth = vlan_link(100);
    struct gen_link dsl = vlan_link(200);
    struct gen_link business = vlan_link(300);
    struct gen_conn conn;
    static const char *const mx[] = {"192.0.2.101", "192.0.2.102", "192.0.2.103",
                                     "192.0.2.104", "192.0.2.105", "192.0.2.106"};

    /* Ordinary traffic on every segment, so the sensor knows replies travel here. */
    for (int i = 0; i < 12; i++) {
        char client[32];
        snprintf(client, sizeof(client), "203.0.113.%d", 20 + i);
        web_exchange(out, &ftth, client, "192.0.2.80", 0.5 + i * 7.0);
        snprintf(client, sizeof(client), "198.51.100.%d", 60 + i);
        web_exchange(out, &dsl, client, "192.0.2.81", 1.5 + i * 7.0);
    }
    web_exchange(out, &ftth, "2001:db8:100::20", "3fff:0:80::443", 3.0);

    /* An infected FTTH subscriber tries six MXs; the ACL drops every SYN. */
    for (int i = 0; i < 6; i++) {
        conn_open(&conn, out, LINKTYPE_ETHERNET, &ftth, "203.0.113.45", (uint16_t)(49152 + i),
                  mx[i], 25);
        gen_conn_syn(&conn, at(10.0 + i * 0.25));
        gen_conn_syn(&conn, at(11.0 + i * 0.25));
        gen_conn_syn(&conn, at(13.0 + i * 0.25));
    }
    conn_open(&conn, out, LINKTYPE_ETHERNET, &ftth, "2001:db8:100::45", 49200, "3fff:0:25::10", 25);
    gen_conn_syn(&conn, at(14.0));

    /* A subscriber whose mail client still uses port 25: allowed to the ISP's MSA... */
    session(out, &ftth, "203.0.113.12", 50112, "203.0.113.225", 20.0, DEPTH_DATA,
            "home-pc.example");
    /* ... and to the partner's MSA, which serves FTTH. */
    session(out, &ftth, "203.0.113.13", 50113, "192.0.2.3", 21.0, DEPTH_DATA, "laptop");
    /* Submission on 587 is no port-25 attempt. */
    {
        struct gen_conn submission;
        conn_open(&submission, out, LINKTYPE_ETHERNET, &ftth, "203.0.113.14", 50114,
                  "203.0.113.225", 587);
        handshake(&submission, 22.0);
        gen_conn_server_text(&submission, at(22.05), "220 msa.example.net ESMTP\r\n");
        gen_conn_client_text(&submission, at(22.06), "EHLO laptop\r\n");
        gen_conn_server_text(&submission, at(22.08), "250-msa.example.net\r\n250 AUTH PLAIN\r\n");
        close_both(&submission, 22.10);
    }

    /* The hole: one FTTH subscriber's spam reaches an MX and is accepted. */
    session(out, &ftth, "203.0.113.77", 50177, "192.0.2.120", 30.0, DEPTH_DATA, "[203.0.113.77]");
    session(out, &ftth, "203.0.113.77", 50178, "192.0.2.121", 31.0, DEPTH_RCPT, "[203.0.113.77]");

    /* DSL: the ACL is only planned. A bot delivers; a user submits to the ISP's MSA. */
    session(out, &dsl, "198.51.100.23", 51023, "192.0.2.101", 40.0, DEPTH_DATA, "win-7f3k2.local");
    session(out, &dsl, "198.51.100.23", 51024, "192.0.2.102", 41.0, DEPTH_MAIL, "win-7f3k2.local");
    conn_open(&conn, out, LINKTYPE_ETHERNET, &dsl, "198.51.100.23", 51025, "192.0.2.103", 25);
    gen_conn_syn(&conn, at(42.0));
    gen_conn_server_rst(&conn, at(42.05));
    session(out, &dsl, "198.51.100.50", 51050, "203.0.113.225", 43.0, DEPTH_DATA,
            "dsl-user.example");
    session(out, &dsl, "2001:db8:200::23", 51100, "3fff:0:25::11", 44.0, DEPTH_EHLO,
            "win-7f3k2.local");

    /* A business customer runs its own MTA: not an attempt. */
    session(out, &business, "203.0.113.130", 52130, "192.0.2.122", 50.0, DEPTH_DATA,
            "mail.business.example");

    /* Quiet traffic until the first statistics interval has passed. */
    web_exchange(out, &ftth, "203.0.113.21", "192.0.2.80", 95.0);
    close_capture(out, name);
}

/* The client closes first, so the server's FIN completes the close and the client's last
 * ACK arrives after the attempt is over: it must not open a second attempt. Fixed ISNs keep
 * the shared ISN sequence (and so every other capture) unchanged. */
static void write_close_order(void)
{
    const char *name = "scenario-close-order.pcap";
    struct pcapgen *out = open_capture(name, LINKTYPE_ETHERNET);
    struct gen_link link = vlan_link(VLAN_ACCESS);
    struct gen_conn c;
    gen_conn_init(&c, out, LINKTYPE_ETHERNET, &link, "198.51.100.90", 45001, "203.0.113.110", 25,
                  1000000u, 2000000u);
    handshake(&c, 1.0);
    gen_conn_server_text(&c, at(1.05), "220 mx ESMTP\r\n");
    gen_conn_client_text(&c, at(1.06), "EHLO first.example\r\n");
    gen_conn_server_text(&c, at(1.07), "250 mx\r\n");
    gen_conn_client_text(&c, at(1.08), "QUIT\r\n");
    gen_conn_server_text(&c, at(1.09), "221 Bye\r\n");
    gen_conn_client_fin(&c, at(1.10));
    gen_conn_server_fin(&c, at(1.11));
    gen_conn_ack(&c, at(1.12)); /* the client's ACK of the server's FIN */
    c.client_next--;            /* ... and its FIN retransmitted late, same sequence number */
    gen_conn_client_fin(&c, at(1.50));
    close_capture(out, name);
}

void scenarios_core(void)
{
    write_edge_verdicts();
    write_core_verdicts();
    write_encapsulation();
    write_smtp_dialogue();
    write_one_way();
    write_example();
    write_close_order();
}
