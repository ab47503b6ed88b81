/*
 * pki.c - verifying baselines: detached CMS signatures over manifests, X.509
 * chains to the plant's trust anchors, code-signing usage policy, validity
 * at signing time and revocation (CRL, optionally OCSP).  The policy is
 * written up in docs/TRUST.md; keep the two in step.  Signing, the only code
 * that reads a private key, is in agent/sign.c; the helpers both use are in
 * agent/pki_util.c (agent/pki_int.h).  Nothing here reads a private key,
 * and tests/e2e/t_source_rules.sh checks that this file calls no signing or
 * key-loading function.
 *
 * Thread safety: no global mutable state.  Any number of threads may call
 * pki_verify() on one pki_trust at the same time: the anchors and CRLs are
 * never modified after pki_trust_load() returns (OpenSSL 3 locks its own
 * shared objects: the X509_STORE and the certificates' extension caches; the
 * CRLs' revoked lists are sorted once at load time), and the one thing that
 * grows afterwards, each CRL's remembered signature result per issuer key,
 * is guarded by the trust object's mutex.
 *
 * Cost per signature: the trust anchors and CRLs are read and parsed once,
 * each CRL's scope worked out once at load, and each CRL's own signature
 * checked once per issuer key and run; what is left per baseline is the CMS
 * signature, the chain and the revocation look-ups.
 */
#include "pki.h"

#include "digest.h"
#include "pg_limits.h"
#include "pki_int.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PKI_CLOCK_SKEW     300           /* seconds tolerated for clocks ahead */
#define PKI_OCSP_TIMEOUT   5             /* seconds per OCSP exchange */

/*
 * What a CRL says about itself, worked out once at load time, and whether its
 * signature verifies with a given issuer key, worked out the first time that
 * key is met and then remembered for the life of the trust object: a store of
 * thousands of baselines signed under one intermediate checks each CRL's
 * signature once per run, not once per baseline.
 */
struct crl_keyres {
	unsigned char key[32];      /* SHA-256 of the issuer's public key */
	int ok;                     /* X509_CRL_verify() == 1 */
};

struct crl_info {
	X509_CRL *crl;              /* owned by pki_trust.crls */
	int unusable;               /* delta, unknown critical extension, bad or
				     * limiting issuingDistributionPoint */
	int only_user, only_ca;     /* IDP scope */
	struct crl_keyres *keys;    /* under pki_trust.lock */
	size_t n_keys;
};

struct pki_trust {
	X509_STORE *store;          /* the anchors; no CRLs, no flags */
	STACK_OF(X509_CRL) *crls;
	struct crl_info *ci;        /* one per CRL, same order */
	pthread_mutex_t lock;       /* guards crl_info.keys */
	int lock_ok;
	int ocsp;
};

/* ------------------------------------------------------------------ */
/* trust and CRL folders                                               */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every regular, non-hidden file of dir (sorted by name). */
static int load_dir(const char *dir, int want_crls, STACK_OF(X509) *certs,
		    STACK_OF(X509_CRL) *crls, int *nfiles, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0, cap = 0;
	int rc = -1;

	*nfiles = 0;
	if (!d) {
		pki_say(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (nn == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nb;
			if (ncap > 100000) {
				pki_say(err, errlen, "%s: too many files", dir);
				goto out;
			}
			nb = realloc(names, ncap * sizeof *names);
			if (!nb)
				goto oom;
			names = nb;
			cap = ncap;
		}
		names[nn] = strdup(de->d_name);
		if (!names[nn])
			goto oom;
		nn++;
	}
	if (nn)
		qsort(names, nn, sizeof *names, cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char path[4096];
		struct stat st;
		uint8_t *buf;
		size_t len;
		int r;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path) {
			pki_say(err, errlen, "%s/%s: path too long", dir, names[i]);
			goto out;
		}
		if (stat(path, &st) != 0) {
			pki_say(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (pki_slurp(path, &buf, &len, err, errlen) < 0)
			goto out;
		r = pki_parse_objects(path, buf, len, want_crls, certs, crls, err, errlen);
		free(buf);
		if (r < 0)
			goto out;
		(*nfiles)++;
	}
	rc = 0;
	goto out;
oom:
	pki_say(err, errlen, "%s: out of memory", dir);
out:
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* ------------------------------------------------------------------ */
/* trust store                                                         */

static void crl_describe(X509_CRL *crl, struct crl_info *ci);

struct pki_trust *pki_trust_load(const char *trust_dir, const char *crl_dir,
				 int ocsp, char *err, size_t errlen)
{
	struct pki_trust *t;
	STACK_OF(X509) *certs = NULL;
	int nfiles = 0;
	char e[256];

	if (!trust_dir) {
		pki_say(err, errlen, "no trust folder given");
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (!t) {
		pki_say(err, errlen, "out of memory");
		return NULL;
	}
	t->ocsp = ocsp != 0;
	t->lock_ok = pthread_mutex_init(&t->lock, NULL) == 0;
	t->store = X509_STORE_new();
	t->crls = sk_X509_CRL_new_null();
	certs = sk_X509_new_null();
	if (!t->store || !t->crls || !certs) {
		pki_say(err, errlen, "out of memory");
		goto fail;
	}
	if (load_dir(trust_dir, 0, certs, NULL, &nfiles, err, errlen) < 0)
		goto fail;
	if (sk_X509_num(certs) == 0) {
		pki_say(err, errlen, "%s: no trust anchors (no certificate files)", trust_dir);
		goto fail;
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		/* Fill the extension cache now, before threads share x. */
		X509_check_purpose(x, -1, 0);
		if (!X509_STORE_add_cert(t->store, x)) {
			pki_say(err, errlen, "%s: cannot add anchor '%s': %s", trust_dir,
			    pki_subj(x, e, sizeof e), "X509_STORE_add_cert failed");
			goto fail;
		}
	}
	if (crl_dir) {
		if (load_dir(crl_dir, 1, NULL, t->crls, &nfiles, err, errlen) < 0)
			goto fail;
		for (int i = 0; i < sk_X509_CRL_num(t->crls); i++) {
			/* Sort the revoked list now (OpenSSL sorts lazily on lookup). */
			X509_CRL *c = sk_X509_CRL_value(t->crls, i);
			X509_REVOKED *r;
			ASN1_INTEGER *z = ASN1_INTEGER_new();
			if (z) {
				ASN1_INTEGER_set(z, 0);
				X509_CRL_get0_by_serial(c, &r, z);
				ASN1_INTEGER_free(z);
			}
		}
	}
	/* Each CRL's scope, once; its signature per issuer key on first use. */
	t->ci = calloc((size_t)sk_X509_CRL_num(t->crls) + 1, sizeof *t->ci);
	if (!t->ci) {
		pki_say(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < sk_X509_CRL_num(t->crls); i++)
		crl_describe(sk_X509_CRL_value(t->crls, i), &t->ci[i]);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return t;
fail:
	sk_X509_pop_free(certs, X509_free);
	pki_trust_free(t);
	ERR_clear_error();
	return NULL;
}

void pki_trust_free(struct pki_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	if (t->ci)
		for (int i = 0; i < sk_X509_CRL_num(t->crls); i++)
			free(t->ci[i].keys);
	free(t->ci);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	if (t->lock_ok)
		pthread_mutex_destroy(&t->lock);
	free(t);
}

const char *pki_verdict_name(enum pki_verdict v)
{
	switch (v) {
	case PKI_OK: return "ok";
	case PKI_BAD_SIGNATURE: return "bad-signature";
	case PKI_UNTRUSTED: return "untrusted";
	case PKI_EXPIRED: return "expired";
	case PKI_NOT_YET_VALID: return "not-yet-valid";
	case PKI_BAD_USAGE: return "bad-usage";
	case PKI_REVOKED: return "revoked";
	case PKI_REVOCATION_UNKNOWN: return "revocation-unknown";
	case PKI_ERROR: return "error";
	}
	return "error";
}

/* ------------------------------------------------------------------ */
/* verification                                                        */

enum rstat { RS_GOOD, RS_REVOKED, RS_UNKNOWN };

struct rinfo {
	enum rstat st;
	int via_ocsp;
	char why[400];   /* unknown: why; revoked: when and how */
};

static const char *crl_reason_str(int r)
{
	static const char *const names[] = {
		"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "(7)",
		"removeFromCRL", "privilegeWithdrawn", "aACompromise",
	};
	if (r >= 0 && r < (int)(sizeof names / sizeof names[0]))
		return names[r];
	return "(unknown reason)";
}

/* What a CRL says about its own scope, once per CRL at load time: a delta
 * CRL, an unknown critical extension, an undecodable or repeated
 * issuingDistributionPoint, or one limited to some reasons, indirect or for
 * attribute certificates never speaks for anyone. */
static void crl_describe(X509_CRL *crl, struct crl_info *ci)
{
	const STACK_OF(X509_EXTENSION) *exts = X509_CRL_get0_extensions(crl);
	ISSUING_DIST_POINT *idp;
	int crit = -1;

	memset(ci, 0, sizeof *ci);
	ci->crl = crl;
	if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
		ci->unusable = 1;
		return;
	}
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		if (X509_EXTENSION_get_critical(ext) && nid != NID_issuing_distribution_point &&
		    nid != NID_authority_key_identifier && nid != NID_crl_number) {
			ci->unusable = 1;
			return;
		}
	}
	idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
	if (!idp) {
		ERR_clear_error();
		/* absent: fine; present but undecodable / repeated: no */
		ci->unusable = crit != -1;
		return;
	}
	if (idp->onlysomereasons || idp->indirectCRL || idp->onlyattr > 0)
		ci->unusable = 1;
	ci->only_user = idp->onlyuser > 0;
	ci->only_ca = idp->onlyCA > 0;
	ISSUING_DIST_POINT_free(idp);
}

/* Whether a CRL may speak for x at all. */
static int crl_usable(const struct crl_info *ci, X509 *x)
{
	if (ci->unusable)
		return 0;
	if (ci->only_user && (X509_get_extension_flags(x) & EXFLAG_CA))
		return 0;
	if (ci->only_ca && !(X509_get_extension_flags(x) & EXFLAG_CA))
		return 0;
	return 1;
}

/*
 * Does the CRL's signature verify with the issuer's key?  Remembered per
 * issuer key (SHA-256 of its SubjectPublicKeyInfo), so each CRL is checked
 * once per key and run.  The key, not the certificate, decides the result,
 * and the same intermediate arrives in every signature as a new object.
 */
static int crl_sig_ok(struct pki_trust *t, struct crl_info *ci, X509 *issuer)
{
	EVP_PKEY *ik = X509_get0_pubkey(issuer);
	unsigned char *der = NULL;
	unsigned char key[32];
	int dlen, ok;

	if (!ik) {
		ERR_clear_error();
		return 0;
	}
	dlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &der);
	if (dlen <= 0 || !der) {
		ERR_clear_error();
		ok = X509_CRL_verify(ci->crl, ik) == 1;   /* not cached */
		ERR_clear_error();
		return ok;
	}
	pg_sha256(der, (size_t)dlen, key);
	OPENSSL_free(der);
	if (t->lock_ok)
		pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < ci->n_keys; i++)
		if (memcmp(ci->keys[i].key, key, sizeof key) == 0) {
			ok = ci->keys[i].ok;
			if (t->lock_ok)
				pthread_mutex_unlock(&t->lock);
			return ok;
		}
	if (t->lock_ok)
		pthread_mutex_unlock(&t->lock);
	ok = X509_CRL_verify(ci->crl, ik) == 1;
	ERR_clear_error();
	if (t->lock_ok)
		pthread_mutex_lock(&t->lock);
	/* A few keys per CRL at most (its issuer, and whoever else has the
	 * issuer's name); bounded so a hostile set of signatures cannot grow it
	 * without end. */
	if (ci->n_keys < 64) {
		struct crl_keyres *nk = realloc(ci->keys, (ci->n_keys + 1) * sizeof *nk);
		if (nk) {
			ci->keys = nk;
			memcpy(nk[ci->n_keys].key, key, sizeof key);
			nk[ci->n_keys].ok = ok;
			ci->n_keys++;
		}
	}
	if (t->lock_ok)
		pthread_mutex_unlock(&t->lock);
	return ok;
}

static void crl_status(struct pki_trust *t, X509 *x, X509 *issuer, time_t now,
		       struct rinfo *ri)
{
	X509_CRL *best = NULL;
	char in[256], s[256], tb[32];
	int badsig = 0;

	pki_name_str(X509_get_subject_name(issuer), in, sizeof in);
	pki_subj(x, s, sizeof s);
	for (int i = 0; i < sk_X509_CRL_num(t->crls); i++) {
		X509_CRL *c = sk_X509_CRL_value(t->crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(issuer)) != 0)
			continue;
		if (!crl_usable(&t->ci[i], x))
			continue;
		if (!crl_sig_ok(t, &t->ci[i], issuer)) {
			badsig++;
			continue;
		}
		if (!best || ASN1_TIME_compare(X509_CRL_get0_lastUpdate(c),
					       X509_CRL_get0_lastUpdate(best)) > 0)
			best = c;
	}
	if (!best) {
		ri->st = RS_UNKNOWN;
		if (badsig)
			pki_say(ri->why, sizeof ri->why, "the CRL of '%s' does not verify with its key", in);
		else
			pki_say(ri->why, sizeof ri->why, "no CRL from '%s'", in);
		return;
	}
	if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(issuer) & KU_CRL_SIGN)) {
		ri->st = RS_UNKNOWN;
		pki_say(ri->why, sizeof ri->why, "'%s' may not sign CRLs (keyUsage lacks cRLSign)", in);
		return;
	}
	X509_REVOKED *rev = NULL;
	if (X509_CRL_get0_by_cert(best, &rev, x) == 1 && rev) {
		int reason = -1;
		ASN1_ENUMERATED *re = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
		if (re) {
			reason = (int)ASN1_ENUMERATED_get(re);
			ASN1_ENUMERATED_free(re);
		}
		ERR_clear_error();
		ri->st = RS_REVOKED;
		pki_say(ri->why, sizeof ri->why, "'%s' was revoked on %s (%s) per the CRL of '%s'", s,
		    pki_fmt_asn1(X509_REVOKED_get0_revocationDate(rev), tb, sizeof tb),
		    reason >= 0 ? crl_reason_str(reason) : "no reason given", in);
		return;
	}
	ERR_clear_error();
	time_t skewed = now + PKI_CLOCK_SKEW;
	if (X509_cmp_time(X509_CRL_get0_lastUpdate(best), &skewed) > 0) {
		ri->st = RS_UNKNOWN;
		pki_say(ri->why, sizeof ri->why, "the CRL of '%s' is not yet valid (thisUpdate %s)", in,
		    pki_fmt_asn1(X509_CRL_get0_lastUpdate(best), tb, sizeof tb));
		return;
	}
	const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(best);
	if (nu && X509_cmp_time(nu, &now) < 0) {
		ri->st = RS_UNKNOWN;
		pki_say(ri->why, sizeof ri->why, "the CRL of '%s' expired on %s", in,
		    pki_fmt_asn1(nu, tb, sizeof tb));
		return;
	}
	ri->st = RS_GOOD;
}

/* First http:// OCSP URL of x's authorityInfoAccess, malloc'd, or NULL. */
static char *ocsp_url(X509 *x, int *have_https)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(x);
	char *u = NULL;
	*have_https = 0;
	for (int i = 0; i < sk_OPENSSL_STRING_num(urls) && !u; i++) {
		const char *v = sk_OPENSSL_STRING_value(urls, i);
		if (strncmp(v, "http://", 7) == 0)
			u = strdup(v);
		else if (strncmp(v, "https://", 8) == 0)
			*have_https = 1;
	}
	X509_email_free(urls);
	return u;
}

static void ocsp_status(const struct pki_trust *t, X509 *x, X509 *issuer,
			STACK_OF(X509) *untrusted, struct rinfo *ri)
{
	char *url, *host = NULL, *port = NULL, *path = NULL;
	int https = 0, ssl = 0, st, reason = -1;
	OCSP_CERTID *id = NULL, *rid = NULL;
	OCSP_REQUEST *req = NULL;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	BIO *rq = NULL, *rs = NULL;
	ASN1_GENERALIZEDTIME *revt = NULL, *thisu = NULL, *nextu = NULL;
	char e[256], s[256], tb[32];

	pki_subj(x, s, sizeof s);
	url = ocsp_url(x, &https);
	if (!url) {
		pki_say(ri->why + strlen(ri->why), sizeof ri->why - strlen(ri->why),
		    https ? "; OCSP: only https responders named (not supported)"
			  : "; OCSP: no responder named in the certificate");
		return;
	}
#define OCSP_FAIL(...) do { \
		size_t l_ = strlen(ri->why); \
		pki_say(ri->why + l_, sizeof ri->why - l_, "; OCSP %s: ", url); \
		l_ = strlen(ri->why); \
		pki_say(ri->why + l_, sizeof ri->why - l_, __VA_ARGS__); \
		goto out; } while (0)

	ERR_clear_error();
	if (!OSSL_HTTP_parse_url(url, &ssl, NULL, &host, &port, NULL, &path, NULL, NULL))
		OCSP_FAIL("bad URL");
	if (ssl)
		OCSP_FAIL("https is not supported");
	id = OCSP_cert_to_id(EVP_sha1(), x, issuer);
	rid = id ? OCSP_CERTID_dup(id) : NULL;
	req = OCSP_REQUEST_new();
	if (!id || !rid || !req || !OCSP_request_add0_id(req, rid))
		OCSP_FAIL("cannot build request");
	rid = NULL; /* owned by req */
	if (!OCSP_request_add1_nonce(req, NULL, -1))
		OCSP_FAIL("cannot add nonce");
	rq = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OCSP_REQUEST), (const ASN1_VALUE *)req);
	if (!rq)
		OCSP_FAIL("cannot encode request");
	rs = OSSL_HTTP_transfer(NULL, host, port, path, 0, NULL, NULL, NULL, NULL, NULL, NULL,
				0, NULL, "application/ocsp-request", rq,
				"application/ocsp-response", 1, PKI_OCSP_MAX_RESP,
				PKI_OCSP_TIMEOUT, 0);
	if (!rs)
		OCSP_FAIL("no answer (%s)", pki_ossl_err(e, sizeof e));
	resp = d2i_OCSP_RESPONSE_bio(rs, NULL);
	if (!resp)
		OCSP_FAIL("malformed response");
	st = OCSP_response_status(resp);
	if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		OCSP_FAIL("responder error '%s'", OCSP_response_status_str(st));
	bs = OCSP_response_get1_basic(resp);
	if (!bs)
		OCSP_FAIL("not a basic response");
	switch (OCSP_check_nonce(req, bs)) {
	case 1: /* echoed */
	case 3: /* responder does not do nonces: freshness from thisUpdate/nextUpdate */
		break;
	default:
		OCSP_FAIL("nonce mismatch");
	}
	if (OCSP_basic_verify(bs, untrusted, t->store, 0) <= 0)
		OCSP_FAIL("response not signed by a trusted responder (%s)", pki_ossl_err(e, sizeof e));
	if (OCSP_resp_find_status(bs, id, &st, &reason, &revt, &thisu, &nextu) != 1)
		OCSP_FAIL("no status for '%s' in the response", s);
	if (OCSP_check_validity(thisu, nextu, PKI_CLOCK_SKEW, -1) != 1)
		OCSP_FAIL("response is stale or not yet valid");
	switch (st) {
	case V_OCSP_CERTSTATUS_GOOD:
		ri->st = RS_GOOD;
		ri->via_ocsp = 1;
		ri->why[0] = '\0';
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		ri->st = RS_REVOKED;
		ri->via_ocsp = 1;
		pki_say(ri->why, sizeof ri->why, "'%s' was revoked on %s (%s) per OCSP %s", s,
		    pki_fmt_asn1(revt, tb, sizeof tb),
		    reason >= 0 ? crl_reason_str(reason) : "no reason given", url);
		break;
	default:
		OCSP_FAIL("responder does not know '%s'", s);
	}
#undef OCSP_FAIL
out:
	ERR_clear_error();
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	BIO_free(rs);
	BIO_free(rq);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(rid);
	OCSP_CERTID_free(id);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	free(url);
}

/* The signingTime signed attribute (exactly one, one value). */
static int signing_time(CMS_SignerInfo *si, time_t *out, char *why, size_t n)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	X509_ATTRIBUTE *a;
	ASN1_TYPE *ty;
	int tt;

	if (idx < 0) {
		pki_say(why, n, "no signing time (signingTime signed attribute missing)");
		return -1;
	}
	if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, idx) >= 0) {
		pki_say(why, n, "more than one signingTime attribute");
		return -1;
	}
	a = CMS_signed_get_attr(si, idx);
	if (!a || X509_ATTRIBUTE_count(a) != 1 || !(ty = X509_ATTRIBUTE_get0_type(a, 0))) {
		pki_say(why, n, "signingTime attribute must hold exactly one value");
		return -1;
	}
	tt = ASN1_TYPE_get(ty);
	if (tt != V_ASN1_UTCTIME && tt != V_ASN1_GENERALIZEDTIME) {
		pki_say(why, n, "signingTime is neither UTCTime nor GeneralizedTime");
		return -1;
	}
	if (!ASN1_TIME_check(ty->value.asn1_string) ||
	    pki_asn1_time(ty->value.asn1_string, out) < 0) {
		pki_say(why, n, "signingTime is not a valid time");
		return -1;
	}
	return 0;
}

static int digest_ok(CMS_SignerInfo *si)
{
	X509_ALGOR *dig = NULL;
	const ASN1_OBJECT *obj = NULL;
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (!dig)
		return 0;
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	switch (OBJ_obj2nid(obj)) {
	case NID_sha256: case NID_sha384: case NID_sha512:
	case NID_sha3_256: case NID_sha3_384: case NID_sha3_512:
		return 1;
	default:
		return 0;
	}
}

/*
 * The signatureAlgorithm of the SignerInfo must agree with the signer's key
 * and the digest (OpenSSL itself goes by the key type and ignores it).
 */
static int sigalg_ok(CMS_SignerInfo *si, X509 *signer)
{
	X509_ALGOR *dig = NULL, *sa = NULL;
	const ASN1_OBJECT *o = NULL;
	EVP_PKEY *pk = X509_get0_pubkey(signer);
	int nid, dnid, pknid, dig_nid, kt;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sa);
	if (!pk || !dig || !sa)
		return 0;
	kt = EVP_PKEY_get_base_id(pk);
	X509_ALGOR_get0(&o, NULL, NULL, dig);
	dig_nid = OBJ_obj2nid(o);
	X509_ALGOR_get0(&o, NULL, NULL, sa);
	nid = OBJ_obj2nid(o);
	if (nid == NID_undef)
		return 0;
	if (nid == kt)          /* e.g. rsaEncryption, Ed25519 */
		return 1;
	if (!OBJ_find_sigid_algs(nid, &dnid, &pknid) || pknid != kt)
		return 0;
	return dnid == NID_undef || dnid == dig_nid;
}

#define VERDICT(v, ...) do { res->verdict = (v); \
		pki_say(res->detail, sizeof res->detail, __VA_ARGS__); goto done; } while (0)

int pki_verify(struct pki_trust *t, const uint8_t *sig, size_t siglen,
	       const uint8_t *msg, size_t len, struct pki_result *res)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	X509 *signer = NULL;
	X509_STORE_CTX *ctx = NULL;
	BIO *dc = NULL;
	struct rinfo *ri = NULL;
	const unsigned char *p;
	time_t now = time(NULL);
	char e[256], s[256], tb[32], tb2[32], why[256];
	int n, rc = 0;

	memset(res, 0, sizeof *res);
	snprintf(res->revocation, sizeof res->revocation, "unknown");
	res->verdict = PKI_ERROR;
	ERR_clear_error();
	if (!t || (!msg && len)) {
		pki_say(res->detail, sizeof res->detail, "pki_verify: no trust store or no message");
		return -1;
	}

	/* (1) structure */
	if (!sig || siglen == 0)
		VERDICT(PKI_BAD_SIGNATURE, "empty signature");
	if (siglen > PKI_MAX_SIG)
		VERDICT(PKI_BAD_SIGNATURE, "signature larger than %u bytes", PKI_MAX_SIG);
	p = sig;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)siglen);
	if (!cms)
		VERDICT(PKI_BAD_SIGNATURE, "not a DER CMS structure (%s)", pki_ossl_err(e, sizeof e));
	if (p != sig + siglen)
		VERDICT(PKI_BAD_SIGNATURE, "%zu trailing bytes after the CMS structure",
			(size_t)(sig + siglen - p));
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		VERDICT(PKI_BAD_SIGNATURE, "CMS content is not signedData");
	if (CMS_is_detached(cms) != 1)
		VERDICT(PKI_BAD_SIGNATURE, "the signature embeds content; a detached signature is required");
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
		VERDICT(PKI_BAD_SIGNATURE, "signed content type is not id-data");
	sis = CMS_get0_SignerInfos(cms);
	n = sk_CMS_SignerInfo_num(sis);
	if (n != 1)
		VERDICT(PKI_BAD_SIGNATURE, "%d signers; exactly one is required", n < 0 ? 0 : n);
	si = sk_CMS_SignerInfo_value(sis, 0);
	if (!digest_ok(si))
		VERDICT(PKI_BAD_SIGNATURE, "digest algorithm is not SHA-256 or stronger");

	/* the signer's certificate, for the report and the chain */
	certs = CMS_get1_certs(cms);
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) {
			signer = sk_X509_value(certs, i);
			break;
		}
	if (!signer)
		VERDICT(PKI_BAD_SIGNATURE, "the signer's certificate is not embedded in the signature");
	pki_fill_signer(signer, &res->signer);
	pki_subj(signer, s, sizeof s);
	if (!sigalg_ok(si, signer))
		VERDICT(PKI_BAD_SIGNATURE, "signature algorithm does not match the key of '%s' "
			"and the digest", s);

	/* (2) the mathematics, over exactly these bytes */
	if (len > (size_t)0x7fffffff)
		VERDICT(PKI_BAD_SIGNATURE, "manifest too large");
	/* The bytes behind a null filter: CMS_verify makes its own copy of a
	 * memory BIO's content and, in OpenSSL 3.0 (seen with 3.0.19), leaks
	 * that copy when the signed data is malformed (single-byte flips in
	 * test_pki, clang LeakSanitizer); a filter chain it reads directly. */
	dc = BIO_new(BIO_f_null());
	if (dc) {
		BIO *mem = BIO_new_mem_buf(len ? (const void *)msg : (const void *)"", (int)len);
		if (mem) {
			BIO_push(dc, mem);
		} else {
			BIO_free(dc);
			dc = NULL;
		}
	}
	if (!dc) {
		pki_say(res->detail, sizeof res->detail, "out of memory");
		rc = -1;
		goto done;
	}
	ERR_clear_error();
	if (CMS_verify(cms, NULL, NULL, dc, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1)
		VERDICT(PKI_BAD_SIGNATURE, "signature by '%s' does not match the manifest bytes (%s)",
			s, pki_ossl_err(e, sizeof e));

	/* (3) when */
	if (signing_time(si, &res->signing_time, why, sizeof why) < 0)
		VERDICT(PKI_BAD_SIGNATURE, "%s", why);
	if (res->signing_time > now + PKI_CLOCK_SKEW)
		VERDICT(PKI_NOT_YET_VALID, "signature is dated in the future (signingTime %s, now %s)",
			pki_fmt_time(res->signing_time, tb, sizeof tb), pki_fmt_time(now, tb2, sizeof tb2));

	/* (4) chain to an anchor, at signing time */
	ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, t->store, signer, certs)) {
		pki_say(res->detail, sizeof res->detail, "out of memory");
		rc = -1;
		goto done;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), res->signing_time);
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx), PKI_MAX_DEPTH);
	if (X509_verify_cert(ctx) != 1) {
		int ve = X509_STORE_CTX_get_error(ctx);
		int depth = X509_STORE_CTX_get_error_depth(ctx);
		X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
		char cs[256];
		if (cur)
			pki_subj(cur, cs, sizeof cs);
		else
			snprintf(cs, sizeof cs, "%s", s);
		pki_fmt_time(res->signing_time, tb, sizeof tb);
		ERR_clear_error();
		if (ve == X509_V_ERR_CERT_HAS_EXPIRED)
			VERDICT(PKI_EXPIRED, "certificate '%s' (depth %d) had expired at signing time %s (notAfter %s)",
				cs, depth, tb, cur ? pki_fmt_asn1(X509_get0_notAfter(cur), tb2, sizeof tb2) : "?");
		if (ve == X509_V_ERR_CERT_NOT_YET_VALID)
			VERDICT(PKI_NOT_YET_VALID, "certificate '%s' (depth %d) was not yet valid at signing time %s (notBefore %s)",
				cs, depth, tb, cur ? pki_fmt_asn1(X509_get0_notBefore(cur), tb2, sizeof tb2) : "?");
		VERDICT(PKI_UNTRUSTED, "chain of '%s' does not reach a trust anchor: %s (depth %d, '%s')",
			s, X509_verify_cert_error_string(ve), depth, cs);
	}
	chain = X509_STORE_CTX_get1_chain(ctx);
	if (!chain || sk_X509_num(chain) < 1) {
		pki_say(res->detail, sizeof res->detail, "out of memory");
		rc = -1;
		goto done;
	}

	/* (5) code-signing usage */
	if (pki_codesign_policy(signer, why, sizeof why) < 0)
		VERDICT(PKI_BAD_USAGE, "%s", why);

	/* (6) revocation, now */
	n = sk_X509_num(chain);
	ri = calloc((size_t)n, sizeof *ri);
	if (!ri) {
		pki_say(res->detail, sizeof res->detail, "out of memory");
		rc = -1;
		goto done;
	}
	{
		int any_unknown = 0, any_ocsp = 0, first_unknown = -1;
		for (int i = 0; i < n; i++) {
			X509 *x = sk_X509_value(chain, i);
			if (i == n - 1) {
				if (X509_self_signed(x, 0) == 1) {
					ri[i].st = RS_GOOD; /* the anchor itself */
					continue;
				}
				ri[i].st = RS_UNKNOWN;
				pki_say(ri[i].why, sizeof ri[i].why, "no issuer for anchor '%s'",
				    pki_subj(x, e, sizeof e));
			} else {
				crl_status(t, x, sk_X509_value(chain, i + 1), now, &ri[i]);
				if (ri[i].st == RS_UNKNOWN && t->ocsp)
					ocsp_status(t, x, sk_X509_value(chain, i + 1), certs, &ri[i]);
			}
			if (ri[i].st == RS_REVOKED)
				VERDICT(PKI_REVOKED, "%s", ri[i].why);
			if (ri[i].st == RS_UNKNOWN) {
				any_unknown = 1;
				if (first_unknown < 0)
					first_unknown = i;
			}
			if (ri[i].via_ocsp)
				any_ocsp = 1;
		}
		if (any_unknown) {
			X509 *x = sk_X509_value(chain, first_unknown);
			VERDICT(PKI_REVOCATION_UNKNOWN, "revocation status of '%s' unknown: %s",
				pki_subj(x, e, sizeof e), ri[first_unknown].why);
		}
		snprintf(res->revocation, sizeof res->revocation, "%s", any_ocsp ? "ocsp" : "crl");
	}

	/* (7) all good; warn when something in the chain has expired since */
	res->verdict = PKI_OK;
	{
		X509 *top = sk_X509_value(chain, n - 1);
		char as[256];
		pki_subj(top, as, sizeof as);
		pki_say(res->detail, sizeof res->detail, "signed by '%s' at %s; chain to '%s'; revocation by %s",
		    s, pki_fmt_time(res->signing_time, tb, sizeof tb), as, res->revocation);
		for (int i = 0; i < n; i++) {
			X509 *x = sk_X509_value(chain, i);
			if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0) {
				size_t l = strlen(res->detail);
				res->expired_since = 1;
				pki_say(res->detail + l, sizeof res->detail - l,
				    "; note: '%s' has expired since (notAfter %s)", pki_subj(x, e, sizeof e),
				    pki_fmt_asn1(X509_get0_notAfter(x), tb2, sizeof tb2));
				break;
			}
		}
	}
done:
	free(ri);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(ctx);
	BIO_free_all(dc);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	if (res->verdict == PKI_ERROR)
		rc = -1;
	return rc;
}
