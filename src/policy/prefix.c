/* Longest-prefix match by flattening.
 *
 * At build time the nested prefixes of each family are flattened into the sorted starts of
 * disjoint address ranges that together cover the whole address space; each range carries
 * the value of its most specific covering prefix, or none. A lookup is then one binary
 * search for the last start <= address. For IPv4 a 65,536-entry index on the top 16 bits
 * narrows the search to the few ranges inside that /16, so a lookup is an index read and a
 * handful of compares on one or two cache lines. IPv6 searches 128-bit keys without
 * branches; at 100,000 prefixes that is about 18 compare-and-selects.
 *
 * This was chosen over a trie because the arrays are compact (12 bytes per IPv4 range, 24
 * per IPv6 range), the lookup has no pointer chasing and no per-level branching on prefix
 * lengths, and the build is a sort and one sweep. The table is read-only after building,
 * so concurrent lookups need no locking. */
#include "policy/prefix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A range value meaning "no prefix covers this range". Values are uint32, so this never
 * collides with one. */
#define RANGE_NO_VALUE UINT64_MAX

/* Nested prefixes strictly grow in length, so at most 129 can be open at once. */
#define NESTING_MAX 129

#define V4_INDEX_BITS 16
#define V4_INDEX_SIZE (1u << V4_INDEX_BITS)

/* Addresses as numbers in host order, so ranges compare with < (a GNU C extension). IPv4
 * uses the low 32 bits. */
typedef unsigned __int128 address_key;

struct table_entry {
    struct prefix prefix;
    uint32_t value;
};

struct prefix_table {
    /* Before building: every prefix added, and an open-addressing set of entry indexes
     * (plus one; 0 is an empty slot) that finds duplicates in O(1). Freed by the build. */
    struct table_entry *entries;
    size_t entry_count;
    size_t entry_capacity;
    uint32_t *slots;
    size_t slot_capacity; /* a power of two, kept at most half full */

    size_t count;
    bool built;

    /* After building: v4_starts[i] is where range i begins; it ends where range i + 1
     * begins. v4_index[t] is the range holding t << 16. */
    uint32_t *v4_starts;
    uint64_t *v4_values;
    size_t v4_range_count;
    uint32_t *v4_index; /* V4_INDEX_SIZE + 1 entries */

    address_key *v6_starts;
    uint64_t *v6_values;
    size_t v6_range_count;
};

static size_t family_bits(uint8_t family)
{
    return family == ADDRESS_V4 ? 32 : 128;
}

bool prefix_parse(const char *text, struct prefix *out, const char **error)
{
    char address_text[ADDRESS_TEXT_MAX];
    const char *slash = strchr(text, '/');
    size_t text_length = slash != NULL ? (size_t)(slash - text) : strlen(text);

    memset(out, 0, sizeof(*out));
    if (text_length == 0 || text_length >= sizeof(address_text)) {
        *error = "not an IP address";
        return false;
    }
    memcpy(address_text, text, text_length);
    address_text[text_length] = '\0';
    if (!address_parse(address_text, &out->address)) {
        *error = "not an IP address";
        return false;
    }

    size_t max_length = family_bits(out->address.family);
    size_t length = max_length;
    if (slash != NULL) {
        const char *digits = slash + 1;
        size_t digit_count = strlen(digits);
        /* Three digits cover 128; more can only be junk or leading zeros. */
        if (digit_count == 0 || digit_count > 3 || (digits[0] == '0' && digit_count > 1)) {
            *error = "prefix length is not a decimal number without leading zeros";
            return false;
        }
        length = 0;
        for (size_t i = 0; i < digit_count; i++) {
            if (digits[i] < '0' || digits[i] > '9') {
                *error = "prefix length is not a decimal number without leading zeros";
                return false;
            }
            length = length * 10 + (size_t)(digits[i] - '0');
        }
        if (length > max_length) {
            *error = "prefix length out of range";
            return false;
        }
    }
    out->length = (uint8_t)length;

    for (size_t bit = length; bit < max_length; bit++) {
        if (out->address.bytes[bit / 8] & (0x80u >> (bit % 8))) {
            *error = "host bits set";
            return false;
        }
    }
    return true;
}

size_t prefix_format(const struct prefix *prefix, char *buffer, size_t size)
{
    char address_text[ADDRESS_TEXT_MAX];
    address_format(&prefix->address, address_text, sizeof(address_text));
    int written = snprintf(buffer, size, "%s/%u", address_text, (unsigned)prefix->length);
    return written < 0 ? 0 : (size_t)written;
}

bool prefix_contains(const struct prefix *prefix, const struct address *address)
{
    if (prefix->address.family != address->family || prefix->length > family_bits(address->family))
        return false;
    size_t whole_bytes = prefix->length / 8;
    if (memcmp(prefix->address.bytes, address->bytes, whole_bytes) != 0)
        return false;
    unsigned rest_bits = prefix->length % 8;
    if (rest_bits == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest_bits));
    return (prefix->address.bytes[whole_bytes] & mask) == (address->bytes[whole_bytes] & mask);
}

static uint32_t v4_key_of(const uint8_t bytes[4])
{
    uint32_t big_endian;
    memcpy(&big_endian, bytes, sizeof(big_endian));
    return __builtin_bswap32(big_endian);
}

static address_key v6_key_of(const uint8_t bytes[16])
{
    uint64_t high;
    uint64_t low;
    memcpy(&high, bytes, sizeof(high));
    memcpy(&low, bytes + 8, sizeof(low));
    return (address_key)__builtin_bswap64(high) << 64 | __builtin_bswap64(low);
}

static address_key key_of(const struct address *address)
{
    if (address->family == ADDRESS_V4)
        return v4_key_of(address->bytes);
    return v6_key_of(address->bytes);
}

/* The last address of a prefix: its start with every host bit set. */
static address_key key_range_end(address_key start, unsigned host_bits)
{
    address_key host_mask = host_bits >= 128 ? ~(address_key)0 : ((address_key)1 << host_bits) - 1;
    return start | host_mask;
}

/* ---- Building the table ---- */

struct prefix_table *prefix_table_new(void)
{
    return calloc(1, sizeof(struct prefix_table));
}

static void free_build_state(struct prefix_table *table)
{
    free(table->entries);
    table->entries = NULL;
    table->entry_count = 0;
    table->entry_capacity = 0;
    free(table->slots);
    table->slots = NULL;
    table->slot_capacity = 0;
}

void prefix_table_free(struct prefix_table *table)
{
    if (table == NULL)
        return;
    free_build_state(table);
    free(table->v4_starts);
    free(table->v4_values);
    free(table->v4_index);
    free(table->v6_starts);
    free(table->v6_values);
    free(table);
}

/* FNV-1a over everything that makes two prefixes the same one. */
static uint64_t prefix_hash(const struct prefix *prefix)
{
    uint64_t hash = UINT64_C(14695981039346656037);
    const uint64_t multiplier = UINT64_C(1099511628211);
    hash = (hash ^ prefix->address.family) * multiplier;
    hash = (hash ^ prefix->length) * multiplier;
    for (size_t i = 0; i < sizeof(prefix->address.bytes); i++)
        hash = (hash ^ prefix->address.bytes[i]) * multiplier;
    return hash;
}

static bool prefix_same(const struct prefix *a, const struct prefix *b)
{
    return a->length == b->length && address_equal(&a->address, &b->address);
}

/* The slot holding this prefix, or the empty slot where it belongs. */
static size_t slot_find(const struct prefix_table *table, const struct prefix *prefix)
{
    size_t mask = table->slot_capacity - 1;
    size_t slot = (size_t)prefix_hash(prefix) & mask;
    /* The set is at most half full, so this ends within slot_capacity probes. */
    while (table->slots[slot] != 0 &&
           !prefix_same(&table->entries[table->slots[slot] - 1].prefix, prefix))
        slot = (slot + 1) & mask;
    return slot;
}

static int slots_grow(struct prefix_table *table)
{
    size_t capacity = table->slot_capacity == 0 ? 64 : table->slot_capacity * 2;
    uint32_t *old_slots = table->slots;
    size_t old_capacity = table->slot_capacity;
    table->slots = calloc(capacity, sizeof(*table->slots));
    if (table->slots == NULL) {
        table->slots = old_slots;
        return -1;
    }
    table->slot_capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old_slots[i] != 0) {
            size_t slot = slot_find(table, &table->entries[old_slots[i] - 1].prefix);
            table->slots[slot] = old_slots[i];
        }
    }
    free(old_slots);
    return 0;
}

int prefix_table_add(struct prefix_table *table, const struct prefix *prefix, uint32_t value,
                     uint32_t *existing_value)
{
    uint8_t family = prefix->address.family;
    /* The range arrays use 32-bit indexes and hold at most two ranges per prefix. */
    if (table->built || (family != ADDRESS_V4 && family != ADDRESS_V6) ||
        prefix->length > family_bits(family) || table->entry_count >= UINT32_MAX / 4)
        return -2;

    /* Canonical form, so equal prefixes hash and compare equal even if a caller left host
     * bits or bytes past an IPv4 address set. */
    struct prefix canonical = {.address.family = family, .length = prefix->length};
    memcpy(canonical.address.bytes, prefix->address.bytes, prefix->length / 8);
    if (prefix->length % 8 != 0)
        canonical.address.bytes[prefix->length / 8] = prefix->address.bytes[prefix->length / 8] &
                                                      (uint8_t)(0xffu << (8 - prefix->length % 8));

    if ((table->entry_count + 1) * 2 > table->slot_capacity && slots_grow(table) != 0)
        return -2;
    size_t slot = slot_find(table, &canonical);
    if (table->slots[slot] != 0) {
        if (existing_value != NULL)
            *existing_value = table->entries[table->slots[slot] - 1].value;
        return -1;
    }
    if (table->entry_count == table->entry_capacity) {
        size_t capacity = table->entry_capacity == 0 ? 64 : table->entry_capacity * 2;
        struct table_entry *entries = realloc(table->entries, capacity * sizeof(*entries));
        if (entries == NULL)
            return -2;
        table->entries = entries;
        table->entry_capacity = capacity;
    }
    table->entries[table->entry_count] = (struct table_entry){canonical, value};
    table->entry_count++;
    table->slots[slot] = (uint32_t)table->entry_count;
    table->count++;
    return 0;
}

struct flat_prefix {
    address_key start;
    address_key end;
    uint64_t value;
    uint8_t length;
};

static int flat_prefix_compare(const void *a, const void *b)
{
    const struct flat_prefix *left = a;
    const struct flat_prefix *right = b;
    if (left->start != right->start)
        return left->start < right->start ? -1 : 1;
    /* At one start the shorter prefix holds the longer one, so it opens first. */
    return (int)left->length - (int)right->length;
}

struct range_list {
    address_key *starts;
    uint64_t *values;
    size_t count;
};

/* From start on (until the next emit) the value is value. Emits come in non-decreasing
 * start order; neighbours with equal values merge, so ranges stay few. */
static void range_emit(struct range_list *ranges, address_key start, uint64_t value)
{
    if (ranges->count > 0 && ranges->starts[ranges->count - 1] == start) {
        ranges->values[ranges->count - 1] = value;
        if (ranges->count > 1 && ranges->values[ranges->count - 2] == value)
            ranges->count--;
        return;
    }
    if (ranges->count > 0 && ranges->values[ranges->count - 1] == value)
        return;
    ranges->starts[ranges->count] = start;
    ranges->values[ranges->count] = value;
    ranges->count++;
}

/* Flattens one family's prefixes into disjoint ranges covering its whole address space. */
static int flatten_family(const struct prefix_table *table, uint8_t family, struct range_list *out)
{
    unsigned bits = (unsigned)family_bits(family);
    address_key space_end = key_range_end(0, bits);
    size_t count = 0;
    for (size_t i = 0; i < table->entry_count; i++)
        count += table->entries[i].prefix.address.family == family;

    struct flat_prefix *flat = malloc((count > 0 ? count : 1) * sizeof(*flat));
    if (flat == NULL)
        goto fail;
    out->starts = malloc((2 * count + 1) * sizeof(*out->starts));
    if (out->starts == NULL)
        goto fail_free_flat;
    out->values = malloc((2 * count + 1) * sizeof(*out->values));
    if (out->values == NULL)
        goto fail_free_starts;
    out->count = 0;

    size_t next = 0;
    for (size_t i = 0; i < table->entry_count; i++) {
        const struct table_entry *entry = &table->entries[i];
        if (entry->prefix.address.family != family)
            continue;
        address_key start = key_of(&entry->prefix.address);
        flat[next++] = (struct flat_prefix){
            .start = start,
            .end = key_range_end(start, bits - entry->prefix.length),
            .value = entry->value,
            .length = entry->prefix.length,
        };
    }
    qsort(flat, count, sizeof(*flat), flat_prefix_compare);

    /* Sweep in address order with the chain of prefixes holding the current address. When
     * the chain's innermost prefix ends, the next outer one (or none) resumes. */
    const struct flat_prefix *open[NESTING_MAX];
    size_t open_count = 0;
    range_emit(out, 0, RANGE_NO_VALUE);
    for (size_t i = 0; i <= count; i++) {
        while (open_count > 0 && (i == count || open[open_count - 1]->end < flat[i].start)) {
            address_key resume = open[open_count - 1]->end;
            open_count--;
            if (resume < space_end)
                range_emit(out, resume + 1,
                           open_count > 0 ? open[open_count - 1]->value : RANGE_NO_VALUE);
        }
        if (i == count)
            break;
        /* Sorted distinct prefixes that overlap are nested, each one longer, so the chain
         * is never deeper than the address has bits plus one; the check only guards that. */
        if (open_count == NESTING_MAX)
            goto fail_free_values;
        open[open_count++] = &flat[i];
        range_emit(out, flat[i].start, flat[i].value);
    }
    free(flat);
    return 0;

fail_free_values:
    free(out->values);
    out->values = NULL;
fail_free_starts:
    free(out->starts);
    out->starts = NULL;
fail_free_flat:
    free(flat);
fail:
    return -1;
}

static int build_v4(struct prefix_table *table)
{
    struct range_list ranges;
    if (flatten_family(table, ADDRESS_V4, &ranges) != 0)
        return -1;
    table->v4_starts = malloc(ranges.count * sizeof(*table->v4_starts));
    if (table->v4_starts == NULL)
        goto fail_free_ranges;
    table->v4_index = malloc((V4_INDEX_SIZE + 1) * sizeof(*table->v4_index));
    if (table->v4_index == NULL)
        goto fail_free_starts;
    for (size_t i = 0; i < ranges.count; i++)
        table->v4_starts[i] = (uint32_t)ranges.starts[i];
    table->v4_values = ranges.values;
    table->v4_range_count = ranges.count;
    free(ranges.starts);

    size_t range = 0;
    for (uint32_t top = 0; top < V4_INDEX_SIZE; top++) {
        uint32_t base = top << (32 - V4_INDEX_BITS);
        while (range + 1 < table->v4_range_count && table->v4_starts[range + 1] <= base)
            range++;
        table->v4_index[top] = (uint32_t)range;
    }
    table->v4_index[V4_INDEX_SIZE] = (uint32_t)(table->v4_range_count - 1);
    return 0;

fail_free_starts:
    free(table->v4_starts);
    table->v4_starts = NULL;
fail_free_ranges:
    free(ranges.starts);
    free(ranges.values);
    return -1;
}

static int build_v6(struct prefix_table *table)
{
    struct range_list ranges;
    if (flatten_family(table, ADDRESS_V6, &ranges) != 0)
        return -1;
    table->v6_starts = ranges.starts;
    table->v6_values = ranges.values;
    table->v6_range_count = ranges.count;
    return 0;
}

int prefix_table_build(struct prefix_table *table)
{
    if (table->built)
        return 0;
    if (build_v4(table) != 0)
        goto fail;
    if (build_v6(table) != 0)
        goto fail_free_v4;
    table->built = true;
    free_build_state(table);
    return 0;

fail_free_v4:
    free(table->v4_starts);
    free(table->v4_values);
    free(table->v4_index);
    table->v4_starts = NULL;
    table->v4_values = NULL;
    table->v4_index = NULL;
    table->v4_range_count = 0;
fail:
    return -1;
}

/* ---- The fast path ---- */

static bool range_value(uint64_t stored, uint32_t *value)
{
    if (stored == RANGE_NO_VALUE)
        return false;
    *value = (uint32_t)stored;
    return true;
}

bool prefix_table_lookup(const struct prefix_table *table, const struct address *address,
                         uint32_t *value)
{
    if (!table->built)
        return false;
    if (address->family == ADDRESS_V4) {
        uint32_t key = v4_key_of(address->bytes);
        uint32_t top = key >> (32 - V4_INDEX_BITS);
        /* The answer lies between the ranges holding the first address of this /16 and of
         * the next one. */
        size_t low = table->v4_index[top];
        size_t high = table->v4_index[top + 1];
        while (low < high) {
            size_t middle = low + (high - low + 1) / 2;
            if (table->v4_starts[middle] <= key)
                low = middle;
            else
                high = middle - 1;
        }
        return range_value(table->v4_values[low], value);
    }
    if (address->family == ADDRESS_V6) {
        address_key key = v6_key_of(address->bytes);
        /* Branch-free halving: a compiled compare-and-select per step instead of a branch
         * the CPU mispredicts half the time, which at ~17 steps more than halves the cost.
         * The range at base always starts at or before the key (range 0 starts at ::). */
        const address_key *base = table->v6_starts;
        size_t remaining = table->v6_range_count;
        while (remaining > 1) {
            size_t half = remaining / 2;
            const address_key *probe = base + half;
            base = *probe <= key ? probe : base;
            remaining -= half;
        }
        return range_value(table->v6_values[base - table->v6_starts], value);
    }
    return false;
}

size_t prefix_table_count(const struct prefix_table *table)
{
    return table->count;
}
