/* curl_dl.h -- libcurl, bound when the bot first needs the network.
 *
 * Why not link libcurl: Debian's libcurl pulls in OpenSSL, GnuTLS, Kerberos,
 * LDAP and more, and their start-up costs about 5 MB of resident memory in
 * every run, also in `faqbot ask` and `faqbot check`, which never touch the
 * network. Loading it with dlopen() at the first network use keeps the
 * offline commands small (see make bench). Everything else is libcurl's own
 * API: include this header instead of <curl/curl.h>, call curl_dl_load()
 * once before the first curl_* call, and use curl_* as documented. */
#ifndef FAQBOT_CURL_DL_H
#define FAQBOT_CURL_DL_H

#include <stddef.h>

/* The type-checking macros of typecheck-gcc.h would stand where the table
 * below must: the checks are lost, the calls stay the same. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "err.h"

/* The shared object loaded: libcurl's ABI 4 (Debian's libcurl4). */
#define CURL_DL_SONAME "libcurl.so.4"

struct curl_dl_api {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	curl_version_info_data *(*version_info)(CURLversion);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*free)(void *);
	time_t (*getdate)(const char *, const time_t *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	/* the multi socket interface: curl says which sockets to watch and
	 * when its timer is due (CURLMOPT_SOCKETFUNCTION, _TIMERFUNCTION),
	 * the caller's loop polls them and calls socket_action */
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
};

/* The table, filled by curl_dl_load(). Calling through it before a
 * successful load is a bug (the pointers are NULL). */
extern struct curl_dl_api curl_dl;

/* curl_dl_load loads libcurl and binds every function above. Safe to call
 * again (it loads once). On failure, why says which library or symbol is
 * missing and what to install. */
enum err curl_dl_load(char *why, size_t whylen);

#define curl_global_init    curl_dl.global_init
#define curl_global_cleanup curl_dl.global_cleanup
#define curl_version_info   curl_dl.version_info
#define curl_easy_init      curl_dl.easy_init
#define curl_easy_cleanup   curl_dl.easy_cleanup
#define curl_easy_reset     curl_dl.easy_reset
/* curl.h defines these two as function-like macros that count arguments */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_setopt         curl_dl.easy_setopt
#define curl_easy_getinfo        curl_dl.easy_getinfo
#define curl_easy_strerror       curl_dl.easy_strerror
#define curl_free                curl_dl.free
#define curl_getdate             curl_dl.getdate
#define curl_slist_append        curl_dl.slist_append
#define curl_slist_free_all      curl_dl.slist_free_all
#define curl_multi_init          curl_dl.multi_init
#define curl_multi_cleanup       curl_dl.multi_cleanup
#define curl_multi_add_handle    curl_dl.multi_add_handle
#define curl_multi_remove_handle curl_dl.multi_remove_handle
#undef curl_multi_setopt
#define curl_multi_setopt        curl_dl.multi_setopt
#define curl_multi_socket_action curl_dl.multi_socket_action
#define curl_multi_info_read     curl_dl.multi_info_read
#define curl_url                 curl_dl.url
#define curl_url_cleanup         curl_dl.url_cleanup
#define curl_url_get             curl_dl.url_get
#define curl_url_set             curl_dl.url_set

#endif
