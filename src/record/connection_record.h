/* A submission connection other than a port-25 attempt (those are attempt records), as the
 * submission family hands it on when it ends: a client's connection to port 587 (SMTP,
 * whose dialogue is read until STARTTLS) or 465 (TLS from the first byte). Detectors that
 * build on submission (the move from 25 to 587, record/migration.h) take these from the
 * bus. */
#ifndef OP25B_CONNECTION_RECORD_H
#define OP25B_CONNECTION_RECORD_H

#include <stdbool.h>

#include "proto/smtp.h"
#include "record/flow_tuple.h"
#include "util/packet_time.h"

struct connection_record {
    struct flow_tuple flow; /* src: the client */
    packet_time first_seen;
    packet_time last_seen;
    int pool;      /* of the client (policy.pools), or -1 */
    int segment;   /* policy.segments, or -1 */
    int msa;       /* the MSA at the server's address (policy.msas), or -1 */
    bool answered; /* the server's SYN-ACK, or its greeting, was seen */
    /* The dialogue on 587 when bytes came; NULL otherwise (and always on 465). It lives as
     * long as the record is being handed on: a reader copies what it keeps. */
    const struct smtp_facts *smtp;
    const char *close_reason; /* static */
};

#endif
