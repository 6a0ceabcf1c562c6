/* A connection as records name it: its two ends, ports and protocol. */
#ifndef OP25B_FLOW_TUPLE_H
#define OP25B_FLOW_TUPLE_H

#include <stdint.h>

#include "util/address.h"

/* src is the side that opened the connection (for a finding about a spoofed source, the
 * spoofed address); dst the server. */
struct flow_tuple {
    struct address src;
    struct address dst;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t proto; /* IPPROTO_NUMBER_TCP or IPPROTO_NUMBER_UDP */
};

#endif
