#include <criterion/criterion.h>

#include "track/isn_memory.h"

#define SECOND PACKET_TIME_SECOND

static struct flow_key key_of(const char *client, uint16_t port)
{
    struct address src, dst;
    cr_assert(address_parse(client, &src));
    cr_assert(address_parse("192.0.2.25", &dst));
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &src, &dst, port, 25);
    return key;
}

Test(isn_memory, remembers_a_closed_attempt_for_a_while)
{
    struct isn_memory *memory = isn_memory_new(1024);
    cr_assert_not_null(memory);
    struct flow_key key = key_of("198.51.100.7", 40000);
    cr_assert(!isn_memory_recall(memory, &key, 1234, 0), "nothing remembered yet");
    isn_memory_remember(memory, &key, 1234, 63 * SECOND);
    cr_assert(isn_memory_recall(memory, &key, 1234, 127 * SECOND));
    cr_assert(!isn_memory_recall(memory, &key, 1235, 127 * SECOND), "another ISN is another");
    struct flow_key other = key_of("198.51.100.7", 40001);
    cr_assert(!isn_memory_recall(memory, &other, 1234, 127 * SECOND), "other ports");
    /* Recognised at 127 s: kept ISN_MEMORY_HOLD from then. */
    cr_assert(isn_memory_recall(memory, &key, 1234, 127 * SECOND + ISN_MEMORY_HOLD));
    cr_assert(!isn_memory_recall(memory, &key, 1234, 127 * SECOND + 3 * ISN_MEMORY_HOLD),
              "forgotten once too old");
    isn_memory_free(memory);
}

Test(isn_memory, a_full_bucket_forgets_its_oldest)
{
    /* One bucket of four: the fifth attempt pushes out the one remembered longest. */
    struct isn_memory *memory = isn_memory_new(1);
    struct flow_key key = key_of("198.51.100.8", 40000);
    for (uint32_t isn = 1; isn <= 5; isn++)
        isn_memory_remember(memory, &key, isn, (packet_time)isn * SECOND);
    cr_assert(!isn_memory_recall(memory, &key, 1, 6 * SECOND));
    for (uint32_t isn = 2; isn <= 5; isn++)
        cr_assert(isn_memory_recall(memory, &key, isn, 6 * SECOND), "ISN %u", isn);
    /* Remembering one again refreshes it rather than taking a second entry. */
    isn_memory_remember(memory, &key, 3, 7 * SECOND);
    isn_memory_remember(memory, &key, 6, 8 * SECOND);
    cr_assert(isn_memory_recall(memory, &key, 3, 9 * SECOND));
    isn_memory_free(memory);
}

Test(isn_memory, time_stepping_back_is_no_age)
{
    struct isn_memory *memory = isn_memory_new(64);
    struct flow_key key = key_of("2001:db8::1", 50000);
    isn_memory_remember(memory, &key, 99, 100 * SECOND);
    cr_assert(isn_memory_recall(memory, &key, 99, 99 * SECOND));
    isn_memory_free(memory);
}
