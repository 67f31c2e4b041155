/* ssl_dl.h -- OpenSSL's libssl, bound when the IRC transport first needs
 * TLS.
 *
 * Why dlopen: every source file is linked into ./faqbot and the tests, and the
 * Makefile links neither -lssl nor -lcrypto; loading libssl.so.3 at the
 * first TLS connection keeps the build as it is and the offline commands
 * small, as curl_dl does for libcurl. No OpenSSL header is needed either:
 * the few types are opaque here and the few constants are OpenSSL 3's
 * stable ABI values, named below.
 *
 * What it is not: a TLS layer. irc_conn.c drives the handshake and the
 * non-blocking reads and writes itself through this table. */
#ifndef FAQBOT_SSL_DL_H
#define FAQBOT_SSL_DL_H

#include <stddef.h>

#include "err.h"

#define SSL_DL_SONAME "libssl.so.3"

/* OpenSSL 3 ABI values (openssl/ssl.h, tls1.h). */
#define SSL_DL_ERROR_WANT_READ                 2
#define SSL_DL_ERROR_WANT_WRITE                3
#define SSL_DL_ERROR_SYSCALL                   5
#define SSL_DL_ERROR_ZERO_RETURN               6
#define SSL_DL_VERIFY_PEER                     1
#define SSL_DL_CTRL_MODE                       33
#define SSL_DL_CTRL_SET_TLSEXT_HOSTNAME        55
#define SSL_DL_CTRL_SET_MIN_PROTO_VERSION      123
#define SSL_DL_TLSEXT_NAMETYPE_HOST_NAME       0
#define SSL_DL_TLS1_2_VERSION                  0x0303
#define SSL_DL_MODE_ENABLE_PARTIAL_WRITE       1L
#define SSL_DL_MODE_ACCEPT_MOVING_WRITE_BUFFER 2L
#define SSL_DL_X509_V_OK                       0
#define SSL_DL_FILETYPE_PEM                    1

/* pem_password_cb: asked for a key's passphrase (OpenSSL's default reads
 * the terminal, which a service must never do). */
typedef int (*ssl_dl_pem_password_cb)(char *buf, int size, int rwflag, void *u);

struct ssl_dl_api {
	const void *(*tls_client_method)(void);
	void *(*ctx_new)(const void *method);
	void (*ctx_free)(void *ctx);
	int (*ctx_set_default_verify_paths)(void *ctx);
	int (*ctx_load_verify_locations)(void *ctx, const char *file, const char *dir);
	void (*ctx_set_verify)(void *ctx, int mode, void *callback);
	void (*ctx_set_default_passwd_cb)(void *ctx, ssl_dl_pem_password_cb cb);
	int (*ctx_use_certificate_chain_file)(void *ctx, const char *file);
	int (*ctx_use_privatekey_file)(void *ctx, const char *file, int type);
	int (*ctx_check_private_key)(const void *ctx);
	long (*ctx_ctrl)(void *ctx, int cmd, long larg, void *parg);
	void *(*ssl_new)(void *ctx);
	void (*ssl_free)(void *ssl);
	int (*set_fd)(void *ssl, int fd);
	long (*ssl_ctrl)(void *ssl, int cmd, long larg, void *parg);
	int (*set1_host)(void *ssl, const char *host);
	void *(*get0_param)(void *ssl);
	int (*param_set1_ip_asc)(void *param, const char *ip);
	int (*connect)(void *ssl);
	int (*read)(void *ssl, void *buf, int num);
	int (*write)(void *ssl, const void *buf, int num);
	int (*get_error)(const void *ssl, int ret);
	int (*shutdown)(void *ssl);
	int (*pending)(const void *ssl);
	long (*get_verify_result)(const void *ssl);
	const char *(*verify_cert_error_string)(long n);
	unsigned long (*err_get_error)(void);
	void (*err_clear_error)(void);
	void (*err_error_string_n)(unsigned long e, char *buf, size_t len);
};

/* The table, filled by ssl_dl_load(). Calling through it before a
 * successful load is a bug (the pointers are NULL). */
extern struct ssl_dl_api ssl_dl;

/* ssl_dl_load loads libssl (and with it libcrypto) and binds every function
 * above. Safe to call again (it loads once). On failure, why says which
 * library or symbol is missing and what to install. */
enum err ssl_dl_load(char *why, size_t whylen);

#endif
