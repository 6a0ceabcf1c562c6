#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "policy/prefix.h"

static struct prefix parsed(const char *text)
{
    struct prefix prefix;
    const char *error = NULL;
    cr_assert(prefix_parse(text, &prefix, &error), "'%s' should parse: %s", text,
              error != NULL ? error : "");
    return prefix;
}

static struct address addr(const char *text)
{
    struct address address;
    cr_assert(address_parse(text, &address), "'%s' should be an address", text);
    return address;
}

static void add(struct prefix_table *table, const char *text, uint32_t value)
{
    struct prefix prefix = parsed(text);
    uint32_t existing = 0;
    cr_assert_eq(prefix_table_add(table, &prefix, value, &existing), 0, "adding %s", text);
}

static struct prefix_table *built(const char *const *texts, const uint32_t *values, size_t count)
{
    struct prefix_table *table = prefix_table_new();
    cr_assert_not_null(table);
    for (size_t i = 0; i < count; i++)
        add(table, texts[i], values[i]);
    cr_assert_eq(prefix_table_build(table), 0);
    return table;
}

/* Asserts the lookup of text gives expected, or nothing when expected is -1. */
static void expect_lookup(const struct prefix_table *table, const char *text, long expected)
{
    struct address address = addr(text);
    uint32_t value = 12345;
    bool found = prefix_table_lookup(table, &address, &value);
    if (expected < 0) {
        cr_assert(!found, "%s should match nothing, got %u", text, value);
    } else {
        cr_assert(found, "%s should match value %ld", text, expected);
        cr_assert_eq(value, (uint32_t)expected, "%s: got %u, want %ld", text, value, expected);
    }
}

/* ---- prefix_parse ---- */

Test(prefix_parse, accepts_v4_v6_and_bare_addresses)
{
    struct prefix prefix = parsed("198.51.100.0/24");
    cr_assert_eq(prefix.address.family, ADDRESS_V4);
    cr_assert_eq(prefix.length, 24);
    cr_assert_eq(prefix.address.bytes[0], 198);
    cr_assert_eq(prefix.address.bytes[2], 100);

    prefix = parsed("2001:db8::/32");
    cr_assert_eq(prefix.address.family, ADDRESS_V6);
    cr_assert_eq(prefix.length, 32);
    cr_assert_eq(prefix.address.bytes[1], 0x01);
    cr_assert_eq(prefix.address.bytes[3], 0xb8);

    prefix = parsed("192.0.2.7");
    cr_assert_eq(prefix.address.family, ADDRESS_V4);
    cr_assert_eq(prefix.length, 32);

    prefix = parsed("2001:db8::1");
    cr_assert_eq(prefix.address.family, ADDRESS_V6);
    cr_assert_eq(prefix.length, 128);

    cr_assert_eq(parsed("0.0.0.0/0").length, 0);
    cr_assert_eq(parsed("::/0").length, 0);
    cr_assert_eq(parsed("10.0.0.0/8").length, 8);
    cr_assert_eq(parsed("2001:db8::1/128").length, 128);
}

static void expect_parse_error(const char *text, const char *reason)
{
    struct prefix prefix;
    const char *error = NULL;
    cr_assert(!prefix_parse(text, &prefix, &error), "'%s' should be refused", text);
    cr_assert_not_null(error, "'%s' gives no reason", text);
    if (reason != NULL)
        cr_assert_str_eq(error, reason, "'%s': reason '%s'", text, error);
}

Test(prefix_parse, refuses_host_bits)
{
    expect_parse_error("198.51.100.1/24", "host bits set");
    expect_parse_error("11.0.0.0/7", "host bits set");
    expect_parse_error("10.0.0.0/6", "host bits set");
    expect_parse_error("2001:db8::1/64", "host bits set");
    expect_parse_error("2001:db8:100::/39", "host bits set");
    expect_parse_error("0.0.0.1/31", "host bits set");
}

Test(prefix_parse, refuses_lengths_out_of_range)
{
    expect_parse_error("10.0.0.0/33", "prefix length out of range");
    expect_parse_error("2001:db8::/129", "prefix length out of range");
    expect_parse_error("2001:db8::/999", "prefix length out of range");
}

Test(prefix_parse, refuses_junk)
{
    const char *const junk[] = {
        "",
        "abc",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "/24",
        "1.2.3.4/",
        "1.2.3.0/024",
        "1.2.3.0/00",
        "1.2.3.0/x",
        "1.2.3.0/-1",
        "1.2.3.0/+8",
        "1.2.3.0/24 ",
        " 1.2.3.0/24",
        "1.2.3.0 /24",
        "1.2.3.0/ 24",
        "1.2.3.0/2 4",
        "1.2.3.0//24",
        "1.2.3.0/24/",
        "1.2.3.4 ",
        "01.2.3.4",
        "2001:db8::/",
        "2001:db8:::/32",
        "fe80::1%eth0",
        "2001:db8::/0032",
        "2001:db8::/12345",
        "1.2.3.0/1e1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        expect_parse_error(junk[i], NULL);
}

Test(prefix_format, round_trips)
{
    const char *const texts[] = {"198.51.100.0/24", "0.0.0.0/0", "2001:db8::/32", "2001:db8::1/128",
                                 "255.255.255.255/32"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct prefix prefix = parsed(texts[i]);
        char text[PREFIX_TEXT_MAX];
        size_t length = prefix_format(&prefix, text, sizeof(text));
        cr_assert_str_eq(text, texts[i]);
        cr_assert_eq(length, strlen(texts[i]));
    }
    struct prefix bare = parsed("192.0.2.1");
    char text[PREFIX_TEXT_MAX];
    prefix_format(&bare, text, sizeof(text));
    cr_assert_str_eq(text, "192.0.2.1/32");
}

Test(prefix_contains, checks_bits_and_family)
{
    struct prefix prefix = parsed("198.51.100.0/22");
    struct address inside_first = addr("198.51.100.0");
    struct address inside_last = addr("198.51.103.255");
    struct address below = addr("198.51.99.255");
    struct address above = addr("198.51.104.0");
    struct address v6 = addr("::c633:6400");
    cr_assert(prefix_contains(&prefix, &inside_first));
    cr_assert(prefix_contains(&prefix, &inside_last));
    cr_assert(!prefix_contains(&prefix, &below));
    cr_assert(!prefix_contains(&prefix, &above));
    cr_assert(!prefix_contains(&prefix, &v6));

    struct prefix everything = parsed("::/0");
    cr_assert(prefix_contains(&everything, &v6));
    cr_assert(!prefix_contains(&everything, &inside_first));
}

/* ---- the table ---- */

Test(prefix_table, longest_match_in_a_nested_chain)
{
    /* A /29 at each end of a /20 inside a /8, and one in the middle. */
    const char *const texts[] = {"10.0.0.0/8", "10.1.0.0/20", "10.1.0.0/29", "10.1.15.248/29",
                                 "10.1.7.16/29"};
    const uint32_t values[] = {1, 2, 3, 4, 5};
    struct prefix_table *table = built(texts, values, 5);
    cr_assert_eq(prefix_table_count(table), 5);

    expect_lookup(table, "9.255.255.255", -1);
    expect_lookup(table, "10.0.0.0", 1);
    expect_lookup(table, "10.0.255.255", 1);
    expect_lookup(table, "10.1.0.0", 3);
    expect_lookup(table, "10.1.0.7", 3);
    expect_lookup(table, "10.1.0.8", 2);
    expect_lookup(table, "10.1.7.15", 2);
    expect_lookup(table, "10.1.7.16", 5);
    expect_lookup(table, "10.1.7.23", 5);
    expect_lookup(table, "10.1.7.24", 2);
    expect_lookup(table, "10.1.15.247", 2);
    expect_lookup(table, "10.1.15.248", 4);
    expect_lookup(table, "10.1.15.255", 4);
    expect_lookup(table, "10.1.16.0", 1);
    expect_lookup(table, "10.255.255.255", 1);
    expect_lookup(table, "11.0.0.0", -1);
    prefix_table_free(table);
}

Test(prefix_table, insertion_order_does_not_matter)
{
    const char *const texts[] = {"10.1.0.0/29", "10.1.0.0/20", "10.0.0.0/8"};
    const uint32_t values[] = {3, 2, 1};
    struct prefix_table *table = built(texts, values, 3);
    expect_lookup(table, "10.1.0.1", 3);
    expect_lookup(table, "10.1.0.9", 2);
    expect_lookup(table, "10.2.0.0", 1);
    prefix_table_free(table);
}

Test(prefix_table, siblings_and_adjacent_prefixes)
{
    const char *const texts[] = {"192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25",
                                 "198.51.100.0/24", "198.51.101.0/24"};
    const uint32_t values[] = {7, 8, 9, 10, 11};
    struct prefix_table *table = built(texts, values, 5);
    expect_lookup(table, "192.0.2.0", 8);
    expect_lookup(table, "192.0.2.127", 8);
    expect_lookup(table, "192.0.2.128", 9);
    expect_lookup(table, "192.0.2.255", 9);
    expect_lookup(table, "192.0.3.0", -1);
    expect_lookup(table, "192.0.1.255", -1);
    expect_lookup(table, "198.51.100.255", 10);
    expect_lookup(table, "198.51.101.0", 11);
    expect_lookup(table, "198.51.102.0", -1);
    prefix_table_free(table);
}

Test(prefix_table, every_length_of_one_chain)
{
    /* Prefixes of every length around one address; an address first differing from it at bit
     * L lies in exactly the prefixes up to length L, so the answer is L. */
    for (int family_index = 0; family_index < 2; family_index++) {
        bool v4 = family_index == 0;
        struct address base = addr(v4 ? "172.16.85.170" : "2001:db8:5555:aaaa:5555:aaaa:1234:5678");
        unsigned bits = v4 ? 32 : 128;
        struct prefix_table *table = prefix_table_new();
        for (unsigned length = 0; length <= bits; length++) {
            struct prefix prefix = {.address = base, .length = (uint8_t)length};
            for (unsigned bit = length; bit < bits; bit++)
                prefix.address.bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
            cr_assert_eq(prefix_table_add(table, &prefix, length, NULL), 0);
        }
        cr_assert_eq(prefix_table_build(table), 0);
        uint32_t value = 0;
        cr_assert(prefix_table_lookup(table, &base, &value));
        cr_assert_eq(value, bits);
        for (unsigned bit = 0; bit < bits; bit++) {
            struct address other = base;
            other.bytes[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
            cr_assert(prefix_table_lookup(table, &other, &value));
            cr_assert_eq(value, bit, "family %d bit %u: got %u", v4 ? 4 : 6, bit, value);
        }
        prefix_table_free(table);
    }
}

Test(prefix_table, families_stay_apart)
{
    const char *const texts[] = {"0.0.0.0/0", "192.0.2.0/24"};
    const uint32_t values[] = {1, 2};
    struct prefix_table *table = built(texts, values, 2);
    expect_lookup(table, "::", -1);
    expect_lookup(table, "::c000:201", -1);
    expect_lookup(table, "::ffff:192.0.2.1", -1);
    expect_lookup(table, "2001:db8::1", -1);
    expect_lookup(table, "192.0.2.1", 2);
    expect_lookup(table, "0.0.0.0", 1);
    prefix_table_free(table);

    const char *const v6_texts[] = {"::/0", "::c000:200/120", "::ffff:192.0.2.0/120"};
    const uint32_t v6_values[] = {3, 4, 5};
    table = built(v6_texts, v6_values, 3);
    expect_lookup(table, "192.0.2.1", -1);
    expect_lookup(table, "0.0.0.0", -1);
    expect_lookup(table, "255.255.255.255", -1);
    expect_lookup(table, "::c000:201", 4);
    expect_lookup(table, "::ffff:192.0.2.1", 5);
    expect_lookup(table, "2001:db8::1", 3);
    prefix_table_free(table);

    /* An address of no known family matches nothing, even under both /0. */
    const char *const both[] = {"0.0.0.0/0", "::/0"};
    const uint32_t both_values[] = {1, 2};
    table = built(both, both_values, 2);
    struct address unknown = {0};
    uint32_t value;
    cr_assert(!prefix_table_lookup(table, &unknown, &value));
    expect_lookup(table, "203.0.113.9", 1);
    expect_lookup(table, "2001:db8::9", 2);
    prefix_table_free(table);
}

Test(prefix_table, edges_of_the_address_space)
{
    const char *const texts[] = {"0.0.0.0/32",
                                 "255.255.255.255/32",
                                 "255.255.255.0/24",
                                 "::/128",
                                 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
                                 "ffff::/16",
                                 "::1/128",
                                 "0:0:0:1::/64"};
    const uint32_t values[] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct prefix_table *table = built(texts, values, 8);
    expect_lookup(table, "0.0.0.0", 1);
    expect_lookup(table, "0.0.0.1", -1);
    expect_lookup(table, "255.255.255.255", 2);
    expect_lookup(table, "255.255.255.254", 3);
    expect_lookup(table, "255.255.254.255", -1);
    expect_lookup(table, "::", 4);
    expect_lookup(table, "::1", 7);
    expect_lookup(table, "::2", -1);
    expect_lookup(table, "0:0:0:0:ffff:ffff:ffff:ffff", -1);
    expect_lookup(table, "0:0:0:1::", 8);
    expect_lookup(table, "0:0:0:1:ffff:ffff:ffff:ffff", 8);
    expect_lookup(table, "0:0:0:2::", -1);
    expect_lookup(table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 5);
    expect_lookup(table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 6);
    expect_lookup(table, "ffff::", 6);
    expect_lookup(table, "fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", -1);
    prefix_table_free(table);
}

Test(prefix_table, slash_zero_is_the_fallback)
{
    const char *const texts[] = {"0.0.0.0/0", "203.0.113.0/24", "::/0", "2001:db8::/32"};
    const uint32_t values[] = {0, 1, 2, 3};
    struct prefix_table *table = built(texts, values, 4);
    expect_lookup(table, "0.0.0.0", 0);
    expect_lookup(table, "203.0.112.255", 0);
    expect_lookup(table, "203.0.113.0", 1);
    expect_lookup(table, "203.0.114.0", 0);
    expect_lookup(table, "255.255.255.255", 0);
    expect_lookup(table, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 2);
    expect_lookup(table, "2001:db8::", 3);
    expect_lookup(table, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 3);
    expect_lookup(table, "2001:db9::", 2);
    prefix_table_free(table);
}

Test(prefix_table, spans_many_slash_sixteens)
{
    /* A /12 covers sixteen /16 index slots, and a /20 sits across none of their edges. */
    const char *const texts[] = {"100.64.0.0/10", "100.80.0.0/12", "100.95.240.0/20"};
    const uint32_t values[] = {1, 2, 3};
    struct prefix_table *table = built(texts, values, 3);
    expect_lookup(table, "100.63.255.255", -1);
    expect_lookup(table, "100.64.0.0", 1);
    expect_lookup(table, "100.79.255.255", 1);
    expect_lookup(table, "100.80.0.0", 2);
    expect_lookup(table, "100.88.1.2", 2);
    expect_lookup(table, "100.95.239.255", 2);
    expect_lookup(table, "100.95.240.0", 3);
    expect_lookup(table, "100.95.255.255", 3);
    expect_lookup(table, "100.96.0.0", 1);
    expect_lookup(table, "100.127.255.255", 1);
    expect_lookup(table, "100.128.0.0", -1);
    prefix_table_free(table);
}

Test(prefix_table, duplicates_name_the_holder)
{
    struct prefix_table *table = prefix_table_new();
    add(table, "198.51.100.0/24", 4);
    add(table, "2001:db8::/32", 5);
    uint32_t existing = 0;
    struct prefix again = parsed("198.51.100.0/24");
    cr_assert_eq(prefix_table_add(table, &again, 9, &existing), -1);
    cr_assert_eq(existing, 4);
    /* The same prefix spelled differently is still the same prefix. */
    struct prefix spelled = parsed("2001:0db8:0:0::/32");
    existing = 0;
    cr_assert_eq(prefix_table_add(table, &spelled, 9, &existing), -1);
    cr_assert_eq(existing, 5);
    /* Same address, other length: a different prefix. Same bits, other family: too. */
    add(table, "198.51.100.0/25", 6);
    add(table, "198.51.100.0/23", 7);
    add(table, "::c633:6400/120", 8);
    cr_assert_eq(prefix_table_count(table), 5);
    cr_assert_eq(prefix_table_build(table), 0);
    expect_lookup(table, "198.51.100.1", 6);
    expect_lookup(table, "198.51.100.200", 4);
    expect_lookup(table, "198.51.101.200", 7);
    prefix_table_free(table);
}

Test(prefix_table, many_duplicates_keep_the_first_value)
{
    struct prefix_table *table = prefix_table_new();
    for (uint32_t i = 0; i < 5000; i++) {
        struct prefix prefix = {.address = {.family = ADDRESS_V4}, .length = 32};
        prefix.address.bytes[0] = 10;
        prefix.address.bytes[2] = (uint8_t)(i >> 8);
        prefix.address.bytes[3] = (uint8_t)i;
        cr_assert_eq(prefix_table_add(table, &prefix, i, NULL), 0);
    }
    for (uint32_t i = 0; i < 5000; i++) {
        struct prefix prefix = {.address = {.family = ADDRESS_V4}, .length = 32};
        prefix.address.bytes[0] = 10;
        prefix.address.bytes[2] = (uint8_t)(i >> 8);
        prefix.address.bytes[3] = (uint8_t)i;
        uint32_t existing = UINT32_MAX;
        cr_assert_eq(prefix_table_add(table, &prefix, 99999, &existing), -1);
        cr_assert_eq(existing, i);
    }
    cr_assert_eq(prefix_table_count(table), 5000);
    prefix_table_free(table);
}

Test(prefix_table, empty_and_unbuilt)
{
    struct prefix_table *table = prefix_table_new();
    cr_assert_eq(prefix_table_count(table), 0);
    struct address v4 = addr("192.0.2.1");
    uint32_t value;
    /* Before building nothing matches, even what was added. */
    add(table, "192.0.2.0/24", 1);
    cr_assert(!prefix_table_lookup(table, &v4, &value));
    prefix_table_free(table);

    table = prefix_table_new();
    cr_assert_eq(prefix_table_build(table), 0);
    expect_lookup(table, "0.0.0.0", -1);
    expect_lookup(table, "192.0.2.1", -1);
    expect_lookup(table, "255.255.255.255", -1);
    expect_lookup(table, "::", -1);
    expect_lookup(table, "2001:db8::1", -1);
    /* Adding after the build is refused. */
    struct prefix late = parsed("192.0.2.0/24");
    cr_assert_eq(prefix_table_add(table, &late, 1, NULL), -2);
    prefix_table_free(table);
    prefix_table_free(NULL);
}

/* ---- randomized cross-check ---- */

static uint64_t random_state;

static uint64_t random_next(void)
{
    /* xorshift64*: a fixed seed gives the same test every run. */
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return random_state * UINT64_C(2685821657736338717);
}

static void clear_host_bits(struct address *address, unsigned length)
{
    unsigned bits = address->family == ADDRESS_V4 ? 32 : 128;
    for (unsigned bit = length; bit < bits; bit++)
        address->bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

/* Addresses drawn near a few anchors so random prefixes nest and touch each other. */
static struct address random_address(bool v4)
{
    struct address address = {.family = v4 ? ADDRESS_V4 : ADDRESS_V6};
    uint64_t bits = random_next();
    if (v4) {
        static const uint8_t anchors[][2] = {{10, 0}, {100, 64}, {198, 51}, {203, 0}};
        unsigned anchor = bits % 5;
        bits = random_next();
        for (size_t i = 0; i < 4; i++)
            address.bytes[i] = (uint8_t)(bits >> (8 * i));
        if (anchor < 4) {
            address.bytes[0] = anchors[anchor][0];
            address.bytes[1] = (uint8_t)(anchors[anchor][1] + (address.bytes[1] & 3));
        }
    } else {
        unsigned anchor = bits % 3;
        uint64_t high = random_next();
        uint64_t low = random_next();
        for (size_t i = 0; i < 8; i++) {
            address.bytes[i] = (uint8_t)(high >> (8 * i));
            address.bytes[8 + i] = (uint8_t)(low >> (8 * i));
        }
        if (anchor < 2) {
            address.bytes[0] = 0x20;
            address.bytes[1] = 0x01;
            address.bytes[2] = 0x0d;
            address.bytes[3] = anchor == 0 ? 0xb8 : 0xb9;
            address.bytes[4] &= 0x0f;
        }
    }
    return address;
}

static unsigned random_length(bool v4)
{
    uint64_t bits = random_next();
    if (v4)
        return 8 + (unsigned)(bits % 25); /* 8..32 */
    /* Mostly the lengths ISPs use, sometimes anything. */
    static const unsigned common[] = {32, 40, 44, 48, 56, 60, 64, 128};
    if (bits % 4 != 0)
        return common[(bits >> 8) % 8];
    return 16 + (unsigned)((bits >> 8) % 113); /* 16..128 */
}

struct reference_prefix {
    struct prefix prefix;
    uint32_t value;
};

/* Ordered by family, then length, then bytes: one binary search per length finds whether a
 * masked address is a prefix, independent of the flattening under test. */
static int reference_compare(const void *a, const void *b)
{
    const struct prefix *left = &((const struct reference_prefix *)a)->prefix;
    const struct prefix *right = &((const struct reference_prefix *)b)->prefix;
    if (left->address.family != right->address.family)
        return (int)left->address.family - (int)right->address.family;
    if (left->length != right->length)
        return (int)left->length - (int)right->length;
    return memcmp(left->address.bytes, right->address.bytes, 16);
}

static bool reference_lookup(const struct reference_prefix *prefixes, size_t count,
                             const struct address *address, uint32_t *value)
{
    unsigned bits = address->family == ADDRESS_V4 ? 32 : 128;
    for (int length = (int)bits; length >= 0; length--) {
        struct reference_prefix key = {.prefix = {.address = *address, .length = (uint8_t)length}};
        clear_host_bits(&key.prefix.address, (unsigned)length);
        const struct reference_prefix *found =
            bsearch(&key, prefixes, count, sizeof(*prefixes), reference_compare);
        if (found != NULL) {
            *value = found->value;
            return true;
        }
    }
    return false;
}

static bool linear_lookup(const struct reference_prefix *prefixes, size_t count,
                          const struct address *address, uint32_t *value)
{
    int best = -1;
    for (size_t i = 0; i < count; i++) {
        if (prefix_contains(&prefixes[i].prefix, address) &&
            (int)prefixes[i].prefix.length > best) {
            best = prefixes[i].prefix.length;
            *value = prefixes[i].value;
        }
    }
    return best >= 0;
}

/* Adds one to (or, with step -1, subtracts one from) an address, wrapping around. */
static struct address address_step(struct address address, int step)
{
    int last = address.family == ADDRESS_V4 ? 3 : 15;
    for (int i = last; i >= 0; i--) {
        address.bytes[i] = (uint8_t)(address.bytes[i] + step);
        if (address.bytes[i] != (step > 0 ? 0x00 : 0xff))
            break;
    }
    return address;
}

static struct address prefix_last(const struct prefix *prefix)
{
    struct address last = prefix->address;
    unsigned bits = last.family == ADDRESS_V4 ? 32 : 128;
    for (unsigned bit = prefix->length; bit < bits; bit++)
        last.bytes[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    return last;
}

Test(prefix_table, random_cross_check, .timeout = 120)
{
    enum { PREFIX_COUNT = 100000, ADDRESS_COUNT = 200000, LINEAR_CHECKS = 1500 };
    random_state = UINT64_C(0x025b0b25b0b25b01);
    struct reference_prefix *prefixes = malloc(PREFIX_COUNT * sizeof(*prefixes));
    cr_assert_not_null(prefixes);
    struct prefix_table *table = prefix_table_new();
    size_t count = 0;
    size_t duplicates = 0;
    while (count < PREFIX_COUNT) {
        bool v4 = random_next() % 2 == 0;
        struct prefix prefix = {.address = random_address(v4),
                                .length = (uint8_t)random_length(v4)};
        clear_host_bits(&prefix.address, prefix.length);
        uint32_t value = (uint32_t)(random_next() % 1000000);
        uint32_t existing;
        int added = prefix_table_add(table, &prefix, value, &existing);
        cr_assert(added == 0 || added == -1);
        if (added == -1) {
            duplicates++;
            continue;
        }
        prefixes[count++] = (struct reference_prefix){prefix, value};
    }
    cr_assert_eq(prefix_table_count(table), PREFIX_COUNT);
    cr_assert_gt(duplicates, 0, "the generator should hit some duplicates too");
    cr_assert_eq(prefix_table_build(table), 0);

    /* The duplicates found by the table agree with the reference: none left after sorting. */
    struct reference_prefix *sorted = malloc(PREFIX_COUNT * sizeof(*sorted));
    cr_assert_not_null(sorted);
    memcpy(sorted, prefixes, PREFIX_COUNT * sizeof(*sorted));
    qsort(sorted, PREFIX_COUNT, sizeof(*sorted), reference_compare);
    for (size_t i = 1; i < PREFIX_COUNT; i++)
        cr_assert_neq(reference_compare(&sorted[i - 1], &sorted[i]), 0);

    size_t matched = 0;
    for (size_t i = 0; i < ADDRESS_COUNT; i++) {
        struct address address;
        /* Half random addresses, half the first and last address of a prefix and the
         * addresses just outside them. */
        if (i % 2 == 0) {
            address = random_address(random_next() % 2 == 0);
        } else {
            const struct prefix *prefix = &prefixes[random_next() % PREFIX_COUNT].prefix;
            switch ((i / 2) % 4) {
            case 0:
                address = prefix->address;
                break;
            case 1:
                address = prefix_last(prefix);
                break;
            case 2:
                address = address_step(prefix->address, -1);
                break;
            default:
                address = address_step(prefix_last(prefix), 1);
                break;
            }
        }
        uint32_t want = 0;
        uint32_t got = 0;
        bool want_found = reference_lookup(sorted, PREFIX_COUNT, &address, &want);
        bool got_found = prefix_table_lookup(table, &address, &got);
        char text[ADDRESS_TEXT_MAX];
        address_format(&address, text, sizeof(text));
        cr_assert_eq(got_found, want_found, "%s: found %d, want %d", text, got_found, want_found);
        if (want_found) {
            cr_assert_eq(got, want, "%s: value %u, want %u", text, got, want);
            matched++;
        }
        /* The plain linear scan, too slow for every address, confirms the reference. */
        if (i < LINEAR_CHECKS) {
            uint32_t linear = 0;
            cr_assert_eq(linear_lookup(prefixes, PREFIX_COUNT, &address, &linear), want_found);
            if (want_found)
                cr_assert_eq(linear, want);
        }
    }
    /* The check means something only if many addresses hit and many miss. */
    cr_assert_gt(matched, ADDRESS_COUNT / 4);
    cr_assert_lt(matched, ADDRESS_COUNT - ADDRESS_COUNT / 20);
    free(sorted);
    free(prefixes);
    prefix_table_free(table);
}
