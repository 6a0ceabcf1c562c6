/* A finding's facts as named fields, in the order its event writes them
 * (dashboards/events.md): the one place that names them. The event line (output/) and the
 * report's listing (report/) are two walkers of the same fields, so they never disagree. */
#ifndef OP25B_FINDING_FIELDS_H
#define OP25B_FINDING_FIELDS_H

#include "policy/policy.h"
#include "record/field_walker.h"
#include "record/finding.h"

/* Walks the facts of the finding's kind (not its type, flow, place or key). */
void finding_walk(const struct finding *finding, const struct policy *policy,
                  const struct field_walker *walker, void *context);

/* The name an msa_abuse event gives a reason in its `exceeded` list. */
const char *msa_abuse_reason_name(enum msa_abuse_reason reason);

#endif
