/* faq_yaml.h -- what the readers of a FAQ folder's files share: one file's
 * YAML document with the places of its nodes, errors reported at a node,
 * and a node read as text, as lines or as a word list. The readers are
 * faq.c (the folder, concepts.yml, articles.yml), faq_entry.c (an entry)
 * and faq_lines.c (the crisis lines); no one else includes this.
 *
 * libyaml's document loader keeps the line and column of every node; those
 * marks are how a moderator is told where to fix a file. Patterns and
 * examples are usually literal blocks ("patterns: |"), one a line: their
 * positions are the block's first line plus the index, and the column is
 * read off the source line, since libyaml keeps only the block's own mark. */
#ifndef FAQBOT_FAQ_YAML_H
#define FAQBOT_FAQ_YAML_H

#include <stddef.h>
#include <yaml.h>

#include "concept.h"
#include "faq.h"

/* What one file's loading needs at hand. */
struct faq_yfile {
	const char *path;
	const char *src; /* the whole file, for columns of block lines */
	size_t srclen;
	size_t *line_off; /* where each line starts in src */
	size_t nlines;
	yaml_document_t doc;
	struct faq_diags *d;
	size_t errors;   /* errors found in this file */
	struct faq *faq; /* the store being loaded: its concepts */
};

/* faq_yerr records an error at a node of the file being loaded. */
#define faq_yerr(yf, node, ...)                                                          \
	do {                                                                             \
		(yf)->errors++;                                                          \
		faq_diag_add((yf)->d, (yf)->path, (unsigned)(node)->start_mark.line + 1, \
			     (unsigned)(node)->start_mark.column + 1, 0, __VA_ARGS__);   \
	} while (0)

/* faq_yaml_index_lines records where every line of the file starts, once,
 * so that faq_yaml_col is not a scan from the top for each of a file's
 * many lines. -1 when memory ran out. */
int faq_yaml_index_lines(struct faq_yfile *yf);

/* faq_yaml_col: the 1-based column of the first non-blank character of
 * 0-based line `line` in the file. */
unsigned faq_yaml_col(struct faq_yfile *yf, unsigned line);

/* faq_yaml_node: node idx of the document (borrowed). */
yaml_node_t *faq_yaml_node(struct faq_yfile *yf, int idx);

/* faq_yaml_scalar: n's text (borrowed), or NULL when n is not a scalar. */
const char *faq_yaml_scalar(yaml_node_t *n);

/* faq_yaml_trimmed: a new copy of s[0, n) without leading and trailing
 * white space, or NULL when memory ran out. */
char *faq_yaml_trimmed(const char *s, size_t n);

/* faq_yaml_string returns a new copy of a scalar value, trimmed, or NULL
 * with an error recorded when the node is not a non-empty scalar. */
char *faq_yaml_string(struct faq_yfile *yf, yaml_node_t *v, const char *key);

/* A list of lines: either a YAML sequence of scalars or one block scalar
 * with one item a line. In patterns, word lists, examples and not_examples,
 * a line starting with '#' is a comment. With join (patterns), a line of a
 * block indented deeper than the block goes on from the line above, joined
 * with no space between (a long pattern kept under 160 columns: break it
 * where no space is lost). */
struct faq_yaml_line {
	char *text;
	unsigned line, col;
	size_t first; /* bytes of text on its first line (it may go on) */
};

/* faq_yaml_lines reads v, the value of key, into *out (new: free with
 * faq_yaml_lines_free); what is not a list of lines is reported. -1 only
 * when memory ran out. */
int faq_yaml_lines(struct faq_yfile *yf, yaml_node_t *v, const char *key, int comments, int join,
		   struct faq_yaml_line **out, size_t *nout);
void faq_yaml_lines_free(struct faq_yaml_line *items, size_t n);

/* faq_yaml_list reads one 'name: |' block of phrases (lv, named by nn) into
 * c, as concepts.yml's lists and an entry's own 'words:' are both written;
 * file is the list's file (NULL: an entry's, named by the entry). A list
 * that cannot be added is reported at its name. -1 only when memory ran
 * out. */
int faq_yaml_list(struct faq_yfile *yf, yaml_node_t *nn, yaml_node_t *lv, const char *name,
		  struct concepts *c, const char *file);

/* faq_yaml_near: known is the key the moderator most likely meant by key
 * (a letter added or dropped at the end, or another case: "pattern"). */
int faq_yaml_near(const char *key, const char *known);

/* faq_yaml_date_future: the date s (YYYY-MM-DD) is after tomorrow, UTC (a
 * day of slack for moderators ahead of UTC). */
int faq_yaml_date_future(const char *s);

#endif
