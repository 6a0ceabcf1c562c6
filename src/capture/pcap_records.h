/* A classic pcap file's records read where they lie: in the read-ahead thread's blocks
 * (file_prefetch.h) or in one buffer filled by read(), without stdio or libpcap's copy of
 * each packet. On a mix of small frames among many hosts, libpcap's two freads per packet
 * through a stdio stream cost as much as the bare read loop itself (tests/bench, hosts).
 *
 * It reads only what libpcap reads the same way, record for record, with the same messages
 * (sf-pcap.c, pcap_next_packet): version 2.4 files (caplen and len never swapped) of link
 * types libpcap hands on untouched (no pseudo-header to byte-swap, a maximum capture length
 * of 262144). libpcap still reads the file header, so link type, snap length and byte order
 * are its own; every other file goes through libpcap whole. */
#ifndef OP25B_PCAP_RECORDS_H
#define OP25B_PCAP_RECORDS_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCAP_RECORDS_FILE_HEADER 24

struct pcap_records;

/* Whether a file with this header is one this reader takes, given the link type and byte
 * order libpcap found in it. */
bool pcap_records_takes(const uint8_t header[PCAP_RECORDS_FILE_HEADER], int linktype, bool swapped);

/* Reads fd (taken over: closed by pcap_records_close) from its 25th byte, ahead on another
 * thread when prefetch is set. snapshot is libpcap's pcap_snapshot for the file. NULL when
 * memory fails (fd is then still the caller's). */
struct pcap_records *pcap_records_open(int fd, bool prefetch,
                                       const uint8_t header[PCAP_RECORDS_FILE_HEADER], bool swapped,
                                       int snapshot);
/* The next record: 1 with its header and bytes, valid until the next call; 0 at the end of
 * the file; -1 when the file is damaged or cannot be read (pcap_records_error says why, as
 * libpcap would). */
int pcap_records_next(struct pcap_records *records, const struct pcap_pkthdr **header,
                      const uint8_t **data);
const char *pcap_records_error(const struct pcap_records *records);
/* Bytes of the file handed out so far, the file header included: for progress. */
uint64_t pcap_records_position(const struct pcap_records *records);
void pcap_records_close(struct pcap_records *records);

#endif
