/* prefilter.c -- the atoms of each pattern, one Vectorscan database for all
 * of them, candidates by scan (prefilter.h).
 *
 * Here a prefilter is made (its blob from the cache, or built) and used:
 * the scan, the candidates, the figures; and the checks without
 * Vectorscan (prefilter_admits, prefilter_describe). Its parts
 * (prefilter_int.h): the reader of PCRE2's syntax that finds what a
 * pattern requires (prefilter_read.c, with the algebra of
 * prefilter_atoms.c); the blob, the tables that turn the atoms found in a
 * text into candidate patterns and the literals' database
 * (prefilter_blob.c), built in a child process and kept in the cache
 * (prefilter_cache.c). */
#include "prefilter.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hs_dl.h"
#include "log.h"
#include "prefilter_int.h"

struct prefilter {
	struct prefilter_blob_head h;
	struct prefilter_tables t;
	char *blob; /* the tables live here */
	hs_database_t *db;
	hs_scratch_t *scratch;
	uint64_t *sat[PREFILTER_SLOTS]; /* clauses that have an atom in the text */
	/* clauses of each pattern that have none yet: a candidate at 0 (one
	 * look, where prefilter_may is asked about every pattern) */
	uint16_t *need[PREFILTER_SLOTS], *need0;
	int all[PREFILTER_SLOTS]; /* the scan failed: every pattern */
	/* an atom found once in a scan is done: its literal may be reported
	 * at every place it occurs */
	uint32_t *atom_seen, scan_no;
	size_t db_bytes, always;
	int from_cache;
	double build_ms;
	int warned;
};

/* adopt: pf takes the tables of blob (sound: prefilter_blob_ok), copied
 * out, and its database, read out by Vectorscan; the blob stays the
 * caller's. */
static enum err adopt(struct prefilter *pf, const struct prefilter_bytes *blob, char *why,
		      size_t whylen)
{
	size_t off, i;

	memcpy(&pf->h, blob->p, sizeof(pf->h));
	off = prefilter_layout(&pf->h, NULL, NULL);
	pf->blob = malloc(off);
	if (!pf->blob)
		return ERR_NOMEM;
	memcpy(pf->blob, blob->p, off);
	prefilter_layout(&pf->h, pf->blob, &pf->t);
	if (pf->h.db_len > 0 && hs_rt.deserialize_database(blob->p + off, (size_t)pf->h.db_len,
							   &pf->db) != HS_SUCCESS) {
		pf->db = NULL;
		snprintf(why, whylen, "Vectorscan could not read its database back");
		return ERR_INVALID;
	}
	if (pf->db && (hs_rt.alloc_scratch(pf->db, &pf->scratch) != HS_SUCCESS ||
		       hs_rt.database_size(pf->db, &pf->db_bytes) != HS_SUCCESS)) {
		snprintf(why, whylen, "Vectorscan could not make its scratch space");
		return ERR_NOMEM;
	}
	pf->need0 = calloc(pf->h.npat + 1, sizeof(uint16_t));
	pf->atom_seen = calloc(pf->h.natom + 1, sizeof(uint32_t));
	if (!pf->need0 || !pf->atom_seen)
		return ERR_NOMEM;
	for (i = 0; i < pf->h.npat; i++) {
		pf->need0[i] = (uint16_t)(pf->t.pat_start[i + 1] - pf->t.pat_start[i]);
		pf->always += pf->need0[i] == 0;
	}
	for (i = 0; i < PREFILTER_SLOTS; i++) {
		pf->sat[i] = calloc(pf->h.nclause / 64 + 1, sizeof(uint64_t));
		pf->need[i] = calloc(pf->h.npat + 1, sizeof(uint16_t));
		pf->all[i] = 1;
		if (!pf->sat[i] || !pf->need[i])
			return ERR_NOMEM;
	}
	return ERR_OK;
}

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

enum err prefilter_new(const char *const *src, size_t n, struct prefilter **out, char *why,
		       size_t whylen)
{
	struct prefilter *pf = NULL;
	struct prefilter_bytes blob = {NULL, 0, 0};
	double t0 = (double)clock_mono_ms();
	uint64_t key;
	enum err e;

	*out = NULL;
	if (env_on("FAQBOT_NO_PREFILTER")) {
		snprintf(why, whylen, "FAQBOT_NO_PREFILTER is set");
		return ERR_NOTFOUND;
	}
	e = hs_dl_runtime(why, whylen);
	if (e != ERR_OK)
		return e;
	if (n > UINT32_MAX / 2)
		return ERR_LIMIT;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return ERR_NOMEM;
	key = prefilter_blob_key(src, n);
	prefilter_cache_read(key, &blob);
	if (blob.p && prefilter_blob_ok(blob.p, blob.len, key, n)) {
		pf->from_cache = 1;
	} else {
		prefilter_bytes_release(&blob);
		if (prefilter_build_apart(src, n, key, &blob, &e, why, whylen) < 0)
			e = prefilter_blob_build(src, n, key, &blob.p, &blob.len, why, whylen);
		if (e == ERR_OK && !prefilter_blob_ok(blob.p, blob.len, key, n)) {
			snprintf(why, whylen, "the prefilter built is not sound");
			e = ERR_INVALID;
		}
		if (e != ERR_OK)
			goto out;
		prefilter_cache_write(key, blob.p, blob.len);
	}
	e = adopt(pf, &blob, why, whylen);
	if (e != ERR_OK)
		goto out;
	pf->build_ms = (double)clock_mono_ms() - t0;
	*out = pf;
	pf = NULL;
out:
	prefilter_bytes_release(&blob);
	prefilter_free(pf);
	if (e != ERR_OK && e != ERR_NOMEM)
		e = ERR_NOTFOUND;
	return e;
}

void prefilter_free(struct prefilter *pf)
{
	size_t i;

	if (!pf)
		return;
	if (pf->scratch)
		hs_rt.free_scratch(pf->scratch);
	if (pf->db)
		hs_rt.free_database(pf->db);
	free(pf->blob);
	for (i = 0; i < PREFILTER_SLOTS; i++) {
		free(pf->sat[i]);
		free(pf->need[i]);
	}
	free(pf->need0);
	free(pf->atom_seen);
	free(pf);
}

/* --- scanning -------------------------------------------------------------- */

/* What a scan's callback needs. */
struct scan_ctx {
	struct prefilter *pf;
	const unsigned char *text;
	size_t len;
	uint64_t *sat;
	uint16_t *need;
};

/* is_word: a word character as PCRE2 reads \b without UCP (and
 * Vectorscan too): ASCII letters, digits and the underscore */
static int is_word(int c)
{
	return c < 0x80 && (isalnum(c) || c == '_');
}

/* bounds_ok: every boundary of mask holds where the literal starts */
static int bounds_ok(const unsigned char *text, size_t len, size_t start, uint64_t mask)
{
	for (; mask; mask &= mask - 1) {
		size_t pos = start + (size_t)__builtin_ctzll(mask);
		int before = pos > 0 && is_word(text[pos - 1]);
		int after = pos < len && is_word(text[pos]);

		if (before == after)
			return 0;
	}
	return 1;
}

static int on_literal(unsigned int id, unsigned long long from, unsigned long long to,
		      unsigned int flags, void *ctx)
{
	const struct scan_ctx *sc = ctx;
	struct prefilter *pf = sc->pf;
	const struct prefilter_tables *t = &pf->t;
	size_t k, j, start = (size_t)to - t->lit_len[id];

	(void)from, (void)flags;
	for (k = t->lit_start[id]; k < t->lit_start[id + 1]; k++) {
		uint32_t a = t->lit_atom[k];

		if (pf->atom_seen[a] == pf->scan_no ||
		    (t->atom_mask[a] && !bounds_ok(sc->text, sc->len, start, t->atom_mask[a])))
			continue;
		pf->atom_seen[a] = pf->scan_no;
		for (j = t->atom_start[a]; j < t->atom_start[a + 1]; j++) {
			uint32_t c = t->atom_cl[j];
			uint64_t bit = 1ull << (c % 64);

			if (!(sc->sat[c / 64] & bit)) {
				sc->sat[c / 64] |= bit;
				sc->need[t->clause_pat[c]]--;
			}
		}
	}
	return 0;
}

void prefilter_scan(struct prefilter *pf, unsigned slot, const char *text, size_t len)
{
	struct scan_ctx sc = {pf, (const unsigned char *)text, len, pf->sat[slot], pf->need[slot]};
	hs_error_t rc;

	memset(pf->sat[slot], 0, (pf->h.nclause / 64 + 1) * sizeof(uint64_t));
	memcpy(pf->need[slot], pf->need0, pf->h.npat * sizeof(uint16_t));
	pf->all[slot] = 0;
	if (!pf->db)
		return; /* no atoms: every pattern is always a candidate */
	if (++pf->scan_no == 0) {
		/* once in 2^32 scans: no atom may look seen by a stale number */
		memset(pf->atom_seen, 0, pf->h.natom * sizeof(uint32_t));
		pf->scan_no = 1;
	}
	rc = len > 0xFFFFFFFFu
		     ? HS_INVALID
		     : hs_rt.scan(pf->db, text, (unsigned)len, 0, pf->scratch, on_literal, &sc);
	if (rc != HS_SUCCESS) {
		pf->all[slot] = 1;
		if (!pf->warned++)
			log_warn("prefilter: Vectorscan failed a scan (%d): every pattern is tried "
				 "with PCRE2",
				 (int)rc);
	}
}

int prefilter_may(const struct prefilter *pf, unsigned slot, size_t i)
{
	return pf->all[slot] || pf->need[slot][i] == 0;
}

/* version_len: Vectorscan's version without the blank its build date
 * leaves behind */
static int version_len(void)
{
	const char *v = hs_rt.version();
	size_t n = strlen(v);

	while (n > 0 && v[n - 1] == ' ')
		n--;
	return (int)n;
}

void prefilter_figures(const struct prefilter *pf, struct prefilter_figures *f)
{
	memset(f, 0, sizeof(*f));
	f->patterns = pf->h.npat;
	f->always = pf->always;
	f->atoms = pf->h.natom;
	f->db_bytes = pf->db_bytes;
	f->from_cache = pf->from_cache;
	f->build_ms = pf->build_ms;
	f->version = hs_rt.version ? hs_rt.version() : "";
	f->version_len = hs_rt.version ? version_len() : 0;
}

void prefilter_version(char *buf, size_t len)
{
	char why[256];

	if (hs_dl_runtime(why, sizeof(why)) == ERR_OK)
		snprintf(buf, len, "Vectorscan %.*s", version_len(), hs_rt.version());
	else
		snprintf(buf, len, "Vectorscan not loaded: %s", why);
}

/* --- checking without Vectorscan --------------------------------------------- */

/* found: atom a (PREFILTER_MARK for \b) occurs in text[0, len), ASCII case aside */
static int found(const char *a, const unsigned char *text, size_t len)
{
	char lit[PREFILTER_STRING_MAX + 1];
	uint64_t mask = 0;
	size_t n = 0, at;

	for (; *a; a++) {
		if (*a == PREFILTER_MARK)
			mask |= 1ull << n;
		else
			lit[n++] = *a;
	}
	for (at = 0; at + n <= len; at++) {
		size_t i;

		for (i = 0; i < n && tolower(text[at + i]) == (unsigned char)lit[i]; i++)
			;
		if (i == n && bounds_ok(text, len, at, mask))
			return 1;
	}
	return 0;
}

int prefilter_admits(const char *src, const char *text, size_t len)
{
	struct prefilter_arena ar = {NULL, 0};
	struct prefilter_cnf f;
	size_t i, j;
	int ok = 1;

	prefilter_extract(src, &ar, &f);
	if (ar.nomem) {
		prefilter_arena_release(&ar);
		return -1;
	}
	for (i = 0; i < f.n && ok; i++) {
		for (j = 0; j < f.c[i].n; j++)
			if (found(f.c[i].atom[j], (const unsigned char *)text, len))
				break;
		ok = j < f.c[i].n;
	}
	prefilter_arena_release(&ar);
	return ok;
}

/* --- describing ------------------------------------------------------------ */

enum err prefilter_describe(const char *src, char *buf, size_t buflen)
{
	struct prefilter_arena ar = {NULL, 0};
	struct prefilter_cnf f;
	size_t i, j, o = 0;

	if (buflen == 0)
		return ERR_OK;
	buf[0] = '\0';
	prefilter_extract(src, &ar, &f);
	if (ar.nomem) {
		prefilter_arena_release(&ar);
		return ERR_NOMEM;
	}
	if (f.n == 0)
		snprintf(buf, buflen, "always");
	for (i = 0; i < f.n && o < buflen; i++) {
		o += (size_t)snprintf(buf + o, buflen - o, "%s(", i ? " AND " : "");
		for (j = 0; j < f.c[i].n && o < buflen; j++) {
			const char *a = f.c[i].atom[j];

			o += (size_t)snprintf(buf + o, buflen - o, "%s\"", j ? " | " : "");
			for (; *a && o < buflen; a++)
				o += (size_t)snprintf(buf + o, buflen - o, "%s",
						      *a == PREFILTER_MARK ? "\\b"
									   : (char[]){*a, '\0'});
			if (o < buflen)
				o += (size_t)snprintf(buf + o, buflen - o, "\"");
		}
		if (o < buflen)
			o += (size_t)snprintf(buf + o, buflen - o, ")");
	}
	prefilter_arena_release(&ar);
	return ERR_OK;
}
