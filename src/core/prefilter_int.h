/* prefilter_int.h -- the inside of the prefilter, shared by its parts and
 * by no one else (prefilter.h is the contract):
 *   prefilter.c        a prefilter made (from the cache, or built) and
 *                      used: the scan, the candidates, the figures; and the
 *                      checks without Vectorscan (admits, describe)
 *   prefilter_atoms.c  what a part of a pattern is known to match: string
 *                      sets, clauses and their AND (a CNF), in an arena
 *   prefilter_read.c   the reader of PCRE2's syntax: what a pattern
 *                      requires (conservative: what it does not understand
 *                      requires nothing)
 *   prefilter_blob.c   the blob: the tables that turn the atoms found in a
 *                      text into candidate patterns, and the literals'
 *                      database, built and checked
 *   prefilter_cache.c  where blobs are kept: their key, the cache folder,
 *                      and the child process that builds one
 * Exported names start with prefilter_ like the public ones; nothing here
 * is in prefilter.h, so tests and callers cannot lean on it. */
#ifndef FAQBOT_PREFILTER_INT_H
#define FAQBOT_PREFILTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "prefilter.h"

/* A word boundary inside an atom: a byte no UTF-8 text holds, and never a
 * literal an atom keeps (a non-ASCII literal is kept as its UTF-8 bytes,
 * which never hold 0xff; see prefilter_read.c's set_wide). */
#define PREFILTER_MARK ((char)0xff)

/* ---- prefilter_atoms.c ------------------------------------------------ */

/* An arena for one pattern's reading: everything the reader and the
 * algebra allocate is freed at once. nomem: an allocation failed (the
 * pattern's reading is then worthless, and dropped). */
struct prefilter_chunk;
struct prefilter_arena {
	struct prefilter_chunk *head;
	int nomem;
};

void *prefilter_arena_alloc(struct prefilter_arena *a, size_t n);
void prefilter_arena_release(struct prefilter_arena *a);

/* exact: every string the part can match is one of ex (PREFILTER_MARK for
 * a word boundary); cnf: ORs of atoms that hold of any text the part
 * matches in (from lookaheads, and from parts whose strings were too many
 * to keep). A part with neither is unknown: it may match anything, or
 * nothing. */
struct prefilter_strset {
	size_t n;
	const char *s[PREFILTER_WIDE_MAX];
};

struct prefilter_clause {
	size_t n;
	const char **atom;
};

struct prefilter_cnf {
	size_t n;
	struct prefilter_clause c[PREFILTER_CLAUSES_MAX];
};

struct prefilter_info {
	int exact;
	struct prefilter_strset ex;
	struct prefilter_cnf cnf;
};

/* The string sets: s is the one string str; str added (0, or -1 when the
 * set is full). Strings are borrowed (the arena's, or static). */
void prefilter_strset_one(struct prefilter_strset *s, const char *str);
int prefilter_strset_add(struct prefilter_strset *s, const char *str);

/* prefilter_cross: every string of a followed by every string of b, into
 * out; -1 when there would be too many or too long. Two boundaries in a
 * row are one. Up to PREFILTER_EXACT_MAX strings come of it, but a list of
 * words (up to PREFILTER_WIDE_MAX) may take the boundaries around it:
 * \b(?:k|ket|ketamine)\b is three atoms with their boundaries, where "k"
 * alone would be too weak to look for. */
int prefilter_cross(struct prefilter_arena *ar, const struct prefilter_strset *a,
		    const struct prefilter_strset *b, struct prefilter_strset *out);

/* prefilter_cnf_add ANDs clause c into f (a clause that does not fit is
 * dropped: an AND with fewer terms asks less, so the prefilter only lets
 * more through); prefilter_cnf_and ANDs all of g into f. */
void prefilter_cnf_add(struct prefilter_cnf *f, const struct prefilter_clause *c);
void prefilter_cnf_and(struct prefilter_cnf *f, const struct prefilter_cnf *g);

/* prefilter_cnf_or: out = f OR g, as ANDed ORs. Either side requiring
 * nothing makes the whole require nothing. */
void prefilter_cnf_or(struct prefilter_arena *ar, const struct prefilter_cnf *f,
		      const struct prefilter_cnf *g, struct prefilter_cnf *out);

/* prefilter_clause_of: the OR of the strings of s, or an empty clause
 * (nothing required) when one of them is too weak to look for; a long
 * enough part they all share stands for them. */
void prefilter_clause_of(struct prefilter_arena *ar, const struct prefilter_strset *s,
			 struct prefilter_clause *c);

/* prefilter_to_cnf: all that part i requires, as ANDed ORs. */
void prefilter_to_cnf(struct prefilter_arena *ar, const struct prefilter_info *i,
		      struct prefilter_cnf *out);

/* A part that may match anything (unknown), or only the empty string. */
void prefilter_info_unknown(struct prefilter_info *i);
void prefilter_info_empty(struct prefilter_info *i);

/* ---- prefilter_read.c ------------------------------------------------- */

/* prefilter_extract: the ANDed ORs src requires into out (its atoms in
 * ar), or out->n == 0 for a pattern that is always to be tried. */
void prefilter_extract(const char *src, struct prefilter_arena *ar, struct prefilter_cnf *out);

/* ---- prefilter_blob.c ------------------------------------------------- */

/* A built prefilter is one block of memory, the blob: a head, the tables
 * below, then Vectorscan's serialized database (prefilter_blob.c says
 * why). */
struct prefilter_blob_head {
	uint64_t magic, key;
	uint64_t sum;    /* FNV-1a of everything after the head */
	uint64_t db_len; /* bytes of serialized database, at the end */
	uint32_t npat, natom, nclause, nlit, nmember, pad;
};

struct prefilter_tables {
	uint64_t *atom_mask;  /* natom: bit i, a boundary before literal byte i */
	uint32_t *pat_start;  /* npat + 1: pattern i's clauses are pat_start[i] ..
	                       * pat_start[i + 1] - 1; none: always a candidate */
	uint32_t *clause_pat; /* nclause: the pattern a clause belongs to */
	uint32_t *atom_start; /* natom + 1: atom a is in clauses atom_cl[atom_start[a]
	                       * .. atom_start[a + 1] - 1] */
	uint32_t *atom_cl;    /* nmember */
	uint32_t *lit_start;  /* nlit + 1: literal l stands for atoms lit_atom[...] */
	uint32_t *lit_atom;   /* natom */
	uint8_t *lit_len;     /* nlit */
};

/* prefilter_layout: where each table lies after a head h in a blob at
 * base (NULL: only the size); returns the offset of the database. */
size_t prefilter_layout(const struct prefilter_blob_head *h, char *base,
			struct prefilter_tables *t);

/* prefilter_fnv: FNV-1a of p[0, n), going on from h
 * (PREFILTER_FNV_START to begin). */
#define PREFILTER_FNV_START 0xcbf29ce484222325ull
uint64_t prefilter_fnv(uint64_t h, const void *p, size_t n);

/* prefilter_blob_build reads the n patterns, compiles their literals and
 * writes the blob of key into *out (malloc). */
enum err prefilter_blob_build(const char *const *src, size_t n, uint64_t key, char **out,
			      size_t *outlen, char *why, size_t whylen);

/* prefilter_blob_ok: blob is whole, of key, and every number in its
 * tables points where it may (a blob is trusted with the classifier's
 * answers: what is not sound is built again). */
int prefilter_blob_ok(const char *blob, size_t len, uint64_t key, size_t npat);

/* ---- prefilter_cache.c ------------------------------------------------ */

/* A blob read back: mapped (a cache file, or what a child sent) so that,
 * once the tables are copied out and the database read, all of it goes
 * back to the system at once; a freed heap block of its size would stay
 * resident (~0.8 MB of the bot's peak). Built here, it is on the heap. */
struct prefilter_bytes {
	char *p;
	size_t len;
	int mapped;
};

void prefilter_bytes_release(struct prefilter_bytes *b);

/* prefilter_blob_key: what a blob is for: these patterns, read by this
 * build of faqbot, compiled by this Vectorscan for this CPU. */
uint64_t prefilter_blob_key(const char *const *src, size_t n);

/* prefilter_cache_read: the blob of key from the cache folder, else from
 * what was shipped at install (prefilter_set_shipped); b->p NULL when
 * neither has one. */
void prefilter_cache_read(uint64_t key, struct prefilter_bytes *b);

/* prefilter_cache_write keeps the blob of key in the cache folder. */
void prefilter_cache_write(uint64_t key, const char *blob, size_t len);

/* prefilter_build_apart builds the blob in a child process that sends it
 * back through a pipe, into *blob with *e and why as building said. -1
 * when no child could be had (the caller builds here instead). */
int prefilter_build_apart(const char *const *src, size_t n, uint64_t key,
			  struct prefilter_bytes *blob, enum err *e, char *why, size_t whylen);

#endif
