/* One address type for IPv4 and IPv6, so every table and event handles both alike. */
#ifndef OP25B_ADDRESS_H
#define OP25B_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ADDRESS_V4 = 4, ADDRESS_V6 = 6 };

/* IP protocol numbers (IANA) the sensor names. */
enum {
    IPPROTO_NUMBER_ICMP = 1,
    IPPROTO_NUMBER_TCP = 6,
    IPPROTO_NUMBER_UDP = 17,
    IPPROTO_NUMBER_ICMPV6 = 58
};

/* IPv4 lives in bytes[0..3] with the rest zero, so equal addresses are equal bytes. */
struct address {
    uint8_t family; /* ADDRESS_V4 or ADDRESS_V6 */
    uint8_t bytes[16];
};

/* Longest text address_format writes, including the terminating NUL. */
#define ADDRESS_TEXT_MAX 46

bool address_parse(const char *text, struct address *out);
/* Returns the text length; writes "-" for an address of unknown family. */
size_t address_format(const struct address *address, char *buffer, size_t size);
int address_compare(const struct address *a, const struct address *b);
bool address_equal(const struct address *a, const struct address *b);
void address_set_v4(struct address *out, const uint8_t bytes[4]);
void address_set_v6(struct address *out, const uint8_t bytes[16]);
static inline size_t address_length(const struct address *address)
{
    return address->family == ADDRESS_V4 ? 4 : 16;
}

#endif
