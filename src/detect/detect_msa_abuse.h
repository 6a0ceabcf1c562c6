/* msa_abuse: the draft's pattern I (sections 3.3 and 4.4.3), mail sent through the ISP's
 * own MSAs by a subscriber that has no business sending that much, or guessing passwords
 * there. Per dynamic subscriber (an IPv4 address, or the pool's ipv6_subscriber_length
 * prefix) and per thresholds.window (back to back, aligned to multiples of it), it counts
 * the connections to the designated MSAs on 25, 587 and 465, their peak concurrency, the
 * AUTH failures (535), the 421 and 452 replies and the recipients of the dialogues it can
 * read, and what TLS leaves visible: how many connections were short and small, and how
 * many of those carried about the same number of bytes (a password guesser's). A window
 * that reaches one of thresholds.msa_abuse is written as a finding.
 *
 * It is fed by the submission family (detect_submission.c), which follows the port-25
 * attempts and the 587 and 465 connections already: each connection comes here once it is
 * over. Like the bot score's, each connection counts in the window of its first packet,
 * and a window is written bot_window_grace() after its end, so its finding reaches the bot
 * score of the same window (detect_bot.c counts it as the msa_abuse feature). */
#ifndef OP25B_DETECT_MSA_ABUSE_H
#define OP25B_DETECT_MSA_ABUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"
#include "proto/smtp.h"
#include "record/bus.h"
#include "record/stats.h"
#include "util/address.h"
#include "util/packet_time.h"

/* Limits of the TLS inference (rules/README.md, "What TLS leaves visible"): a connection
 * under TLS is shaped like a failed login when it lasted at most this long and its client
 * sent at most this many bytes, and two such are alike when their client byte counts are
 * this close. */
#define MSA_TLS_SHORT_SECONDS 30
#define MSA_TLS_SHORT_CLIENT_BYTES 8192
#define MSA_TLS_SIMILAR_BYTES 64

/* One connection from a subscriber to a designated MSA, once it is over. */
struct msa_connection {
    struct address client;
    int pool;      /* a dynamic pool (others are not counted) */
    int msa;       /* policy.msas */
    uint16_t port; /* 25, 587 or 465 */
    bool tls;      /* STARTTLS accepted, or implicit TLS (465) with bytes from the client */
    packet_time first_seen;
    packet_time last_seen;
    uint32_t client_bytes;
    const struct smtp_facts *smtp; /* the dialogue read in the clear, NULL when none */
};

struct msa_abuse;

/* counters: detector_evictions (a subscriber given up when the table is full). NULL when out
 * of memory. */
struct msa_abuse *msa_abuse_new(const struct policy *policy, struct bus *bus,
                                struct sensor_counters *counters);
void msa_abuse_free(struct msa_abuse *abuse);
void msa_abuse_connection(struct msa_abuse *abuse, const struct msa_connection *connection);
/* Packet time reached now: writes the window whose wait is over, opens the next. */
void msa_abuse_advance(struct msa_abuse *abuse, packet_time now);
/* When msa_abuse_advance has work next; INT64_MAX when no window is open. */
packet_time msa_abuse_next_deadline(const struct msa_abuse *abuse);
/* The input ended: the window in its wait is written whole, the current one ended at now. */
void msa_abuse_finish(struct msa_abuse *abuse, packet_time now);

#endif
