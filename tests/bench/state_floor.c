/* A second floor, above pcap_loop: the least any stateful SYN tracker does. Each packet is
 * decoded with the sensor's own decoder, and each TCP SYN (no ACK) is looked up and, when
 * new, inserted into the sensor's own flow table, sized like the sensor's (limits.flows).
 * No verdict, no detector, no event.
 *
 * Its ratio against pcap_loop says how much of a throughput target the kept state alone
 * spends, so the benchmark can tell a slow sensor from a target the state cannot meet.
 *
 * usage: state_floor [--buffer BYTES] [--capacity N] FILE
 * Prints "PACKETS packets, SYNS syns, FLOWS flows in SECONDS s" on standard output. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "bench_open.h"
#include "decode/decode.h"
#include "track/attempt.h"
#include "track/flow.h"

static int usage(void)
{
    fprintf(stderr, "usage: state_floor [--buffer BYTES] [--capacity N] FILE\n");
    return 2;
}

int main(int argc, char **argv)
{
    size_t buffer_size = 0;
    uint32_t capacity = 2500000; /* tests/bench/bench.yaml's limits.flows */
    int arg = 1;
    for (; arg + 1 < argc && strncmp(argv[arg], "--", 2) == 0; arg += 2) {
        if (strcmp(argv[arg], "--buffer") == 0)
            buffer_size = (size_t)strtoul(argv[arg + 1], NULL, 10);
        else if (strcmp(argv[arg], "--capacity") == 0)
            capacity = (uint32_t)strtoul(argv[arg + 1], NULL, 10);
        else
            return usage();
    }
    if (arg + 1 != argc)
        return usage();
    const char *path = argv[arg];

    char error[PCAP_ERRBUF_SIZE];
    double started = monotonic_seconds();
    /* Made inside the timed part: the sensor's start-up makes its tables too. */
    struct flow_table *table = flow_table_new(capacity, attempt_record_size());
    if (table == NULL) {
        fprintf(stderr, "state_floor: out of memory for %u flows\n", capacity);
        return 1;
    }
    char *buffer;
    pcap_t *pcap = bench_open(path, buffer_size, &buffer, error);
    if (pcap == NULL) {
        fprintf(stderr, "state_floor: %s\n", error);
        return 1;
    }
    int linktype = pcap_datalink(pcap);
    if (!decode_link_supported(linktype)) {
        fprintf(stderr, "state_floor: %s: link type %d not decoded\n", path, linktype);
        return 1;
    }
    uint64_t packets = 0, syns = 0;
    struct packet packet;
    memset(&packet, 0, sizeof(packet));
    struct pcap_pkthdr *header;
    const u_char *data;
    int status;
    while ((status = pcap_next_ex(pcap, &header, &data)) == 1) {
        packets++;
        if (decode_packet(linktype, data, header->caplen, &packet) != DECODE_OK ||
            packet.proto != IPPROTO_NUMBER_TCP ||
            (packet.tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
            continue;
        syns++;
        struct flow_key key;
        flow_key_make(&key, packet.proto, &packet.src, &packet.dst, packet.src_port,
                      packet.dst_port);
        uint32_t hash = flow_key_hash(&key);
        if (flow_lookup(table, &key, hash) == NULL)
            flow_insert(table, &key, hash); /* NULL when full: the floor does not evict */
    }
    if (status == PCAP_ERROR) {
        fprintf(stderr, "state_floor: %s: %s\n", path, pcap_geterr(pcap));
        return 1;
    }
    uint32_t flows = flow_table_count(table);
    pcap_close(pcap);
    free(buffer);
    flow_table_free(table);
    double seconds = monotonic_seconds() - started;
    printf("%llu packets, %llu syns, %u flows in %.3f s\n", (unsigned long long)packets,
           (unsigned long long)syns, flows, seconds);
    return 0;
}
