#include "fanout.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The kernel's own flow hash (PACKET_FANOUT_HASH) would send an ICMP error to the worker of
 * the router's address pair, away from the attempt it answers. This classic BPF program
 * hashes the address pair symmetrically, and for ICMP and ICMPv6 errors the pair of the
 * header they quote, so the SYN, its answer and the ACL's ICMP error meet in one worker.
 * The kernel takes the result modulo the number of sockets in the group.
 *
 * Offsets are from the network header the kernel found (SKF_NET_OFF), after it moved an
 * outer 802.1Q tag into metadata. What is not plain IP there (ARP, QinQ's inner tag, PPPoE,
 * MPLS) goes to socket 0: those need the decoder's full walk. */

enum { ICMP_ERROR_HEADER = 8 };

struct program {
    struct sock_filter code[FANOUT_PROGRAM_MAX];
    unsigned length;
    bool overflow;
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
static void patch_true(struct program *program, unsigned at, unsigned target)
{
    if (at < program->length)
        program->code[at].jt = (uint8_t)(target - at - 1);
}

static void patch_false(struct program *program, unsigned at, unsigned target)
{
    if (at < program->length)
        program->code[at].jf = (uint8_t)(target - at - 1);
}

/* A = (a ^ b) * golden ratio >> 16: symmetric in a and b, and well mixed. */
static void emit_mix(struct program *program)
{
    emit(program, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    emit(program, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 2654435761u);
    emit(program, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 16);
    emit(program, BPF_RET | BPF_A, 0, 0, 0);
}

/* A = hash of the words at a and b (absolute offsets), then return it. */
static void emit_pair(struct program *program, uint32_t a, uint32_t b)
{
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, a);
    emit(program, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, b);
    emit_mix(program);
}

/* IPv4 at `l3`: the pair of the packet, or of the header an ICMP error quotes (types 3, 4,
 * 5, 11 and 12, RFC 792). Non-first fragments carry the same addresses: the pair suffices. */
static void emit_ipv4(struct program *program, uint32_t l3)
{
    emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, l3 + 9); /* protocol */
    unsigned is_icmp = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
    patch_false(program, is_icmp, program->length);
    emit_pair(program, l3 + 12, l3 + 16);

    patch_true(program, is_icmp, program->length);
    emit(program, BPF_LDX | BPF_MSH | BPF_B, 0, 0, l3); /* X = IPv4 header length */
    emit(program, BPF_LD | BPF_B | BPF_IND, 0, 0, l3);  /* ICMP type */
    static const uint32_t error_types[] = {3, 11, 12, 4, 5};
    unsigned tests[5];
    for (unsigned i = 0; i < 5; i++) {
        tests[i] = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, error_types[i]);
        patch_false(program, tests[i], program->length);
    }
    emit_pair(program, l3 + 12, l3 + 16); /* not an error: the packet's own pair */
    unsigned quoted = program->length;
    for (unsigned i = 0; i < 5; i++)
        patch_true(program, tests[i], quoted);
    emit(program, BPF_LD | BPF_W | BPF_IND, 0, 0, l3 + ICMP_ERROR_HEADER + 12);
    emit(program, BPF_ST, 0, 0, 0); /* M[0] = quoted source */
    emit(program, BPF_LD | BPF_W | BPF_IND, 0, 0, l3 + ICMP_ERROR_HEADER + 16);
    emit(program, BPF_LDX | BPF_MEM, 0, 0, 0);
    emit_mix(program);
}

/* IPv6 at `l3`: the low 32 bits of each address (subscribers differ there), or of the
 * addresses an ICMPv6 error (types 1 to 4) quotes behind its 8 bytes. Extension headers
 * before ICMPv6 are rare enough on errors to hash them as plain packets. */
static void emit_ipv6(struct program *program, uint32_t l3)
{
    emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, l3 + 6); /* next header */
    unsigned is_icmp = emit(program, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 58);
    unsigned plain = emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 20);
    patch_false(program, is_icmp, plain);
    emit(program, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 36);
    emit_mix(program);
    unsigned type = emit(program, BPF_LD | BPF_B | BPF_ABS, 0, 0, l3 + 40);
    patch_true(program, is_icmp, type);
    /* Error types are 1..4; 128 and up are informational. */
    unsigned big = emit(program, BPF_JMP | BPF_JGT | BPF_K, 0, 0, 4);
    unsigned quoted = emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                           l3 + 40 + ICMP_ERROR_HEADER + 20);
    patch_false(program, big, quoted);
    emit(program, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 40 + ICMP_ERROR_HEADER + 36);
    emit_mix(program);
    /* Informational ICMPv6: the packet's own pair. */
    unsigned info = emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 20);
    patch_true(program, big, info);
    emit(program, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(program, BPF_LD | BPF_W | BPF_ABS, 0, 0, l3 + 36);
    emit_mix(program);
}

int fanout_program(struct sock_filter *code, unsigned capacity)
{
    struct program program = {.length = 0, .overflow = false};
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

int fanout_join(int fd, uint16_t group, char *error, size_t error_size)
{
    struct sock_filter code[FANOUT_PROGRAM_MAX];
    int length = fanout_program(code, FANOUT_PROGRAM_MAX);
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
