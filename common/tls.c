/* SPDX-License-Identifier: MIT */
/*
 * Server TLS contexts and the self-signed certificate (see tls.h).  hwd and
 * admind build their contexts here at start-up; `otad init` and admind call
 * tls_make_self_signed() when no certificate is configured.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "util.h"

#define TLS_CERT_DAYS	3653		/* ten years */

static const char	*tls_reason(void);
static int		 tls_readable(const char *, const char *, char *,
			    size_t);
static X509		*tls_make_cert(EVP_PKEY *, const char *);
static int		 tls_add_ext(X509 *, int, const char *);
static int		 tls_write_pem(const char *, mode_t, EVP_PKEY *,
			    X509 *, char *, size_t);

SSL_CTX *
tls_server_ctx(const char *cert_file, const char *key_file, char *err,
    size_t errlen)
{
	SSL_CTX	*ctx;

	if (tls_readable("certificate", cert_file, err, errlen) == -1 ||
	    tls_readable("key", key_file, err, errlen) == -1)
		return NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "cannot create a TLS context: %s",
		    tls_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* idle connections (hwd holds many) keep no TLS buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "%s: not a PEM certificate chain: %s",
		    cert_file, tls_reason());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: not a PEM private key (or it does "
		    "not match %s): %s", key_file, cert_file, tls_reason());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s: the private key does not match the "
		    "certificate in %s", key_file, cert_file);
		goto fail;
	}
	return ctx;

 fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_make_self_signed(const char *cert_file, const char *key_file,
    const char *hostname, char *err, size_t errlen)
{
	EVP_PKEY	*key;
	X509		*cert;
	int		 rc = -1;

	ERR_clear_error();
	if ((key = EVP_EC_gen("P-256")) == NULL) {
		snprintf(err, errlen, "cannot generate an EC P-256 key: %s",
		    tls_reason());
		return -1;
	}
	if ((cert = tls_make_cert(key, hostname)) == NULL) {
		snprintf(err, errlen, "cannot build a certificate for %s: %s",
		    hostname, tls_reason());
		goto out;
	}
	if (tls_write_pem(key_file, 0600, key, NULL, err, errlen) == -1 ||
	    tls_write_pem(cert_file, 0644, NULL, cert, err, errlen) == -1)
		goto out;
	rc = 0;
 out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* The reason of the most recent OpenSSL error, for a sentence. */
static const char *
tls_reason(void)
{
	const char	*r;
	unsigned long	 e;

	if ((e = ERR_peek_last_error()) == 0)
		return "unknown error";
	if ((r = ERR_reason_error_string(e)) == NULL)
		return "unknown error";
	return r;
}

static int
tls_readable(const char *what, const char *file, char *err, size_t errlen)
{
	if (file == NULL || *file == '\0') {
		snprintf(err, errlen, "no TLS %s file configured", what);
		return -1;
	}
	if (access(file, R_OK) == -1) {
		snprintf(err, errlen, "TLS %s %s: %s", what, file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static X509 *
tls_make_cert(EVP_PKEY *key, const char *hostname)
{
	X509		*x;
	X509_NAME	*name;
	BIGNUM		*bn = NULL;
	char		 san[512];
	int		 ok = 0;

	if ((x = X509_new()) == NULL)
		return NULL;
	if (strcmp(hostname, "localhost") == 0)
		snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,"
		    "IP:::1");
	else
		snprintf(san, sizeof(san), "DNS:localhost,DNS:%s,"
		    "IP:127.0.0.1,IP:::1", hostname);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_new()) == NULL ||
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_CERT_DAYS, 0,
	    NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"otad", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)hostname, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto out;
	if (tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    tls_add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    tls_add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    tls_add_ext(x, NID_subject_key_identifier, "hash") ||
	    tls_add_ext(x, NID_subject_alt_name, san))
		goto out;
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto out;
	ok = 1;
 out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 r;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	r = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return r == 1 ? 0 : -1;
}

/* Writes the key or the certificate to file.tmp, then renames it. */
static int
tls_write_pem(const char *file, mode_t mode, EVP_PKEY *key, X509 *cert,
    char *err, size_t errlen)
{
	char	 tmp[4096];
	FILE	*f;
	int	 fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", file);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1 || fchmod(fd, mode) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	errno = 0;
	ok = key != NULL ?
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_X509(f, cert);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, file) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", file,
		    errno ? strerror(errno) : tls_reason());
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
tls_key_pin(SSL_CTX *ctx, char *out)
{
	X509		*cert = SSL_CTX_get0_certificate(ctx);
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 len;

	if (cert == NULL ||
	    (len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0)
		return -1;
	if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	memcpy(out, "sha256:", 7);
	util_hex(md, mdlen, out + 7);
	return 0;
}
