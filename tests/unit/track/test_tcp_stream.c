#include <criterion/criterion.h>

#include "track/tcp_stream.h"

Test(tcp_stream, in_order_segments_pass_whole)
{
    uint32_t next = 1000;
    struct tcp_stream_slice s = tcp_stream_accept(&next, 1000, 10);
    cr_assert(!s.gap);
    cr_assert_eq(s.skip, 0);
    cr_assert_eq(s.length, 10);
    cr_assert_eq(next, 1010);
    s = tcp_stream_accept(&next, 1010, 5);
    cr_assert_eq(s.length, 5);
    cr_assert_eq(next, 1015);
}

Test(tcp_stream, retransmission_is_dropped)
{
    uint32_t next = 1010;
    struct tcp_stream_slice s = tcp_stream_accept(&next, 1000, 10);
    cr_assert_eq(s.length, 0);
    cr_assert(!s.gap);
    cr_assert_eq(next, 1010);
}

Test(tcp_stream, overlapping_retransmission_keeps_only_new_bytes)
{
    uint32_t next = 1010;
    struct tcp_stream_slice s = tcp_stream_accept(&next, 1005, 10);
    cr_assert_eq(s.skip, 5);
    cr_assert_eq(s.length, 5);
    cr_assert_eq(next, 1015);
}

Test(tcp_stream, hole_is_a_gap_and_resumes_after_it)
{
    uint32_t next = 1000;
    struct tcp_stream_slice s = tcp_stream_accept(&next, 1100, 20);
    cr_assert(s.gap);
    cr_assert_eq(s.skip, 0);
    cr_assert_eq(s.length, 20);
    cr_assert_eq(next, 1120);
    /* The late segment that filled the hole is now old. */
    s = tcp_stream_accept(&next, 1000, 100);
    cr_assert_eq(s.length, 0);
}

Test(tcp_stream, sequence_wraps_around)
{
    uint32_t next = 0xfffffff0u;
    struct tcp_stream_slice s = tcp_stream_accept(&next, 0xfffffff0u, 0x20);
    cr_assert_eq(s.length, 0x20);
    cr_assert_eq(next, 0x10u);
    s = tcp_stream_accept(&next, 0xfffffff8u, 0x10);
    cr_assert_eq(s.length, 0, "bytes before the wrap are old");
    s = tcp_stream_accept(&next, 0x10u, 4);
    cr_assert_eq(s.length, 4);
}

Test(tcp_stream, empty_segment_changes_nothing)
{
    uint32_t next = 500;
    struct tcp_stream_slice s = tcp_stream_accept(&next, 500, 0);
    cr_assert_eq(s.length, 0);
    cr_assert(!s.gap);
    cr_assert_eq(next, 500);
}
