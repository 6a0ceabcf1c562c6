/* The workers' inboxes (src/workers/inbox.c), with the spoofed SYNs they carry: what is posted is
 * taken once, whole, in the order each writer posted it, also with writers in processes of
 * their own racing for one inbox; a full inbox refuses exactly what does not fit. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workers/inbox.h"
#include "workers/worker_share.h"

/* A post that says who wrote it and its number among that writer's posts. */
static struct shared_syn numbered(unsigned writer, uint32_t number)
{
    struct shared_syn syn;
    memset(&syn, 0, sizeof(syn));
    syn.target.family = ADDRESS_V4;
    syn.target.bytes[0] = 203;
    syn.target.bytes[3] = (uint8_t)writer;
    syn.relay.family = ADDRESS_V6;
    syn.relay.bytes[15] = (uint8_t)number;
    syn.isn = number;
    syn.client_port = (uint16_t)(40000 + writer);
    syn.server_port = 25;
    syn.ts = (packet_time)number * 1000;
    syn.segment = (int8_t)writer;
    return syn;
}

static void same_post(const struct shared_syn *got, unsigned writer, uint32_t number)
{
    struct shared_syn want = numbered(writer, number);
    cr_assert_eq(got->isn, want.isn, "post %u of writer %u came as %u", number, writer, got->isn);
    cr_assert_eq(got->client_port, want.client_port);
    cr_assert_eq(got->segment, want.segment);
    cr_assert_eq(got->ts, want.ts);
    cr_assert(memcmp(&got->target, &want.target, sizeof(want.target)) == 0);
    cr_assert(memcmp(&got->relay, &want.relay, sizeof(want.relay)) == 0);
}

Test(inbox, a_post_reaches_every_other_worker_once_and_never_its_writer)
{
    struct inbox_set *share = inbox_set_new(3, 16, sizeof(struct shared_syn));
    cr_assert_not_null(share);
    inbox_set_worker(share, 1);
    struct shared_syn post = numbered(1, 7);
    cr_assert_eq(inbox_post(share, &post), 0);
    struct shared_syn got;
    cr_assert_not(inbox_take(share, &got), "a worker's own post came back to it");
    for (unsigned w = 0; w < 3; w += 2) {
        inbox_set_worker(share, w);
        cr_assert(inbox_take(share, &got), "worker %u got nothing", w);
        same_post(&got, 1, 7);
        cr_assert_not(inbox_take(share, &got), "worker %u got the post twice", w);
    }
    inbox_set_free(share);
}

Test(inbox, in_order_across_many_rounds_of_a_small_inbox)
{
    struct inbox_set *share =
        inbox_set_new(2, 5, sizeof(struct shared_syn)); /* rounded up to 8 cells */
    cr_assert_not_null(share);
    uint32_t posted = 0, taken = 0;
    struct shared_syn got;
    /* Uneven steps, so the positions wrap the ring at every offset. */
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 1 + round % 7; i++) {
            struct shared_syn post = numbered(1, posted);
            cr_assert(inbox_post_to(share, 0, &post), "refused at %u with %u taken", posted, taken);
            posted++;
        }
        inbox_set_worker(share, 0);
        while (taken + 1 < posted && inbox_take(share, &got))
            same_post(&got, 1, taken++);
    }
    inbox_set_worker(share, 0);
    while (inbox_take(share, &got))
        same_post(&got, 1, taken++);
    cr_assert_eq(taken, posted);
    inbox_set_free(share);
}

Test(inbox, a_full_inbox_refuses_exactly_what_does_not_fit)
{
    struct inbox_set *share = inbox_set_new(3, 8, sizeof(struct shared_syn));
    cr_assert_not_null(share);
    inbox_set_worker(share, 2);
    unsigned refused = 0;
    for (uint32_t i = 0; i < 20; i++) {
        struct shared_syn post = numbered(2, i);
        refused += inbox_post(share, &post); /* to workers 0 and 1 */
    }
    cr_assert_eq(refused, 2 * (20 - 8));
    struct shared_syn got;
    for (unsigned w = 0; w < 2; w++) {
        inbox_set_worker(share, w);
        for (uint32_t i = 0; i < 8; i++) {
            cr_assert(inbox_take(share, &got));
            same_post(&got, 2, i); /* the first eight, not the last */
        }
        cr_assert_not(inbox_take(share, &got));
        /* Room again once taken. */
        struct shared_syn post = numbered(2, 100);
        cr_assert(inbox_post_to(share, w, &post));
    }
    inbox_set_free(share);
}

enum { WRITERS = 3, POSTS_EACH = 200000 };

/* Writers in processes of their own (as the workers are) race for worker 0's small inbox
 * while it takes: every post arrives once, each writer's in its order. A writer retries a
 * refused post, so nothing is lost and the inbox is full most of the time. */
Test(inbox, writers_in_other_processes_race_for_one_inbox)
{
    struct inbox_set *share = inbox_set_new(WRITERS + 1, 64, sizeof(struct shared_syn));
    cr_assert_not_null(share);
    pid_t writers[WRITERS];
    for (unsigned w = 0; w < WRITERS; w++) {
        writers[w] = fork();
        cr_assert_geq(writers[w], 0);
        if (writers[w] == 0) {
            /* A failed assertion ends the reader: its writers must not spin on unseen. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            inbox_set_worker(share, w + 1);
            for (uint32_t i = 0; i < POSTS_EACH; i++) {
                struct shared_syn post = numbered(w + 1, i);
                while (!inbox_post_to(share, 0, &post))
                    ;
            }
            _exit(0);
        }
    }
    inbox_set_worker(share, 0);
    uint32_t next[WRITERS + 1] = {0};
    uint64_t taken = 0;
    struct shared_syn got;
    while (taken < (uint64_t)WRITERS * POSTS_EACH) {
        if (!inbox_take(share, &got))
            continue;
        unsigned writer = got.segment;
        cr_assert(writer >= 1 && writer <= WRITERS, "a post from no writer: %u", writer);
        same_post(&got, writer, next[writer]++);
        taken++;
    }
    for (unsigned w = 0; w < WRITERS; w++) {
        int status;
        cr_assert_eq(waitpid(writers[w], &status, 0), writers[w]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        cr_assert_eq(next[w + 1], POSTS_EACH);
    }
    cr_assert_not(inbox_take(share, &got), "more posts than were written");
    inbox_set_free(share);
}

/* Messages of any size: cells are rounded up, messages are copied whole and alone. */
Test(inbox, a_message_of_odd_size_comes_whole)
{
    struct inbox_set *share = inbox_set_new(2, 4, 13);
    cr_assert_not_null(share);
    for (int round = 0; round < 3; round++) {
        for (unsigned char i = 0; i < 4; i++) {
            unsigned char message[13];
            memset(message, 'a' + i + round, sizeof(message));
            cr_assert(inbox_post_to(share, 0, message));
        }
        unsigned char refused[13] = {0};
        cr_assert_not(inbox_post_to(share, 0, refused));
        inbox_set_worker(share, 0);
        for (unsigned char i = 0; i < 4; i++) {
            unsigned char got[14];
            memset(got, 0x5a, sizeof(got));
            cr_assert(inbox_take(share, got));
            for (int b = 0; b < 13; b++)
                cr_assert_eq(got[b], 'a' + i + round, "message %u byte %d", i, b);
            cr_assert_eq(got[13], 0x5a, "a byte past the message was written");
        }
    }
    inbox_set_free(share);
}
