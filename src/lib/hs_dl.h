/* hs_dl.h -- Vectorscan (Hyperscan's portable fork), bound at run time.
 *
 * Two libraries, loaded apart on purpose: libhs_runtime.so.5 scans with a
 * compiled database and reads one back from its serialized bytes; it needs
 * nothing but libc (dlopen: +0.45 MB resident). libhs.so.5 compiles, and
 * brings the C++ runtime with it (dlopen: +2.1 MB, then the compiler's
 * memory while it works). The compiler is only ever loaded in a child
 * process (prefilter_cache.c), and only when the cache holds no prefilter
 * for the FAQ; the serving process loads the runtime alone.
 *
 * Why not link them: a bot without Vectorscan (not installed, another
 * architecture, a library that fails) must still serve, with PCRE2 alone
 * (prefilter.h), rather than refuse to start. Include this header instead
 * of <hs/hs.h>, call hs_dl_runtime() or hs_dl_compiler() before the first
 * call through the table they fill, and use the API as Vectorscan
 * documents it. */
#ifndef FAQBOT_HS_DL_H
#define FAQBOT_HS_DL_H

#include <stddef.h>

#include <hs/hs.h>

#include "err.h"

/* Debian's libvectorscan5: both share the ABI of Hyperscan 5. */
#define HS_DL_RUNTIME_SONAME  "libhs_runtime.so.5"
#define HS_DL_COMPILER_SONAME "libhs.so.5"

/* What scanning needs: libhs_runtime. */
struct hs_dl_runtime_api {
	const char *(*version)(void);
	hs_error_t (*valid_platform)(void);
	hs_error_t (*deserialize_database)(const char *, const size_t, hs_database_t **);
	hs_error_t (*database_size)(const hs_database_t *, size_t *);
	hs_error_t (*free_database)(hs_database_t *);
	hs_error_t (*alloc_scratch)(const hs_database_t *, hs_scratch_t **);
	hs_error_t (*free_scratch)(hs_scratch_t *);
	hs_error_t (*scan)(const hs_database_t *, const char *, unsigned int, unsigned int,
			   hs_scratch_t *, match_event_handler, void *);
};

/* What compiling needs: libhs. A database it compiles is freed with its
 * own free_database; its serialized bytes with free() (Vectorscan's
 * default allocator is malloc). */
struct hs_dl_compiler_api {
	hs_error_t (*compile_multi)(const char *const *, const unsigned int *, const unsigned int *,
				    unsigned int, unsigned int, const hs_platform_info_t *,
				    hs_database_t **, hs_compile_error_t **);
	hs_error_t (*free_compile_error)(hs_compile_error_t *);
	hs_error_t (*serialize_database)(const hs_database_t *, char **, size_t *);
	hs_error_t (*free_database)(hs_database_t *);
};

/* The tables, filled by the loaders below. Calling through one before its
 * load succeeded is a bug (the pointers are NULL). */
extern struct hs_dl_runtime_api hs_rt;
extern struct hs_dl_compiler_api hs_cc;

/* hs_dl_runtime loads libhs_runtime and binds the runtime table, and checks
 * that this CPU can run Vectorscan (SSE4.2 on x86). Safe to call again (it
 * loads once; a failure is remembered and not retried). On failure, why
 * says what is missing and what to install: ERR_NOTFOUND. */
enum err hs_dl_runtime(char *why, size_t whylen);

/* hs_dl_compiler loads libhs and binds the compiler table. As above. */
enum err hs_dl_compiler(char *why, size_t whylen);

#endif
