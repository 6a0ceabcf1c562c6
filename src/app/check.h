/* --check: the policy as the sensor understood it, with the ACL rule count the draft's
 * formula gives and the kernel prefilter live capture would use. */
#ifndef OP25B_APP_CHECK_H
#define OP25B_APP_CHECK_H

#include <stdio.h>

#include "policy/policy.h"

void check_print(const struct policy *policy, FILE *out);

#endif
