/* bot.c -- classify, decide whether to speak, compose (see bot.h). */
#include "bot.h"

#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "helpline.h"
#include "text.h"

char *bot_compose(const struct faq *faq, const struct faq_entry *entry, const char *region)
{
	const char *ph;
	char *lines, *out;
	size_t pre, phl = strlen(FAQ_LINES_PLACEHOLDER), ll, rest;

	if (!entry->answer)
		return NULL;
	ph = strstr(entry->answer, FAQ_LINES_PLACEHOLDER);
	if (!ph)
		return strdup(entry->answer);
	lines = helpline_render(faq, region);
	if (!lines) /* an unknown region must not cost a member the lines */
		lines = helpline_render(faq, NULL);
	if (!lines)
		return NULL;
	pre = (size_t)(ph - entry->answer);
	ll = strlen(lines);
	rest = strlen(ph + phl);
	out = malloc(pre + ll + rest + 1);
	if (out) {
		memcpy(out, entry->answer, pre);
		memcpy(out + pre, lines, ll);
		memcpy(out + pre + ll, ph + phl, rest + 1);
	}
	free(lines);
	return out;
}

/* with_context reads in->text after the member's last messages; when only
 * together they are a crisis, r becomes that crisis. */
static enum err with_context(const struct faq *faq, const struct bot_in *in,
			     struct classify_result *r, int *by_context)
{
	size_t cl = strlen(in->context), n = cl + 5 + in->len;
	struct classify_result rc;
	char *joined = malloc(n + 1), *norm = NULL, *marks = NULL;
	size_t nlen = 0;
	enum err e;

	if (!joined)
		return ERR_NOMEM;
	memcpy(joined, in->context, cl);
	memcpy(joined + cl, " ... ", 5);
	memcpy(joined + cl + 5, in->text, in->len);
	joined[n] = '\0';
	e = text_normalise(joined, n, &norm, &nlen);
	if (e == ERR_OK)
		e = text_marks(joined, n, &marks);
	memset(joined, 0, n); /* a member's words: wiped */
	free(joined);
	if (e == ERR_OK)
		e = classify(faq, norm, nlen, marks, &rc);
	if (e == ERR_OK && rc.matched && rc.cls == FAQ_CLASS_CRISIS) {
		rc.question = r->question;
		*r = rc;
		*by_context = 1;
	}
	if (norm)
		memset(norm, 0, nlen);
	if (marks)
		memset(marks, 0, strlen(marks));
	free(norm);
	free(marks);
	return e;
}

enum err bot_handle(const struct faq *faq, const struct bot_in *in, struct bot_out *out)
{
	struct classify_result r;
	char *norm = NULL, *marks = NULL;
	size_t nlen = 0;
	enum err e;

	memset(out, 0, sizeof(*out));
	e = text_normalise(in->text, in->len, &norm, &nlen);
	if (e == ERR_OK)
		e = text_marks(in->text, in->len, &marks);
	if (e != ERR_OK)
		goto out;
	{
		/* "faqbot: what is tms" is classified as "what is tms" */
		size_t skip = text_after_address(norm, in->nick);

		out->addressed = in->mentioned || skip > 0 || text_addresses(norm, in->nick);
		e = classify(faq, norm + skip, nlen - skip, marks, &r);
	}
	if (e == ERR_OK && in->context && !(r.matched && r.cls == FAQ_CLASS_CRISIS))
		e = with_context(faq, in, &r, &out->by_context);
	if (e != ERR_OK)
		goto out;
	out->question = r.question;
	out->matched = r.matched;
	out->cls = r.cls;
	out->entry = r.entry;
	out->pattern = r.pattern;
	if (!r.matched)
		goto out;
	if (r.cls == FAQ_CLASS_CRISIS) {
		out->reply = 1;
		out->alert = 1;
	} else {
		out->reply = in->direct || out->addressed ||
			     (in->policy == BOT_ANSWER_QUESTIONS && out->question);
	}
	if (out->reply) {
		out->text = bot_compose(faq, r.entry, in->region);
		if (!out->text) {
			e = ERR_NOMEM;
			goto out;
		}
	}
out:
	free(norm);
	free(marks);
	return e;
}

void bot_explain(const struct faq *faq, const struct bot_in *in, char *buf, size_t buflen)
{
	struct classify_result r;
	char *norm = NULL, *marks = NULL;
	size_t nlen = 0, skip;

	if (buflen)
		buf[0] = '\0';
	if (text_normalise(in->text, in->len, &norm, &nlen) != ERR_OK)
		return;
	skip = text_after_address(norm, in->nick);
	if (text_marks(in->text, in->len, &marks) == ERR_OK &&
	    classify(faq, norm + skip, nlen - skip, marks, &r) == ERR_OK)
		classify_explain(faq, norm + skip, nlen - skip, marks, &r, buf, buflen);
	free(norm);
	free(marks);
}

void bot_out_release(struct bot_out *out)
{
	if (!out)
		return;
	free(out->text);
	out->text = NULL;
}

const char *bot_kind_name(const struct bot_out *out)
{
	return out->matched ? faq_class_name(out->cls) : "none";
}
