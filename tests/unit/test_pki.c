/*
 * test_pki.c - agent/pki.c (verifying) and agent/sign.c (signing) against a
 * throw-away PKI made at test time by tests/pki/mkpki.sh (openssl CLI) and
 * the real 'openssl ocsp' responder on 127.0.0.1.  Every verdict of enum
 * pki_verdict is produced at least once.
 *
 * Needs PG_SRC (set by ctest) and the openssl CLI; exits 77 (skip) otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pki.h"
#include "sign.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_dir[256];      /* the generated PKI */
static char g_src[1024];     /* source tree */
static int g_port;           /* OCSP responder port (baked into the leaf AIA) */
static int g_ocsp_up;

static const char g_msg[] =
	"{\"plcguard\":1,\"project\":\"Line 3 filler\",\"components\":[{\"name\":\"OB1\","
	"\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}]}\n";

/* ---------------------------------------------------------------- helpers */

__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int r;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r == -1 || !WIFEXITED(r))
		return -1;
	return WEXITSTATUS(r);
}

static char *path(const char *rel)
{
	static char buf[32][1024];
	static int i;
	char *b = buf[i++ & 31];
	snprintf(b, sizeof buf[0], "%s/%s", g_dir, rel);
	return b;
}

static char *path2cert(const char *name)
{
	char r[128];
	snprintf(r, sizeof r, "certs/%s.pem", name);
	return path(r);
}

static char *path2key(const char *name)
{
	char r[128];
	snprintf(r, sizeof r, "keys/%s.key", name);
	return path(r);
}

static uint8_t *readf(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void writef(const char *p, const void *d, size_t n)
{
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0), p = -1;
	if (s < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &al) == 0)
		p = ntohs(a.sin_port);
	close(s);
	return p;
}

static struct pki_trust *trust(const char *crl, int ocsp)
{
	char err[512] = "";
	struct pki_trust *t = pki_trust_load(path("trust"), crl ? path(crl) : NULL, ocsp,
					     err, sizeof err);
	if (!t)
		print_message("pki_trust_load: %s\n", err);
	assert_non_null(t);
	return t;
}

/* Sign msg file with the openssl CLI; extra options appended. */
static void cli_sign(const char *name, const char *out, const char *extra)
{
	int r = sh("openssl cms -sign -binary -in %s -signer %s -inkey %s -certfile %s "
		   "-outform DER -out %s %s >%s 2>&1",
		   path("m.json"), path2cert(name), path2key(name), path("chain.pem"), out,
		   extra ? extra : "", path("cli.log"));
	assert_int_equal(r, 0);
}

static enum pki_verdict verify_file(struct pki_trust *t, const char *sigpath,
				    struct pki_result *res)
{
	size_t sl;
	uint8_t *sig = readf(sigpath, &sl);
	assert_non_null(sig);
	int r = pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), res);
	free(sig);
	assert_int_equal(r, 0);
	return res->verdict;
}

#define EXPECT(res, v) do { \
		if ((res).verdict != (v)) \
			print_message("expected %s, got %s: %s\n", pki_verdict_name(v), \
				      pki_verdict_name((res).verdict), (res).detail); \
		assert_int_equal((res).verdict, (v)); } while (0)

#define EXPECT_DETAIL(res, s) do { \
		if (!strstr((res).detail, (s))) \
			print_message("detail lacks \"%s\": %s\n", (s), (res).detail); \
		assert_non_null(strstr((res).detail, (s))); } while (0)

/*
 * Test-fixture builder: a detached CMS by cert/key with an explicit
 * signingTime (openssl cms cannot back- or forward-date).
 */
static uint8_t *build_cms(const char *name, time_t when, int with_chain, size_t *len)
{
	FILE *f;
	X509 *cert, *ca;
	EVP_PKEY *key;
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *in = BIO_new_mem_buf(g_msg, (int)strlen(g_msg));
	const unsigned int fl = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	uint8_t *out, *p;
	int n;

	f = fopen(path2cert(name), "r");
	assert_non_null(f);
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(path2key(name), "r");
	assert_non_null(f);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(path("chain.pem"), "r");
	assert_non_null(f);
	ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_true(cert && key && ca && chain && in);
	if (with_chain)
		sk_X509_push(chain, ca);
	cms = CMS_sign(NULL, NULL, chain, NULL, fl);
	assert_non_null(cms);
	si = CMS_add1_signer(cms, cert, key, EVP_sha256(), fl);
	assert_non_null(si);
	if (when) {
		ASN1_TIME *t = ASN1_TIME_set(NULL, when);
		assert_non_null(t);
		assert_int_equal(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
							     ASN1_STRING_type(t), t, -1), 1);
		ASN1_TIME_free(t);
	}
	assert_int_equal(CMS_final(cms, in, NULL, fl), 1);
	n = i2d_CMS_ContentInfo(cms, NULL);
	assert_true(n > 0);
	out = malloc((size_t)n);
	p = out;
	assert_int_equal(i2d_CMS_ContentInfo(cms, &p), n);
	*len = (size_t)n;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(key);
	sk_X509_free(chain);
	return out;
}

/* ---------------------------------------------------------- setup / teardown */

static int start_ocsp(void)
{
	return sh("bash %s/tests/pki/ocsp-responder.sh %s %d >%s 2>&1", g_src, g_dir, g_port,
		  path("responder.log"));
}

static void stop_ocsp(void)
{
	size_t n;
	char *b;
	if (!g_ocsp_up)
		return;
	b = (char *)readf(path("ocsp.pid"), &n);
	if (b) {
		b[n] = '\0';
		long pid = strtol(b, NULL, 10);
		if (pid > 1) {
			kill((pid_t)pid, SIGTERM);
			for (int i = 0; i < 50 && kill((pid_t)pid, 0) == 0; i++)
				usleep(20000);
		}
		free(b);
	}
	g_ocsp_up = 0;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof g_dir, "/tmp/pg-pki-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	/* the responder's port is baked into the certificates: pick a free one,
	 * and regenerate the PKI with another if the responder cannot take it */
	for (int attempt = 0; attempt < 5; attempt++) {
		g_port = free_port();
		if (g_port <= 0)
			return -1;
		if (sh("PG_OCSP_PORT=%d bash %s/tests/pki/mkpki.sh %s >%s/mkpki.log 2>&1",
		       g_port, g_src, g_dir, g_dir) != 0) {
			print_message("mkpki.sh failed, see %s/mkpki.log\n", g_dir);
			return -1;
		}
		if (start_ocsp() == 0) {
			g_ocsp_up = 1;
			break;
		}
	}
	if (!g_ocsp_up) {
		print_message("could not start the OCSP responder\n");
		return -1;
	}
	/* a proxy from the environment must not intercept 127.0.0.1 */
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	writef(path("m.json"), g_msg, strlen(g_msg));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_ocsp();
	if (g_dir[0] && !getenv("PG_KEEP_PKI"))
		sh("rm -rf '%s'", g_dir);
	return 0;
}

/* ------------------------------------------------------------------- tests */

static void test_trust_load_errors(void **state)
{
	char err[512];
	struct pki_trust *t;
	(void)state;

	/* empty trust folder */
	assert_int_equal(sh("mkdir -p %s", path("empty")), 0);
	err[0] = '\0';
	assert_null(pki_trust_load(path("empty"), NULL, 0, err, sizeof err));
	assert_non_null(strstr(err, "no trust anchors"));

	/* missing folder */
	err[0] = '\0';
	assert_null(pki_trust_load(path("nonexistent"), NULL, 0, err, sizeof err));
	assert_non_null(strstr(err, "nonexistent"));

	/* garbage anchor file is named */
	assert_int_equal(sh("mkdir -p %s && cp %s %s && printf 'not a cert' > %s",
			    path("badtrust"), path("trust/root.pem"), path("badtrust/root.pem"),
			    path("badtrust/zz-garbage.crt")), 0);
	err[0] = '\0';
	assert_null(pki_trust_load(path("badtrust"), NULL, 0, err, sizeof err));
	assert_non_null(strstr(err, "zz-garbage.crt"));

	/* a PEM file with a broken block is named too */
	assert_int_equal(sh("printf -- '-----BEGIN CERTIFICATE-----\\n!!!\\n-----END CERTIFICATE-----\\n'"
			    " > %s", path("badtrust/zz-garbage.crt")), 0);
	err[0] = '\0';
	assert_null(pki_trust_load(path("badtrust"), NULL, 0, err, sizeof err));
	assert_non_null(strstr(err, "zz-garbage.crt"));

	/* a private key in the trust folder is refused */
	assert_int_equal(sh("cp %s %s", path("keys/engineer.key"), path("badtrust/zz-garbage.crt")), 0);
	err[0] = '\0';
	assert_null(pki_trust_load(path("badtrust"), NULL, 0, err, sizeof err));
	assert_non_null(strstr(err, "private key"));

	/* garbage CRL file is named */
	assert_int_equal(sh("mkdir -p %s && printf 'junk' > %s", path("badcrl"),
			    path("badcrl/x.crl")), 0);
	err[0] = '\0';
	assert_null(pki_trust_load(path("trust"), path("badcrl"), 0, err, sizeof err));
	assert_non_null(strstr(err, "x.crl"));

	/* DER anchors, several per folder, PEM bundles, DER CRLs: accepted */
	assert_int_equal(sh("mkdir -p %s %s && openssl x509 -in %s -outform DER -out %s && "
			    "cat %s %s > %s && openssl crl -in %s -outform DER -out %s && "
			    "cat %s %s > %s && touch %s",
			    path("dertrust"), path("dercrl"), path("trust/root.pem"),
			    path("dertrust/root.der"), path("certs/otherroot.pem"),
			    path("certs/root.pem"), path("dertrust/bundle.pem"),
			    path("crl/intermediate.crl.pem"), path("dercrl/int.crl"),
			    path("crl/root.crl.pem"), path("crl/intermediate.crl.pem"),
			    path("dercrl/both.pem"), path("dertrust/.hidden")), 0);
	err[0] = '\0';
	t = pki_trust_load(path("dertrust"), path("dercrl"), 0, err, sizeof err);
	if (!t)
		print_message("%s\n", err);
	assert_non_null(t);
	pki_trust_free(t);
	pki_trust_free(NULL);
}

static void test_sign_verify_ok(void **state)
{
	char err[512] = "";
	uint8_t *sig = NULL;
	size_t sl = 0;
	struct pki_signer sg;
	struct pki_result res;
	struct pki_trust *t;
	time_t now = time(NULL);
	(void)state;

	assert_int_equal(pki_sign(path("keys/engineer.key"), path("certs/engineer.pem"),
				  path("chain.pem"), (const uint8_t *)g_msg, strlen(g_msg),
				  &sig, &sl, &sg, err, sizeof err), 0);
	assert_non_null(sig);
	assert_non_null(strstr(sg.subject, "CN=Engineer Alice (TEST)"));
	assert_non_null(strstr(sg.issuer, "CN=plcguard TEST Intermediate CA"));
	assert_int_equal(strlen(sg.cert_sha256), 64);
	assert_true(sg.serial[0] != '\0');
	assert_true(sg.not_before <= now && now <= sg.not_after);

	t = trust("crl", 0);
	assert_int_equal(pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), &res), 0);
	EXPECT(res, PKI_OK);
	assert_string_equal(res.revocation, "crl");
	assert_int_equal(res.expired_since, 0);
	assert_string_equal(res.signer.cert_sha256, sg.cert_sha256);
	assert_string_equal(res.signer.subject, sg.subject);
	assert_true(res.signing_time >= now - 5 && res.signing_time <= now + 5);
	writef(path("pki.p7s"), sig, sl);

	/* empty message signs and verifies as well */
	free(sig);
	sig = NULL;
	assert_int_equal(pki_sign(path("keys/engineer.key"), path("certs/engineer.pem"),
				  path("chain.pem"), NULL, 0, &sig, &sl, NULL, err, sizeof err), 0);
	assert_int_equal(pki_verify(t, sig, sl, NULL, 0, &res), 0);
	EXPECT(res, PKI_OK);
	free(sig);

	/* the CLI's signature verifies too */
	cli_sign("engineer", path("cli-engineer.p7s"), NULL);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_OK);
	pki_trust_free(t);
}

static void test_interop_openssl_cli(void **state)
{
	(void)state;
	/* pki.p7s comes from test_sign_verify_ok; no -certfile: the chain is embedded */
	assert_int_equal(sh("openssl cms -verify -binary -inform DER -in %s -content %s "
			    "-CAfile %s -purpose any -out /dev/null >%s 2>&1",
			    path("pki.p7s"), path("m.json"), path("trust/root.pem"),
			    path("interop.log")), 0);
	/* and the CLI sees the signingTime attribute and the intermediate */
	assert_int_equal(sh("openssl cms -cmsout -print -inform DER -in %s | grep -q signingTime",
			    path("pki.p7s")), 0);
	assert_int_equal(sh("openssl cms -cmsout -print -inform DER -in %s | "
			    "grep -q 'plcguard TEST Intermediate CA'", path("pki.p7s")), 0);
	/* other bytes: the CLI refuses as well */
	assert_int_equal(sh("printf 'x' | cat %s - > %s", path("m.json"), path("m2.json")), 0);
	assert_true(sh("openssl cms -verify -binary -inform DER -in %s -content %s "
		       "-CAfile %s -purpose any -out /dev/null >/dev/null 2>&1",
		       path("pki.p7s"), path("m2.json"), path("trust/root.pem")) != 0);
}

static void test_bad_signature(void **state)
{
	struct pki_trust *t = trust("crl", 0);
	struct pki_result res;
	size_t sl;
	uint8_t *sig = readf(path("pki.p7s"), &sl);
	char *msg = strdup(g_msg);
	size_t ml = strlen(g_msg);
	int ok_positions = 0, bad_positions = 0;
	(void)state;
	assert_non_null(sig);

	/* one byte of the message */
	msg[10] ^= 1;
	assert_int_equal(pki_verify(t, sig, sl, (uint8_t *)msg, ml, &res), 0);
	EXPECT(res, PKI_BAD_SIGNATURE);
	EXPECT_DETAIL(res, "does not match");
	assert_non_null(strstr(res.signer.subject, "Engineer Alice"));
	msg[10] ^= 1;
	/* one byte more / less */
	assert_int_equal(pki_verify(t, sig, sl, (uint8_t *)msg, ml - 1, &res), 0);
	EXPECT(res, PKI_BAD_SIGNATURE);

	/* the last byte of the signature value */
	sig[sl - 1] ^= 1;
	assert_int_equal(pki_verify(t, sig, sl, (uint8_t *)msg, ml, &res), 0);
	EXPECT(res, PKI_BAD_SIGNATURE);
	sig[sl - 1] ^= 1;

	/* empty, garbage, truncated, trailing bytes */
	assert_int_equal(pki_verify(t, sig, 0, (uint8_t *)msg, ml, &res), 0);
	EXPECT(res, PKI_BAD_SIGNATURE);
	assert_int_equal(pki_verify(t, NULL, 0, (uint8_t *)msg, ml, &res), 0);
	EXPECT(res, PKI_BAD_SIGNATURE);
	assert_int_equal(pki_verify(t, (const uint8_t *)"garbage!", 8, (uint8_t *)msg, ml, &res), 0);
	EXPECT(res, PKI_BAD_SIGNATURE);
	{
		size_t cuts[] = { 1, 2, 10, 100, sl / 2, sl - 2, sl - 1 };
		for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
			uint8_t *c = malloc(cuts[i]);   /* exact size, for ASan */
			memcpy(c, sig, cuts[i]);
			assert_int_equal(pki_verify(t, c, cuts[i], (uint8_t *)msg, ml, &res), 0);
			EXPECT(res, PKI_BAD_SIGNATURE);
			free(c);
		}
		uint8_t *c = malloc(sl + 3);
		memcpy(c, sig, sl);
		memcpy(c + sl, "\x00\x00\x01", 3);
		assert_int_equal(pki_verify(t, c, sl + 3, (uint8_t *)msg, ml, &res), 0);
		EXPECT(res, PKI_BAD_SIGNATURE);
		EXPECT_DETAIL(res, "trailing");
		free(c);
	}

	/* every single-byte change: never a crash; OK only where the bytes are
	 * outside the signature's protection and not checked: the two CMS
	 * version numbers (SignedData, SignerInfo) */
	for (size_t i = 0; i < sl; i++) {
		uint8_t *c = malloc(sl);
		memcpy(c, sig, sl);
		c[i] ^= 0x01;
		assert_int_equal(pki_verify(t, c, sl, (uint8_t *)msg, ml, &res), 0);
		if (res.verdict == PKI_OK) {
			ok_positions++;
			if (getenv("PG_VERBOSE"))
				print_message("flip at %zu of %zu still verifies\n", i, sl);
		}
		else
			bad_positions++;
		free(c);
	}
	print_message("single-byte flips: %d rejected, %d unprotected\n", bad_positions, ok_positions);
	assert_true(ok_positions <= 2);

	/* structure the policy refuses: attached content, two signers, no
	 * signed attributes (so no signingTime), no certificates, SHA-1 */
	cli_sign("engineer", path("attached.p7s"), "-nodetach");
	verify_file(t, path("attached.p7s"), &res);
	EXPECT(res, PKI_BAD_SIGNATURE);
	EXPECT_DETAIL(res, "detached");

	assert_int_equal(sh("openssl cms -sign -binary -in %s -signer %s -inkey %s -signer %s -inkey %s "
			    "-certfile %s -outform DER -out %s >/dev/null 2>&1", path("m.json"),
			    path("certs/engineer.pem"), path("keys/engineer.key"),
			    path("certs/revoked.pem"), path("keys/revoked.key"), path("chain.pem"),
			    path("two.p7s")), 0);
	verify_file(t, path("two.p7s"), &res);
	EXPECT(res, PKI_BAD_SIGNATURE);
	EXPECT_DETAIL(res, "exactly one");

	cli_sign("engineer", path("noattr.p7s"), "-noattr");
	verify_file(t, path("noattr.p7s"), &res);
	EXPECT(res, PKI_BAD_SIGNATURE);
	EXPECT_DETAIL(res, "no signing time");

	cli_sign("engineer", path("nocerts.p7s"), "-nocerts");
	verify_file(t, path("nocerts.p7s"), &res);
	EXPECT(res, PKI_BAD_SIGNATURE);
	EXPECT_DETAIL(res, "not embedded");

	cli_sign("engineer", path("sha1.p7s"), "-md sha1");
	verify_file(t, path("sha1.p7s"), &res);
	EXPECT(res, PKI_BAD_SIGNATURE);
	EXPECT_DETAIL(res, "SHA-256");

	free(sig);
	free(msg);
	pki_trust_free(t);
}

static void test_untrusted(void **state)
{
	struct pki_trust *t = trust("crl", 0);
	struct pki_result res;
	(void)state;

	/* stranger: valid chain to an untrusted root (root not embedded) */
	assert_int_equal(sh("openssl cms -sign -binary -in %s -signer %s -inkey %s -outform DER "
			    "-out %s >/dev/null 2>&1", path("m.json"), path("certs/stranger.pem"),
			    path("keys/stranger.key"), path("stranger.p7s")), 0);
	verify_file(t, path("stranger.p7s"), &res);
	EXPECT(res, PKI_UNTRUSTED);
	EXPECT_DETAIL(res, "Stranger");

	/* stranger embedding its own root: a root in the signature is not an anchor */
	assert_int_equal(sh("openssl cms -sign -binary -in %s -signer %s -inkey %s -certfile %s "
			    "-outform DER -out %s >/dev/null 2>&1", path("m.json"),
			    path("certs/stranger.pem"), path("keys/stranger.key"),
			    path("certs/otherroot.pem"), path("stranger2.p7s")), 0);
	verify_file(t, path("stranger2.p7s"), &res);
	EXPECT(res, PKI_UNTRUSTED);

	/* engineer without the intermediate embedded */
	assert_int_equal(sh("openssl cms -sign -binary -in %s -signer %s -inkey %s -outform DER "
			    "-out %s >/dev/null 2>&1", path("m.json"), path("certs/engineer.pem"),
			    path("keys/engineer.key"), path("nochain.p7s")), 0);
	verify_file(t, path("nochain.p7s"), &res);
	EXPECT(res, PKI_UNTRUSTED);
	pki_trust_free(t);

	/* the other way round: trust only the other root */
	{
		char err[512];
		assert_int_equal(sh("mkdir -p %s && cp %s %s", path("othertrust"),
				    path("certs/otherroot.pem"), path("othertrust/")), 0);
		t = pki_trust_load(path("othertrust"), NULL, 0, err, sizeof err);
		assert_non_null(t);
		verify_file(t, path("cli-engineer.p7s"), &res);
		EXPECT(res, PKI_UNTRUSTED);
		pki_trust_free(t);
	}
}

static void test_validity_at_signing_time(void **state)
{
	struct pki_trust *t = trust("crl", 0);
	struct pki_result res;
	uint8_t *sig;
	size_t sl;
	(void)state;

	/* expired: signed now (openssl cms does not check validity) */
	cli_sign("expired", path("expired.p7s"), NULL);
	verify_file(t, path("expired.p7s"), &res);
	EXPECT(res, PKI_EXPIRED);
	EXPECT_DETAIL(res, "Engineer Expired");

	/* not yet valid */
	cli_sign("notyet", path("notyet.p7s"), NULL);
	verify_file(t, path("notyet.p7s"), &res);
	EXPECT(res, PKI_NOT_YET_VALID);
	EXPECT_DETAIL(res, "Engineer NotYet");

	/* valid at signing time (mid-2020), expired now: OK with the warning */
	sig = build_cms("expired", (time_t)1590969600 /* 2020-06-01 */, 1, &sl);
	assert_int_equal(pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), &res), 0);
	EXPECT(res, PKI_OK);
	assert_int_equal(res.expired_since, 1);
	assert_int_equal(res.signing_time, 1590969600);
	EXPECT_DETAIL(res, "expired since");
	free(sig);

	/* engineer, backdated to before its notBefore */
	sig = build_cms("engineer", (time_t)1590969600, 1, &sl);
	assert_int_equal(pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), &res), 0);
	EXPECT(res, PKI_NOT_YET_VALID);
	free(sig);

	/* dated an hour ahead: refused as not yet valid */
	sig = build_cms("engineer", time(NULL) + 3600, 1, &sl);
	assert_int_equal(pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), &res), 0);
	EXPECT(res, PKI_NOT_YET_VALID);
	EXPECT_DETAIL(res, "future");
	free(sig);

	/* one minute ahead is clock skew: accepted */
	sig = build_cms("engineer", time(NULL) + 60, 1, &sl);
	assert_int_equal(pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), &res), 0);
	EXPECT(res, PKI_OK);
	free(sig);

	/* GeneralizedTime signingTime (year 2050) also parses: future */
	sig = build_cms("engineer", (time_t)2524608000 /* 2050-01-01 */, 1, &sl);
	assert_int_equal(pki_verify(t, sig, sl, (const uint8_t *)g_msg, strlen(g_msg), &res), 0);
	EXPECT(res, PKI_NOT_YET_VALID);
	free(sig);
	pki_trust_free(t);
}

static void test_bad_usage(void **state)
{
	struct pki_trust *t = trust("crl", 0);
	struct pki_result res;
	(void)state;
	cli_sign("nocodesign", path("nocodesign.p7s"), NULL);
	verify_file(t, path("nocodesign.p7s"), &res);
	EXPECT(res, PKI_BAD_USAGE);
	EXPECT_DETAIL(res, "codeSigning");

	/* the OCSP responder's certificate is not a code-signing one either */
	cli_sign("ocsp", path("ocspsig.p7s"), NULL);
	verify_file(t, path("ocspsig.p7s"), &res);
	EXPECT(res, PKI_BAD_USAGE);

	/* nor is a CA's (CLI, no chain needed for the intermediate) */
	assert_int_equal(sh("openssl cms -sign -binary -in %s -signer %s -inkey %s -outform DER "
			    "-out %s >/dev/null 2>&1", path("m.json"), path("certs/intermediate.pem"),
			    path("keys/intermediate.key"), path("ca.p7s")), 0);
	verify_file(t, path("ca.p7s"), &res);
	EXPECT(res, PKI_BAD_USAGE);
	pki_trust_free(t);
}

static void test_revocation_crl(void **state)
{
	struct pki_trust *t;
	struct pki_result res;
	(void)state;

	cli_sign("revoked", path("revoked.p7s"), NULL);
	t = trust("crl", 0);
	verify_file(t, path("revoked.p7s"), &res);
	EXPECT(res, PKI_REVOKED);
	EXPECT_DETAIL(res, "keyCompromise");
	EXPECT_DETAIL(res, "Engineer Revoked");
	pki_trust_free(t);

	/* only the root's CRL: the intermediate's CRL is missing */
	t = trust("crl-partial", 0);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	EXPECT_DETAIL(res, "no CRL from");
	assert_string_equal(res.revocation, "unknown");
	verify_file(t, path("revoked.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	pki_trust_free(t);

	/* no CRL folder at all */
	t = trust(NULL, 0);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	pki_trust_free(t);

	/* an expired intermediate CRL: "revoked" still counts, "not listed" does not */
	assert_int_equal(sh("mkdir -p %s && cp %s %s && cd %s && "
			    "openssl ca -config openssl.cnf -name intca -batch -gencrl "
			    "-crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z "
			    "-out crl-old/intermediate.crl.pem >/dev/null 2>&1",
			    path("crl-old"), path("crl/root.crl.pem"), path("crl-old/"), g_dir), 0);
	t = trust("crl-old", 0);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	EXPECT_DETAIL(res, "expired on 2020-02-01");
	verify_file(t, path("revoked.p7s"), &res);
	EXPECT(res, PKI_REVOKED);
	pki_trust_free(t);

	/* a CRL whose signature does not verify does not count */
	assert_int_equal(sh("mkdir -p %s && cp %s %s && openssl crl -in %s -outform DER -out %s",
			    path("crl-forged"), path("crl/root.crl.pem"), path("crl-forged/"),
			    path("crl/intermediate.crl.pem"), path("crl-forged/int.crl")), 0);
	{
		size_t n;
		uint8_t *b = readf(path("crl-forged/int.crl"), &n);
		assert_non_null(b);
		b[n - 1] ^= 0x01; /* inside the signature value */
		writef(path("crl-forged/int.crl"), b, n);
		free(b);
	}
	t = trust("crl-forged", 0);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	EXPECT_DETAIL(res, "does not verify");
	pki_trust_free(t);
}

static void test_revocation_ocsp(void **state)
{
	struct pki_trust *t;
	struct pki_result res;
	(void)state;
	assert_true(g_ocsp_up);

	/* partial CRLs + OCSP: the leaf's status comes from the responder */
	t = trust("crl-partial", 1);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_OK);
	assert_string_equal(res.revocation, "ocsp");

	verify_file(t, path("revoked.p7s"), &res);
	EXPECT(res, PKI_REVOKED);
	EXPECT_DETAIL(res, "OCSP");
	EXPECT_DETAIL(res, "keyCompromise");

	cli_sign("unlisted", path("unlisted.p7s"), NULL);
	verify_file(t, path("unlisted.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	EXPECT_DETAIL(res, "does not know");
	pki_trust_free(t);

	/* full CRLs + OCSP: the CRL answers, no query needed */
	t = trust("crl", 1);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_OK);
	assert_string_equal(res.revocation, "crl");
	pki_trust_free(t);

	/* responder down: unknown (and fast) */
	stop_ocsp();
	t = trust("crl-partial", 1);
	time_t t0 = time(NULL);
	verify_file(t, path("cli-engineer.p7s"), &res);
	EXPECT(res, PKI_REVOCATION_UNKNOWN);
	EXPECT_DETAIL(res, "OCSP");
	assert_true(time(NULL) - t0 <= 7);
	pki_trust_free(t);
}

static void test_sign_refusals(void **state)
{
	char err[512];
	uint8_t *sig = NULL;
	size_t sl = 0;
	const uint8_t *m = (const uint8_t *)g_msg;
	size_t ml = strlen(g_msg);
	(void)state;

#define REFUSE(key, cert, needle) do { \
		err[0] = '\0'; \
		assert_int_equal(pki_sign(path(key), path(cert), path("chain.pem"), m, ml, \
					  &sig, &sl, NULL, err, sizeof err), -1); \
		assert_null(sig); \
		if (!strstr(err, needle)) print_message("err lacks \"%s\": %s\n", needle, err); \
		assert_non_null(strstr(err, needle)); } while (0)

	REFUSE("keys/revoked.key", "certs/engineer.pem", "does not match");
	REFUSE("keys/expired.key", "certs/expired.pem", "expired");
	REFUSE("keys/notyet.key", "certs/notyet.pem", "not yet valid");
	REFUSE("keys/nocodesign.key", "certs/nocodesign.pem", "codeSigning");
	REFUSE("keys/intermediate.key", "certs/intermediate.pem", "extendedKeyUsage");
	REFUSE("keys/nothere.key", "certs/engineer.pem", "nothere.key");
	REFUSE("keys/engineer.key", "certs/nothere.pem", "nothere.pem");
	REFUSE("certs/engineer.pem", "certs/engineer.pem", "engineer.pem");

	/* encrypted key: refused without PLCGUARD_KEY_PASS, used with it */
	assert_int_equal(sh("openssl pkey -in %s -aes256 -passout pass:s3cret -out %s",
			    path("keys/engineer.key"), path("keys/engineer-enc.key")), 0);
	unsetenv("PLCGUARD_KEY_PASS");
	REFUSE("keys/engineer-enc.key", "certs/engineer.pem", "PLCGUARD_KEY_PASS");
	setenv("PLCGUARD_KEY_PASS", "wrong", 1);
	REFUSE("keys/engineer-enc.key", "certs/engineer.pem", "wrong passphrase");
	setenv("PLCGUARD_KEY_PASS", "s3cret", 1);
	assert_int_equal(pki_sign(path("keys/engineer-enc.key"), path("certs/engineer.pem"),
				  path("chain.pem"), m, ml, &sig, &sl, NULL, err, sizeof err), 0);
	unsetenv("PLCGUARD_KEY_PASS");
	free(sig);
	sig = NULL;

	/* no chain: still signs (the verifier then needs the intermediate elsewhere) */
	assert_int_equal(pki_sign(path("keys/engineer.key"), path("certs/engineer.pem"), NULL,
				  m, ml, &sig, &sl, NULL, err, sizeof err), 0);
	free(sig);
#undef REFUSE
}

static void test_cert_info(void **state)
{
	char err[512];
	struct pki_signer sg;
	(void)state;

	err[0] = '\0';
	assert_int_equal(pki_cert_info(path("certs/engineer.pem"), &sg, err, sizeof err), 0);
	assert_non_null(strstr(sg.subject, "CN=Engineer Alice (TEST)"));
	assert_int_equal(strlen(sg.cert_sha256), 64);
	assert_true(sg.not_before < sg.not_after);

#define CI_REFUSE(cert, needle) do { \
		err[0] = '\0'; \
		assert_int_equal(pki_cert_info(path(cert), &sg, err, sizeof err), -1); \
		if (!strstr(err, needle)) print_message("err lacks \"%s\": %s\n", needle, err); \
		assert_non_null(strstr(err, needle)); } while (0)
	CI_REFUSE("certs/expired.pem", "expired");
	CI_REFUSE("certs/notyet.pem", "not yet valid");
	CI_REFUSE("certs/nocodesign.pem", "codeSigning");
	CI_REFUSE("certs/root.pem", "extendedKeyUsage");
	CI_REFUSE("certs/nothere.pem", "nothere.pem");
	CI_REFUSE("m.json", "m.json");
#undef CI_REFUSE
}

struct thr {
	struct pki_trust *t;
	const uint8_t *sig;
	size_t sl;
	int bad;
};

static void *thr_main(void *a)
{
	struct thr *th = a;
	struct pki_result res;
	for (int i = 0; i < 25; i++) {
		if (pki_verify(th->t, th->sig, th->sl, (const uint8_t *)g_msg, strlen(g_msg), &res) != 0 ||
		    res.verdict != PKI_OK)
			th->bad++;
	}
	return NULL;
}

static void test_concurrent_verify(void **state)
{
	struct pki_trust *t = trust("crl", 0);
	size_t sl;
	uint8_t *sig = readf(path("pki.p7s"), &sl);
	pthread_t th[4];
	struct thr a[4];
	(void)state;
	assert_non_null(sig);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr){ t, sig, sl, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
	free(sig);
	pki_trust_free(t);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(pki_verdict_name(PKI_OK), "ok");
	assert_string_equal(pki_verdict_name(PKI_BAD_SIGNATURE), "bad-signature");
	assert_string_equal(pki_verdict_name(PKI_REVOCATION_UNKNOWN), "revocation-unknown");
	assert_string_equal(pki_verdict_name((enum pki_verdict)99), "error");
}

int main(void)
{
	const char *src = getenv("PG_SRC");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_trust_load_errors),
		cmocka_unit_test(test_sign_verify_ok),
		cmocka_unit_test(test_interop_openssl_cli),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_untrusted),
		cmocka_unit_test(test_validity_at_signing_time),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_revocation_crl),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_cert_info),
		cmocka_unit_test(test_concurrent_verify),
		cmocka_unit_test(test_revocation_ocsp), /* last: stops the responder */
	};
	if (!src || sh("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_pki: needs PG_SRC and the openssl CLI; skipped\n");
		return 77;
	}
	snprintf(g_src, sizeof g_src, "%s", src);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
