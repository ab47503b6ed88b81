/*
 * sign.c - signing baselines for plcguard register: the private key, the
 * signer's certificate and chain, the CMS signature.  The only file of
 * plcguard that reads a private key; the verifier (agent/pki.c) shares only
 * the helpers of agent/pki_util.c with it.  Interface: agent/sign.h; policy:
 * docs/TRUST.md.
 */
#include "sign.h"

#include "pki_int.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>

struct passctx {
	int asked;
	int have;
};

static int key_pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct passctx *pc = u;
	const char *p = getenv("PLCGUARD_KEY_PASS");
	size_t n;
	(void)rwflag;
	pc->asked = 1;
	if (!p)
		return -1;
	pc->have = 1;
	n = strlen(p);
	if (size <= 0 || n > (size_t)size)
		return -1;
	memcpy(buf, p, n);
	return (int)n;
}

static EVP_PKEY *load_key(const char *path, char *err, size_t errlen)
{
	uint8_t *b;
	size_t n;
	BIO *bio;
	EVP_PKEY *k;
	struct passctx pc = { 0, 0 };
	char e[256];

	if (pki_slurp(path, &b, &n, err, errlen) < 0)
		return NULL;
	bio = BIO_new_mem_buf(b, (int)n);
	ERR_clear_error();
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, key_pass_cb, &pc) : NULL;
	BIO_free(bio);
	OPENSSL_cleanse(b, n);
	free(b);
	if (k)
		return k;
	if (pc.asked && !pc.have)
		pki_say(err, errlen, "%s: the private key is encrypted; set PLCGUARD_KEY_PASS to its passphrase", path);
	else if (pc.asked)
		pki_say(err, errlen, "%s: cannot decrypt the private key with PLCGUARD_KEY_PASS (wrong passphrase?)", path);
	else
		pki_say(err, errlen, "%s: not a PEM private key: %s", path, pki_ossl_err(e, sizeof e));
	ERR_clear_error();
	return NULL;
}

/* Valid now and fit for code signing; 0 when so. */
static int can_sign_now(X509 *cert, char *err, size_t errlen)
{
	char s[256], tb[32];
	pki_subj(cert, s, sizeof s);
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
		pki_say(err, errlen, "certificate '%s' is not yet valid (notBefore %s)", s,
		    pki_fmt_asn1(X509_get0_notBefore(cert), tb, sizeof tb));
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
		pki_say(err, errlen, "certificate '%s' has expired (notAfter %s)", s,
		    pki_fmt_asn1(X509_get0_notAfter(cert), tb, sizeof tb));
		return -1;
	}
	return pki_codesign_policy(cert, err, errlen);
}

/* Every PEM certificate of a file into *out (at least one). */
static int load_pem_certs(const char *path, STACK_OF(X509) *out, char *err, size_t errlen)
{
	uint8_t *b;
	size_t n;
	int before = sk_X509_num(out);

	if (pki_slurp(path, &b, &n, err, errlen) < 0)
		return -1;
	if (!pki_is_pem(b, n)) {
		pki_say(err, errlen, "%s: not a PEM certificate file", path);
		free(b);
		return -1;
	}
	int r = pki_parse_objects(path, b, n, 0, out, NULL, err, errlen);
	free(b);
	if (r < 0)
		return -1;
	if (sk_X509_num(out) == before) {
		pki_say(err, errlen, "%s: no certificate", path);
		return -1;
	}
	return 0;
}

int pki_cert_info(const char *cert_pem, struct pki_signer *out, char *err, size_t errlen)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	int rc = -1;

	if (out)
		memset(out, 0, sizeof *out);
	if (!cert_pem || !certs) {
		pki_say(err, errlen, certs ? "no certificate given" : "out of memory");
		goto out;
	}
	ERR_clear_error();
	if (load_pem_certs(cert_pem, certs, err, errlen) < 0)
		goto out;
	if (sk_X509_num(certs) > 1) {
		pki_say(err, errlen, "%s: holds %d certificates; give the signer's certificate alone",
		    cert_pem, sk_X509_num(certs));
		goto out;
	}
	if (can_sign_now(sk_X509_value(certs, 0), err, errlen) < 0)
		goto out;
	if (out)
		pki_fill_signer(sk_X509_value(certs, 0), out);
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return rc;
}

int pki_sign(const char *key_pem, const char *cert_pem, const char *chain_pem,
	     const uint8_t *msg, size_t len, uint8_t **sig, size_t *siglen,
	     struct pki_signer *signer, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *leafs = NULL, *chain = NULL;
	X509 *cert;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	uint8_t *out = NULL;
	unsigned char *p;
	int rc = -1, dlen;
	char e[256], s[256];
	const unsigned int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;

	*sig = NULL;
	*siglen = 0;
	if (signer)
		memset(signer, 0, sizeof *signer);
	ERR_clear_error();
	if (!key_pem || !cert_pem || (!msg && len)) {
		pki_say(err, errlen, "pki_sign: key and certificate are required");
		return -1;
	}
	if (len > (size_t)0x7fffffff) {
		pki_say(err, errlen, "manifest too large to sign (%zu bytes)", len);
		return -1;
	}
	leafs = sk_X509_new_null();
	chain = sk_X509_new_null();
	if (!leafs || !chain) {
		pki_say(err, errlen, "out of memory");
		goto out;
	}
	if (load_pem_certs(cert_pem, leafs, err, errlen) < 0)
		goto out;
	cert = sk_X509_value(leafs, 0);
	if (sk_X509_num(leafs) > 1) {
		pki_say(err, errlen, "%s: holds %d certificates; give the signer's certificate alone "
		    "and the others as the chain", cert_pem, sk_X509_num(leafs));
		goto out;
	}
	if (chain_pem && load_pem_certs(chain_pem, chain, err, errlen) < 0)
		goto out;
	if (!(key = load_key(key_pem, err, errlen)))
		goto out;
	pki_subj(cert, s, sizeof s);
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		pki_say(err, errlen, "the private key %s does not match the certificate '%s' (%s)",
		    key_pem, s, cert_pem);
		goto out;
	}
	if (can_sign_now(cert, err, errlen) < 0)
		goto out;

	in = BIO_new_mem_buf(len ? (const void *)msg : (const void *)"", (int)len);
	cms = CMS_sign(NULL, NULL, chain, NULL, flags);
	if (!in || !cms) {
		pki_say(err, errlen, "CMS_sign: %s", pki_ossl_err(e, sizeof e));
		goto out;
	}
	if (!CMS_add1_signer(cms, cert, key, EVP_sha256(), flags)) {
		pki_say(err, errlen, "CMS_add1_signer: %s", pki_ossl_err(e, sizeof e));
		goto out;
	}
	if (!CMS_final(cms, in, NULL, flags)) {
		pki_say(err, errlen, "CMS_final: %s", pki_ossl_err(e, sizeof e));
		goto out;
	}
	/* CMS_SignerInfo_sign() adds signingTime; the verifier requires it. */
	{
		STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, 0);
		if (sk_CMS_SignerInfo_num(sis) != 1 ||
		    CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) < 0) {
			pki_say(err, errlen, "internal error: signature lacks the signingTime attribute");
			goto out;
		}
	}
	dlen = i2d_CMS_ContentInfo(cms, NULL);
	if (dlen <= 0 || !(out = malloc((size_t)dlen))) {
		pki_say(err, errlen, "cannot encode the signature: %s", pki_ossl_err(e, sizeof e));
		goto out;
	}
	p = out;
	if (i2d_CMS_ContentInfo(cms, &p) != dlen) {
		pki_say(err, errlen, "cannot encode the signature: %s", pki_ossl_err(e, sizeof e));
		goto out;
	}
	if (signer)
		pki_fill_signer(cert, signer);
	*sig = out;
	*siglen = (size_t)dlen;
	out = NULL;
	rc = 0;
out:
	free(out);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	EVP_PKEY_free(key);
	sk_X509_pop_free(leafs, X509_free);
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	return rc;
}
