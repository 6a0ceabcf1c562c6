/* The kernel prefilter for live capture, derived from the policy: a BPF expression that
 * drops, before they are copied out of the kernel, the packets no detection looks at.
 *
 * What every detection needs, and so what passes:
 *   - TCP port 25 from anywhere (attempts, spoofed sources, triangular spam, inbound ACL);
 *   - every ICMP and ICMPv6 packet (errors answering attempts);
 *   - other TCP, and UDP port 53, with an address of the ISP at one end: own_prefixes,
 *     the pools, the MSAs and the resolvers (submission, POP-before-SMTP, SMTP on other
 *     ports, direct MX queries, the return traffic that makes silence evidence);
 *   - the UDP tunnels the decoder opens, VXLAN (destination port 4789) and GTP-U (port
 *     2152), from anywhere: a mobile core's or a data centre fabric's mirror carries its
 *     subscribers' port-25 attempts inside them, between addresses that are not the ISP's;
 *   - anything the expression cannot read as plain IPv4 or IPv6 TCP/UDP (ARP, IP-in-IP,
 *     GRE, PPPoE, MPLS, QinQ, IPv6 extension headers): the decoder's full walk decides those.
 * Dropped: UDP other than DNS and those tunnels (QUIC, media, gaming: a large share of an
 * ISP's traffic), and TCP and DNS between two addresses that are not the ISP's (transit).
 * The same rules are applied once more inside one 802.1Q tag. */
#ifndef OP25B_PREFILTER_H
#define OP25B_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* Room for a policy of some hundred prefixes; the kernel takes 4096 BPF instructions. */
#define PREFILTER_TEXT_MAX 16384
#define PREFILTER_PREFIXES_MAX 512

/* Writes the expression; returns its length, or 0 when it does not fit size (the capture
 * then runs without one). vlan: the rules once more inside an 802.1Q tag, for the link
 * types where libpcap knows VLANs (not Linux cooked capture, for one). */
size_t prefilter_expression(const struct policy *policy, bool vlan, char *buffer, size_t size);

#endif
