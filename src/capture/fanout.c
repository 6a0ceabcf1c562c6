#include "capture/fanout.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The kernel's own flow hash (PACKET_FANOUT_HASH) would send an ICMP error to the worker of
 * the router's address pair, away from the attempt it answers, and spread one subscriber's
 * connections over every worker. This classic BPF program hashes the subscriber's side of
 * each packet (the side of the ephemeral port; both addresses where that says nothing),
 * and for ICMP and ICMPv6 errors the packet they quote, so a SYN, its answer, the ACL's
 * ICMP error and all of one subscriber's traffic meet in one worker. The kernel takes the
 * result modulo the number of sockets in the group.
 *
 * Offsets are from the network header the kernel found (SKF_NET_OFF), after it moved an
 * outer 802.1Q tag into metadata. What is not plain IP there (ARP, QinQ's inner tag, PPPoE,
 * MPLS) goes to socket 0: those need the decoder's full walk. */

enum { ICMP_ERROR_HEADER = 8 };

struct program {
    struct sock_filter code[FANOUT_PROGRAM_MAX];
    unsigned length;
    bool overflow;
    /* The 32 bits of an IPv6 address that are hashed: its word v6_word (0 or 4 bytes in),
     * ANDed with v6_mask, so that only the subscriber's prefix counts. */
    uint32_t v6_word;
    uint32_t v6_mask;
};

static unsigned emit(struct program *program, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
    if (program->length == FANOUT_PROGRAM_MAX) {
        program->overflow = true;
        return program->length;
    }
    program->code[program->length] = (struct sock_filter){code, jt, jf, k};
    return program->length++;
}

/* Jumps are relative; they are patched once the target is known. */
/* Conditional jumps reach 255 instructions forward at most. */
static void patch_true(struct program *program, unsigned at, unsigned target)
{
    if (at >= program->length || target - at - 1 > 255)
        program->overflow = true;
    else
        program->code[at].jt = (uint8_t)(target - at - 1);
}

static void patch_false(struct program *program, unsigned at, unsigned target)
{
    if (at >= program->length || target - at - 1 > 255)
        program->overflow = true;
    else
        program->code[at].jf = (uint8_t)(target - at - 1);
}

enum { M_SOURCE_PORT = 1, M_SOURCE = 3, M_DESTINATION = 4 };

/* A = A * golden ratio >> 16, returned: a well-mixed hash of one word. */
static void emit_return_mixed(struct program *program)
{
    emit(program, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 2654435761u);
    emit(program, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16);
    emit(program, BPF_RET | BPF_A, 0, 0, 0);
}

/* Both addresses (M[source], M[destination]) hashed symmetrically. */
static void emit_pair_from_memory(struct program *program)
{
    emit(program, BPF_LD | BPF_MEM, 0, 0, M_SOURCE);
    emit(program, BPF_LDX | BPF_MEM, 0, 0, M_DESTINATION);
    emit(program, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    emit_return_mixed(program);
}

/* The words at absolute offsets a and b hashed symmetrically. */
static void emit_pair(struct program *program, uint32_t a, uint32_t b)
{
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, a);
    emit(program, BPF_ST, 0, 0, M_SOURCE);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, b);
    emit(program, BPF_ST, 0, 0, M_DESTINATION);
    emit_pair_from_memory(program);
}

/* With the source port in M[source port] and the destination port in A: hash the address
 * on the side of the higher (ephemeral) port, which is the subscriber's side of its own
 * connections, of its DNS queries and of mail sent to it. All of one subscriber's traffic
 * then meets in one worker, which the per-subscriber windows (bot_suspect,
 * pop_before_smtp) need. Equal ports: both addresses. */
static void emit_by_ephemeral_side(struct program *program)
{
    emit(program, BPF_LDX | BPF_MEM, 0, 0, M_SOURCE_PORT);
    unsigned to_destination = emit(program, BPF_JMP | BPF_JGT | BPF_X, 0, 0, 0);
    patch_false(program, to_destination, program->length);
    unsigned equal = emit(program, BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 0);
    patch_false(program, equal, program->length);
    emit(program, BPF_LD | BPF_MEM, 0, 0, M_SOURCE);
    emit_return_mixed(program);
    patch_true(program, to_destination, program->length);
    emit(program, BPF_LD | BPF_MEM, 0, 0, M_DESTINATION);
    emit_return_mixed(program);
    patch_true(program, equal, program->length);
    emit_pair_from_memory(program);
}

/* Jumps to the next instruction emitted unless A is TCP or UDP; returns the two jumps to
 * patch (true branch) to where TCP and UDP continue. */
static void emit_if_ports(struct program *program, unsigned jumps[2])
{
    jumps[0] = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 6);
    patch_false(program, jumps[0], program->length);
    jumps[1] = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 17);
    patch_false(program, jumps[1], program->length);
}

/* IPv4 at `l3` (X is not trusted on entry). ICMP errors (types 3, 4, 5, 11, 12, RFC 792)
 * are hashed as the packet they quote. The kernel reassembles fragments first
 * (PACKET_FANOUT_FLAG_DEFRAG), so a TCP or UDP header follows the IP header. */
static void emit_ipv4(struct program *program, uint32_t l3)
{
    unsigned ports[2];
    emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, l3 + 9); /* protocol */
    unsigned is_icmp = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
    patch_false(program, is_icmp, program->length);
    emit_if_ports(program, ports);
    emit_pair(program, l3 + 12, l3 + 16);

    patch_true(program, ports[0], program->length);
    patch_true(program, ports[1], program->length);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 12);
    emit(program, BPF_ST, 0, 0, M_SOURCE);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 16);
    emit(program, BPF_ST, 0, 0, M_DESTINATION);
    emit(program, BPF_LDX | BPF_MSH | BPF_B, 0, 0, l3); /* X = IPv4 header length */
    emit(program, BPF_LD | BPF_H | BPF_IND, 0, 0, l3);
    emit(program, BPF_ST, 0, 0, M_SOURCE_PORT);
    emit(program, BPF_LD | BPF_H | BPF_IND, 0, 0, l3 + 2);
    emit_by_ephemeral_side(program);

    patch_true(program, is_icmp, program->length);
    emit(program, BPF_LDX | BPF_MSH | BPF_B, 0, 0, l3);
    emit(program, BPF_LD | BPF_B | BPF_IND, 0, 0, l3); /* ICMP type */
    static const uint32_t error_types[] = {3, 11, 12, 4, 5};
    unsigned tests[5];
    for (unsigned i = 0; i < 5; i++) {
        tests[i] = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, error_types[i]);
        patch_false(program, tests[i], program->length);
    }
    emit_pair(program, l3 + 12, l3 + 16); /* not an error: the packet's own pair */
    for (unsigned i = 0; i < 5; i++)
        patch_true(program, tests[i], program->length);
    uint32_t quoted = l3 + ICMP_ERROR_HEADER; /* plus X, the outer header length */
    emit(program, BPF_LD | BPF_W | BPF_IND, 0, 0, quoted + 12);
    emit(program, BPF_ST, 0, 0, M_SOURCE);
    emit(program, BPF_LD | BPF_W | BPF_IND, 0, 0, quoted + 16);
    emit(program, BPF_ST, 0, 0, M_DESTINATION);
    emit(program, BPF_LD | BPF_B | BPF_IND, 0, 0, quoted + 9); /* quoted protocol */
    emit_if_ports(program, ports);
    emit_pair_from_memory(program);
    patch_true(program, ports[0], program->length);
    patch_true(program, ports[1], program->length);
    /* X = outer + quoted header lengths: the quoted ports are at l3 + 8 + X. */
    emit(program, BPF_LD | BPF_B | BPF_IND, 0, 0, quoted);
    emit(program, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x0f);
    emit(program, BPF_ALU | BPF_LSH | BPF_K, 0, 0, 2);
    emit(program, BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
    emit(program, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(program, BPF_LD | BPF_H | BPF_IND, 0, 0, quoted);
    emit(program, BPF_ST, 0, 0, M_SOURCE_PORT);
    emit(program, BPF_LD | BPF_H | BPF_IND, 0, 0, quoted + 2);
    emit_by_ephemeral_side(program);
}

/* The IPv6 address at absolute offset `address`, as much of it as names the subscriber. */
static void emit_v6_address(struct program *program, uint32_t address)
{
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, address + program->v6_word);
    if (program->v6_mask != UINT32_MAX)
        emit(program, BPF_ALU | BPF_AND | BPF_K, 0, 0, program->v6_mask);
}

static void emit_v6_pair(struct program *program, uint32_t source, uint32_t destination)
{
    emit_v6_address(program, source);
    emit(program, BPF_ST, 0, 0, M_SOURCE);
    emit_v6_address(program, destination);
    emit(program, BPF_ST, 0, 0, M_DESTINATION);
    emit_pair_from_memory(program);
}

/* IPv6 at `l3`: an address is hashed by the bits of its subscriber prefix among bits 32 to
 * 63 (bits 0 to 31 for a /32), so all the /64s of a delegated /56 and all privacy
 * addresses of one subscriber stay together. ICMPv6 errors (types 1 to 4) by the packet
 * they quote. Extension headers are rare enough on mail and DNS to hash such packets by
 * their addresses. */
static void emit_ipv6(struct program *program, uint32_t l3)
{
    unsigned ports[2];
    emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, l3 + 6); /* next header */
    unsigned is_icmp = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 58);
    patch_false(program, is_icmp, program->length);
    emit_if_ports(program, ports);
    emit_v6_pair(program, l3 + 8, l3 + 24);

    patch_true(program, ports[0], program->length);
    patch_true(program, ports[1], program->length);
    emit_v6_address(program, l3 + 8);
    emit(program, BPF_ST, 0, 0, M_SOURCE);
    emit_v6_address(program, l3 + 24);
    emit(program, BPF_ST, 0, 0, M_DESTINATION);
    emit(program, BPF_LD | BPF_H | BPF_ABS, 0, 0, l3 + 40);
    emit(program, BPF_ST, 0, 0, M_SOURCE_PORT);
    emit(program, BPF_LD | BPF_H | BPF_ABS, 0, 0, l3 + 42);
    emit_by_ephemeral_side(program);

    patch_true(program, is_icmp, program->length);
    emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, l3 + 40); /* type */
    unsigned informational = emit(program, BPF_JMP | BPF_JGT | BPF_K, 0, 0, 4);
    patch_false(program, informational, program->length);
    uint32_t quoted = l3 + 40 + ICMP_ERROR_HEADER;
    emit_v6_address(program, quoted + 8);
    emit(program, BPF_ST, 0, 0, M_SOURCE);
    emit_v6_address(program, quoted + 24);
    emit(program, BPF_ST, 0, 0, M_DESTINATION);
    emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, quoted + 6);
    emit_if_ports(program, ports);
    emit_pair_from_memory(program);
    patch_true(program, ports[0], program->length);
    patch_true(program, ports[1], program->length);
    emit(program, BPF_LD | BPF_H | BPF_ABS, 0, 0, quoted + 40);
    emit(program, BPF_ST, 0, 0, M_SOURCE_PORT);
    emit(program, BPF_LD | BPF_H | BPF_ABS, 0, 0, quoted + 42);
    emit_by_ephemeral_side(program);

    patch_true(program, informational, program->length);
    emit_v6_pair(program, l3 + 8, l3 + 24);
}

int fanout_program(struct sock_filter *code, unsigned capacity, unsigned ipv6_subscriber_bits)
{
    struct program program = {.length = 0, .overflow = false, .v6_word = 4, .v6_mask = UINT32_MAX};
    if (ipv6_subscriber_bits <= 32)
        program.v6_word = 0;
    else if (ipv6_subscriber_bits < 64)
        program.v6_mask = UINT32_MAX << (64 - ipv6_subscriber_bits);
    /* skb->protocol, and offsets from the network header: both are what the kernel found
     * after taking the outer 802.1Q tag off, whatever the link layer looked like. */
    emit(&program, BPF_LD | BPF_H | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    unsigned v4 = emit(&program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0x0800);
    patch_false(&program, v4, program.length);
    unsigned v6 = emit(&program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0x86dd);
    patch_false(&program, v6, program.length);
    emit(&program, BPF_RET | BPF_K, 0, 0, 0);
    patch_true(&program, v4, program.length);
    emit_ipv4(&program, (uint32_t)SKF_NET_OFF);
    patch_true(&program, v6, program.length);
    emit_ipv6(&program, (uint32_t)SKF_NET_OFF);
    if (program.overflow || program.length > capacity)
        return -1;
    memcpy(code, program.code, program.length * sizeof(code[0]));
    return (int)program.length;
}

int fanout_join(int fd, uint16_t group, unsigned ipv6_subscriber_bits, char *error,
                size_t error_size)
{
    struct sock_filter code[FANOUT_PROGRAM_MAX];
    int length = fanout_program(code, FANOUT_PROGRAM_MAX, ipv6_subscriber_bits);
    if (length < 0) {
        snprintf(error, error_size, "fanout program too long");
        return -1;
    }
    /* PACKET_FANOUT_FLAG_DEFRAG: fragments are reassembled first, so all of a datagram
     * reaches one worker. */
    uint32_t value = group | (uint32_t)(PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_DEFRAG) << 16;
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &value, sizeof(value)) != 0) {
        snprintf(error, error_size, "cannot join fanout group %u: %s", group, strerror(errno));
        return -1;
    }
    struct sock_fprog program = {.len = (unsigned short)length, .filter = code};
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &program, sizeof(program)) != 0) {
        snprintf(error, error_size, "cannot set the fanout program: %s", strerror(errno));
        return -1;
    }
    return 0;
}
