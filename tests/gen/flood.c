/* A SYN flood from spoofed sources around a few SMTP sessions that leak, for the
 * bounded-memory test: the flood must be evicted before the leak evidence is.
 *
 * usage: flood OUT.pcap SYNS
 * Sources alternate between random addresses in the ftth pool of tests/scenarios/edge.yaml
 * (198.51.100.0/24, new attempts) and random addresses anywhere (mostly not subscribers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapgen.h"

#define BASE_US (1768467600LL * 1000000LL) /* 2026-01-15T09:00:00Z */
#define LEAKS 20

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void) /* xorshift64*: fast, deterministic */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: flood OUT.pcap SYNS\n");
        return 2;
    }
    long syns = strtol(argv[2], NULL, 10);
    struct pcapgen *out = pcapgen_open(argv[1], 1);
    if (out == NULL || syns <= 0) {
        perror(argv[1]);
        return 1;
    }
    struct gen_link access;
    memset(&access, 0, sizeof(access));
    access.vlan[0] = 100;
    access.vlan_count = 1;

    static struct gen_conn leaks[LEAKS];
    for (int i = 0; i < LEAKS; i++) {
        char client[32], server[32];
        snprintf(client, sizeof(client), "198.51.100.%d", 1 + i);
        snprintf(server, sizeof(server), "203.0.113.%d", 1 + i);
        gen_conn_init(&leaks[i], out, 1, &access, client, (uint16_t)(30000 + i), server, 25,
                      (uint32_t)next_random(), (uint32_t)next_random());
        int64_t t = BASE_US + i * 10000;
        gen_conn_syn(&leaks[i], t);
        gen_conn_syn_ack(&leaks[i], t + 1000);
        gen_conn_ack(&leaks[i], t + 2000);
        gen_conn_server_text(&leaks[i], t + 3000, "220 mx ESMTP\r\n");
        gen_conn_client_text(&leaks[i], t + 4000, "EHLO bot.example\r\n");
        gen_conn_server_text(&leaks[i], t + 5000, "250 mx\r\n");
    }

    /* The flood: five seconds of packet time, well inside the 30 s SYN timer, so every
     * flooded attempt is still open when the table fills. */
    int64_t start = BASE_US + 1000000;
    for (long n = 0; n < syns; n++) {
        uint64_t r = next_random();
        struct gen_addr src = {.family = 4};
        if (n % 2 == 0) {
            src.bytes[0] = 198, src.bytes[1] = 51, src.bytes[2] = 100;
            src.bytes[3] = (uint8_t)r;
        } else {
            memcpy(src.bytes, &r, 4);
        }
        struct gen_addr dst = {.family = 4, .bytes = {203, 0, 113, (uint8_t)(r >> 32)}};
        uint8_t packet[128];
        size_t length = gen_build_tcp(packet, &src, &dst, (uint16_t)(1024 + (r >> 40) % 60000), 25,
                                      (uint32_t)(r >> 16), 0, GEN_SYN, 64, (uint16_t)n, NULL, 0);
        gen_write_ip(out, 1, &access, true, start + n * 5000000LL / syns, packet, length);
    }

    /* After the flood the leaking sessions go on: MAIL FROM, QUIT, FIN both ways. */
    int64_t t = BASE_US + 10000000;
    for (int i = 0; i < LEAKS; i++, t += 10000) {
        gen_conn_client_text(&leaks[i], t, "MAIL FROM:<spam@bot.example>\r\n");
        gen_conn_server_text(&leaks[i], t + 1000, "250 Ok\r\n");
        gen_conn_client_text(&leaks[i], t + 2000, "QUIT\r\n");
        gen_conn_server_text(&leaks[i], t + 3000, "221 Bye\r\n");
        gen_conn_server_fin(&leaks[i], t + 4000);
        gen_conn_client_fin(&leaks[i], t + 5000);
    }
    if (pcapgen_close(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
