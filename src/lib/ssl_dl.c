/* ssl_dl.c -- bind OpenSSL's libssl at run time (see ssl_dl.h for why). */
#include "ssl_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct ssl_dl_api ssl_dl;

static void *ssl_dl_handle;

#define SSL_DL_SYM(field, name)              \
	{                                    \
		(void **)&ssl_dl.field, name \
	}

enum err ssl_dl_load(char *why, size_t whylen)
{
	static const struct {
		void **slot;
		const char *name;
	} syms[] = {
		SSL_DL_SYM(tls_client_method, "TLS_client_method"),
		SSL_DL_SYM(ctx_new, "SSL_CTX_new"),
		SSL_DL_SYM(ctx_free, "SSL_CTX_free"),
		SSL_DL_SYM(ctx_set_default_verify_paths, "SSL_CTX_set_default_verify_paths"),
		SSL_DL_SYM(ctx_load_verify_locations, "SSL_CTX_load_verify_locations"),
		SSL_DL_SYM(ctx_set_verify, "SSL_CTX_set_verify"),
		SSL_DL_SYM(ctx_set_default_passwd_cb, "SSL_CTX_set_default_passwd_cb"),
		SSL_DL_SYM(ctx_use_certificate_chain_file, "SSL_CTX_use_certificate_chain_file"),
		SSL_DL_SYM(ctx_use_privatekey_file, "SSL_CTX_use_PrivateKey_file"),
		SSL_DL_SYM(ctx_check_private_key, "SSL_CTX_check_private_key"),
		SSL_DL_SYM(ctx_ctrl, "SSL_CTX_ctrl"),
		SSL_DL_SYM(ssl_new, "SSL_new"),
		SSL_DL_SYM(ssl_free, "SSL_free"),
		SSL_DL_SYM(set_fd, "SSL_set_fd"),
		SSL_DL_SYM(ssl_ctrl, "SSL_ctrl"),
		SSL_DL_SYM(set1_host, "SSL_set1_host"),
		SSL_DL_SYM(get0_param, "SSL_get0_param"),
		SSL_DL_SYM(param_set1_ip_asc, "X509_VERIFY_PARAM_set1_ip_asc"),
		SSL_DL_SYM(connect, "SSL_connect"),
		SSL_DL_SYM(read, "SSL_read"),
		SSL_DL_SYM(write, "SSL_write"),
		SSL_DL_SYM(get_error, "SSL_get_error"),
		SSL_DL_SYM(shutdown, "SSL_shutdown"),
		SSL_DL_SYM(pending, "SSL_pending"),
		SSL_DL_SYM(get_verify_result, "SSL_get_verify_result"),
		SSL_DL_SYM(verify_cert_error_string, "X509_verify_cert_error_string"),
		SSL_DL_SYM(err_get_error, "ERR_get_error"),
		SSL_DL_SYM(err_clear_error, "ERR_clear_error"),
		SSL_DL_SYM(err_error_string_n, "ERR_error_string_n"),
	};
	size_t i;

	if (ssl_dl_handle)
		return ERR_OK;
	ssl_dl_handle = dlopen(SSL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!ssl_dl_handle) {
		snprintf(why, whylen, "cannot load %s (%s); install Debian's libssl3",
			 SSL_DL_SONAME, dlerror());
		return ERR_NOTFOUND;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		/* dlsym on the handle also searches libssl's dependencies, so
		 * libcrypto's ERR_ and X509_ functions are found here too. */
		void *p = dlsym(ssl_dl_handle, syms[i].name);

		if (!p) {
			snprintf(why, whylen, "%s has no %s: OpenSSL 3 is needed", SSL_DL_SONAME,
				 syms[i].name);
			dlclose(ssl_dl_handle);
			ssl_dl_handle = NULL;
			memset(&ssl_dl, 0, sizeof(ssl_dl));
			return ERR_NOTFOUND;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return ERR_OK;
}
