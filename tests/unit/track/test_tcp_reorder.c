#include <criterion/criterion.h>

#include <string.h>

#include "track/tcp_reorder.h"

/* What the window handed on, in order: each delivery goes through tcp_stream_accept, as
 * the trackers do, and its new bytes are appended to the direction's text. */
struct sink {
    uint32_t next[2];
    char text[2][256];
    size_t length[2];
    unsigned gaps[2];
    unsigned deliveries;
};

static void deliver(void *context, unsigned direction, const struct tcp_segment *segment)
{
    struct sink *sink = context;
    struct tcp_stream_slice slice = tcp_stream_accept(&sink->next[direction], segment);
    if (slice.gap)
        sink->gaps[direction]++;
    size_t room = sizeof(sink->text[direction]) - 1 - sink->length[direction];
    size_t kept = slice.length < room ? slice.length : room;
    memcpy(sink->text[direction] + sink->length[direction], segment->data + slice.skip, kept);
    sink->length[direction] += kept;
    sink->text[direction][sink->length[direction]] = '\0';
    sink->deliveries++;
}

static struct tcp_reorder_pool *pool;
static uint64_t reordered;

static void setup(void)
{
    reordered = 0;
    pool = tcp_reorder_new(2, &reordered);
    cr_assert_not_null(pool);
}

static void teardown(void)
{
    tcp_reorder_free(pool);
}

static void feed(struct sink *sink, uint32_t *slot, unsigned direction, uint32_t seq,
                 const char *text, packet_time now)
{
    struct tcp_segment segment = {seq, (uint32_t)strlen(text), (uint32_t)strlen(text),
                                  (const uint8_t *)text};
    tcp_reorder_feed(pool, slot, direction, &sink->next[direction], &segment, now, deliver, sink);
}

TestSuite(tcp_reorder, .init = setup, .fini = teardown);

Test(tcp_reorder, swapped_segments_are_put_back_in_order)
{
    struct sink sink = {.next = {100, 500}};
    uint32_t slot = TCP_REORDER_NONE;
    feed(&sink, &slot, 0, 100 + 6, "RCPT\r\n", 1);
    cr_assert_eq(sink.deliveries, 0, "held: its predecessor is missing");
    cr_assert_neq(slot, TCP_REORDER_NONE);
    cr_assert(tcp_reorder_holds(pool, slot, 0));
    feed(&sink, &slot, 0, 100, "MAIL\r\n", 2);
    cr_assert_str_eq(sink.text[0], "MAIL\r\nRCPT\r\n");
    cr_assert_eq(sink.gaps[0], 0);
    cr_assert_eq(reordered, 1);
    cr_assert_eq(slot, TCP_REORDER_NONE, "the slot goes back once nothing is held");
}

Test(tcp_reorder, in_order_segments_take_no_slot)
{
    struct sink sink = {.next = {100, 500}};
    uint32_t slot = TCP_REORDER_NONE;
    feed(&sink, &slot, 0, 100, "EHLO a\r\n", 1);
    feed(&sink, &slot, 1, 500, "250 ok\r\n", 2);
    feed(&sink, &slot, 0, 100, "EHLO a\r\n", 3); /* a retransmission */
    cr_assert_eq(slot, TCP_REORDER_NONE);
    cr_assert_str_eq(sink.text[0], "EHLO a\r\n");
    cr_assert_str_eq(sink.text[1], "250 ok\r\n");
    cr_assert_eq(reordered, 0);
}

Test(tcp_reorder, three_held_released_in_sequence_order)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    feed(&sink, &slot, 0, 6, "ghi", 1);
    feed(&sink, &slot, 0, 3, "def", 1);
    feed(&sink, &slot, 0, 9, "jkl", 1);
    feed(&sink, &slot, 0, 3, "def", 1); /* a copy of one held */
    cr_assert_eq(sink.deliveries, 0);
    feed(&sink, &slot, 0, 0, "abc", 1);
    cr_assert_str_eq(sink.text[0], "abcdefghijkl");
    cr_assert_eq(sink.gaps[0], 0);
    cr_assert_eq(reordered, 3);
}

Test(tcp_reorder, a_hole_past_the_window_becomes_a_gap)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    for (unsigned i = 0; i < TCP_REORDER_SEGMENTS; i++)
        feed(&sink, &slot, 0, 10 + 2 * i, "xx", 1);
    cr_assert_eq(sink.deliveries, 0);
    /* One more than the window holds: all go, in order, the first after a gap. */
    feed(&sink, &slot, 0, 10 + 2 * TCP_REORDER_SEGMENTS, "yy", 1);
    cr_assert_eq(sink.deliveries, TCP_REORDER_SEGMENTS + 1);
    cr_assert_eq(sink.gaps[0], 1);
    cr_assert_str_eq(sink.text[0], "xxxxxxxxyy");
    cr_assert_eq(slot, TCP_REORDER_NONE);
    cr_assert_eq(reordered, 0, "a hole given up puts nothing back in order");
    /* The lost segment turns up at last: it is old now. */
    feed(&sink, &slot, 0, 0, "0123456789", 2);
    cr_assert_str_eq(sink.text[0], "xxxxxxxxyy");
}

Test(tcp_reorder, a_segment_before_the_held_ones_goes_first_when_the_window_is_full)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    for (unsigned i = 0; i < TCP_REORDER_SEGMENTS; i++)
        feed(&sink, &slot, 0, 20 + 2 * i, "zz", 1);
    feed(&sink, &slot, 0, 5, "aa", 1); /* ahead too, but before every held one */
    cr_assert_eq(sink.gaps[0], 2, "a hole before it and one after it");
    cr_assert_str_eq(sink.text[0], "aazzzzzzzz");
}

Test(tcp_reorder, too_many_bytes_is_past_the_window)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    static char big[TCP_REORDER_BYTES + 1];
    memset(big, 'b', TCP_REORDER_BYTES);
    struct tcp_segment segment = {100, TCP_REORDER_BYTES + 1, TCP_REORDER_BYTES + 1,
                                  (const uint8_t *)big};
    tcp_reorder_feed(pool, &slot, 0, &sink.next[0], &segment, 1, deliver, &sink);
    cr_assert_eq(sink.deliveries, 1, "delivered at once, after a gap");
    cr_assert_eq(sink.gaps[0], 1);
}

Test(tcp_reorder, a_hole_open_too_long_is_flushed)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    feed(&sink, &slot, 1, 4, "tail", 1000);
    tcp_reorder_expire(pool, &slot, 1, &sink.next[1], 1000 + TCP_REORDER_WAIT - 1, deliver, &sink);
    cr_assert_eq(sink.deliveries, 0, "not yet");
    tcp_reorder_expire(pool, &slot, 1, &sink.next[1], 1000 + TCP_REORDER_WAIT, deliver, &sink);
    cr_assert_eq(sink.deliveries, 1);
    cr_assert_eq(sink.gaps[1], 1);
    cr_assert_eq(slot, TCP_REORDER_NONE);
    cr_assert_eq(reordered, 0);
}

Test(tcp_reorder, flush_and_discard_at_the_end)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    feed(&sink, &slot, 0, 5, "later", 1);
    feed(&sink, &slot, 1, 7, "reply", 1);
    tcp_reorder_flush(pool, &slot, 0, &sink.next[0], deliver, &sink);
    cr_assert_str_eq(sink.text[0], "later");
    cr_assert_neq(slot, TCP_REORDER_NONE, "the server side still holds");
    tcp_reorder_discard(pool, &slot);
    cr_assert_eq(slot, TCP_REORDER_NONE);
    cr_assert_eq(sink.length[1], 0, "discarded, not delivered");
}

Test(tcp_reorder, no_slot_free_means_a_gap_at_once)
{
    struct sink sinks[3] = {{.next = {0, 0}}, {.next = {0, 0}}, {.next = {0, 0}}};
    uint32_t slots[3] = {TCP_REORDER_NONE, TCP_REORDER_NONE, TCP_REORDER_NONE};
    for (int i = 0; i < 3; i++)
        feed(&sinks[i], &slots[i], 0, 10, "early", 1);
    cr_assert_eq(sinks[0].deliveries + sinks[1].deliveries, 0, "two slots in the pool");
    cr_assert_eq(slots[2], TCP_REORDER_NONE);
    cr_assert_eq(sinks[2].deliveries, 1);
    cr_assert_eq(sinks[2].gaps[0], 1);
}

Test(tcp_reorder, sequence_numbers_wrap)
{
    struct sink sink = {.next = {0xfffffffcu, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    feed(&sink, &slot, 0, 0, "efgh", 1);
    feed(&sink, &slot, 0, 0xfffffffcu, "abcd", 1);
    cr_assert_str_eq(sink.text[0], "abcdefgh");
    cr_assert_eq(sink.gaps[0], 0);
}

Test(tcp_reorder, cut_segments_are_held_with_their_wire_length)
{
    struct sink sink = {.next = {0, 0}};
    uint32_t slot = TCP_REORDER_NONE;
    struct tcp_segment late = {100, 3, 60, (const uint8_t *)"xyz"};
    tcp_reorder_feed(pool, &slot, 0, &sink.next[0], &late, 1, deliver, &sink);
    struct tcp_segment first = {0, 10, 100, (const uint8_t *)"0123456789"};
    tcp_reorder_feed(pool, &slot, 0, &sink.next[0], &first, 1, deliver, &sink);
    cr_assert_str_eq(sink.text[0], "0123456789xyz");
    cr_assert_eq(sink.gaps[0], 0, "the first segment's wire length reached the held one");
    cr_assert_eq(sink.next[0], 160);
}
