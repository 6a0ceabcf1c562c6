/* The per-packet pipeline: decode -> where was it seen -> track -> judge -> publish on the
 * bus, with the packet clock that drives every timer and the periodic coverage and
 * sensor_stats records. The run loop feeds it packets; tests can feed it too. */
#ifndef OP25B_SENSOR_H
#define OP25B_SENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "record/bus.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "record/stats.h"
#include "workers/worker_share.h"

struct sensor;

/* Records go to bus. source_names: one per capture source, used to match `interface:`
 * segments. share: with --workers, what the workers share (worker_share.h); else NULL. */
struct sensor *sensor_new(const struct policy *policy, struct bus *bus,
                          const char *const *source_names, size_t source_count,
                          const struct worker_share *share);
void sensor_free(struct sensor *sensor);
/* The policy it was made with has been reloaded in place (policy/policy_reload.h): what was
 * built from it at start is built again. -1 when memory is short (the old tables stay). */
int sensor_policy_changed(struct sensor *sensor);

/* A packet as captured: wire_length is its length on the wire, captured_length what the snap
 * length left of it. Its time is judged by the packet clock (util/packet_clock.h): a doubtful
 * timestamp waits for the next packet (its bytes are copied), and the first packet always
 * waits for the second or for sensor_tick/sensor_finish. */
void sensor_packet(struct sensor *sensor, int linktype, uint16_t source, packet_time ts,
                   const uint8_t *data, uint32_t captured_length, uint32_t wire_length);
/* Lets time pass without a packet (a live capture with nothing arriving). The clock starts
 * here too, if no packet started it: a quiet link still gets its periodic reports, and its
 * final events the time they were written, not 1970. */
void sensor_tick(struct sensor *sensor, packet_time now);
/* Capture-side counters (live: pcap_stats; files: read errors). */
void sensor_set_capture_stats(struct sensor *sensor, uint64_t received, uint64_t drops,
                              uint64_t errors);
/* A sensor_stats event now, as the periodic one is made but alone ("final": false): what
 * SIGUSR1 asks for. */
void sensor_write_stats(struct sensor *sensor);
/* The smallest snap length of the capture sources, for sensor_stats (0: unknown). */
void sensor_set_snaplen(struct sensor *sensor, uint32_t snaplen);
/* Decides every open attempt and writes the final coverage and sensor_stats events. */
void sensor_finish(struct sensor *sensor, const char *reason);

const struct sensor_counters *sensor_counters(const struct sensor *sensor);
const struct coverage *sensor_coverage(const struct sensor *sensor);
packet_time sensor_now(const struct sensor *sensor);

#endif
