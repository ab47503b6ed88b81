#include "digest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

/* SHA-256 fetched once: EVP_sha256() looks the algorithm up again (under a
 * lock) at every initialisation, a cost per file when 100,000 are hashed. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}

void pg_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	if (!EVP_Digest(data, len, out, &n, md(), NULL))
		memset(out, 0, 32); /* only on allocation failure inside OpenSSL */
}

struct pg_sha256_ctx *pg_sha256_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && !EVP_DigestInit_ex(c, md(), NULL)) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return (struct pg_sha256_ctx *)c;
}

void pg_sha256_update(struct pg_sha256_ctx *c, const void *data, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)c, data, len);
}

void pg_sha256_final(struct pg_sha256_ctx *c, uint8_t out[32])
{
	unsigned int n = 32;
	EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, &n);
	EVP_DigestInit_ex((EVP_MD_CTX *)c, md(), NULL);
}

void pg_sha256_free(struct pg_sha256_ctx *c)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

char *pg_hex(const uint8_t *in, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

int pg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pg_unhex(const char *hex, uint8_t *out, size_t len)
{
	if (!hex || strlen(hex) != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = pg_hexval(hex[2 * i]), lo = pg_hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
