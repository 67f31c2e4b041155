/* mhd_dl.h -- libmicrohttpd, bound at run time.
 *
 * Why not link it: it brings GnuTLS with it (+2.6 MB resident, and start-up
 * time for every `faqbot ask`), and only a bot whose config asks for the
 * metrics endpoint needs it. Include this header instead of calling
 * <microhttpd.h>'s functions, call mhd_dl_load() first, and use the API
 * as libmicrohttpd documents it through the table. */
#ifndef FAQBOT_MHD_DL_H
#define FAQBOT_MHD_DL_H

#include <stddef.h>

#include <microhttpd.h>

#include "err.h"

#define MHD_DL_SONAME "libmicrohttpd.so.12"

struct mhd_dl_api {
	struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
					   MHD_AccessHandlerCallback, void *, ...);
	void (*stop_daemon)(struct MHD_Daemon *);
	const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType,
						       ...);
	struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
							    enum MHD_ResponseMemoryMode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
	enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
					  struct MHD_Response *);
	void (*destroy_response)(struct MHD_Response *);
	/* for a daemon driven by the caller's loop (the Application Service
	 * listener): no thread of its own */
	enum MHD_Result (*run)(struct MHD_Daemon *);
	enum MHD_Result (*get_timeout)(struct MHD_Daemon *, MHD_UNSIGNED_LONG_LONG *);
	const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind,
					       const char *);
	/* an answer given later (MHD_ALLOW_SUSPEND_RESUME): a transaction
	 * acknowledged once what it brought is handled */
	void (*suspend_connection)(struct MHD_Connection *);
	void (*resume_connection)(struct MHD_Connection *);
};

/* The table, filled by mhd_dl_load. */
extern struct mhd_dl_api mhd_dl;

/* mhd_dl_load loads libmicrohttpd and binds the table. Safe to call again.
 * On failure, why says what to install: ERR_NOTFOUND. */
enum err mhd_dl_load(char *why, size_t whylen);

#endif
