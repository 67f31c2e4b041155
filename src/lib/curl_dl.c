/* curl_dl.c -- bind libcurl at run time (see curl_dl.h for why). */
#include "curl_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct curl_dl_api curl_dl;

static void *curl_dl_handle;

/* Each entry: where the pointer goes, and the symbol libcurl exports. */
#define CURL_DL_SYM(field, name)              \
	{                                     \
		(void **)&curl_dl.field, name \
	}

enum err curl_dl_load(char *why, size_t whylen)
{
	static const struct {
		void **slot;
		const char *name;
	} syms[] = {
		CURL_DL_SYM(global_init, "curl_global_init"),
		CURL_DL_SYM(global_cleanup, "curl_global_cleanup"),
		CURL_DL_SYM(version_info, "curl_version_info"),
		CURL_DL_SYM(easy_init, "curl_easy_init"),
		CURL_DL_SYM(easy_cleanup, "curl_easy_cleanup"),
		CURL_DL_SYM(easy_reset, "curl_easy_reset"),
		CURL_DL_SYM(easy_setopt, "curl_easy_setopt"),
		CURL_DL_SYM(easy_getinfo, "curl_easy_getinfo"),
		CURL_DL_SYM(easy_strerror, "curl_easy_strerror"),
		CURL_DL_SYM(free, "curl_free"),
		CURL_DL_SYM(getdate, "curl_getdate"),
		CURL_DL_SYM(slist_append, "curl_slist_append"),
		CURL_DL_SYM(slist_free_all, "curl_slist_free_all"),
		CURL_DL_SYM(multi_init, "curl_multi_init"),
		CURL_DL_SYM(multi_cleanup, "curl_multi_cleanup"),
		CURL_DL_SYM(multi_add_handle, "curl_multi_add_handle"),
		CURL_DL_SYM(multi_remove_handle, "curl_multi_remove_handle"),
		CURL_DL_SYM(multi_setopt, "curl_multi_setopt"),
		CURL_DL_SYM(multi_socket_action, "curl_multi_socket_action"),
		CURL_DL_SYM(multi_info_read, "curl_multi_info_read"),
		CURL_DL_SYM(url, "curl_url"),
		CURL_DL_SYM(url_cleanup, "curl_url_cleanup"),
		CURL_DL_SYM(url_get, "curl_url_get"),
		CURL_DL_SYM(url_set, "curl_url_set"),
	};
	size_t i;
	int no_gnutls_init;

	if (curl_dl_handle)
		return ERR_OK;
	/* Debian's libcurl4 speaks TLS through OpenSSL, but two of its
	 * dependencies (librtmp, libldap) link GnuTLS, whose constructor
	 * initialises itself at load time: p11-kit, its priority strings, the
	 * system trust settings, about 1 MB resident (make bench) for a library
	 * faqbot never calls, since it allows only http and https
	 * (CURLOPT_PROTOCOLS_STR). GNUTLS_NO_IMPLICIT_INIT=1 skips that
	 * constructor; librtmp and libldap call gnutls_global_init() themselves
	 * before any use. Set only for the dlopen() below, and only when the
	 * environment does not say otherwise. */
	no_gnutls_init = getenv("GNUTLS_NO_IMPLICIT_INIT") == NULL &&
			 setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0) == 0;
	curl_dl_handle = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (no_gnutls_init)
		unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	if (!curl_dl_handle) {
		snprintf(why, whylen, "cannot load %s (%s); install Debian's libcurl4",
			 CURL_DL_SONAME, dlerror());
		return ERR_NOTFOUND;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		/* POSIX: a data pointer from dlsym may be converted to a function
		 * pointer; the copy through void ** is the sanctioned spelling. */
		void *p = dlsym(curl_dl_handle, syms[i].name);

		if (!p) {
			snprintf(why, whylen,
				 "%s has no %s: libcurl is too old (7.66 or later "
				 "is needed)",
				 CURL_DL_SONAME, syms[i].name);
			dlclose(curl_dl_handle);
			curl_dl_handle = NULL;
			memset(&curl_dl, 0, sizeof(curl_dl));
			return ERR_NOTFOUND;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return ERR_OK;
}
