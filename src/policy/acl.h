/* The OP25B ACL a policy calls for (draft-akagiri-op25b-dynamicip section 4): per dynamic
 * block, a permit of TCP/25 to each designated MSA block the pool may use, then a deny of
 * TCP/25. Addresses the policy carves out of a dynamic block (a static /29 inside a DSL /20,
 * the ISP's own MX inside a dynamic IPv6 aggregate) are permitted before that deny, since
 * the draft's static senders must never be blocked (its figures 6 and 19). Listed neutrally
 * (one rule a line, for any router) and in nftables syntax (acl_write.c), so the NOC can
 * compare what is configured with what the policy says. docs/acl.md has the whole contract. */
#ifndef OP25B_ACL_H
#define OP25B_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "policy/policy.h"
#include "policy/prefix.h"

enum acl_action {
    ACL_PERMIT = 0, /* TCP/25 from a dynamic block to one designated MSA block */
    ACL_DENY,       /* TCP/25 from a dynamic block to anywhere else */
    ACL_EXEMPT,     /* TCP/25 from a prefix carved out of a dynamic block, to anywhere */
};

struct acl_rule {
    enum acl_action action;
    int family;         /* ADDRESS_V4 or ADDRESS_V6 */
    int pool;           /* index in policy.pools: the source's own pool */
    int inside;         /* exemptions: the dynamic pool it is carved out of; else POLICY_NO_INDEX */
    int blocking_point; /* index in policy.blocking_points, or POLICY_NO_INDEX */
    int msa;            /* permits: index in policy.msas; otherwise POLICY_NO_INDEX */
    struct prefix source;
    struct prefix destination; /* permits only; the others go to any destination */
};

/* Per address family, over the pools that have a blocking point. */
struct acl_count {
    size_t dynamic_blocks; /* prefixes of dynamic pools */
    size_t msa_blocks;     /* prefixes of MSAs that take port 25 (any pool) */
    size_t formula;        /* the draft's dynamic_blocks x (msa_blocks + 1) */
    /* What acl_build generated: permits for the MSA blocks each pool may use (fewer than the
     * formula's when an MSA serves only some pools), one permit per exempt prefix, one deny
     * per dynamic block. */
    size_t msa_permits;
    size_t exempt_permits;
    size_t denies;
    size_t rules;   /* msa_permits + exempt_permits + denies */
    size_t planned; /* of rules, those at blocking points whose state is planned */
};

struct acl {
    /* By blocking point in policy order (pools without one last), then IPv4 before IPv6,
     * then longest source prefix first, so that a first-match ACL judges every address by
     * its most specific pool, as the sensor does. */
    struct acl_rule *rules;
    size_t count;
    struct acl_count families[2]; /* [0] IPv4, [1] IPv6 */
    size_t unassigned;            /* rules dynamic pools without a blocking point would need */
};

/* 0, or -1 when out of memory. */
int acl_build(const struct policy *policy, struct acl *acl);
void acl_free(struct acl *acl);

/* "permit" for permits and exemptions, "deny" for denies. */
const char *acl_action_name(enum acl_action action);
/* "permit tcp 203.0.113.0/25 -> 203.0.113.225/32 dport 25" */
size_t acl_rule_format(const struct acl_rule *rule, char *buffer, size_t size);

/* The counts as --check, the listing and the reports print them: the draft's formula, then
 * what was generated, one family a line pair, each line starting with indent. */
void acl_write_counts(const struct acl *acl, const char *indent, FILE *out);
/* The neutral listing: numbered rules grouped by blocking point, each with its pool (and
 * MSA, or the pool an exemption is carved out of), and the counts. */
void acl_write_listing(const struct acl *acl, const struct policy *policy, FILE *out);
/* One nftables table per blocking point (inet family, forward hook), rejecting the way the
 * blocking point declares (drop, ICMP administratively prohibited, TCP reset). Pools
 * without a blocking point are written as comments. */
void acl_write_nftables(const struct acl *acl, const struct policy *policy, FILE *out);

#endif
