/* The paths around OP25B (draft section 4.4.1, docs/concepts.md): asymmetric routing, spoofed
 * sources, triangular spamming and the missing inbound ACL, as one detection family. */
#ifndef OP25B_DETECT_EVASION_H
#define OP25B_DETECT_EVASION_H

#include "detect/detector.h"

struct detector *detect_evasion_new(const struct detector_context *context, bool *disabled);

#endif
