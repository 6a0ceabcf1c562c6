/* Community ID v1 flow hash (https://github.com/corelight/community-id-spec), so events
 * join the Zeek and Suricata logs of the same connection. */
#ifndef OP25B_COMMUNITY_ID_H
#define OP25B_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#include "util/address.h"

/* "1:" + 28 base64 characters + NUL. */
#define COMMUNITY_ID_TEXT_MAX 31

/* For ICMP and ICMPv6 pass the type as src_port and the code as dst_port. Returns the text
 * length, 0 when the addresses are of different families. */
size_t community_id_v1(uint16_t seed, const struct address *src, const struct address *dst,
                       uint8_t proto, uint16_t src_port, uint16_t dst_port, char *buffer,
                       size_t size);

#endif
