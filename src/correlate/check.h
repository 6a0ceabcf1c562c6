/* --check: the fleet policy as op25b-correlate understood it. */
#ifndef OP25B_CORRELATE_CHECK_H
#define OP25B_CORRELATE_CHECK_H

#include <stdio.h>

#include "policy/policy.h"

void correlate_check_print(const struct policy *policy, FILE *out);

#endif
