/* cmd.c -- parse chat commands (see cmd.h). */
#include "cmd.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum cmd_kind kind;
	int moderators; /* only moderators may */
	int directable; /* takes "@alice" / "> alice" */
} cmds[] = {
	{"faq", CMD_FAQ, 0, 1},         {"crisis", CMD_CRISIS, 0, 1}, {"help", CMD_HELP, 0, 1},
	{"sources", CMD_SOURCES, 0, 1}, {"optout", CMD_OPTOUT, 0, 0}, {"optin", CMD_OPTIN, 0, 0},
	{"reload", CMD_RELOAD, 1, 0},   {"test", CMD_TEST, 1, 0},     {"stats", CMD_STATS, 1, 0},
	{"mute", CMD_MUTE, 1, 0},       {"unmute", CMD_UNMUTE, 1, 0},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* copy_trimmed copies p[0..n) without the white space around it into dst,
 * cut to cap - 1 bytes without splitting a UTF-8 character. */
static void copy_trimmed(char *dst, size_t cap, const char *p, size_t n)
{
	while (n && is_space(*p))
		p++, n--;
	while (n && is_space(p[n - 1]))
		n--;
	if (n > cap - 1) {
		n = cap - 1;
		while (n && ((unsigned char)p[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* plausible_target: a name of a member, not the end of a sentence. */
static int plausible_target(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n >= CMD_TARGET_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x21 || c == '<' || c == '>' || c == '"' || c == '&')
			return 0;
	}
	return 1;
}

/* take_target finds "… @alice" or "… > alice" at the end of arg and moves
 * the name into out->target. */
static void take_target(struct cmd *out)
{
	char *a = out->arg;
	size_t n = strlen(a), start = n;

	while (start && !is_space(a[start - 1]))
		start--;
	if (a[start] == '@' && plausible_target(a + start, n - start)) {
		if (n - start < 2)
			return;
		memcpy(out->target, a + start, n - start + 1);
	} else {
		/* "> alice": the last word after a lone '>' */
		size_t gt = start;

		while (gt && is_space(a[gt - 1]))
			gt--;
		if (!(gt && a[gt - 1] == '>' && (gt == 1 || is_space(a[gt - 2]))) ||
		    !plausible_target(a + start, n - start))
			return;
		memcpy(out->target, a + start, n - start + 1);
		start = gt - 1;
	}
	while (start && is_space(a[start - 1]))
		start--;
	a[start] = '\0';
}

enum cmd_kind cmd_parse(const char *text, size_t len, struct cmd *out)
{
	const char *p = text, *end = text + len, *w;
	size_t i, wl;

	memset(out, 0, sizeof(*out));
	while (p < end && is_space(*p))
		p++;
	if (p >= end || *p != '!')
		return CMD_NONE;
	w = ++p;
	while (p < end && !is_space(*p))
		p++;
	wl = (size_t)(p - w);
	for (i = 0; i < NCMDS; i++)
		if (strlen(cmds[i].name) == wl && strncasecmp(cmds[i].name, w, wl) == 0)
			break;
	if (i == NCMDS) {
		/* "!foo" and nothing else: a command the bot does not have */
		const char *q = p;
		size_t k;

		while (q < end && is_space(*q))
			q++;
		if (q < end || wl < 2 || wl >= CMD_ARG_MAX || wl > CMD_UNKNOWN_MAX)
			return CMD_NONE;
		for (k = 0; k < wl; k++)
			if (!((w[k] | 0x20) >= 'a' && (w[k] | 0x20) <= 'z'))
				return CMD_NONE;
		out->kind = CMD_UNKNOWN;
		for (k = 0; k < wl; k++)
			out->arg[k] = (char)(w[k] | 0x20);
		out->arg[wl] = '\0';
		return out->kind;
	}
	out->kind = cmds[i].kind;
	copy_trimmed(out->arg, sizeof(out->arg), p, (size_t)(end - p));
	if (cmds[i].directable)
		take_target(out);
	return out->kind;
}

int cmd_is_moderators(enum cmd_kind kind)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].kind == kind)
			return cmds[i].moderators;
	return 0;
}

/* one_apart: a and b differ by one letter added, dropped or changed */
static int one_apart(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i = 0;

	if (la < lb)
		return one_apart(b, a);
	if (la - lb > 1)
		return 0;
	while (i < lb && a[i] == b[i])
		i++;
	if (la == lb)
		return i < la && !strcmp(a + i + 1, b + i + 1);
	return !strcmp(a + i + 1, b + i);
}

const char *cmd_near(const char *word)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (one_apart(word, cmds[i].name))
			return cmds[i].name;
	return NULL;
}

const char *cmd_name(enum cmd_kind kind)
{
	size_t i;

	if (kind == CMD_UNKNOWN)
		return "unknown";
	for (i = 0; i < NCMDS; i++)
		if (cmds[i].kind == kind)
			return cmds[i].name;
	return "";
}
