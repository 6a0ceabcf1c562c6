/* The move of submission from port 25 to 587 and 465 (draft 4.3 and 4.3.2 steps 4-5:
 * subscribers change their mail clients to MSA[587+AUTH], then port 25 of the MSA stops
 * taking submissions). Per MSA of the policy and dynamic pool, every stats_interval: the
 * connections on 25 (with AUTH, without, unknown), on 587 (the same) and on 465, and the
 * distinct subscribers behind them, written as one submission_migration event for each MSA
 * and pool that saw a connection in the interval (record/migration.h). Port 25 comes from
 * the attempt tracker's records, 587 and 465 from the submission family's
 * (record/connection_record.h). */
#ifndef OP25B_DETECT_MIGRATION_H
#define OP25B_DETECT_MIGRATION_H

#include <stdbool.h>

#include "detect/detector.h"

/* Disabled when the policy has no MSA. */
struct detector *detect_migration_new(const struct detector_context *context, bool *disabled);

#endif
