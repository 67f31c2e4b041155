/* prefilter_blob.c -- the blob (prefilter_int.h): every pattern's clauses
 * gathered, their atoms numbered, the literals compiled into one
 * Vectorscan database, all of it written as one block; and a block read
 * back checked before it is trusted. */
#include "prefilter_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_dl.h"

#define PREFILTER_MAGIC 0x31667270746f6266ull /* "fbotprf1" */

/* What Vectorscan looks for are literals: the atoms without their word
 * boundaries (Vectorscan's own \b made the shipped FAQ's database 3.4 MB
 * and 3.5 s to compile, against 0.9 MB and 0.25 s). The boundaries are
 * checked where a literal is found, which is cheap: an atom's boundaries
 * are a mask of the places in its literal that need one. Atoms of one
 * literal ("kys", "\bkys\b") share its one expression.
 *
 * A built prefilter is one block of memory, the blob: a head, the tables
 * below, then Vectorscan's serialized database. The cache keeps blobs, and
 * a child process that builds one sends it whole through a pipe, so a bot
 * that finds its blob in the cache reads no pattern and holds none of the
 * building's memory. The tables are used where they lie in the blob; the
 * database is read out of it into Vectorscan's own memory, and the blob
 * shrunk to the tables. */

size_t prefilter_layout(const struct prefilter_blob_head *h, char *base, struct prefilter_tables *t)
{
	size_t o = sizeof(*h);

#define PLACE(field, type, count)                                       \
	do {                                                            \
		if (base)                                               \
			t->field = (type *)(void *)(base + o);          \
		o += ((size_t)(count) * sizeof(type) + 7) & ~(size_t)7; \
	} while (0)
	PLACE(atom_mask, uint64_t, h->natom);
	PLACE(pat_start, uint32_t, h->npat + 1);
	PLACE(clause_pat, uint32_t, h->nclause);
	PLACE(atom_start, uint32_t, h->natom + 1);
	PLACE(atom_cl, uint32_t, h->nmember);
	PLACE(lit_start, uint32_t, h->nlit + 1);
	PLACE(lit_atom, uint32_t, h->natom);
	PLACE(lit_len, uint8_t, h->nlit);
#undef PLACE
	return o;
}

uint64_t prefilter_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* --- building -------------------------------------------------------------- */

/* A set of strings being gathered, numbered in order: open addressing. */
struct strtab {
	char **v;
	size_t n, cap;
	size_t *slot, nslot; /* index + 1, 0 empty */
};

static long strtab_intern(struct strtab *t, const char *s)
{
	uint64_t h;
	size_t i;

	if (t->n * 2 >= t->nslot) {
		size_t ns = t->nslot ? t->nslot * 2 : 1024, k;
		size_t *nv = calloc(ns, sizeof(*nv));

		if (!nv)
			return -1;
		for (k = 0; k < t->n; k++) {
			h = prefilter_fnv(PREFILTER_FNV_START, t->v[k], strlen(t->v[k]));
			for (i = h & (ns - 1); nv[i]; i = (i + 1) & (ns - 1))
				;
			nv[i] = k + 1;
		}
		free(t->slot);
		t->slot = nv;
		t->nslot = ns;
	}
	h = prefilter_fnv(PREFILTER_FNV_START, s, strlen(s));
	for (i = h & (t->nslot - 1); t->slot[i]; i = (i + 1) & (t->nslot - 1))
		if (strcmp(t->v[t->slot[i] - 1], s) == 0)
			return (long)(t->slot[i] - 1);
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		char **nv = realloc(t->v, nc * sizeof(*nv));

		if (!nv)
			return -1;
		t->v = nv;
		t->cap = nc;
	}
	t->v[t->n] = strdup(s);
	if (!t->v[t->n])
		return -1;
	t->slot[i] = t->n + 1;
	return (long)t->n++;
}

static void strtab_release(struct strtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t->slot);
}

/* A growable array of 32-bit numbers. */
struct u32s {
	uint32_t *v;
	size_t n, cap;
};

static int u32_push(struct u32s *a, size_t x)
{
	if (x > UINT32_MAX)
		return -1;
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 1024;
		uint32_t *nv = realloc(a->v, nc * sizeof(*nv));

		if (!nv)
			return -1;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = (uint32_t)x;
	return 0;
}

/* What building gathers before the blob is written. */
struct build {
	struct strtab atoms, lits;
	struct u32s pat_start, cl_start, cl_atom; /* clauses, pattern by pattern */
	struct u32s clause_pat, lit_of;           /* lit_of[a]: atom a's literal */
	uint64_t *mask;
	size_t cap_mask;
};

static void build_release(struct build *b)
{
	strtab_release(&b->atoms);
	strtab_release(&b->lits);
	free(b->pat_start.v);
	free(b->cl_start.v);
	free(b->cl_atom.v);
	free(b->clause_pat.v);
	free(b->lit_of.v);
	free(b->mask);
}

/* gather: every pattern's clauses, their atoms interned, and each atom's
 * literal and boundary mask */
static enum err gather(struct build *b, const char *const *src, size_t n)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		struct prefilter_arena ar = {NULL, 0};
		struct prefilter_cnf f;
		int bad = 0;

		if (u32_push(&b->pat_start, b->cl_start.n) < 0)
			return ERR_NOMEM;
		prefilter_extract(src[i], &ar, &f);
		bad = ar.nomem;
		for (j = 0; j < f.n && !bad; j++) {
			bad |= u32_push(&b->cl_start, b->cl_atom.n) < 0 ||
			       u32_push(&b->clause_pat, i) < 0;
			for (k = 0; k < f.c[j].n && !bad; k++) {
				long id = strtab_intern(&b->atoms, f.c[j].atom[k]);

				bad |= id < 0 || u32_push(&b->cl_atom, (size_t)id) < 0;
			}
		}
		prefilter_arena_release(&ar);
		if (bad)
			return ERR_NOMEM;
	}
	if (u32_push(&b->pat_start, b->cl_start.n) < 0 || u32_push(&b->cl_start, b->cl_atom.n) < 0)
		return ERR_NOMEM;
	b->mask = calloc(b->atoms.n + 1, sizeof(*b->mask));
	if (!b->mask)
		return ERR_NOMEM;
	for (i = 0; i < b->atoms.n; i++) {
		char lit[PREFILTER_STRING_MAX + 1];
		const char *p = b->atoms.v[i];
		size_t o = 0;
		long id;

		for (; *p; p++) {
			if (*p == PREFILTER_MARK)
				b->mask[i] |= 1ull << o;
			else if (o < PREFILTER_STRING_MAX)
				lit[o++] = *p;
		}
		lit[o] = '\0';
		id = strtab_intern(&b->lits, lit);
		if (id < 0 || u32_push(&b->lit_of, (size_t)id) < 0)
			return ERR_NOMEM;
	}
	return ERR_OK;
}

/* expr: literal a as a Vectorscan expression, every byte that is not a
 * letter or digit written \xHH */
static char *expr(const char *a)
{
	size_t n = strlen(a), i, o = 0;
	char *e = malloc(4 * n + 1);

	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (isalnum(c)) {
			e[o++] = (char)c;
		} else {
			snprintf(e + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	e[o] = '\0';
	return e;
}

/* compile: the literals' database, serialized into *bytes (malloc). Each
 * literal is reported at every place it occurs (no HS_FLAG_SINGLEMATCH:
 * the first place may sit inside a word where a boundary is wanted, and
 * the flag costs the database 128 KB); the scan takes each atom once. */
static enum err compile(const struct build *b, char **bytes, size_t *len, char *why, size_t whylen)
{
	size_t n = b->lits.n, i;
	const char **ex = calloc(n + 1, sizeof(*ex));
	unsigned *flags = calloc(n + 1, sizeof(*flags));
	unsigned *ids = calloc(n + 1, sizeof(*ids));
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	enum err e = ERR_NOMEM;

	*bytes = NULL;
	*len = 0;
	if (!ex || !flags || !ids)
		goto out;
	for (i = 0; i < n; i++) {
		ex[i] = expr(b->lits.v[i]);
		if (!ex[i])
			goto out;
		flags[i] = HS_FLAG_CASELESS;
		ids[i] = (unsigned)i;
	}
	e = hs_dl_compiler(why, whylen);
	if (e != ERR_OK)
		goto out;
	if (hs_cc.compile_multi(ex, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &ce) !=
	    HS_SUCCESS) {
		snprintf(why, whylen, "Vectorscan refused literal %d: %s", ce ? ce->expression : -1,
			 ce ? ce->message : "?");
		if (ce)
			hs_cc.free_compile_error(ce);
		e = ERR_INVALID;
		goto out;
	}
	if (hs_cc.serialize_database(db, bytes, len) != HS_SUCCESS) {
		snprintf(why, whylen, "Vectorscan could not serialize the database");
		e = ERR_INVALID;
	}
	hs_cc.free_database(db);
out:
	for (i = 0; ex && i < n; i++)
		free((void *)ex[i]);
	free(ex);
	free(flags);
	free(ids);
	return e;
}

/* csr: for each of n owners, the items that name it: start[owner] ..
 * start[owner + 1] - 1 in items (of owner[k] for k < m) */
static void csr(uint32_t *start, uint32_t *items, size_t n, const uint32_t *owner_of,
		const uint32_t *item_of, size_t m)
{
	size_t k;

	memset(start, 0, (n + 1) * sizeof(*start));
	for (k = 0; k < m; k++)
		start[owner_of[k] + 1]++;
	for (k = 0; k < n; k++)
		start[k + 1] += start[k];
	for (k = 0; k < m; k++)
		items[start[owner_of[k]]++] = item_of ? item_of[k] : (uint32_t)k;
	for (k = n; k > 0; k--)
		start[k] = start[k - 1];
	start[0] = 0;
}

enum err prefilter_blob_build(const char *const *src, size_t n, uint64_t key, char **out,
			      size_t *outlen, char *why, size_t whylen)
{
	struct build b;
	struct prefilter_blob_head h;
	struct prefilter_tables t;
	char *blob = NULL, *db = NULL;
	size_t dblen = 0, off, c, k;
	uint32_t *cl_owner = NULL;
	enum err e;

	memset(&b, 0, sizeof(b));
	*out = NULL;
	e = gather(&b, src, n);
	if (e == ERR_OK && b.lits.n > 0)
		e = compile(&b, &db, &dblen, why, whylen);
	if (e != ERR_OK)
		goto out;
	e = ERR_NOMEM;
	memset(&h, 0, sizeof(h));
	h.magic = PREFILTER_MAGIC;
	h.key = key;
	h.db_len = dblen;
	h.npat = (uint32_t)n;
	h.natom = (uint32_t)b.atoms.n;
	h.nclause = (uint32_t)b.clause_pat.n;
	h.nlit = (uint32_t)b.lits.n;
	h.nmember = (uint32_t)b.cl_atom.n;
	off = prefilter_layout(&h, NULL, NULL);
	blob = calloc(1, off + dblen);
	cl_owner = malloc((b.cl_atom.n + 1) * sizeof(*cl_owner));
	if (!blob || !cl_owner)
		goto out;
	prefilter_layout(&h, blob, &t);
	if (b.atoms.n)
		memcpy(t.atom_mask, b.mask, b.atoms.n * sizeof(*b.mask));
	memcpy(t.pat_start, b.pat_start.v, (n + 1) * sizeof(uint32_t));
	if (b.clause_pat.n)
		memcpy(t.clause_pat, b.clause_pat.v, b.clause_pat.n * sizeof(uint32_t));
	/* atom -> clauses: clause c holds cl_atom[cl_start[c] .. cl_start[c + 1]) */
	for (c = 0; c < b.clause_pat.n; c++)
		for (k = b.cl_start.v[c]; k < b.cl_start.v[c + 1]; k++)
			cl_owner[k] = (uint32_t)c;
	csr(t.atom_start, t.atom_cl, b.atoms.n, b.cl_atom.v, cl_owner, b.cl_atom.n);
	csr(t.lit_start, t.lit_atom, b.lits.n, b.lit_of.v, NULL, b.atoms.n);
	for (k = 0; k < b.lits.n; k++)
		t.lit_len[k] = (uint8_t)strlen(b.lits.v[k]);
	if (dblen)
		memcpy(blob + off, db, dblen);
	memcpy(blob, &h, sizeof(h));
	h.sum = prefilter_fnv(PREFILTER_FNV_START, blob + sizeof(h), off + dblen - sizeof(h));
	memcpy(blob, &h, sizeof(h));
	*out = blob;
	*outlen = off + dblen;
	blob = NULL;
	e = ERR_OK;
out:
	free(blob);
	free(db);
	free(cl_owner);
	build_release(&b);
	return e;
}

int prefilter_blob_ok(const char *blob, size_t len, uint64_t key, size_t npat)
{
	struct prefilter_blob_head h;
	struct prefilter_tables t;
	size_t off, i;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, blob, sizeof(h));
	if (h.magic != PREFILTER_MAGIC || h.key != key || h.npat != npat || h.db_len > len)
		return 0;
	off = prefilter_layout(&h, NULL, NULL);
	if (off + h.db_len != len ||
	    h.sum != prefilter_fnv(PREFILTER_FNV_START, blob + sizeof(h), len - sizeof(h)))
		return 0;
	prefilter_layout(&h, (char *)blob, &t);
	if (t.pat_start[0] != 0 || t.pat_start[h.npat] != h.nclause || t.atom_start[0] != 0 ||
	    t.atom_start[h.natom] != h.nmember || t.lit_start[0] != 0 ||
	    t.lit_start[h.nlit] != h.natom || (h.nlit > 0) != (h.db_len > 0))
		return 0;
	for (i = 0; i < h.npat; i++)
		if (t.pat_start[i] > t.pat_start[i + 1] ||
		    t.pat_start[i + 1] - t.pat_start[i] > PREFILTER_CLAUSES_MAX)
			return 0;
	for (i = 0; i < h.nclause; i++)
		if (t.clause_pat[i] >= h.npat)
			return 0;
	for (i = 0; i < h.natom; i++)
		if (t.atom_start[i] > t.atom_start[i + 1] || t.lit_atom[i] >= h.natom)
			return 0;
	for (i = 0; i < h.nmember; i++)
		if (t.atom_cl[i] >= h.nclause)
			return 0;
	for (i = 0; i < h.nlit; i++)
		if (t.lit_start[i] > t.lit_start[i + 1] || t.lit_len[i] == 0 ||
		    t.lit_len[i] > PREFILTER_STRING_MAX)
			return 0;
	return 1;
}
