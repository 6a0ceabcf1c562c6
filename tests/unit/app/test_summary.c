/* The summary with --workers: each worker leaves its top bot suspects in shared memory and
 * the parent ranks the best of them all, in the ranking's own order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "app/summary.h"

static void rank(struct worker_summary *summary, const char *subscriber, double score,
                 uint32_t windows)
{
    struct bot_rank *at = &summary->ranks[summary->count++];
    memset(at, 0, sizeof(*at));
    snprintf(at->subscriber, sizeof(at->subscriber), "%s", subscriber);
    at->score = score;
    at->windows = windows;
    at->pool = 0;
}

Test(summary, the_best_of_every_workers_suspects)
{
    struct worker_summary workers[3];
    memset(workers, 0, sizeof(workers));
    for (int i = 0; i < SUMMARY_SUSPECTS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "198.51.100.%d", i + 1);
        rank(&workers[0], name, 60 + i, 1);
    }
    rank(&workers[1], "2001:db8:1:200::/56", 95, 1);
    rank(&workers[1], "198.51.100.200", 69, 3); /* ties worker 0's best: more windows */
    /* Worker 2 was killed while saving: count 0, nothing taken. */
    struct bot_rank ranks[SUMMARY_SUSPECTS];
    size_t count = summary_merge(workers, 3, ranks);
    cr_assert_eq(count, SUMMARY_SUSPECTS);
    cr_assert_str_eq(ranks[0].subscriber, "2001:db8:1:200::/56");
    cr_assert_str_eq(ranks[1].subscriber, "198.51.100.200");
    cr_assert_str_eq(ranks[2].subscriber, "198.51.100.10");
    cr_assert_str_eq(ranks[9].subscriber, "198.51.100.3", "the two lowest fall off");
    for (size_t i = 1; i < count; i++)
        cr_assert(ranks[i - 1].score >= ranks[i].score);
}

Test(summary, a_worker_saves_none_for_no_ranking)
{
    struct worker_summary saved;
    memset(&saved, 0xff, sizeof(saved));
    summary_save(&saved, NULL);
    cr_assert_eq(saved.count, 0);
    struct bot_rank ranks[SUMMARY_SUSPECTS];
    cr_assert_eq(summary_merge(&saved, 1, ranks), 0);
}
