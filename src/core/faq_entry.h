/* faq_entry.h -- one FAQ entry read from its file: every key it may have
 * (a table: id, class, question, reviewed, priority, sources, words,
 * patterns, negations, answer, short, examples, not_examples,
 * only_questions), each checked where it is written, and what every entry
 * of its class needs, said at the entry's first line. Patterns are
 * compiled here, with the entry's own word lists and concepts.yml's
 * written out. Part of loading a FAQ folder (faq.c); no one else includes
 * this. */
#ifndef FAQBOT_FAQ_ENTRY_H
#define FAQBOT_FAQ_ENTRY_H

#include <yaml.h>

#include "faq.h"
#include "faq_yaml.h"

/* faq_entry_load reads the mapping root into e (zeroed by the caller; its
 * file set), reporting every finding in yf. -1 only when memory ran out;
 * e is then released by faq_entry_release like any other. */
int faq_entry_load(struct faq_yfile *yf, yaml_node_t *root, struct faq_entry *e);

/* faq_entry_release frees everything e owns and zeroes it. */
void faq_entry_release(struct faq_entry *e);

/* faq_entry_drop_examples frees e's examples and not_examples. */
void faq_entry_drop_examples(struct faq_entry *e);

#endif
