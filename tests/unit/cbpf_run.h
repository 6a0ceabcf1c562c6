/* A small classic-BPF interpreter for the fanout program (src/capture/fanout.c), as the kernel
 * runs it for PACKET_FANOUT_CBPF: loads are relative to the network header (SKF_NET_OFF)
 * and skb->protocol is an ancillary load. Shared by the tests that need the worker a packet
 * goes to without a kernel. */
#ifndef OP25B_TESTS_CBPF_RUN_H
#define OP25B_TESTS_CBPF_RUN_H

#include <criterion/criterion.h>
#include <linux/filter.h>
#include <stdint.h>

/* Runs the program over an IP packet (network header at `ip`) with skb->protocol. */
static uint32_t cbpf_run(const struct sock_filter *code, int length, uint16_t protocol,
                         const uint8_t *ip, uint32_t size)
{
    uint32_t a = 0, x = 0, memory[16] = {0};
    for (int pc = 0; pc < length; pc++) {
        const struct sock_filter *op = &code[pc];
        uint32_t k = op->k;
        int64_t offset;
        uint32_t width;
        switch (op->code) {
        case BPF_LD | BPF_H | BPF_ABS:
            if (k == (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)) {
                a = protocol;
                continue;
            }
            /* fall through */
        case BPF_LD | BPF_W | BPF_ABS:
        case BPF_LD | BPF_B | BPF_ABS:
        case BPF_LD | BPF_W | BPF_IND:
        case BPF_LD | BPF_H | BPF_IND:
        case BPF_LD | BPF_B | BPF_IND:
            offset = (int64_t)(int32_t)k - SKF_NET_OFF;
            if (BPF_MODE(op->code) == BPF_IND)
                offset += x;
            width = BPF_SIZE(op->code) == BPF_W ? 4 : BPF_SIZE(op->code) == BPF_H ? 2 : 1;
            if (offset < 0 || offset + width > size)
                return 0; /* the kernel ends the program with 0 on a short packet */
            a = 0;
            for (uint32_t i = 0; i < width; i++)
                a = a << 8 | ip[offset + i];
            break;
        case BPF_LDX | BPF_MSH | BPF_B:
            offset = (int64_t)(int32_t)k - SKF_NET_OFF;
            if (offset < 0 || offset >= size)
                return 0;
            x = 4u * (ip[offset] & 0x0f);
            break;
        case BPF_LDX | BPF_MEM:
            x = memory[k];
            break;
        case BPF_LD | BPF_MEM:
            a = memory[k];
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            a &= k;
            break;
        case BPF_ALU | BPF_LSH | BPF_K:
            a <<= k;
            break;
        case BPF_ALU | BPF_ADD | BPF_X:
            a += x;
            break;
        case BPF_ST:
            memory[k] = a;
            break;
        case BPF_MISC | BPF_TAX:
            x = a;
            break;
        case BPF_ALU | BPF_XOR | BPF_X:
            a ^= x;
            break;
        case BPF_ALU | BPF_MUL | BPF_K:
            a *= k;
            break;
        case BPF_ALU | BPF_RSH | BPF_K:
            a >>= k;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == k ? op->jt : op->jf;
            break;
        case BPF_JMP | BPF_JGT | BPF_K:
            pc += a > k ? op->jt : op->jf;
            break;
        case BPF_JMP | BPF_JEQ | BPF_X:
            pc += a == x ? op->jt : op->jf;
            break;
        case BPF_JMP | BPF_JGT | BPF_X:
            pc += a > x ? op->jt : op->jf;
            break;
        case BPF_JMP | BPF_JA:
            pc += (int)k;
            break;
        case BPF_RET | BPF_A:
            return a;
        case BPF_RET | BPF_K:
            return k;
        default:
            cr_assert_fail("opcode 0x%x not interpreted", op->code);
        }
    }
    cr_assert_fail("the program ran off its end");
    return 0;
}

#endif
