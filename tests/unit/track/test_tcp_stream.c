#include <criterion/criterion.h>

#include "track/tcp_stream.h"

static struct tcp_stream_slice accept_cut(uint32_t *next, uint32_t seq, uint32_t captured,
                                          uint32_t wire)
{
    static const uint8_t bytes[4096];
    struct tcp_segment segment = {seq, captured, wire, bytes};
    return tcp_stream_accept(next, &segment);
}

static struct tcp_stream_slice accept_whole(uint32_t *next, uint32_t seq, uint32_t length)
{
    return accept_cut(next, seq, length, length);
}

Test(tcp_stream, in_order_segments_pass_whole)
{
    uint32_t next = 1000;
    struct tcp_stream_slice s = accept_whole(&next, 1000, 10);
    cr_assert(!s.gap);
    cr_assert_eq(s.skip, 0);
    cr_assert_eq(s.length, 10);
    cr_assert_eq(s.missing, 0);
    cr_assert_eq(next, 1010);
    s = accept_whole(&next, 1010, 5);
    cr_assert_eq(s.length, 5);
    cr_assert_eq(next, 1015);
}

Test(tcp_stream, retransmission_is_dropped)
{
    uint32_t next = 1010;
    struct tcp_stream_slice s = accept_whole(&next, 1000, 10);
    cr_assert_eq(s.length, 0);
    cr_assert_eq(s.missing, 0);
    cr_assert(!s.gap);
    cr_assert_eq(next, 1010);
}

Test(tcp_stream, overlapping_retransmission_keeps_only_new_bytes)
{
    uint32_t next = 1010;
    struct tcp_stream_slice s = accept_whole(&next, 1005, 10);
    cr_assert_eq(s.skip, 5);
    cr_assert_eq(s.length, 5);
    cr_assert_eq(next, 1015);
}

Test(tcp_stream, hole_is_a_gap_and_resumes_after_it)
{
    uint32_t next = 1000;
    struct tcp_stream_slice s = accept_whole(&next, 1100, 20);
    cr_assert(s.gap);
    cr_assert_eq(s.skip, 0);
    cr_assert_eq(s.length, 20);
    cr_assert_eq(next, 1120);
    /* The late segment that filled the hole is now old. */
    s = accept_whole(&next, 1000, 100);
    cr_assert_eq(s.length, 0);
}

Test(tcp_stream, sequence_wraps_around)
{
    uint32_t next = 0xfffffff0u;
    struct tcp_stream_slice s = accept_whole(&next, 0xfffffff0u, 0x20);
    cr_assert_eq(s.length, 0x20);
    cr_assert_eq(next, 0x10u);
    s = accept_whole(&next, 0xfffffff8u, 0x10);
    cr_assert_eq(s.length, 0, "bytes before the wrap are old");
    s = accept_whole(&next, 0x10u, 4);
    cr_assert_eq(s.length, 4);
}

Test(tcp_stream, empty_segment_changes_nothing)
{
    uint32_t next = 500;
    struct tcp_stream_slice s = accept_whole(&next, 500, 0);
    cr_assert_eq(s.length, 0);
    cr_assert(!s.gap);
    cr_assert_eq(next, 500);
}

Test(tcp_stream, cut_segment_moves_the_stream_by_its_wire_length)
{
    /* A 1,200-byte segment captured to 42 bytes: the next segment is in order, no gap. */
    uint32_t next = 1000;
    struct tcp_stream_slice s = accept_cut(&next, 1000, 42, 1200);
    cr_assert(!s.gap);
    cr_assert_eq(s.length, 42);
    cr_assert_eq(s.missing, 1158);
    cr_assert_eq(next, 2200);
    s = accept_whole(&next, 2200, 6);
    cr_assert(!s.gap, "what the snap length cut is no hole");
    cr_assert_eq(s.length, 6);
}

Test(tcp_stream, cut_to_nothing_still_counts)
{
    uint32_t next = 1000;
    struct tcp_stream_slice s = accept_cut(&next, 1000, 0, 300);
    cr_assert_eq(s.length, 0);
    cr_assert_eq(s.missing, 300);
    cr_assert_eq(next, 1300);
}

Test(tcp_stream, retransmission_of_a_cut_segment_adds_only_new_bytes)
{
    uint32_t next = 1000;
    accept_cut(&next, 1000, 42, 100);
    /* The sender repacketised: 50 old bytes (cut) and 150 new ones, 42 captured. */
    struct tcp_stream_slice s = accept_cut(&next, 1050, 42, 200);
    cr_assert_eq(s.skip, 42, "every captured byte is old");
    cr_assert_eq(s.length, 0);
    cr_assert_eq(s.missing, 150);
    cr_assert_eq(next, 1250);
    /* Old bytes, captured past the old ones: only the new captured ones are handed on. */
    s = accept_cut(&next, 1240, 30, 40);
    cr_assert_eq(s.skip, 10);
    cr_assert_eq(s.length, 20);
    cr_assert_eq(s.missing, 10);
    cr_assert_eq(next, 1280);
}

Test(tcp_stream, cut_segment_after_a_hole_is_a_gap_and_counts_its_missing_bytes)
{
    uint32_t next = 1000;
    struct tcp_stream_slice s = accept_cut(&next, 1500, 10, 60);
    cr_assert(s.gap);
    cr_assert_eq(s.length, 10);
    cr_assert_eq(s.missing, 50);
    cr_assert_eq(next, 1560);
}

Test(tcp_stream, segment_of_a_packet_never_has_less_on_the_wire)
{
    struct packet packet = {0};
    static const uint8_t payload[8] = "RCPT TO:";
    packet.seq = 7;
    packet.payload = payload;
    packet.payload_length = 8;
    packet.payload_wire_length = 0; /* a caller that set only the captured length */
    struct tcp_segment segment = tcp_segment_of(&packet);
    cr_assert_eq(segment.wire, 8);
    cr_assert(tcp_has_payload(&packet));
    packet.payload_length = 0;
    packet.payload_wire_length = 40;
    segment = tcp_segment_of(&packet);
    cr_assert_eq(segment.captured, 0);
    cr_assert_eq(segment.wire, 40);
    cr_assert(tcp_has_payload(&packet));
}
