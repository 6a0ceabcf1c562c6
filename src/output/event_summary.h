/* attempt_summary lines: the attempts of the verdicts the policy lists in events.summarize,
 * folded per subscriber (its IPv4 address or its pool's IPv6 prefix) and summary interval
 * (dashboards/events.md). Only the lines change: every attempt record still reaches
 * coverage, the report, the metrics and the detectors on the bus, so they count the same
 * with or without summaries.
 *
 * Intervals are aligned to multiples of events.summary_interval in packet time; one ends
 * when a record carries a time at or past its end (an attempt closing, the periodic
 * report), and its summaries are written then, in the order their subscribers first came.
 * The table holds events.summary_subscribers subscribers; a new one beyond that writes the
 * oldest entry's summary early (counted as an eviction), so memory stays bounded. It is
 * reserved at that bound at start and taken as subscribers come: nothing is allocated per
 * attempt. */
#ifndef OP25B_EVENT_SUMMARY_H
#define OP25B_EVENT_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "output/event.h"

/* NULL when the policy summarizes nothing, or memory fails (then every attempt stays an
 * event of its own). */
struct event_summaries *event_summaries_new(const struct policy *policy);
void event_summaries_free(struct event_summaries *summaries);

/* Whether attempts of this verdict are folded (never for leaked). */
bool event_summaries_want(const struct event_summaries *summaries, enum verdict verdict);
/* Packet time has reached now: the summaries of an interval that ended are written. */
void event_summaries_advance(struct events *events, packet_time now);
/* Folds the attempt into its subscriber's summary; true (the line is the summary's). */
bool event_summaries_add(struct events *events, const struct attempt_record *attempt);
/* The input ended at now: every summary still held is written, "final": true. */
void event_summaries_finish(struct events *events, packet_time now);

uint64_t event_summaries_folded(const struct event_summaries *summaries);
uint64_t event_summaries_evictions(const struct event_summaries *summaries);

#endif
