/* A walker of named fields: how the one description of a record's fields (the SMTP facts,
 * a finding's facts) reaches its writers, the event line and the report, alike. */
#ifndef OP25B_FIELD_WALKER_H
#define OP25B_FIELD_WALKER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/address.h"
#include "util/packet_time.h"

/* name is NULL for the members of a list. */
struct field_walker {
    void (*u64)(void *context, const char *name, uint64_t value);
    void (*string)(void *context, const char *name, const char *value);
    void (*boolean)(void *context, const char *name, bool value);
    void (*fixed)(void *context, const char *name, double value, int decimals);
    void (*address)(void *context, const char *name, const struct address *value);
    void (*time)(void *context, const char *name, packet_time value);
    void (*object_begin)(void *context, const char *name);
    void (*object_end)(void *context);
    void (*list_begin)(void *context, const char *name);
    void (*list_end)(void *context);
};

#endif
