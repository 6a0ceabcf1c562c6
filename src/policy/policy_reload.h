/* SIGHUP's policy: the file read again and put in place of the running policy, for what
 * follows. The new policy goes into the same struct policy, so every module holding its
 * pointer reads the new one from its next packet on.
 *
 * What a reload can change, and what waits for a restart (rules/README.md, "Reloading"):
 *   - the pools, blocking points, MSAs and segments must be the same names in the same
 *     order: attempts in progress, coverage tallies, reports and metric series hold them by
 *     index. Their contents (prefixes, types, a pool's blocking point, state, reject, ports,
 *     what a segment matches and expects) all change, and so do the sensor's name and
 *     position, own prefixes, resolvers, GeoIP databases and the bot score's thresholds;
 *   - the sizes and timers made at start (limits, timeouts, thresholds.window,
 *     sensor.stats_interval) keep their running values, each said in a warning; so are
 *     the places collateral_block watches (collateral_places.h), whose table is made at
 *     start from the points' state and position. */
#ifndef OP25B_POLICY_RELOAD_H
#define OP25B_POLICY_RELOAD_H

#include <stddef.h>

#include "policy/policy.h"

/* Called once for each key whose new value waits for a restart, with the message. */
typedef void (*policy_reload_warning)(void *context, const char *message);

/* Reads running->path again and checks it against the running policy. NULL with
 * "FILE:LINE: message" (or "FILE: message") in error when the file is refused, whether
 * the policy itself is wrong or it changes what a reload cannot; the running policy is
 * untouched either way. Otherwise the new policy, with the restart-only keys set back to
 * their running values (one warning each), for policy_reload_apply. */
struct policy *policy_reload_read(const struct policy *running, policy_reload_warning warn,
                                  void *context, char *error, size_t error_size);

/* Puts fresh's contents in running's place and frees what running held (and fresh). Whoever
 * may read the policy from another thread at that moment must be kept out meanwhile. */
void policy_reload_apply(struct policy *running, struct policy *fresh);

#endif
