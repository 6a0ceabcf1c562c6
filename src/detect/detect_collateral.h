/* What the block breaks (the collateral_block finding; docs/concepts.md, "What the block
 * must not break"): connections OP25B must let through, refused at the blocking point in
 * front of their pool. Port 25 to a designated MSA the pool may use comes from the attempt
 * tracker's records (an `allowed` attempt that shows block evidence); 587 and 465 from any
 * subscriber pool, and port 25 from static pools, from a tracker of its own
 * (track/refusals.h). One finding per subscriber, server, port and reason in each
 * thresholds.window, so a client that keeps retrying writes one line. */
#ifndef OP25B_DETECT_COLLATERAL_H
#define OP25B_DETECT_COLLATERAL_H

#include <stdbool.h>

#include "detect/detector.h"

struct detector *detect_collateral_new(const struct detector_context *context, bool *disabled);

#endif
