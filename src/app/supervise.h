/* --workers N: live capture spread over N processes, each a whole sensor (run.h) in one
 * PACKET_FANOUT group. The parent forks them, passes the operator's signals on, waits for
 * them, serves their summed metrics and writes the report merged from theirs. */
#ifndef OP25B_APP_SUPERVISE_H
#define OP25B_APP_SUPERVISE_H

#include "app/options.h"
#include "policy/policy.h"

/* Returns the exit status: the worst of the workers'. */
int supervise_workers(const struct options *options, struct policy *policy);

#endif
