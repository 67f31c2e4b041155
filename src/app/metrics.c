/* metrics.c -- counters and their exposition (metrics.h). */
#include "metrics.h"

#include <stdatomic.h>

/* One series a metric: its family (name, help, type) and its label value,
 * or none. A family's series are next to each other in enum metric. */
struct series {
	const char *name, *help, *type, *label, *value;
};

static const struct series series[M_ALL] = {
	[M_MSG_CRISIS] = {"faqbot_messages_total", "Messages read, by class.", "counter", "class",
			  "crisis"},
	[M_MSG_ADVICE] = {"faqbot_messages_total", NULL, NULL, "class", "advice"},
	[M_MSG_FAQ] = {"faqbot_messages_total", NULL, NULL, "class", "faq"},
	[M_MSG_NONE] = {"faqbot_messages_total", NULL, NULL, "class", "none"},
	[M_REPLY_SENT] = {"faqbot_replies_total",
			  "Replies other than crisis ones (answers, commands), by result.",
			  "counter", "result", "sent"},
	[M_REPLY_FAILED] = {"faqbot_replies_total", NULL, NULL, "result", "failed"},
	[M_CRISIS_REPLY_SENT] = {"faqbot_crisis_total",
				 "Crisis replies to members and alerts to moderators, by result: "
				 "reply_failed and alert_failed are the numbers to watch.",
				 "counter", "result", "reply_sent"},
	[M_CRISIS_REPLY_FAILED] = {"faqbot_crisis_total", NULL, NULL, "result", "reply_failed"},
	[M_CRISIS_ALERT_SENT] = {"faqbot_crisis_total", NULL, NULL, "result", "alert_sent"},
	[M_CRISIS_ALERT_FAILED] = {"faqbot_crisis_total", NULL, NULL, "result", "alert_failed"},
	[M_RETRY_RATE_LIMITED] = {"faqbot_retries_total", "Requests tried again, by cause.",
				  "counter", "cause", "rate_limited"},
	[M_RETRY_SERVER_ERROR] = {"faqbot_retries_total", NULL, NULL, "cause", "server_error"},
	[M_RETRY_NETWORK] = {"faqbot_retries_total", NULL, NULL, "cause", "network"},
	[M_RETRY_AUTH] = {"faqbot_retries_total", NULL, NULL, "cause", "auth"},
	[M_RECONNECT_MATRIX] = {"faqbot_reconnects_total",
				"Sessions or connections made again, by transport.", "counter",
				"transport", "matrix"},
	[M_RECONNECT_IRC] = {"faqbot_reconnects_total", NULL, NULL, "transport", "irc"},
	[M_RELOAD_APPLIED] = {"faqbot_faq_reloads_total",
			      "FAQ reloads, by result: refused keeps the FAQ in use serving.",
			      "counter", "result", "applied"},
	[M_RELOAD_REFUSED] = {"faqbot_faq_reloads_total", NULL, NULL, "result", "refused"},
	[M_MALFORMED_MATRIX] = {"faqbot_malformed_total",
				"Events or lines from outside that could not be read, skipped.",
				"counter", "transport", "matrix"},
	[M_MALFORMED_IRC] = {"faqbot_malformed_total", NULL, NULL, "transport", "irc"},
	[M_E2EE_DECRYPTED] = {"faqbot_encrypted_total",
			      "Encrypted Matrix messages and keys, by result: undecryptable "
			      "messages went unanswered.",
			      "counter", "result", "decrypted"},
	[M_E2EE_LATE] = {"faqbot_encrypted_total", NULL, NULL, "result", "decrypted_late"},
	[M_E2EE_UNDECRYPTABLE] = {"faqbot_encrypted_total", NULL, NULL, "result", "undecryptable"},
	[M_E2EE_REFUSED] = {"faqbot_encrypted_total", NULL, NULL, "result", "refused"},
	[G_MATRIX_LAST_SYNC] = {"faqbot_matrix_last_sync_timestamp_seconds",
				"When the last Matrix sync completed (0: none yet).", "gauge", NULL,
				NULL},
	[G_IRC_REGISTERED] = {"faqbot_irc_registered",
			      "1 while the IRC session is registered with the server.", "gauge",
			      NULL, NULL},
	[G_FAQ_DUE] = {"faqbot_faq_due",
		       "FAQ entries and crisis lines due for review (faq_max_age_days).", "gauge",
		       NULL, NULL},
};

static _Atomic long long value[M_ALL];

void metrics_add(enum metric m, long long n)
{
	if ((unsigned)m < M_COUNTERS)
		atomic_fetch_add_explicit(&value[m], n, memory_order_relaxed);
}

void metrics_set(enum metric m, long long v)
{
	if ((unsigned)m >= M_COUNTERS && (unsigned)m < M_ALL)
		atomic_store_explicit(&value[m], v, memory_order_relaxed);
}

long long metrics_get(enum metric m)
{
	return (unsigned)m < M_ALL ? atomic_load_explicit(&value[m], memory_order_relaxed) : 0;
}

void metrics_reset(void)
{
	size_t i;

	for (i = 0; i < M_ALL; i++)
		atomic_store_explicit(&value[i], 0, memory_order_relaxed);
}

void metrics_render(struct buf *b)
{
	size_t i;

	for (i = 0; i < M_ALL; i++) {
		const struct series *s = &series[i];

		if (s->help)
			buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name,
				   s->type);
		if (s->label)
			buf_printf(b, "%s{%s=\"%s\"} %lld\n", s->name, s->label, s->value,
				   metrics_get((enum metric)i));
		else
			buf_printf(b, "%s %lld\n", s->name, metrics_get((enum metric)i));
	}
}
