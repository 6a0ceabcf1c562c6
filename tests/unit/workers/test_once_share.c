/* Findings claimed once per key and window over all workers (src/workers/once_share.c): the first
 * claim wins, keys that share a slot are told apart, a new window starts afresh, and
 * workers in processes of their own racing for the same keys get one first claim each. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workers/once_share.h"

/* Keys that land on one slot of a 64-slot table: the index is (key ^ key >> 29) & 63. */
static uint64_t colliding(unsigned i)
{
    return 5 + ((uint64_t)i << 6);
}

Test(once_share, the_first_claim_wins_in_its_window_only)
{
    struct once_share *share = once_share_new(16);
    cr_assert_not_null(share);
    cr_assert_eq(once_share_claim(share, 0x1234, 7), ONCE_FIRST);
    cr_assert_eq(once_share_claim(share, 0x1234, 7), ONCE_TAKEN);
    cr_assert_eq(once_share_claim(share, 0x9999, 7), ONCE_FIRST);
    /* The next window starts afresh, without a sweep; and stays claimed after. */
    cr_assert_eq(once_share_claim(share, 0x1234, 8), ONCE_FIRST);
    cr_assert_eq(once_share_claim(share, 0x1234, 8), ONCE_TAKEN);
    cr_assert_eq(once_share_claim(share, 0x9999, 8), ONCE_FIRST);
    once_share_free(share);
}

Test(once_share, keys_on_one_slot_are_told_apart)
{
    struct once_share *share = once_share_new(16); /* 64 slots */
    cr_assert_not_null(share);
    for (unsigned i = 0; i < 10; i++)
        cr_assert_eq(once_share_claim(share, colliding(i), 1), ONCE_FIRST, "key %u", i);
    for (unsigned i = 0; i < 10; i++)
        cr_assert_eq(once_share_claim(share, colliding(i), 1), ONCE_TAKEN, "key %u", i);
    /* A later window takes the slots over one by one; the keys of the old one are gone. */
    cr_assert_eq(once_share_claim(share, colliding(3), 2), ONCE_FIRST);
    cr_assert_eq(once_share_claim(share, colliding(0), 2), ONCE_FIRST);
    cr_assert_eq(once_share_claim(share, colliding(3), 2), ONCE_TAKEN);
    cr_assert_eq(once_share_claim(share, colliding(0), 2), ONCE_TAKEN);
    once_share_free(share);
}

Test(once_share, a_full_run_of_slots_says_so)
{
    struct once_share *share = once_share_new(16); /* 64 slots, 64 probes */
    cr_assert_not_null(share);
    for (unsigned i = 0; i < 64; i++)
        cr_assert_eq(once_share_claim(share, colliding(i), 1), ONCE_FIRST, "key %u", i);
    cr_assert_eq(once_share_claim(share, colliding(64), 1), ONCE_FULL);
    cr_assert_eq(once_share_claim(share, colliding(63), 1), ONCE_TAKEN);
    /* Another window has all of them free again. */
    cr_assert_eq(once_share_claim(share, colliding(64), 2), ONCE_FIRST);
    once_share_free(share);
}

enum { RACERS = 4, KEYS = 20000 };

/* Four processes claim the same keys in one window, each in its own order; a shared tally
 * counts the first claims of every key: exactly one each. */
Test(once_share, workers_in_other_processes_racing_get_one_first_claim_a_key)
{
    struct once_share *share = once_share_new(KEYS);
    cr_assert_not_null(share);
    _Atomic uint32_t *firsts = mmap(NULL, KEYS * sizeof(*firsts), PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(firsts, MAP_FAILED);
    pid_t racers[RACERS];
    for (unsigned r = 0; r < RACERS; r++) {
        racers[r] = fork();
        cr_assert_geq(racers[r], 0);
        if (racers[r] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            static const uint64_t steps[RACERS] = {1, 3, 7, 9}; /* prime to KEYS */
            for (uint64_t n = 0; n < KEYS; n++) {
                uint64_t i = (n * steps[r] + r * 977) % KEYS; /* each its own order */
                uint64_t key = i * 0x9e3779b97f4a7c15ull;
                if (once_share_claim(share, key, 3) == ONCE_FIRST)
                    atomic_fetch_add(&firsts[i], 1);
            }
            _exit(0);
        }
    }
    for (unsigned r = 0; r < RACERS; r++) {
        int status;
        cr_assert_eq(waitpid(racers[r], &status, 0), racers[r]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (unsigned i = 0; i < KEYS; i++)
        cr_assert_eq(atomic_load(&firsts[i]), 1, "key %u was first %u times", i,
                     atomic_load(&firsts[i]));
    munmap((void *)firsts, KEYS * sizeof(*firsts));
    once_share_free(share);
}
