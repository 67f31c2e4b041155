/* views.h -- the folded view of a message: what a member meant to write,
 * for matching, beside the normalised text (text.h) that patterns and
 * replies see.
 *
 * People in distress, and people who want past a filter, write "d1e",
 * "k i l l", "sооn" with Cyrillic o's, "[22:14] <kez> ..." pasted from a
 * log, "💀 soon" or "thinkin bout endin it". The folded view undoes each of
 * these so that the same patterns, concepts and model read one shape of
 * text:
 *   - a leading chat-log paste marker is removed: "[22:14] <kez> ", "<kez> ",
 *     "22:14 <kez> ", "* kez ";
 *   - a letter from another script that looks like a Latin one becomes that
 *     letter (ICU's confusable skeletons, taken at build time where one is a
 *     single Latin letter: Latin text is never touched);
 *   - digits and symbols inside words are read as letters ("d1e", "k!ll",
 *     "su1c1de", "$elf"), never in numbers ("988", "2 pills", "b12");
 *   - three or more single letters in a row are joined ("k i l l",
 *     "d.i.e", "s-e-l-f");
 *   - a run of three or more of one letter becomes two ("diiiie" ->
 *     "diie", "killlll" -> "kill"; concept words allow a doubled letter);
 *   - a dropped g is restored ("thinkin" -> "thinking", "nothin'" ->
 *     "nothing"), except in words that end in -in anyway ("vitamin");
 *   - emoji that stand for death, a grave, a weapon, pills or blood become
 *     words ("💀" -> " dead ", "🪦" -> " grave ", "💊" -> " pills ").
 *
 * Pure: no I/O, no state. */
#ifndef FAQBOT_VIEWS_H
#define FAQBOT_VIEWS_H

#include <stddef.h>

#include "err.h"

/* views_fold writes the folded view of norm (text_normalise output, length
 * len) to *out, a new NUL-terminated string the caller frees, and its
 * length to *out_len. *changed is 1 when it differs from norm. The result
 * is at most 4 * len + 64 bytes. */
enum err views_fold(const char *norm, size_t len, char **out, size_t *out_len, int *changed);

#endif
