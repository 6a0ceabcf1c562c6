/* Enrichment from MaxMind databases (`geoip` in rules/README.md): the autonomous system and
 * the country of a server address. The databases are opened once, when the policy loads,
 * so a missing or broken file stops start-up; lookups after that never allocate. */
#ifndef OP25B_GEOIP_H
#define OP25B_GEOIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/address.h"

#define GEOIP_ORG_MAX 96    /* autonomous_system_organization kept, cut on a UTF-8 boundary */
#define GEOIP_COUNTRY_MAX 4 /* ISO 3166-1 alpha-2 code and its NUL */

enum geoip_kind { GEOIP_ASN = 0, GEOIP_COUNTRY, GEOIP_KIND_COUNT };

struct geoip;

/* What the databases hold for one address; each part is absent when its database is not
 * configured or has no entry for the address. */
struct geoip_result {
    bool has_asn;
    uint32_t asn;
    char as_org[GEOIP_ORG_MAX]; /* empty when the entry names no organisation */
    bool has_country;
    char country[GEOIP_COUNTRY_MAX];
};

struct geoip *geoip_new(void);
void geoip_free(struct geoip *geoip);

/* Opens the database of one kind. It must be a MaxMind DB whose type fits the kind (an ASN
 * or ISP database for GEOIP_ASN; a Country or City database for GEOIP_COUNTRY). Returns 0,
 * or -1 with the reason in error. */
int geoip_open(struct geoip *geoip, enum geoip_kind kind, const char *path, char *error,
               size_t error_size);
bool geoip_has(const struct geoip *geoip, enum geoip_kind kind);

/* Looks the address up in every open database; false when nothing was found. A lookup the
 * database cannot answer (a damaged record) finds nothing. */
bool geoip_lookup(const struct geoip *geoip, const struct address *address,
                  struct geoip_result *result);

#endif
