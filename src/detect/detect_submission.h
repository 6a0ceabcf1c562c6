/* Submission hygiene (draft sections 4.2 and 4.3: mail is submitted on 587 or 465 with
 * SMTP AUTH, not on port 25): SMTP relayed on other ports (nonstandard_port_smtp), MSAs that
 * take mail without authentication (open_submission), POP-before-SMTP (pop_before_smtp), and
 * subscribers who authenticate on port 25 of a third-party server, whom OP25B will cut off
 * (third_party_submission). See rules/README.md for what each event carries. */
#ifndef OP25B_DETECT_SUBMISSION_H
#define OP25B_DETECT_SUBMISSION_H

#include <stdbool.h>

#include "util/address.h"
#include "detect/detector.h"
#include "policy/policy.h"

struct detector *detect_submission_new(const struct detector_context *context, bool *disabled);

/* The key two servers share when they belong to one provider, for POP-before-SMTP: the
 * autonomous system when an ASN database is configured and knows the address, otherwise
 * the /24 (IPv4) or /48 (IPv6) around it. */
void submission_provider_key(const struct policy *policy, const struct address *server,
                             struct address *key);

#endif
