/*
 * pki_int.h - internal to the PKI code: the helpers that the verifier
 * (agent/pki.c) and the signer (agent/sign.c) both use, defined once in
 * agent/pki_util.c.  Text for messages (names, times, OpenSSL errors),
 * reading a bounded file, parsing certificates and CRLs (PEM or DER), and
 * the code-signing usage policy, which register applies before signing and
 * the verifier after.  Nothing here loads a private key for use: a PEM file
 * that holds one is refused by pki_parse_objects() (OpenSSL's PEM reader
 * has decoded the block by then; the key is freed with the rest).
 *
 * Only pki.c, sign.c and pki_util.c include this header
 * (tests/e2e/t_source_rules.sh).  Everyone else uses pki.h or sign.h.
 */
#ifndef PG_PKI_INT_H
#define PG_PKI_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "pki.h"

/* snprintf into buf[0..n) (nothing when buf is NULL or n is 0). */
__attribute__((format(printf, 3, 4)))
void pki_say(char *buf, size_t n, const char *fmt, ...);

/* The most recent OpenSSL error as text (or "unknown error"); clears the queue. */
const char *pki_ossl_err(char *buf, size_t n);

/* A name in RFC 2253 one-line form, cut to n - 1 characters ("" on error). */
void pki_name_str(const X509_NAME *nm, char *out, size_t n);

/* x's subject name, as pki_name_str(); returns buf. */
const char *pki_subj(const X509 *x, char *buf, size_t n);

/* An ASN.1 time as time_t (UTC).  0, or -1 when it does not convert. */
int pki_asn1_time(const ASN1_TIME *a, time_t *out);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC); returns buf. */
const char *pki_fmt_time(time_t t, char *buf, size_t n);

/* An ASN.1 time as pki_fmt_time(), or "(bad time)"; returns buf. */
const char *pki_fmt_asn1(const ASN1_TIME *a, char *buf, size_t n);

/* Subject, issuer, serial (lower-case hex), SHA-256 of the DER certificate
 * and the validity of x. */
void pki_fill_signer(X509 *x, struct pki_signer *s);

/*
 * The code-signing usage policy for the signer's (leaf) certificate:
 * extendedKeyUsage present and listing id-kp-codeSigning; keyUsage, when
 * present, including digitalSignature; not a CA.  0 when it holds, else -1
 * with why naming the certificate.
 */
int pki_codesign_policy(X509 *x, char *why, size_t n);

/* Read a whole file of at most PKI_MAX_FILE bytes; *buf is malloc'd and
 * NUL-terminated.  0, or -1 with err naming the file. */
int pki_slurp(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);

/* Does b[0..n) hold a PEM block ("-----BEGIN ")? */
int pki_is_pem(const uint8_t *b, size_t n);

/*
 * Parse every certificate (want_crls == 0, onto certs) or CRL (want_crls != 0,
 * onto crls) of one file, PEM (one or many blocks) or DER (one or many
 * concatenated objects).  A PEM file that holds a private key is refused:
 * certificate, trust and CRL files hold public material only.  0, or -1 with
 * err naming path.
 */
int pki_parse_objects(const char *path, const uint8_t *b, size_t n, int want_crls,
		      STACK_OF(X509) *certs, STACK_OF(X509_CRL) *crls,
		      char *err, size_t errlen);

#endif
