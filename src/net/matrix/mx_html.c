/* mx_html.c -- HTML and URL escaping and the renderings built on them (see
 * mx_html.h). */
#include "mx_html.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ids.h"

void mx_html_put(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;
	const char *rep;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			rep = NULL;
			break;
		}
		if (!rep)
			continue;
		buf_append(b, s + run, i - run);
		buf_puts(b, rep);
		run = i + 1;
	}
	buf_append(b, s + run, n - run);
}

void mx_html_url(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	char esc[3];

	for (; *s && !b->failed; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf_append(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		buf_append(b, esc, 3);
	}
}

void mx_html_text(struct buf *b, const char *text, const char *lead)
{
	const char *p = text, *nl, *q;
	int open = 0, pending_br = 0;

	while (*p && !b->failed) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		q = nl;
		if (q > p && q[-1] == '\r')
			q--;
		if (p + strspn(p, " \t\r") >= q) { /* a blank line */
			if (open)
				buf_puts(b, "</p>");
			open = pending_br = 0;
		} else {
			if (!open)
				buf_puts(b, "<p>");
			else if (pending_br)
				buf_puts(b, "<br>");
			if (!open && lead) {
				buf_puts(b, lead);
				lead = NULL;
			}
			open = 1;
			mx_html_put(b, p, (size_t)(q - p));
			pending_br = 1;
		}
		p = *nl ? nl + 1 : nl;
	}
	if (open)
		buf_puts(b, "</p>");
	if (lead) { /* no paragraph to put it in */
		buf_puts(b, "<p>");
		buf_puts(b, lead);
		buf_puts(b, "</p>");
	}
}

void mx_html_pill(struct buf *b, const char *id)
{
	struct buf url;

	/* the link is built apart, then escaped into b as an attribute */
	buf_init(&url, 4 * MX_ID_MAX);
	buf_puts(&url, "https://matrix.to/#/");
	mx_html_url(&url, id);
	if (url.failed) {
		b->failed = 1;
		b->nomem = url.nomem;
	}
	buf_puts(b, "<a href=\"");
	if (url.s)
		mx_html_put(b, url.s, url.len);
	buf_puts(b, "\">");
	mx_html_put(b, id, strlen(id));
	buf_puts(b, "</a>: ");
	buf_release(&url);
}

enum err mx_html_escape(const char *text, char **out)
{
	struct buf b;

	buf_init(&b, MX_HTML_MAX);
	if (text)
		mx_html_put(&b, text, strlen(text));
	return buf_take(&b, out);
}

enum err mx_url_escape(const char *text, char **out)
{
	struct buf b;

	buf_init(&b, MX_HTML_MAX);
	if (text)
		mx_html_url(&b, text);
	return buf_take(&b, out);
}

enum err mx_matrix_to_link(const char *room_id, const char *event_id, const char *via, char **out)
{
	struct buf b;

	*out = NULL;
	if (!room_id || !event_id)
		return ERR_INVALID;
	buf_init(&b, 4 * MX_ID_MAX * 3);
	buf_puts(&b, "https://matrix.to/#/");
	mx_html_url(&b, room_id);
	buf_puts(&b, "/");
	mx_html_url(&b, event_id);
	if (via && *via) {
		buf_puts(&b, "?via=");
		mx_html_url(&b, via);
	}
	return buf_take(&b, out);
}

enum err mx_path(char *buf, size_t len, const char *fmt, ...)
{
	const char *p = fmt, *pc;
	struct buf b;
	char *out = NULL;
	va_list ap;
	enum err e;

	buf_init(&b, len ? len - 1 : 0);
	va_start(ap, fmt);
	while ((pc = strchr(p, '%'))) {
		buf_append(&b, p, (size_t)(pc - p));
		if (pc[1] == 's') {
			mx_html_url(&b, va_arg(ap, const char *));
			p = pc + 2;
		} else if (pc[1] == 'l' && pc[2] == 'd') {
			buf_printf(&b, "%ld", va_arg(ap, long));
			p = pc + 3;
		} else {
			buf_append(&b, pc, 1); /* a literal '%' */
			p = pc + 1;
		}
	}
	va_end(ap);
	buf_puts(&b, p);
	e = buf_take(&b, &out);
	if (e == ERR_OK)
		memcpy(buf, out, strlen(out) + 1);
	free(out);
	return e;
}
