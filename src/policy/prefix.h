/* Longest-prefix match for IPv4 and IPv6, as a routing table does it: the most specific
 * prefix wins, so a static /29 carved out of a dynamic /20 is fine. Built once from the
 * policy, then read-only on the fast path: lookups never allocate. Sized for 100,000
 * prefixes and more. */
#ifndef OP25B_PREFIX_H
#define OP25B_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/address.h"

struct prefix {
    struct address address; /* host bits are zero */
    uint8_t length;         /* 0..32 for IPv4, 0..128 for IPv6 */
};

/* Longest text prefix_format writes, including the NUL. */
#define PREFIX_TEXT_MAX (ADDRESS_TEXT_MAX + 4)

/* Parses "198.51.100.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
 * On failure returns false and points *error at a static reason ("host bits set",
 * "prefix length out of range", "not an IP address"). */
bool prefix_parse(const char *text, struct prefix *out, const char **error);
size_t prefix_format(const struct prefix *prefix, char *buffer, size_t size);
bool prefix_contains(const struct prefix *prefix, const struct address *address);

struct prefix_table;

struct prefix_table *prefix_table_new(void);
void prefix_table_free(struct prefix_table *table);

/* Adds a prefix with its value before prefix_table_build. Returns 0, or -1 when the very
 * same prefix is already in the table (*existing_value then says whose it is), or -2 when
 * out of memory. */
int prefix_table_add(struct prefix_table *table, const struct prefix *prefix, uint32_t value,
                     uint32_t *existing_value);

/* Freezes the table into its lookup form. Returns 0, or -1 when out of memory. Adding after
 * building is not allowed. */
int prefix_table_build(struct prefix_table *table);

/* The value of the longest prefix holding the address; false when none does. */
bool prefix_table_lookup(const struct prefix_table *table, const struct address *address,
                         uint32_t *value);

size_t prefix_table_count(const struct prefix_table *table);

#endif
