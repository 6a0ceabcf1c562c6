/* The floor every reader of a capture file is measured against: libpcap's own read loop,
 * counting packets and bytes and touching one byte of each packet so the data is really
 * read, with no decoding at all.
 *
 * usage: pcap_loop FILE
 * Prints "PACKETS packets, BYTES bytes in SECONDS s" on standard output. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_loop FILE\n");
        return 2;
    }
    char error[PCAP_ERRBUF_SIZE];
    double started = monotonic_seconds();
    pcap_t *pcap = pcap_open_offline(argv[1], error);
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
        return 1;
    }
    pcap_close(pcap);
    double seconds = monotonic_seconds() - started;
    /* The byte sum is printed so the compiler cannot drop the reads. */
    printf("%llu packets, %llu bytes in %.3f s (last-byte sum %u)\n", (unsigned long long)packets,
           (unsigned long long)bytes, seconds, touched);
    return 0;
}
