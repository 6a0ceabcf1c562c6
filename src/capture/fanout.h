/* Spreading a live capture over several worker processes (PACKET_FANOUT) so that every
 * packet of an attempt, including the ICMP error that answers it, meets in one worker. */
#ifndef OP25B_FANOUT_H
#define OP25B_FANOUT_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#define FANOUT_PROGRAM_MAX 256

/* The classic BPF program that picks a worker; returns its length, or -1.
 * ipv6_subscriber_bits: the shortest IPv6 prefix that is one subscriber in any pool (the
 * pools' ipv6_subscriber_length, 32 to 128): the bits of an IPv6 address hashed stop
 * there, so one subscriber's /64s all meet in one worker. */
int fanout_program(struct sock_filter *code, unsigned capacity, unsigned ipv6_subscriber_bits);
/* Joins the packet socket fd to fanout group `group` with that program. */
int fanout_join(int fd, uint16_t group, unsigned ipv6_subscriber_bits, char *error,
                size_t error_size);

#endif
