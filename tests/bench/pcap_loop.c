/* The floor every reader of a capture file is measured against: libpcap's own read loop,
 * counting packets and bytes and touching one byte of each packet so the data is really
 * read, with no decoding at all.
 *
 * usage: pcap_loop [--buffer BYTES] FILE
 * --buffer gives the stream a stdio buffer of that size first, as op25b-watch does for a
 * file it reads on one core; without it, libpcap opens the file with stdio's default.
 * Prints "PACKETS packets, BYTES bytes in SECONDS s" on standard output. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "bench_open.h"

int main(int argc, char **argv)
{
    size_t buffer_size = 0;
    if (argc == 4 && strcmp(argv[1], "--buffer") == 0) {
        buffer_size = (size_t)strtoul(argv[2], NULL, 10);
        argv += 2;
        argc -= 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_loop [--buffer BYTES] FILE\n");
        return 2;
    }
    char error[PCAP_ERRBUF_SIZE];
    double started = monotonic_seconds();
    char *buffer; /* the stream's, freed once pcap_close closed the stream */
    pcap_t *pcap = bench_open(argv[1], buffer_size, &buffer, error);
    if (pcap == NULL) {
        fprintf(stderr, "pcap_loop: %s\n", error);
        return 1;
    }
    uint64_t packets = 0, bytes = 0;
    unsigned touched = 0;
    struct pcap_pkthdr *header;
    const u_char *data;
    int status;
    while ((status = pcap_next_ex(pcap, &header, &data)) == 1) {
        packets++;
        bytes += header->caplen;
        if (header->caplen > 0)
            touched += data[header->caplen - 1];
    }
    if (status == PCAP_ERROR) {
        fprintf(stderr, "pcap_loop: %s: %s\n", argv[1], pcap_geterr(pcap));
        pcap_close(pcap);
        free(buffer);
        return 1;
    }
    pcap_close(pcap);
    free(buffer);
    double seconds = monotonic_seconds() - started;
    /* The byte sum is printed so the compiler cannot drop the reads. */
    printf("%llu packets, %llu bytes in %.3f s (last-byte sum %u)\n", (unsigned long long)packets,
           (unsigned long long)bytes, seconds, touched);
    return 0;
}
