/* helpers.h -- what the unit tests share: a temporary folder made and
 * removed, a file written, copied or read whole, a folder copied, and the
 * mini FAQ (tests/data/faq-mini) loaded or copied. Linked into every
 * tests/unit/test_*.c program (the Makefile's unit rule).
 *
 * The functions that return int are for a group's setup and teardown
 * (cmocka wants a status there): 0 done, -1 not, with the reason on
 * standard error. The void ones fail the running test (a cmocka
 * assertion) when they cannot do their work, so a test needs no check of
 * its own around them. Paths are relative to the top of the tree, where
 * the suite runs the unit tests. */
#ifndef FAQBOT_TEST_HELPERS_H
#define FAQBOT_TEST_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

#include "faq.h"

/* the mini FAQ the tests load or copy */
#define TH_MINI "tests/data/faq-mini"

/* th_tmpdir makes a new folder /tmp/faqbot-NAME-XXXXXX (mkdtemp), with the
 * run's prefix when the suite gives one (/tmp/faqbot-RUN-NAME-XXXXXX,
 * $FAQBOT_RUN_ID: tests/run.sh), and writes its path to dir (len bytes).
 * 0 or -1. */
int th_tmpdir(char *dir, size_t len, const char *name);

/* th_rmtree removes path and everything below it (not following links);
 * a path that does not exist is no error. 0 or -1. */
int th_rmtree(const char *path);

/* th_write writes text to path (created or emptied), then sets its mode;
 * th_put does so for dir/name with mode 0644. */
void th_write(const char *path, const char *text, mode_t mode);
void th_put(const char *dir, const char *name, const char *text);

/* th_read returns the whole of path, NUL-terminated (a new string, the
 * caller frees it); its length in *len when len is not NULL. */
char *th_read(const char *path, size_t *len);

/* th_copy copies the file from to the file to (created or emptied). 0 or
 * -1. */
int th_copy(const char *from, const char *to);

/* th_copy_tree copies what is in folder from (files and folders, below
 * it too) into folder to, which exists; names in only (NULL-terminated)
 * when only is not NULL, else everything. 0 or -1. */
int th_copy_tree(const char *from, const char *to, const char *const *only);

/* th_mini_dir makes a temporary folder (th_tmpdir) holding a copy of the
 * mini FAQ's files (all, or those named in only). 0 or -1. */
int th_mini_dir(char *dir, size_t len, const char *name, const char *const *only);

/* th_mini_load loads the mini FAQ into *faq (the caller frees it with
 * faq_free); 0, or -1 with its findings on standard error. */
int th_mini_load(struct faq **faq);

#endif
