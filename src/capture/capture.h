/* Capture sources: pcap/pcapng files (or '-' for standard input) and live interfaces, all
 * behind one table of operations. Several files are merged by packet time, the way two
 * mirror ports recorded side by side interleave on the wire. */
#ifndef OP25B_CAPTURE_H
#define OP25B_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/packet_time.h"

struct capture_options {
    const char *const *files;
    size_t file_count;
    const char *const *interfaces;
    size_t interface_count;
    const char *filter; /* extra BPF expression, or NULL */
    /* The policy's prefilter (prefilter.h) with and without its 802.1Q part, or NULL: the
     * first that compiles for a source's link type is set, before the user's filter. */
    const char *prefilter;
    const char *prefilter_untagged;
    int snaplen;              /* live only; 0 = 262144 */
    int buffer_megabytes;     /* live only; 0 = 64 */
    uint16_t fanout_group;    /* live only: interface i joins PACKET_FANOUT group
                                 fanout_group + i; 0 = none */
    uint8_t fanout_ipv6_bits; /* the shortest IPv6 subscriber prefix (fanout.h) */
};

struct capture_packet {
    uint16_t source;
    int linktype;
    packet_time ts;
    const uint8_t *data; /* libpcap's buffer: valid until the next capture_next() */
    uint32_t captured_length;
    uint32_t wire_length;
};

/* Below this snap length some SMTP facts may be cut away: an SMTP command or reply line may
 * be 512 bytes with its CRLF (RFC 5321 sections 4.5.3.1.4 and 4.5.3.1.5), and in front of
 * it come the link and tunnel headers the decoder reads, 256 bytes for the deepest usual
 * stack (Ethernet with two tags, outer IPv6 and UDP, GTP-U with an extension or VXLAN with
 * its inner Ethernet, inner IPv6, and TCP with 40 bytes of options: 18 + 40 + 8 + 16 + 40 +
 * 60 = 182, rounded up). Attempts and their verdicts need far less: the headers alone. */
#define CAPTURE_SNAPLEN_SMTP_MIN (256 + 512)

enum capture_status {
    CAPTURE_PACKET = 0,
    CAPTURE_IDLE,        /* live: nothing arrived within the poll interval */
    CAPTURE_END,         /* every source is exhausted */
    CAPTURE_INTERRUPTED, /* capture_interrupt was called */
};

enum capture_error {
    CAPTURE_ERROR_NONE = 0,
    CAPTURE_ERROR_OPEN,   /* a file or interface could not be opened (exit status 1) */
    CAPTURE_ERROR_FILTER, /* the BPF expression is wrong (exit status 2) */
};

struct capture;

struct capture *capture_open(const struct capture_options *options, enum capture_error *kind,
                             char *error, size_t error_size);
enum capture_status capture_next(struct capture *capture, struct capture_packet *packet);
/* Safe to call from a signal handler. */
void capture_interrupt(struct capture *capture);
/* A policy reload: each source that has the policy's prefilter takes the new one (as
 * capture_options says), or goes on without it when it cannot; the others stay as they are. */
void capture_refilter(struct capture *capture, const char *prefilter,
                      const char *prefilter_untagged, const char *filter);
bool capture_is_live(const struct capture *capture);
/* The smallest snap length of the sources (pcap_snapshot: a file's header says it, and a
 * pcapng file has one, as libpcap reads its interfaces only while they share one). */
uint32_t capture_snaplen(const struct capture *capture);
size_t capture_source_count(const struct capture *capture);
const char *capture_source_name(const struct capture *capture, size_t index);
/* What -v says of an input at start-up. */
struct capture_source_info {
    const char *name;      /* the file or interface; "standard input" for '-' */
    bool live;             /* an interface */
    const char *format;    /* files: "pcap" or "pcapng"; NULL live */
    const char *link_type; /* libpcap's name, e.g. "EN10MB", "LINUX_SLL2" */
    bool prefiltered;      /* the policy's prefilter is in place */
};
void capture_source_describe(const struct capture *capture, size_t index,
                             struct capture_source_info *info);
/* received/drops: summed pcap_stats of live sources; errors: damaged or unreadable input,
 * one for each source whose timestamps went outside the years 0000-9999 (a pcapng if_tsoffset
 * or if_tsresol that libpcap applied without complaint: those times are clamped). */
void capture_stats(struct capture *capture, uint64_t *received, uint64_t *drops, uint64_t *errors);
/* Bytes consumed so far and in total of regular files (for progress), 0 when unknown. */
void capture_progress(const struct capture *capture, uint64_t *done, uint64_t *total);
void capture_close(struct capture *capture);

#endif
