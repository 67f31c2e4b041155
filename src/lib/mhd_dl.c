/* mhd_dl.c -- bind libmicrohttpd at run time (see mhd_dl.h for why). */
#include "mhd_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct mhd_dl_api mhd_dl;

static void *mhd_dl_handle;

#define MHD_DL_SYM(field, name)              \
	{                                    \
		(void **)&mhd_dl.field, name \
	}

enum err mhd_dl_load(char *why, size_t whylen)
{
	static const struct {
		void **slot;
		const char *name;
	} syms[] = {
		MHD_DL_SYM(start_daemon, "MHD_start_daemon"),
		MHD_DL_SYM(stop_daemon, "MHD_stop_daemon"),
		MHD_DL_SYM(get_daemon_info, "MHD_get_daemon_info"),
		MHD_DL_SYM(create_response_from_buffer, "MHD_create_response_from_buffer"),
		MHD_DL_SYM(add_response_header, "MHD_add_response_header"),
		MHD_DL_SYM(queue_response, "MHD_queue_response"),
		MHD_DL_SYM(destroy_response, "MHD_destroy_response"),
		MHD_DL_SYM(run, "MHD_run"),
		MHD_DL_SYM(get_timeout, "MHD_get_timeout"),
		MHD_DL_SYM(suspend_connection, "MHD_suspend_connection"),
		MHD_DL_SYM(resume_connection, "MHD_resume_connection"),
		MHD_DL_SYM(lookup_connection_value, "MHD_lookup_connection_value"),
	};
	size_t i;

	if (mhd_dl_handle)
		return ERR_OK;
	mhd_dl_handle = dlopen(MHD_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!mhd_dl_handle) {
		snprintf(why, whylen, "cannot load %s (%s); install Debian's libmicrohttpd12",
			 MHD_DL_SONAME, dlerror());
		return ERR_NOTFOUND;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(mhd_dl_handle, syms[i].name);

		if (!p) {
			snprintf(why, whylen,
				 "%s has no %s: libmicrohttpd 0.9.71 or later is needed",
				 MHD_DL_SONAME, syms[i].name);
			dlclose(mhd_dl_handle);
			mhd_dl_handle = NULL;
			memset(&mhd_dl, 0, sizeof(mhd_dl));
			return ERR_NOTFOUND;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return ERR_OK;
}
