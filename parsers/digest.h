/*
 * digest.h - SHA-256 helpers shared by parsers and the agent (OpenSSL EVP,
 * which picks the SHA-NI / AVX2 code path for this CPU).
 */
#ifndef PG_DIGEST_H
#define PG_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define PG_SHA256_LEN 32
#define PG_SHA256_HEX 65   /* 64 hex digits + NUL */

void pg_sha256(const void *data, size_t len, uint8_t out[32]);

/* Incremental hashing; the context is opaque (an EVP_MD_CTX). */
struct pg_sha256_ctx;
struct pg_sha256_ctx *pg_sha256_new(void);  /* NULL only on allocation failure */
void pg_sha256_update(struct pg_sha256_ctx *c, const void *data, size_t len);
void pg_sha256_final(struct pg_sha256_ctx *c, uint8_t out[32]); /* also resets */
void pg_sha256_free(struct pg_sha256_ctx *c);

/* Lower-case hex; out must hold 2*len+1 bytes.  Returns out. */
char *pg_hex(const uint8_t *in, size_t len, char *out);
/* Parse exactly 2*len hex digits; 0 on success. */
int pg_unhex(const char *hex, uint8_t *out, size_t len);
/* The value of one hex digit, -1 when c is not one. */
int pg_hexval(int c);

#endif
