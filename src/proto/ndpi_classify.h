/* nDPI (libndpi 4.2) as a protocol classifier for the few flows that need one: TCP flows
 * from dynamic pools on ports that say nothing about what they carry, where SMTP means a
 * relay around the block (nonstandard_port_smtp, docs/concepts.md). nDPI's per-flow state
 * comes from a pool preallocated here, so classifying a flow allocates nothing in this
 * module; a flow takes a slot when it is first shown and gives it back once nDPI has
 * decided. */
#ifndef OP25B_NDPI_CLASSIFY_H
#define OP25B_NDPI_CLASSIFY_H

#include <stdint.h>

#include "decode/decode.h"

#define NDPI_CLASSIFY_NONE UINT32_MAX
/* nDPI sees at most this many packets of a flow (handshake included) before it must say. */
#define NDPI_CLASSIFY_PACKETS_MAX 24

enum ndpi_classify_result {
    NDPI_CLASSIFY_PENDING = 0, /* not decided yet: send more packets */
    NDPI_CLASSIFY_SMTP,        /* nDPI found SMTP (or SMTP that went on to STARTTLS) */
    NDPI_CLASSIFY_OTHER,       /* something else, or nothing nDPI knows */
};

struct ndpi_classifier;

/* capacity: flows classified at once. NULL when memory fails. nDPI itself is set up when
 * the first flow begins. */
struct ndpi_classifier *ndpi_classifier_new(uint32_t capacity);
void ndpi_classifier_free(struct ndpi_classifier *classifier);

/* A slot for a new flow, or NDPI_CLASSIFY_NONE when every slot is taken (or nDPI could not
 * be set up). */
uint32_t ndpi_classifier_begin(struct ndpi_classifier *classifier);
/* One packet of the flow in either direction, in capture order (the handshake may be left
 * out: nDPI decides on payload). After
 * NDPI_CLASSIFY_PACKETS_MAX packets nDPI gives its best answer and never says PENDING. */
enum ndpi_classify_result ndpi_classifier_packet(struct ndpi_classifier *classifier, uint32_t slot,
                                                 const struct packet *packet);
/* The flow ended undecided: nDPI's answer from what it saw. */
enum ndpi_classify_result ndpi_classifier_giveup(struct ndpi_classifier *classifier, uint32_t slot);
/* nDPI's name for what it found ("SMTP", "HTTP", "Unknown"), valid until the slot ends. */
const char *ndpi_classifier_protocol(const struct ndpi_classifier *classifier, uint32_t slot);
void ndpi_classifier_end(struct ndpi_classifier *classifier, uint32_t slot);

uint32_t ndpi_classifier_in_use(const struct ndpi_classifier *classifier);
uint32_t ndpi_classifier_capacity(const struct ndpi_classifier *classifier);

#endif
