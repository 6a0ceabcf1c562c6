#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *scenario_output_dir;
static uint32_t isn_state = 0x2545f491u;

int64_t at(double seconds)
{
    return BASE_SECONDS * 1000000LL + llround(seconds * 1e6);
}

/* Deterministic, varied initial sequence numbers (xorshift32). */
void isn_reseed(uint32_t seed)
{
    isn_state = seed != 0 ? seed : 0x2545f491u; /* xorshift never leaves 0 */
}

uint32_t next_isn(void)
{
    isn_state ^= isn_state << 13;
    isn_state ^= isn_state >> 17;
    isn_state ^= isn_state << 5;
    return isn_state;
}

struct pcapgen *open_capture(const char *name, int linktype)
{
    return open_capture_snaplen(name, linktype, 0);
}

struct pcapgen *open_capture_snaplen(const char *name, int linktype, uint32_t snaplen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", scenario_output_dir, name);
    struct pcapgen *out = snaplen > 0 ? pcapgen_open_cut(path, linktype, snaplen, true)
                                      : pcapgen_open_sorted(path, linktype);
    if (out == NULL) {
        perror(path);
        exit(1);
    }
    return out;
}

void close_capture(struct pcapgen *out, const char *name)
{
    uint64_t packets = pcapgen_packets(out);
    if (pcapgen_close(out) != 0) {
        perror(name);
        exit(1);
    }
    fprintf(stderr, "scenarios: %s: %llu packets\n", name, (unsigned long long)packets);
}

struct gen_link vlan_link(uint16_t vlan)
{
    struct gen_link link;
    memset(&link, 0, sizeof(link));
    link.vlan[0] = vlan;
    link.vlan_count = 1;
    return link;
}

void conn_open(struct gen_conn *conn, struct pcapgen *out, int linktype,
               const struct gen_link *link, const char *client, uint16_t client_port,
               const char *server, uint16_t server_port)
{
    uint32_t client_isn = next_isn();
    uint32_t server_isn = next_isn();
    gen_conn_init(conn, out, linktype, link, client, client_port, server, server_port, client_isn,
                  server_isn);
}

void handshake(struct gen_conn *conn, double t)
{
    gen_conn_syn(conn, at(t));
    gen_conn_syn_ack(conn, at(t + 0.020));
    gen_conn_ack(conn, at(t + 0.021));
}

void close_both(struct gen_conn *conn, double t)
{
    gen_conn_server_fin(conn, at(t));
    gen_conn_client_fin(conn, at(t + 0.001));
    gen_conn_server_ack_only(conn, at(t + 0.020));
}

/* A session to an MTA that goes to `depth`, then QUIT (or TLS), then FIN both ways. */
void session(struct pcapgen *out, const struct gen_link *link, const char *client,
             uint16_t client_port, const char *server, double t, enum depth depth, const char *helo)
{
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, client_port, server, 25);
    handshake(&conn, t);
    t += 0.050;
    if (depth >= DEPTH_BANNER) {
        gen_conn_server_text(&conn, at(t), "220 mx.example.net ESMTP ready\r\n");
        t += 0.010;
    }
    if (depth >= DEPTH_EHLO) {
        char line[256];
        snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
        gen_conn_client_text(&conn, at(t), line);
        gen_conn_server_text(&conn, at(t + 0.020),
                             "250-mx.example.net\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
                             "250 8BITMIME\r\n");
        t += 0.030;
    }
    if (depth == DEPTH_STARTTLS) {
        static const uint8_t client_hello[] = {0x16, 0x03, 0x01, 0x00, 0x05,
                                               0x01, 0x00, 0x00, 0x01, 0x00};
        gen_conn_client_text(&conn, at(t), "STARTTLS\r\n");
        gen_conn_server_text(&conn, at(t + 0.020), "220 2.0.0 Ready to start TLS\r\n");
        gen_conn_client_send(&conn, at(t + 0.030), client_hello, sizeof(client_hello));
        close_both(&conn, t + 0.100);
        return;
    }
    if (depth >= DEPTH_MAIL) {
        gen_conn_client_text(&conn, at(t), "MAIL FROM:<offers@Cheap-Pills.example>\r\n");
        gen_conn_server_text(&conn, at(t + 0.020),
                             depth == DEPTH_MAIL ? "550 5.7.1 Sender rejected\r\n"
                                                 : "250 2.1.0 Ok\r\n");
        t += 0.030;
    }
    if (depth >= DEPTH_RCPT) {
        gen_conn_client_text(&conn, at(t), "RCPT TO:<victim@mx.example.net>\r\n");
        gen_conn_server_text(&conn, at(t + 0.020),
                             depth == DEPTH_RCPT ? "550 5.1.1 No such user\r\n"
                                                 : "250 2.1.5 Ok\r\n");
        t += 0.030;
    }
    if (depth >= DEPTH_DATA) {
        gen_conn_client_text(&conn, at(t), "DATA\r\n");
        gen_conn_server_text(&conn, at(t + 0.020), "354 End data with <CR><LF>.<CR><LF>\r\n");
        gen_conn_client_text(&conn, at(t + 0.030),
                             "Subject: cheap pills\r\n\r\nBuy now.\r\nQUIT\r\n.\r\n");
        gen_conn_server_text(&conn, at(t + 0.050), "250 2.0.0 Ok: queued as 4F2A1\r\n");
        t += 0.060;
    }
    if (depth >= DEPTH_BANNER) {
        gen_conn_client_text(&conn, at(t), "QUIT\r\n");
        gen_conn_server_text(&conn, at(t + 0.020), "221 2.0.0 Bye\r\n");
        t += 0.030;
    }
    close_both(&conn, t);
}

/* Ordinary web traffic in both directions: shows the sensor that replies travel on this
 * segment, which is what makes silence count as no_reply. */
void web_exchange(struct pcapgen *out, const struct gen_link *link, const char *client,
                  const char *server, double t)
{
    struct gen_conn conn;
    conn_open(&conn, out, LINKTYPE_ETHERNET, link, client, 51000, server, 443);
    handshake(&conn, t);
    gen_conn_client_text(&conn, at(t + 0.030), "not really TLS, just bytes");
    gen_conn_server_text(&conn, at(t + 0.060), "not really TLS either");
    close_both(&conn, t + 0.100);
}
