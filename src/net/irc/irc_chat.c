/* irc_chat.c -- members' messages in, the core's answers out: see
 * irc_chat.h. */
#include "irc_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc_reg.h"

/* addressed says whether text starts with "nick:" or "nick," (any case). */
static int addressed(const char *text, const char *nick)
{
	char head[IRC_NICK_MAX];
	size_t n = strlen(nick);

	if (n >= sizeof(head) || strlen(text) <= n)
		return 0;
	memcpy(head, text, n);
	head[n] = '\0';
	return irc_casecmp(head, nick) == 0 && (text[n] == ':' || text[n] == ',');
}

/* plain_tag is a tag's value when it is one plain word (no space, CR, LF,
 * NUL: a tag value is unescaped and may hold them), else NULL: what goes
 * to the core is an id, never a second line. */
static const char *plain_tag(const char *v)
{
	return v && irc_param_ok(v, 0) ? v : NULL;
}

/* sender_account is the services account the server vouches for (the
 * account-tag), or NULL: when the capability is off (then a tag of that
 * name is not the server's), when the sender is logged out (no tag), or
 * for "*" or anything that is not one plain word. */
static const char *sender_account(const struct irc_chat_view *v, const struct irc_msg *m)
{
	const char *a = v->account_tag ? irc_msg_tag(m, "account") : NULL;

	if (!a || !strcmp(a, "*") || !irc_param_ok(a, 0))
		return NULL;
	return a;
}

enum irc_chat_what irc_chat_read(const struct irc_msg *m, const struct irc_chat_view *v, char *text,
				 size_t cap, struct tr_message *tm)
{
	const char *target, *room;
	struct irc_ctcp ctcp;
	size_t len;
	int direct;

	if (m->nparams < 2 || !m->nick || !irc_word_ok(m->nick) || irc_casecmp(m->nick, v->me) == 0)
		return IRC_CHAT_NONE;
	target = m->params[0];
	if (irc_target_is_channel(target, v->chantypes)) {
		direct = 0;
		room = target;
	} else if (irc_target_is_me(target, v->me)) {
		direct = 1;
		room = m->nick;
	} else {
		return IRC_CHAT_NONE; /* a status message (@#chan) or not for us */
	}
	if (irc_ctcp_parse(m->params[1], &ctcp))
		return strcmp(ctcp.command, "VERSION") ? IRC_CHAT_NONE : IRC_CHAT_VERSION;
	len = strlen(m->params[1]);
	if (len >= cap)
		len = cap - 1;
	memcpy(text, m->params[1], len);
	text[len] = '\0';
	irc_strip_format(text, len);

	memset(tm, 0, sizeof(*tm));
	tm->room = room;
	tm->sender = m->nick;
	tm->sender_name = m->nick;
	tm->event_id = plain_tag(irc_msg_tag(m, "msgid"));
	tm->text = text;
	tm->bot_name = v->me;
	tm->direct = direct;
	tm->mentions_bot = direct || addressed(text, v->me);
	tm->sender_account = sender_account(v, m);
	tm->sender_power = -1;
	return IRC_CHAT_MESSAGE;
}

/* mention_nick is the nick a reply is directed to ("@alice" or "alice"),
 * or NULL when there is none or it is not a plausible nick (so a mention
 * can never put a second line or a command in front of the answer), or it
 * is the bot itself. */
static const char *mention_nick(const struct irc_chat_view *v, const char *mention)
{
	if (!mention)
		return NULL;
	if (*mention == '@')
		mention++;
	if (!irc_reg_nick_ok(mention) || irc_casecmp(mention, v->me) == 0)
		return NULL;
	return mention;
}

/* with_nick is text with "nick: " in front, on the first line of words;
 * a new string, or NULL when out of memory. */
static char *with_nick(const char *nick, const char *text)
{
	size_t nl, tl;
	char *buf;

	text += strspn(text, " \t\r\n");
	nl = strlen(nick);
	tl = strlen(text);
	buf = malloc(nl + 2 + tl + 1);
	if (!buf)
		return NULL;
	memcpy(buf, nick, nl);
	memcpy(buf + nl, ": ", 2);
	memcpy(buf + nl + 2, text, tl + 1);
	return buf;
}

/* count_lines says how many lines text would take in target; 0 on error. */
static size_t count_lines(const struct irc_chat_view *v, const char *target, const char *text)
{
	struct irc_lines l = IRC_LINES_INIT;
	size_t n = 0;

	if (irc_split_text("PRIVMSG", target, text, strlen(text), v->prefix_len, &l) == ERR_OK)
		n = l.n;
	irc_lines_release(&l);
	return n;
}

static void alert_text(char *buf, size_t cap, const char *room, const char *nick, int direct)
{
	if (direct)
		snprintf(buf, cap,
			 "Crisis alert: %s may need support now (in a private message "
			 "to the bot). Please reach out to them.",
			 nick);
	else
		snprintf(buf, cap,
			 "Crisis alert: %s may need support now in %s. Please reach out "
			 "to them.",
			 nick, room);
}

/* short_text is the short form of a FAQ answer with the pointer to the
 * whole, as a channel gets it: a new string, or NULL when out of memory. */
static char *short_text(const struct irc_chat_view *v, const struct tr_reply *rep)
{
	static const char fmt[] = "%s (The whole answer: /msg %s !faq %s)";
	size_t n = strlen(rep->short_text) + strlen(v->me) + strlen(rep->entry_id) + sizeof(fmt);
	char *buf = malloc(n);

	if (buf)
		snprintf(buf, n, fmt, rep->short_text, v->me, rep->entry_id);
	return buf;
}

/* goes_short: 1 when rep, a reply in a channel whose whole takes lines
 * there, goes out as its short form: a FAQ answer with one, longer than
 * the view allows. Never a crisis or advice reply, never a command's. */
static int goes_short(const struct irc_chat_view *v, const struct tr_reply *rep, size_t lines,
		      const char *kind)
{
	return v->short_over_lines > 0 && rep->short_text && *rep->short_text && rep->entry_id &&
	       irc_param_ok(rep->entry_id, 0) && !strcmp(kind, "faq") &&
	       lines > (size_t)v->short_over_lines;
}

enum err irc_chat_answer(const struct tr_reply *rep, const char *room, const char *nick, int direct,
			 const struct irc_chat_view *v, struct irc_chat_answer *out)
{
	const char *mention;
	char *body;
	size_t lines;
	int to_pm, to_short;

	memset(out, 0, sizeof(*out));
	if (rep->alert_moderators)
		alert_text(out->alert, sizeof(out->alert), room, nick, direct);
	if (!rep->reply || !rep->text || !*rep->text)
		return ERR_OK;
	out->kind = rep->kind && *rep->kind && irc_param_ok(rep->kind, 0) &&
				    strlen(rep->kind) < IRC_CHAT_KIND_MAX
			    ? rep->kind
			    : "faq";
	/* the lines the whole would take in the channel: split once */
	lines = direct || (v->short_over_lines <= 0 && v->pm_over_lines <= 0)
			? 0
			: count_lines(v, room, rep->text);
	to_short = !direct && goes_short(v, rep, lines, out->kind);
	to_pm = !direct && !to_short && v->pm_over_lines > 0 && strcmp(out->kind, "crisis") != 0 &&
		lines > (size_t)v->pm_over_lines;
	out->where = direct ? "private" : to_pm ? "private (long)" : room;
	out->short_form = to_short;
	if (to_pm)
		snprintf(out->note, sizeof(out->note),
			 "%s: the answer is long, so I sent it to you in a private message.", nick);
	mention = to_pm ? NULL : mention_nick(v, rep->mention);
	body = to_short ? short_text(v, rep) : strdup(rep->text);
	if (!body)
		return ERR_NOMEM;
	out->text = mention ? with_nick(mention, body) : body;
	if (mention)
		free(body);
	if (!out->text)
		return ERR_NOMEM;
	out->target = to_pm ? nick : room;
	return ERR_OK;
}

void irc_chat_answer_release(struct irc_chat_answer *out)
{
	free(out->text);
	memset(out, 0, sizeof(*out));
}
