/* What the worker processes of --workers share, made by the parent before it forks: the
 * facts a detection needs from packets the fanout gives to other workers, and the messages
 * that carry them (inbox.h, once_share.h). */
#ifndef OP25B_WORKER_SHARE_H
#define OP25B_WORKER_SHARE_H

#include <stdbool.h>

#include "util/address.h"
#include "workers/inbox.h"
#include "workers/once_share.h"
#include "util/packet_time.h"

/* A spoofed SYN (relay R -> target M:25): the answer may reach another worker
 * (detect_evasion.c, triangular spam). */
struct shared_syn {
    struct address target; /* M */
    struct address relay;  /* R, the spoofed source */
    packet_time ts;
    uint32_t isn;
    uint16_t client_port;
    uint16_t server_port;
    int8_t segment;
};

/* A subscriber's connection a server answered on 587, or its ClientHello on 465: what a
 * third_party_submission tells of the server (detect_submission.c). */
#define SHARED_SNI_MAX 128
enum shared_server_kind { SHARED_SUBMISSION = 1, SHARED_SMTPS };
struct shared_server_note {
    struct address server;
    packet_time ts;
    uint8_t kind; /* enum shared_server_kind */
    bool has_sni;
    char sni[SHARED_SNI_MAX]; /* NUL-terminated, cut to fit */
};

struct worker_share {
    struct inbox_set *syns;      /* struct shared_syn, to every other worker */
    struct inbox_set *servers;   /* struct shared_server_note, to every other worker */
    struct once_share *findings; /* findings one per server and window over all workers */
    /* Per segment (index + 1; 0 is "no segment"), set once any worker saw it: replies
     * from outside, so silence is evidence there (sensor.c), and traffic leaving the ISP,
     * so an inbound answer can be judged there (detect_evasion.c). A worker whose few
     * subscribers on a segment are quiet would otherwise not know it of its own. */
    bool *return_seen; /* read and set with segment_flag (segment.h) */
    bool *outbound_seen;
    size_t flag_bytes;
};

/* How many messages each inbox holds and how many keys the claim table; worker_share.c
 * says why its defaults are what they are. */
struct worker_share_sizes {
    uint32_t syns;
    uint32_t servers;
    uint32_t findings;
};

/* Everything for `workers` workers and a policy of `segments` segments, of `sizes` (NULL:
 * the defaults); false (and nothing held) when memory is short. */
bool worker_share_init(struct worker_share *share, unsigned workers, size_t segments,
                       const struct worker_share_sizes *sizes);
/* In each worker, after the fork. */
void worker_share_set_worker(struct worker_share *share, unsigned worker);
void worker_share_free(struct worker_share *share);

#endif
