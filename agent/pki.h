/*
 * pki.h - verifying baselines (verify, watch, sniff): OpenSSL CMS (detached,
 * DER) over the exact manifest bytes, X.509 chains to the plant's trust
 * anchors, the code-signing usage policy, certificate validity at signing
 * time, and revocation from CRLs and (optionally) OCSP.  Also struct
 * pki_signer, the description of a signer's certificate that manifests
 * carry.  Policy: docs/TRUST.md.  Signing (plcguard register) is in sign.h.
 *
 * Nothing declared here touches a private key.
 * Concurrent pki_verify() calls on one loaded struct pki_trust are safe (it
 * remembers, under its own lock, which CRL signatures it has checked, so a
 * CRL is checked once per run, not once per baseline).  No global mutable
 * state.
 */
#ifndef PG_PKI_H
#define PG_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A signer's certificate, as a manifest records it (pki_cert_info() and
 * pki_sign() of sign.h fill it) and pki_verify() reports it. */
struct pki_signer {
	char subject[512];     /* RFC 2253 one-line form */
	char issuer[512];
	char serial[80];       /* hex */
	char cert_sha256[65];  /* SHA-256 of the DER certificate, hex */
	time_t not_before, not_after;
};

enum pki_verdict {
	PKI_OK = 0,
	PKI_BAD_SIGNATURE,      /* malformed CMS, or signature does not match the bytes */
	PKI_UNTRUSTED,          /* chain does not reach an anchor in --trust */
	PKI_EXPIRED,            /* signer (or a CA) had expired at signing time */
	PKI_NOT_YET_VALID,      /* signer (or a CA) not yet valid at signing time */
	PKI_BAD_USAGE,          /* signer lacks the code-signing usage policy */
	PKI_REVOKED,            /* signer or an intermediate is revoked */
	PKI_REVOCATION_UNKNOWN, /* no CRL / OCSP answer for some CA in the chain */
	PKI_ERROR,              /* could not check at all (I/O, allocation) */
};

const char *pki_verdict_name(enum pki_verdict v); /* "ok", "bad-signature", ... */

struct pki_trust;

/*
 * Load every certificate (PEM or DER, one or many per file) from trust_dir as
 * anchors, every CRL from crl_dir (may be NULL), and enable OCSP queries to
 * the responder named in each certificate's AIA when ocsp != 0.
 * NULL with err filled on failure (no anchors, unreadable dir, bad file:
 * the file is named).
 */
struct pki_trust *pki_trust_load(const char *trust_dir, const char *crl_dir,
				 int ocsp, char *err, size_t errlen);
void pki_trust_free(struct pki_trust *t);

struct pki_result {
	enum pki_verdict verdict;
	char detail[512];         /* why, for people: names the certificate */
	struct pki_signer signer; /* filled whenever the signer cert was found */
	time_t signing_time;      /* CMS signingTime attribute; 0 if absent */
	int expired_since;        /* valid at signing time, expired now (warning) */
	char revocation[16];      /* "crl", "ocsp", "unknown" */
};

/*
 * Verify the detached CMS signature sig over msg.  Returns 0 when the check
 * could be carried out (the verdict, which may be a failure, is in res) and
 * -1 only on PKI_ERROR.
 */
int pki_verify(struct pki_trust *t, const uint8_t *sig, size_t siglen,
	       const uint8_t *msg, size_t len, struct pki_result *res);

#endif
