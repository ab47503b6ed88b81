/*
 * pki_util.c - the helpers that the verifier (agent/pki.c) and the signer
 * (agent/sign.c) share: messages, names and times as text, a bounded file
 * read, certificate and CRL parsing, the code-signing usage policy.
 * Interface: agent/pki_int.h.  No global mutable state.
 */
#include "pki_int.h"

#include "digest.h"
#include "pg_limits.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pki_say(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	if (!buf || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/* The most recent OpenSSL error as text (or "unknown error"); clears the queue. */
const char *pki_ossl_err(char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, n);
	else
		snprintf(buf, n, "unknown error");
	ERR_clear_error();
	return buf;
}

void pki_name_str(const X509_NAME *nm, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len;
	out[0] = '\0';
	if (!b)
		return;
	if (nm && X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &p);
		if (len > 0 && p) {
			size_t l = (size_t)len < n - 1 ? (size_t)len : n - 1;
			memcpy(out, p, l);
			out[l] = '\0';
		}
	}
	BIO_free(b);
}

const char *pki_subj(const X509 *x, char *buf, size_t n)
{
	pki_name_str(X509_get_subject_name(x), buf, n);
	return buf;
}

int pki_asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;
	time_t t;
	memset(&tm, 0, sizeof tm);
	if (!a || !ASN1_TIME_to_tm(a, &tm))
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

const char *pki_fmt_time(time_t t, char *buf, size_t n)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, n, "(time %lld)", (long long)t);
	return buf;
}

const char *pki_fmt_asn1(const ASN1_TIME *a, char *buf, size_t n)
{
	time_t t;
	if (pki_asn1_time(a, &t) < 0) {
		snprintf(buf, n, "(bad time)");
		return buf;
	}
	return pki_fmt_time(t, buf, n);
}

void pki_fill_signer(X509 *x, struct pki_signer *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIGNUM *bn;

	memset(s, 0, sizeof *s);
	pki_name_str(X509_get_subject_name(x), s->subject, sizeof s->subject);
	pki_name_str(X509_get_issuer_name(x), s->issuer, sizeof s->issuer);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn) {
		char *h = BN_bn2hex(bn);
		if (h) {
			for (char *c = h; *c; c++)
				if (*c >= 'A' && *c <= 'F')
					*c = (char)(*c - 'A' + 'a');
			snprintf(s->serial, sizeof s->serial, "%s", h);
			OPENSSL_free(h);
		}
		BN_free(bn);
	}
	if (X509_digest(x, EVP_sha256(), md, &mdlen) && mdlen == PG_SHA256_LEN)
		pg_hex(md, mdlen, s->cert_sha256);
	if (pki_asn1_time(X509_get0_notBefore(x), &s->not_before) < 0)
		s->not_before = 0;
	if (pki_asn1_time(X509_get0_notAfter(x), &s->not_after) < 0)
		s->not_after = 0;
	ERR_clear_error();
}

/*
 * The code-signing usage policy for the signer's (leaf) certificate:
 * extendedKeyUsage present and listing id-kp-codeSigning; keyUsage, when
 * present, including digitalSignature; not a CA.  0 when it holds.
 */
int pki_codesign_policy(X509 *x, char *why, size_t n)
{
	uint32_t fl = X509_get_extension_flags(x);
	char s[256];

	pki_subj(x, s, sizeof s);
	if (fl & EXFLAG_INVALID) {
		pki_say(why, n, "certificate '%s' has malformed extensions", s);
		return -1;
	}
	if (!(fl & EXFLAG_XKUSAGE)) {
		pki_say(why, n, "certificate '%s' has no extendedKeyUsage; codeSigning is required", s);
		return -1;
	}
	if (!(X509_get_extended_key_usage(x) & XKU_CODE_SIGN)) {
		pki_say(why, n, "certificate '%s' extendedKeyUsage lacks codeSigning (1.3.6.1.5.5.7.3.3)", s);
		return -1;
	}
	if ((fl & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE)) {
		pki_say(why, n, "certificate '%s' keyUsage lacks digitalSignature", s);
		return -1;
	}
	if (fl & EXFLAG_CA) {
		pki_say(why, n, "certificate '%s' is a CA (basicConstraints CA:TRUE); a signer must be an end entity", s);
		return -1;
	}
	return 0;
}

/* Read a whole (bounded) file; malloc'd. */
int pki_slurp(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	size_t cap = 0, n = 0;

	*buf = NULL;
	*len = 0;
	if (!f) {
		pki_say(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			uint8_t *nb;
			if (cap >= PKI_MAX_FILE) {
				pki_say(err, errlen, "%s: larger than %u bytes", path, PKI_MAX_FILE);
				goto fail;
			}
			if (ncap > PKI_MAX_FILE)
				ncap = PKI_MAX_FILE;
			nb = realloc(b, ncap + 1);
			if (!nb) {
				pki_say(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			b = nb;
			cap = ncap;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				pki_say(err, errlen, "%s: read error", path);
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	if (!b) {
		b = malloc(1);
		if (!b) {
			pki_say(err, errlen, "%s: out of memory", path);
			return -1;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:
	fclose(f);
	free(b);
	return -1;
}

int pki_is_pem(const uint8_t *b, size_t n)
{
	static const char tag[] = "-----BEGIN ";
	size_t tl = sizeof tag - 1;
	for (size_t i = 0; i + tl <= n; i++)
		if (b[i] == '-' && memcmp(b + i, tag, tl) == 0)
			return 1;
	return 0;
}

/* Never prompt on a terminal for a passphrase while reading public material. */
static int no_pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

/*
 * Parse every certificate (want_crls == 0) or CRL (want_crls != 0) of one file,
 * PEM (one or many blocks) or DER (one or many concatenated objects).
 */
int pki_parse_objects(const char *path, const uint8_t *b, size_t n, int want_crls,
		      STACK_OF(X509) *certs, STACK_OF(X509_CRL) *crls,
		      char *err, size_t errlen)
{
	char e[256];
	int found = 0;

	if (n == 0) {
		pki_say(err, errlen, "%s: empty file", path);
		return -1;
	}
	if (n > (size_t)PKI_MAX_FILE) {
		pki_say(err, errlen, "%s: too large", path);
		return -1;
	}
	ERR_clear_error();
	if (pki_is_pem(b, n)) {
		BIO *bio = BIO_new_mem_buf(b, (int)n);
		STACK_OF(X509_INFO) *inf;
		int bad_key = 0;
		if (!bio) {
			pki_say(err, errlen, "%s: out of memory", path);
			return -1;
		}
		inf = PEM_X509_INFO_read_bio(bio, NULL, no_pass_cb, NULL);
		BIO_free(bio);
		if (!inf) {
			pki_say(err, errlen, "%s: cannot parse PEM: %s", path, pki_ossl_err(e, sizeof e));
			return -1;
		}
		for (int i = 0; i < sk_X509_INFO_num(inf); i++) {
			X509_INFO *xi = sk_X509_INFO_value(inf, i);
			if (xi->x_pkey || xi->enc_data)
				bad_key = 1;
			if (!want_crls && xi->x509) {
				if (!sk_X509_push(certs, xi->x509))
					goto oom;
				xi->x509 = NULL;
				found++;
			}
			if (want_crls && xi->crl) {
				if (!sk_X509_CRL_push(crls, xi->crl))
					goto oom;
				xi->crl = NULL;
				found++;
			}
		}
		sk_X509_INFO_pop_free(inf, X509_INFO_free);
		if (bad_key) {
			pki_say(err, errlen, "%s: holds a private key; trust and CRL folders must hold public material only", path);
			return -1;
		}
		if (!found) {
			pki_say(err, errlen, "%s: no %s in PEM file", path,
			    want_crls ? "CRL (X509 CRL block)" : "certificate (CERTIFICATE block)");
			return -1;
		}
		return 0;
oom:
		sk_X509_INFO_pop_free(inf, X509_INFO_free);
		pki_say(err, errlen, "%s: out of memory", path);
		return -1;
	}

	/* DER: one or more concatenated objects, nothing else. */
	size_t off = 0;
	while (off < n) {
		const unsigned char *p = b + off;
		long left = (long)(n - off);
		if (want_crls) {
			X509_CRL *c = d2i_X509_CRL(NULL, &p, left);
			if (!c) {
				pki_say(err, errlen, "%s: not a PEM or DER CRL (at byte %zu): %s", path, off,
				    pki_ossl_err(e, sizeof e));
				return -1;
			}
			if (!sk_X509_CRL_push(crls, c)) {
				X509_CRL_free(c);
				pki_say(err, errlen, "%s: out of memory", path);
				return -1;
			}
		} else {
			X509 *x = d2i_X509(NULL, &p, left);
			if (!x) {
				pki_say(err, errlen, "%s: not a PEM or DER certificate (at byte %zu): %s", path, off,
				    pki_ossl_err(e, sizeof e));
				return -1;
			}
			if (!sk_X509_push(certs, x)) {
				X509_free(x);
				pki_say(err, errlen, "%s: out of memory", path);
				return -1;
			}
		}
		if (p <= b + off)
			break;
		off = (size_t)(p - b);
	}
	return 0;
}
