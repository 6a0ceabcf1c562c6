/* Sends the frames of a pcap file out of an interface as fast as the kernel takes them,
 * for the live-capture benchmark (live_bench.py): the frames are read into memory first,
 * then sent with sendmmsg in batches, round after round, until COUNT frames are out.
 *
 * usage: blast IFACE FILE COUNT
 * Prints "SENT frames in SECONDS s" on standard output. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sendmmsg */
#endif
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_clock.h"

#define BATCH 64

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: blast IFACE FILE COUNT\n");
        return 2;
    }
    uint64_t wanted = strtoull(argv[3], NULL, 10);
    char error[PCAP_ERRBUF_SIZE];
    pcap_t *pcap = pcap_open_offline(argv[2], error);
    if (pcap == NULL) {
        fprintf(stderr, "blast: %s\n", error);
        return 1;
    }
    /* Every frame of the file in one block, with offsets and lengths beside it. */
    size_t capacity = 1 << 20, used = 0, frames = 0, frame_capacity = 1 << 16;
    uint8_t *bytes = malloc(capacity);
    size_t *offsets = malloc(frame_capacity * sizeof(size_t));
    uint32_t *lengths = malloc(frame_capacity * sizeof(uint32_t));
    struct pcap_pkthdr *header;
    const u_char *data;
    while (pcap_next_ex(pcap, &header, &data) == 1 && frames < wanted) {
        if (used + header->caplen > capacity) {
            capacity *= 2;
            bytes = realloc(bytes, capacity);
        }
        if (frames == frame_capacity) {
            frame_capacity *= 2;
            offsets = realloc(offsets, frame_capacity * sizeof(size_t));
            lengths = realloc(lengths, frame_capacity * sizeof(uint32_t));
        }
        if (bytes == NULL || offsets == NULL || lengths == NULL) {
            fprintf(stderr, "blast: out of memory\n");
            return 1;
        }
        memcpy(bytes + used, data, header->caplen);
        offsets[frames] = used;
        lengths[frames] = header->caplen;
        used += header->caplen;
        frames++;
    }
    pcap_close(pcap);
    if (frames == 0) {
        fprintf(stderr, "blast: no frames in %s\n", argv[2]);
        return 1;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    struct sockaddr_ll address = {.sll_family = AF_PACKET,
                                  .sll_ifindex = (int)if_nametoindex(argv[1])};
    if (fd < 0 || address.sll_ifindex == 0 ||
        bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        perror("blast: socket");
        return 1;
    }
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    uint64_t sent = 0;
    size_t next = 0;
    double started = monotonic_seconds();
    while (sent < wanted) {
        unsigned count = 0;
        for (; count < BATCH && sent + count < wanted; count++) {
            vectors[count] = (struct iovec){bytes + offsets[next], lengths[next]};
            messages[count] =
                (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[count], .msg_iovlen = 1}};
            next = (next + 1) % frames;
        }
        int done = sendmmsg(fd, messages, count, 0);
        if (done < 0) {
            perror("blast: sendmmsg");
            return 1;
        }
        sent += (uint64_t)done;
        /* Frames not taken are sent again in the next batch, so the order stays. */
        next = (next + frames - (count - (unsigned)done)) % frames;
    }
    double seconds = monotonic_seconds() - started;
    printf("%llu frames in %.3f s\n", (unsigned long long)sent, seconds);
    close(fd);
    free(bytes);
    free(offsets);
    free(lengths);
    return 0;
}
