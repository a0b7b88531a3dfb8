/* SPDX-License-Identifier: MIT */
/*
 * Server-side TLS contexts (OpenSSL): TLS 1.2 or later, certificate chain
 * and key from PEM files, and the self-signed certificate that `otad init`
 * and admind create when none is configured.
 */
#ifndef OTAD_TLS_H
#define OTAD_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* NULL with a sentence in err (names the file and what is wrong). */
SSL_CTX	*tls_server_ctx(const char *cert_file, const char *key_file,
	    char *err, size_t errlen);
/* Writes a new EC P-256 key (mode 0600) and a self-signed certificate for
 * CN=hostname with subjectAltName localhost, 127.0.0.1, ::1 and hostname,
 * valid 10 years.  0, or -1 with a sentence in err. */
int	 tls_make_self_signed(const char *cert_file, const char *key_file,
	    const char *hostname, char *err, size_t errlen);
/* "sha256:" and the hex SHA-256 of the public key (SubjectPublicKeyInfo,
 * DER) of ctx's certificate, the pin `otad --pin` takes, into out
 * (TLS_PIN_LEN bytes); -1 when ctx has no certificate. */
#define TLS_PIN_LEN	(7 + 64 + 1)
int	 tls_key_pin(SSL_CTX *ctx, char *out);

#endif
