/* irc_journal.h -- the IRC transport's replies not yet sent, on disk, so a
 * crash or a kill loses none of them (IRC has no replay: a question the bot
 * classified and then lost is never answered).
 *
 * What it is: one small append-only file, IRC_JOURNAL_FILE in the state
 * folder, mode 0600. An entry is written when a reply is queued, and
 * synced to the disk (irc_journal_sync, one fdatasync for every entry
 * written since the last) before its first line can go; a done mark is
 * appended when
 * its last line has reached the server (not synced: it survives the
 * process, and a power cut costs at worst a reply sent twice). When no
 * entry is left pending the file is emptied; when it grows past
 * IRC_JOURNAL_COMPACT_BYTES it is rewritten with the pending entries only.
 * At the next start irc_journal_open reads what is pending; the transport
 * replays what is young enough.
 *
 * What it holds: the bot's own words (the reply as it will be sent, the
 * "nick: " in front included), the target (a channel, or the nick of a
 * private conversation), the kind, and when it was queued. Never the
 * member's message.
 *
 * The format, one line an entry, so that a torn or corrupt line costs
 * that line only:
 *
 *   <crc> A <id> <unix ms> <kind> <cmd> <target> <text>\n
 *   <crc> D <id>\n
 *
 * crc is the FNV-1a hash of the rest of the line, 8 hex digits; fields
 * are separated by one space; kind, cmd and target are escaped as the
 * text is, spaces too (\s), so that no field holds a space: backslash,
 * CR (\r), LF (\n) and other control bytes (\xHH) are escaped, every
 * other byte (UTF-8 or not) is written as it is. A line that does not
 * parse, fails its crc, or has no LF (the last, torn by a crash) is
 * skipped and counted; the next one is read as usual.
 *
 * The line codec (irc_journal_format, irc_journal_parse) is pure and
 * fuzzed; the rest does the file's I/O. */
#ifndef FAQBOT_IRC_JOURNAL_H
#define FAQBOT_IRC_JOURNAL_H

#include <stddef.h>

#include "err.h"

#define IRC_JOURNAL_FILE          "irc_journal"
#define IRC_JOURNAL_COMPACT_BYTES (256 * 1024)       /* rewrite past this */
#define IRC_JOURNAL_READ_MAX      (16 * 1024 * 1024) /* read at most this at open */
#define IRC_JOURNAL_TEXT_MAX      65536              /* a reply's text (IRC_SPLIT_TEXT_MAX) */
#define IRC_JOURNAL_WORD_MAX      512                /* a target (IRC_LINE_MAX), a kind or cmd */
#define IRC_JOURNAL_LINE_MAX      (4 * (IRC_JOURNAL_TEXT_MAX + 3 * IRC_JOURNAL_WORD_MAX) + 64)
#define IRC_JOURNAL_PENDING_MAX   4096 /* entries pending: more are not journaled */

/* One reply. In an entry from irc_journal_parse or irc_journal_pending,
 * the strings are the entry's own. */
struct irc_journal_entry {
	unsigned long long id; /* > 0, increasing */
	long long wall_ms;     /* when it was queued, unix milliseconds */
	char *kind;            /* "crisis", "alert", "faq", "advice"... */
	char *cmd;             /* "PRIVMSG" or "NOTICE" */
	char *target;          /* a channel or a nick */
	char *text;            /* the bot's words */
};

/* irc_journal_entry_release frees an entry's strings and zeroes it. */
void irc_journal_entry_release(struct irc_journal_entry *e);

/* irc_journal_crc: a line's checksum, FNV-1a over its n bytes after the
 * checksum field (what irc_journal_parse checks). */
unsigned irc_journal_crc(const char *s, size_t n);

/* irc_journal_format writes e as one journal line (with its LF) into a new
 * buffer (*out, the caller frees; *len its length). ERR_LIMIT when a field
 * is over its maximum, ERR_INVALID for an empty field or id 0, ERR_NOMEM. */
enum err irc_journal_format(const struct irc_journal_entry *e, char **out, size_t *len);

/* irc_journal_format_done writes the done mark of id into buf (cap bytes,
 * 32 are enough), with its LF; its length. */
size_t irc_journal_format_done(unsigned long long id, char *buf, size_t cap);

/* irc_journal_parse reads one line (len bytes, without its LF). An entry:
 * ERR_OK, *done_id 0, *e filled (release it). A done mark: ERR_OK,
 * *done_id set, *e untouched. ERR_PARSE for anything else (a bad crc,
 * field or escape), ERR_LIMIT for a field over its maximum, ERR_NOMEM. */
enum err irc_journal_parse(const char *line, size_t len, struct irc_journal_entry *e,
			   unsigned long long *done_id);

struct irc_journal;

/* What irc_journal_open found. */
struct irc_journal_stats {
	size_t entries, done, pending, bad_lines, torn; /* torn: a last line
	                                                 * with no LF */
};

/* irc_journal_open reads dir/IRC_JOURNAL_FILE (dir must exist), keeps its
 * pending entries (irc_journal_pending), rewrites the file with them only
 * (atomically: a torn tail is gone, and the mode is 0600) and opens it to
 * append. A missing file is an empty journal. On failure *out is NULL
 * and errbuf says why (ERR_IO). st may be NULL. */
enum err irc_journal_open(const char *dir, struct irc_journal **out, struct irc_journal_stats *st,
			  char *errbuf, size_t errlen);

/* irc_journal_pending gives the entries pending at open, oldest first
 * (borrowed; *n of them), for the replay. They stay pending in the file
 * until irc_journal_done. */
const struct irc_journal_entry *irc_journal_pending(const struct irc_journal *j, size_t *n);

/* irc_journal_forget frees the list irc_journal_pending gave (the file is
 * not touched): call it once the entries are queued. */
void irc_journal_forget(struct irc_journal *j);

/* irc_journal_next_id: an id above every id in the file. */
unsigned long long irc_journal_next_id(const struct irc_journal *j);

/* irc_journal_add appends e: once written it survives the process (a
 * kill -9); once irc_journal_sync has run, a crash of the machine too.
 * ERR_LIMIT when IRC_JOURNAL_PENDING_MAX entries are pending, ERR_IO when
 * the write fails (the reply is then not protected; the caller says so
 * and sends it anyway), and irc_journal_format's errors. */
enum err irc_journal_add(struct irc_journal *j, const struct irc_journal_entry *e);

/* irc_journal_sync puts the entries added since the last sync on the disk
 * (fdatasync; nothing when none were): call it before their replies' first
 * lines go, once for a whole burst. ERR_IO when it fails. */
enum err irc_journal_sync(struct irc_journal *j);

/* irc_journal_done appends the done mark of id, if id is pending (else a
 * no-op: the reply was not journaled); empties the file when nothing is
 * pending any more, rewrites it when it has grown past the threshold. */
enum err irc_journal_done(struct irc_journal *j, unsigned long long id);

/* irc_journal_count_pending: entries not yet done. */
size_t irc_journal_count_pending(const struct irc_journal *j);

/* irc_journal_free closes the file (its content stays); NULL is a no-op. */
void irc_journal_free(struct irc_journal *j);

#endif
