#include "policy/geoip.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct geoip {
    bool open[GEOIP_KIND_COUNT];
    MMDB_s databases[GEOIP_KIND_COUNT];
};

static const char *const kind_names[GEOIP_KIND_COUNT] = {"ASN", "Country"};

/* The database types each kind accepts (MaxMind's metadata database_type): the ASN fields
 * are also in ISP databases, the country in City and Enterprise ones. */
static const char *const accepted_types[GEOIP_KIND_COUNT][4] = {
    [GEOIP_ASN] = {"ASN", "ISP", NULL},
    [GEOIP_COUNTRY] = {"Country", "City", "Enterprise", NULL},
};

struct geoip *geoip_new(void)
{
    return calloc(1, sizeof(struct geoip));
}

void geoip_free(struct geoip *geoip)
{
    if (geoip == NULL)
        return;
    for (int kind = 0; kind < GEOIP_KIND_COUNT; kind++) {
        if (geoip->open[kind])
            MMDB_close(&geoip->databases[kind]);
    }
    free(geoip);
}

static bool type_fits(enum geoip_kind kind, const char *type)
{
    if (type == NULL)
        return false;
    for (int i = 0; accepted_types[kind][i] != NULL; i++) {
        if (strcasestr(type, accepted_types[kind][i]) != NULL)
            return true;
    }
    return false;
}

int geoip_open(struct geoip *geoip, enum geoip_kind kind, const char *path, char *error,
               size_t error_size)
{
    MMDB_s database;
    int status = MMDB_open(path, MMDB_MODE_MMAP, &database);
    if (status != MMDB_SUCCESS) {
        snprintf(error, error_size, "%s", MMDB_strerror(status));
        return -1;
    }
    if (!type_fits(kind, database.metadata.database_type)) {
        snprintf(error, error_size, "a %.60s database holds no %s data",
                 database.metadata.database_type != NULL ? database.metadata.database_type
                                                         : "untyped",
                 kind_names[kind]);
        MMDB_close(&database);
        return -1;
    }
    if (geoip->open[kind])
        MMDB_close(&geoip->databases[kind]);
    geoip->databases[kind] = database;
    geoip->open[kind] = true;
    return 0;
}

bool geoip_has(const struct geoip *geoip, enum geoip_kind kind)
{
    return geoip != NULL && geoip->open[kind];
}

static bool lookup_entry(const MMDB_s *database, const struct address *address,
                         MMDB_lookup_result_s *result)
{
    int status = MMDB_SUCCESS;
    if (address->family == ADDRESS_V4) {
        struct sockaddr_in in4 = {.sin_family = AF_INET};
        memcpy(&in4.sin_addr, address->bytes, 4);
        *result = MMDB_lookup_sockaddr(database, (const struct sockaddr *)&in4, &status);
    } else if (address->family == ADDRESS_V6) {
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        memcpy(&in6.sin6_addr, address->bytes, 16);
        *result = MMDB_lookup_sockaddr(database, (const struct sockaddr *)&in6, &status);
    } else {
        return false;
    }
    return status == MMDB_SUCCESS && result->found_entry;
}

/* RFC 3629 section 4: the length a lead byte announces; 0 for a byte that cannot lead. */
static size_t utf8_sequence_length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xc2 && lead <= 0xdf)
        return 2;
    if ((lead & 0xf0) == 0xe0)
        return 3;
    if (lead >= 0xf0 && lead <= 0xf4)
        return 4;
    return 0;
}

/* Event lines pass bytes of 0x80 and above through as they are, so what a database says
 * goes in as whole, valid UTF-8 sequences or '?', and is cut between characters. */
static void copy_utf8(char *destination, size_t capacity, const char *source, size_t length)
{
    size_t out = 0;
    size_t i = 0;
    while (i < length && out + 1 < capacity) {
        unsigned char lead = (unsigned char)source[i];
        size_t need = utf8_sequence_length(lead);
        bool valid = need > 0 && i + need <= length && !(need == 1 && lead < 0x20);
        for (size_t k = 1; valid && k < need; k++)
            valid = ((unsigned char)source[i + k] & 0xc0) == 0x80;
        if (!valid) {
            destination[out++] = '?';
            i++;
            continue;
        }
        if (out + need >= capacity)
            break;
        memcpy(destination + out, source + i, need);
        out += need;
        i += need;
    }
    destination[out] = '\0';
}

static void lookup_asn(const MMDB_s *database, const struct address *address,
                       struct geoip_result *result)
{
    MMDB_lookup_result_s found;
    if (!lookup_entry(database, address, &found))
        return;
    MMDB_entry_data_s data;
    if (MMDB_get_value(&found.entry, &data, "autonomous_system_number", NULL) != MMDB_SUCCESS ||
        !data.has_data || data.type != MMDB_DATA_TYPE_UINT32)
        return;
    result->has_asn = true;
    result->asn = data.uint32;
    if (MMDB_get_value(&found.entry, &data, "autonomous_system_organization", NULL) ==
            MMDB_SUCCESS &&
        data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING)
        copy_utf8(result->as_org, sizeof(result->as_org), data.utf8_string, data.data_size);
}

static void lookup_country(const MMDB_s *database, const struct address *address,
                           struct geoip_result *result)
{
    MMDB_lookup_result_s found;
    if (!lookup_entry(database, address, &found))
        return;
    MMDB_entry_data_s data;
    /* The country the address is in; registered_country only when that is not known. */
    if ((MMDB_get_value(&found.entry, &data, "country", "iso_code", NULL) != MMDB_SUCCESS ||
         !data.has_data) &&
        (MMDB_get_value(&found.entry, &data, "registered_country", "iso_code", NULL) !=
             MMDB_SUCCESS ||
         !data.has_data))
        return;
    if (data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
        return;
    for (int i = 0; i < 2; i++) {
        char c = data.utf8_string[i];
        if (c < 'A' || c > 'Z')
            return;
    }
    result->has_country = true;
    memcpy(result->country, data.utf8_string, 2);
    result->country[2] = '\0';
}

bool geoip_lookup(const struct geoip *geoip, const struct address *address,
                  struct geoip_result *result)
{
    memset(result, 0, sizeof(*result));
    if (geoip == NULL)
        return false;
    if (geoip->open[GEOIP_ASN])
        lookup_asn(&geoip->databases[GEOIP_ASN], address, result);
    if (geoip->open[GEOIP_COUNTRY])
        lookup_country(&geoip->databases[GEOIP_COUNTRY], address, result);
    return result->has_asn || result->has_country;
}
