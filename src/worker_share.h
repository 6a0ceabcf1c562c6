/* What the worker processes of --workers share, made by the parent before it forks: the
 * state a detection needs from packets the fanout gives to other workers. */
#ifndef OP25B_WORKER_SHARE_H
#define OP25B_WORKER_SHARE_H

#include "once_share.h"
#include "syn_share.h"

struct worker_share {
    struct syn_share *syns;      /* spoofed SYNs told to every worker (triangular spam) */
    struct once_share *findings; /* findings one per server and window over all workers */
};

#endif
