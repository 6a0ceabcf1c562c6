/* libFuzzer target for the packet decoder (src/decode/decode.c). Input: one byte picking the
 * link type (fuzz_common.h), then the captured frame. libFuzzer hands over a heap copy of exactly
 * the input's size, so AddressSanitizer stops any read past the frame; the checks below add
 * what the decoder promises in decode.h about the view it fills. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_CHECKER static void check_address(const struct address *address, uint8_t version)
{
    if (address->family != (version == 4 ? ADDRESS_V4 : ADDRESS_V6))
        FUZZ_FAIL("address family differs from the IP version");
}

FUZZ_CHECKER static void check_packet(const struct packet *packet, const uint8_t *frame,
                                      uint32_t length)
{
    /* "points into the captured bytes (no copies)" */
    if (packet->payload_length > 0 && packet->payload == NULL)
        FUZZ_FAIL("payload length without a payload pointer");
    if (packet->payload != NULL) {
        if (packet->payload < frame || packet->payload > frame + length)
            FUZZ_FAIL("payload pointer outside the frame");
        if (packet->payload_length > (uint32_t)(frame + length - packet->payload))
            FUZZ_FAIL("payload runs past the frame");
    }
    /* "The payload's captured length and its wire length travel together." */
    if (packet->payload_wire_length < packet->payload_length)
        FUZZ_FAIL("the payload's wire length is less than what was captured");
    if (packet->payload_wire_length > 0xffff)
        FUZZ_FAIL("a wire length no 16-bit length field can announce");
    if (packet->payload_truncated != (packet->payload_wire_length > packet->payload_length))
        FUZZ_FAIL("payload_truncated disagrees with the two lengths");
    if (packet->captured_length != length)
        FUZZ_FAIL("captured_length changed");
    if (packet->ip_version != 4 && packet->ip_version != 6)
        FUZZ_FAIL("IP version is neither 4 nor 6");
    check_address(&packet->src, packet->ip_version);
    check_address(&packet->dst, packet->ip_version);
    if (packet->vlan_count > DECODE_MAX_VLAN_TAGS)
        FUZZ_FAIL("more VLAN tags than the cap");
    if (packet->mpls_count > DECODE_MAX_MPLS_LABELS)
        FUZZ_FAIL("more MPLS labels than the cap");
    if (packet->tunnel_depth > DECODE_MAX_TUNNELS)
        FUZZ_FAIL("more tunnels than the cap");
    if (packet->tunnel >= TUNNEL_KIND_COUNT)
        FUZZ_FAIL("unknown tunnel kind");
    if ((packet->tunnel != TUNNEL_NONE) != (packet->tunnel_depth > 0))
        FUZZ_FAIL("tunnel kind and tunnel depth disagree");
    if (packet->tunnel != TUNNEL_NONE) {
        if (packet->outer_src.family != packet->outer_dst.family ||
            (packet->outer_src.family != ADDRESS_V4 && packet->outer_src.family != ADDRESS_V6))
            FUZZ_FAIL("outer addresses of a tunnelled packet are unset");
    }
    if (packet->is_icmp_error && packet->proto != IPPROTO_NUMBER_ICMP &&
        packet->proto != IPPROTO_NUMBER_ICMPV6)
        FUZZ_FAIL("an ICMP error on a packet that is not ICMP");
}

/* Where the TCP header of a decoded segment starts: the one data offset in front of the
 * payload whose ports and sequence number are the packet's. Only asked when some payload
 * was captured, so the header was whole; 0 when no candidate or more than one fits (a frame
 * of repeated bytes can fit several). */
FUZZ_CHECKER static size_t tcp_header_start(const struct packet *packet, const uint8_t *frame)
{
    size_t payload = (size_t)(packet->payload - frame);
    size_t found = 0, count = 0;
    for (size_t header = 20; header <= 60 && header <= payload; header += 4) {
        const uint8_t *tcp = packet->payload - header;
        if ((size_t)(tcp[12] >> 4) * 4 == header && (tcp[0] << 8 | tcp[1]) == packet->src_port &&
            (tcp[2] << 8 | tcp[3]) == packet->dst_port &&
            ((uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7]) ==
                packet->seq) {
            found = payload - header;
            count++;
        }
    }
    return count == 1 ? found : 0;
}

/* "A TCP header whose options were cut is still a TCP header": the same frame cut anywhere
 * inside the options decodes to the same ports, numbers and flags, with nothing captured of
 * a payload whose wire length has not changed. Each cut is a heap block of its own size. */
FUZZ_CHECKER static void check_cut_options(int linktype, const struct packet *whole,
                                           const uint8_t *frame)
{
    if (whole->proto != IPPROTO_NUMBER_TCP || whole->payload == NULL || whole->payload_length == 0)
        return;
    size_t start = tcp_header_start(whole, frame);
    size_t payload = (size_t)(whole->payload - frame);
    if (start == 0 || payload - start == 20)
        return;
    for (size_t cut = start + 20; cut < payload; cut++) {
        uint8_t *copy = malloc(cut);
        if (copy == NULL)
            return;
        memcpy(copy, frame, cut);
        struct packet part = {.ts = 1, .wire_length = (uint32_t)cut, .source = 7};
        enum decode_result result = decode_packet(linktype, copy, (uint32_t)cut, &part);
        if (result != DECODE_OK)
            FUZZ_FAIL("a TCP header cut inside its options did not decode (%s)",
                      decode_result_name(result));
        if (part.src_port != whole->src_port || part.dst_port != whole->dst_port ||
            part.seq != whole->seq || part.ack != whole->ack || part.tcp_flags != whole->tcp_flags)
            FUZZ_FAIL("a TCP header cut inside its options reads differently");
        if (part.payload != copy + cut || part.payload_length != 0 ||
            part.payload_wire_length != whole->payload_wire_length)
            FUZZ_FAIL("the payload of a header cut inside its options is misplaced");
        free(copy);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_check_link_types();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > UINT32_MAX)
        return 0;
    int linktype = fuzz_link_type(data[0]);
    const uint8_t *frame = data + 1;
    uint32_t length = (uint32_t)(size - 1);

    struct packet first = {.ts = 1, .wire_length = length, .source = 7};
    enum decode_result result = decode_packet(linktype, frame, length, &first);
    if ((unsigned)result >= DECODE_RESULT_COUNT)
        FUZZ_FAIL("result out of range");
    if (strcmp(decode_result_name(result), "unknown") == 0)
        FUZZ_FAIL("a result without a name");
    if (first.ts != 1 || first.wire_length != length || first.source != 7)
        FUZZ_FAIL("caller's fields were overwritten");
    if (result != DECODE_OK)
        return 0;
    check_packet(&first, frame, length);
    check_cut_options(linktype, &first, frame);
    if (first.tunnel != TUNNEL_NONE && strcmp(tunnel_kind_name(first.tunnel), "unknown") == 0)
        FUZZ_FAIL("a tunnel kind without a name");

    /* Decoding reads nothing but the frame: the same bytes give the same view. */
    struct packet second = {.ts = 1, .wire_length = length, .source = 7};
    if (decode_packet(linktype, frame, length, &second) != result ||
        memcmp(&first, &second, sizeof(first)) != 0)
        FUZZ_FAIL("decoding the same frame twice gave different views");
    return 0;
}
