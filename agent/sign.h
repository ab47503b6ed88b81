/*
 * sign.h - signing baselines (plcguard register): the only code of plcguard
 * that reads a private key.  A detached CMS SignedData (DER) over the exact
 * manifest bytes, SHA-256, the signer's certificate and chain embedded, with
 * a signingTime.  Before anything is signed the certificate must be valid
 * now and pass the code-signing usage policy.  Policy: docs/TRUST.md.
 * Verification is in pki.h and never touches a private key.
 *
 * Only agent/cmd_register.c and agent/sign.c include this header among the
 * program's sources (tests/e2e/t_source_rules.sh); tests and bench/mkstore.c
 * may.  No global mutable state.
 */
#ifndef PG_SIGN_H
#define PG_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "pki.h"   /* struct pki_signer */

/*
 * Sign msg[0..len) with the key and certificate (PEM files; chain optional,
 * may hold several intermediates).  Refuses, with a message in err, a key that
 * does not match the certificate, a certificate not currently valid, or one
 * without the code-signing usage.  On success *sig is malloc'd DER (caller
 * frees) and signer describes the certificate.  0 on success, -1 on error.
 * An encrypted key is decrypted with $PLCGUARD_KEY_PASS (never prompted for).
 */
int pki_sign(const char *key_pem, const char *cert_pem, const char *chain_pem,
	     const uint8_t *msg, size_t len, uint8_t **sig, size_t *siglen,
	     struct pki_signer *signer, char *err, size_t errlen);

/* Describe a certificate (PEM file) for the manifest and check, before any
 * work is done, that it could sign: valid now and code-signing usage.
 * 0 on success; -1 with err naming the file and the problem. */
int pki_cert_info(const char *cert_pem, struct pki_signer *out, char *err,
		  size_t errlen);

#endif
