/* hs_dl.c -- bind Vectorscan at run time (see hs_dl.h for why). */
#include "hs_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct hs_dl_runtime_api hs_rt;
struct hs_dl_compiler_api hs_cc;

struct sym {
	void **slot;
	const char *name;
};

#define HS_DL_SYM(table, field, name)       \
	{                                   \
		(void **)&table.field, name \
	}

/* one library: its handle, and the reason it failed once (not retried: a
 * library that is not there does not appear between two messages) */
struct lib {
	const char *soname;
	void *handle;
	int failed;
	char why[256];
};

static enum err bind_lib(struct lib *l, const struct sym *syms, size_t n, void *table, size_t size,
			 char *why, size_t whylen)
{
	size_t i;

	if (l->handle)
		return ERR_OK;
	if (l->failed) {
		snprintf(why, whylen, "%s", l->why);
		return ERR_NOTFOUND;
	}
	l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	if (!l->handle) {
		snprintf(l->why, sizeof(l->why),
			 "cannot load %s (%s); install Debian's "
			 "libvectorscan5",
			 l->soname, dlerror());
		goto fail;
	}
	for (i = 0; i < n; i++) {
		/* POSIX: a data pointer from dlsym may be converted to a
		 * function pointer; the copy through void ** is the sanctioned
		 * spelling (as in curl_dl.c). */
		void *p = dlsym(l->handle, syms[i].name);

		if (!p) {
			snprintf(l->why, sizeof(l->why), "%s has no %s: not Vectorscan 5",
				 l->soname, syms[i].name);
			dlclose(l->handle);
			l->handle = NULL;
			memset(table, 0, size);
			goto fail;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return ERR_OK;
fail:
	l->failed = 1;
	snprintf(why, whylen, "%s", l->why);
	return ERR_NOTFOUND;
}

enum err hs_dl_runtime(char *why, size_t whylen)
{
	static const struct sym syms[] = {
		HS_DL_SYM(hs_rt, version, "hs_version"),
		HS_DL_SYM(hs_rt, valid_platform, "hs_valid_platform"),
		HS_DL_SYM(hs_rt, deserialize_database, "hs_deserialize_database"),
		HS_DL_SYM(hs_rt, database_size, "hs_database_size"),
		HS_DL_SYM(hs_rt, free_database, "hs_free_database"),
		HS_DL_SYM(hs_rt, alloc_scratch, "hs_alloc_scratch"),
		HS_DL_SYM(hs_rt, free_scratch, "hs_free_scratch"),
		HS_DL_SYM(hs_rt, scan, "hs_scan"),
	};
	static struct lib l = {HS_DL_RUNTIME_SONAME, NULL, 0, ""};
	int first = !l.handle && !l.failed;
	enum err e = bind_lib(&l, syms, sizeof(syms) / sizeof(syms[0]), &hs_rt, sizeof(hs_rt), why,
			      whylen);

	if (e == ERR_OK && first && hs_rt.valid_platform() != HS_SUCCESS) {
		/* Vectorscan needs SSE4.2 on x86 (NEON on ARM); a CPU without
		 * it gets PCRE2 alone */
		snprintf(l.why, sizeof(l.why), "this CPU lacks what Vectorscan needs (SSE4.2)");
		l.failed = 1;
		dlclose(l.handle);
		l.handle = NULL;
		memset(&hs_rt, 0, sizeof(hs_rt));
		snprintf(why, whylen, "%s", l.why);
		return ERR_NOTFOUND;
	}
	return e;
}

enum err hs_dl_compiler(char *why, size_t whylen)
{
	static const struct sym syms[] = {
		HS_DL_SYM(hs_cc, compile_multi, "hs_compile_multi"),
		HS_DL_SYM(hs_cc, free_compile_error, "hs_free_compile_error"),
		HS_DL_SYM(hs_cc, serialize_database, "hs_serialize_database"),
		HS_DL_SYM(hs_cc, free_database, "hs_free_database"),
	};
	static struct lib l = {HS_DL_COMPILER_SONAME, NULL, 0, ""};

	return bind_lib(&l, syms, sizeof(syms) / sizeof(syms[0]), &hs_cc, sizeof(hs_cc), why,
			whylen);
}
