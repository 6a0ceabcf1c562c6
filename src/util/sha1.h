/* SHA-1 (FIPS 180-4) of a short message in one call: what a Community ID hashes (at most
 * 40 bytes, one block) once per event. Only for that: SHA-1 protects nothing here, it only
 * names a flow the way other tools name it. */
#ifndef OP25B_SHA1_H
#define OP25B_SHA1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LENGTH 20

void sha1_digest(const void *data, size_t length, uint8_t digest[SHA1_DIGEST_LENGTH]);
/* Whether sha1_digest uses the processor's SHA instructions; the portable rounds always,
 * so tests check both on a machine that has them. */
bool sha1_accelerated(void);
void sha1_digest_portable(const void *data, size_t length, uint8_t digest[SHA1_DIGEST_LENGTH]);

#endif
