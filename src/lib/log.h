/* log.h -- one line an event, to standard error.
 *
 * Lines look like "2026-11-21T10:00:00Z info reply class=faq id=tms".
 * Member's words never go to the log unless the operator turned
 * log_set_text(1) on (config "log_message_text"); callers that want to log a
 * message's text pass it through log_text(), which returns "[hidden]" when
 * that is off. */
#ifndef FAQBOT_LOG_H
#define FAQBOT_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level min);
void log_set_text(int on);
/* log_text returns text itself when message text logging is on, else a
 * static placeholder. The result is borrowed. */
const char *log_text(const char *text);

#if defined(__GNUC__)
#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOG_PRINTF(a, b)
#endif

void log_msg(enum log_level lvl, const char *fmt, ...) LOG_PRINTF(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
