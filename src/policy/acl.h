/* The OP25B ACL a policy calls for (draft-akagiri-op25b-dynamicip section 4): per dynamic
 * block, a permit of TCP/25 to each designated MSA block the pool may use, then a deny of
 * TCP/25. Listed neutrally (one rule a line, for any router) and in nftables syntax, so the
 * NOC can compare what is configured with what the policy says. */
#ifndef OP25B_ACL_H
#define OP25B_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "policy/policy.h"
#include "policy/prefix.h"

enum acl_action { ACL_PERMIT = 0, ACL_DENY };

struct acl_rule {
    enum acl_action action;
    int family;         /* ADDRESS_V4 or ADDRESS_V6 */
    int pool;           /* index in policy.pools */
    int blocking_point; /* index in policy.blocking_points, or POLICY_NO_INDEX */
    int msa;            /* permits: index in policy.msas; denies: POLICY_NO_INDEX */
    struct prefix source;
    struct prefix destination; /* permits only; a deny goes to any destination */
};

struct acl {
    struct acl_rule *rules; /* by blocking point in policy order; unassigned pools last */
    size_t count;
    /* Rules of pools that have a blocking point: the ACL that should be configured today.
     * Equals policy_acl_rule_count() when every MSA lists port 25. */
    size_t assigned[2]; /* [0] IPv4, [1] IPv6 */
    size_t unassigned;  /* rules dynamic pools without a blocking point would need */
};

/* 0, or -1 when out of memory. */
int acl_build(const struct policy *policy, struct acl *acl);
void acl_free(struct acl *acl);

/* "permit tcp 203.0.113.0/25 -> 203.0.113.225/32 dport 25" */
size_t acl_rule_format(const struct acl_rule *rule, char *buffer, size_t size);

/* The neutral listing: numbered rules grouped by blocking point, each with its pool (and
 * MSA), and the draft's count per address family. */
void acl_write_listing(const struct acl *acl, const struct policy *policy, FILE *out);
/* One nftables table per blocking point (inet family, forward hook), rejecting the way the
 * blocking point declares (drop, ICMP administratively prohibited, TCP reset). Pools
 * without a blocking point are written as comments. */
void acl_write_nftables(const struct acl *acl, const struct policy *policy, FILE *out);

#endif
