/*
 * rsim_check.c — history-wide registries behind the simulator's safety
 * checks: leader per term, chain hash per (index, term), committed entry
 * per index, applied state per index, vote per (voter, term).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsim_check.h"

typedef struct kv
{
	uint64_t	k1;
	uint64_t	k2;
	uint64_t	v;
	bool		used;
} kv;

typedef struct kvmap
{
	kv		   *slots;
	size_t		cap;
	size_t		n;
} kvmap;

typedef struct slot
{
	bool		set;
	uint64_t	cterm;			/* committed: lowest reporter term */
	uint64_t	term;
	uint64_t	chain;
	uint64_t	app;
} slot;

struct rsim_check
{
	int			violations;
	char		first[512];
	kvmap		leaders;		/* (term, 0) -> node */
	kvmap		chains;			/* (index, term) -> chain */
	kvmap		votes;			/* (voter, term) -> candidate */
	slot	   *committed;		/* by index */
	slot	   *applied;		/* by index */
	size_t		cap;
	uint64_t	max_committed;
};

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
kv_hash(uint64_t a, uint64_t b)
{
	return (size_t) mix64(a * 0x9e3779b97f4a7c15ULL ^ mix64(b + 0x632be59bd9b4e019ULL));
}

static void kv_put(kvmap *m, uint64_t a, uint64_t b, uint64_t v);

static void
kv_grow(kvmap *m)
{
	kvmap		old = *m;
	size_t		i;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->slots = calloc(m->cap, sizeof(kv));
	if (!m->slots)
		abort();
	m->n = 0;
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].used)
			kv_put(m, old.slots[i].k1, old.slots[i].k2, old.slots[i].v);
	free(old.slots);
}

static kv *
kv_find(const kvmap *m, uint64_t a, uint64_t b)
{
	size_t		i;

	if (m->cap == 0)
		return NULL;
	for (i = kv_hash(a, b) & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
	{
		if (!m->slots[i].used)
			return NULL;
		if (m->slots[i].k1 == a && m->slots[i].k2 == b)
			return &m->slots[i];
	}
}

static void
kv_put(kvmap *m, uint64_t a, uint64_t b, uint64_t v)
{
	size_t		i;

	if ((m->n + 1) * 2 > m->cap)
		kv_grow(m);
	for (i = kv_hash(a, b) & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
	{
		if (!m->slots[i].used)
		{
			m->slots[i].used = true;
			m->slots[i].k1 = a;
			m->slots[i].k2 = b;
			m->slots[i].v = v;
			m->n++;
			return;
		}
		if (m->slots[i].k1 == a && m->slots[i].k2 == b)
		{
			m->slots[i].v = v;
			return;
		}
	}
}

static void
ensure_index(rsim_check *c, uint64_t index)
{
	size_t		ncap;

	if (index < c->cap)
		return;
	ncap = c->cap ? c->cap : 1024;
	while (ncap <= index)
		ncap *= 2;
	c->committed = realloc(c->committed, ncap * sizeof(slot));
	c->applied = realloc(c->applied, ncap * sizeof(slot));
	if (!c->committed || !c->applied)
		abort();
	memset(c->committed + c->cap, 0, (ncap - c->cap) * sizeof(slot));
	memset(c->applied + c->cap, 0, (ncap - c->cap) * sizeof(slot));
	c->cap = ncap;
}

rsim_check *
rsim_check_new(void)
{
	rsim_check *c = calloc(1, sizeof(rsim_check));

	if (!c)
		abort();
	return c;
}

void
rsim_check_free(rsim_check *c)
{
	if (!c)
		return;
	free(c->leaders.slots);
	free(c->chains.slots);
	free(c->votes.slots);
	free(c->committed);
	free(c->applied);
	free(c);
}

void
rsim_check_fail(rsim_check *c, uint64_t now, const char *fmt,...)
{
	va_list		ap;

	if (c->violations++ == 0)
	{
		int			n = snprintf(c->first, sizeof(c->first), "t=%llums: ",
								 (unsigned long long) now);

		va_start(ap, fmt);
		vsnprintf(c->first + n, sizeof(c->first) - n, fmt, ap);
		va_end(ap);
	}
}

int
rsim_check_violations(const rsim_check *c)
{
	return c->violations;
}

const char *
rsim_check_first(const rsim_check *c)
{
	return c->first;
}

uint64_t
rsim_chain_next(uint64_t prev, const mc_raft_entry *e)
{
	uint64_t	h = mix64(prev ^ 0x5851f42d4c957f2dULL);
	uint32_t	i;

	h = mix64(h ^ e->index);
	h = mix64(h ^ e->term);
	h = mix64(h ^ e->type);
	h = mix64(h ^ e->client_id);
	h = mix64(h ^ e->request_id);
	h = mix64(h ^ e->len);
	for (i = 0; i < e->len; i++)
		h = (h ^ e->data[i]) * 0x100000001b3ULL;
	return mix64(h);
}

void
rsim_check_leader(rsim_check *c, uint64_t now, int node, uint64_t term)
{
	kv		   *e = kv_find(&c->leaders, term, 0);

	if (e == NULL)
		kv_put(&c->leaders, term, 0, (uint64_t) node);
	else if (e->v != (uint64_t) node)
		rsim_check_fail(c, now, "election safety: nodes %llu and %d both leader in term %llu",
						(unsigned long long) e->v, node, (unsigned long long) term);
}

void
rsim_check_entry(rsim_check *c, uint64_t now, int node,
				 uint64_t index, uint64_t term, uint64_t chain)
{
	kv		   *e = kv_find(&c->chains, index, term);

	if (e == NULL)
		kv_put(&c->chains, index, term, chain);
	else if (e->v != chain)
		rsim_check_fail(c, now, "log matching: node %d holds (index %llu, term %llu) with a different prefix than another node had",
						node, (unsigned long long) index, (unsigned long long) term);
	if (index < c->cap && c->committed[index].set &&
		chain != c->committed[index].chain &&
		term >= c->committed[index].cterm)
		rsim_check_fail(c, now, "leader completeness: node %d holds (index %llu, term %llu) but (term %llu) was committed there by term %llu",
						node, (unsigned long long) index, (unsigned long long) term,
						(unsigned long long) c->committed[index].term,
						(unsigned long long) c->committed[index].cterm);
}

bool
rsim_check_chain_of(const rsim_check *c, uint64_t index, uint64_t term,
					uint64_t *chain)
{
	kv		   *e = kv_find(&c->chains, index, term);

	if (e == NULL)
		return false;
	*chain = e->v;
	return true;
}

void
rsim_check_commit(rsim_check *c, uint64_t now, int node, uint64_t node_term,
				  uint64_t index, uint64_t term, uint64_t chain)
{
	slot	   *s;

	ensure_index(c, index);
	s = &c->committed[index];
	if (s->set && node_term < s->cterm && s->term == term && s->chain == chain)
		s->cterm = node_term;
	if (!s->set)
	{
		s->set = true;
		s->cterm = node_term;
		s->term = term;
		s->chain = chain;
		if (index > c->max_committed)
			c->max_committed = index;
	}
	else if (s->term != term || s->chain != chain)
		rsim_check_fail(c, now, "commit durability: node %d reports index %llu committed with term %llu, earlier reported with term %llu (a committed entry was lost)",
						node, (unsigned long long) index, (unsigned long long) term,
						(unsigned long long) s->term);
}

uint64_t
rsim_check_max_committed(const rsim_check *c)
{
	return c->max_committed;
}

bool
rsim_check_committed_at(const rsim_check *c, uint64_t index,
						uint64_t *term, uint64_t *chain, uint64_t *commit_term)
{
	if (index >= c->cap || !c->committed[index].set)
		return false;
	*term = c->committed[index].term;
	*chain = c->committed[index].chain;
	*commit_term = c->committed[index].cterm;
	return true;
}

void
rsim_check_apply(rsim_check *c, uint64_t now, int node, uint64_t node_term,
				 uint64_t index, uint64_t term, uint64_t chain, uint64_t app_hash)
{
	slot	   *s;

	ensure_index(c, index);
	s = &c->applied[index];
	if (!s->set)
	{
		s->set = true;
		s->term = term;
		s->chain = chain;
		s->app = app_hash;
	}
	else if (s->chain != chain || s->app != app_hash)
		rsim_check_fail(c, now, "state machine safety: node %d applied (index %llu, term %llu) but another node applied (term %llu) there",
						node, (unsigned long long) index, (unsigned long long) term,
						(unsigned long long) s->term);
	rsim_check_commit(c, now, node, node_term, index, term, chain);
}

bool
rsim_check_app_hash_at(const rsim_check *c, uint64_t index, uint64_t *app_hash)
{
	if (index >= c->cap || !c->applied[index].set)
		return false;
	*app_hash = c->applied[index].app;
	return true;
}

void
rsim_check_vote(rsim_check *c, uint64_t now, int voter, uint64_t term, int candidate)
{
	kv		   *e = kv_find(&c->votes, (uint64_t) voter, term);

	if (e == NULL)
		kv_put(&c->votes, (uint64_t) voter, term, (uint64_t) candidate);
	else if (e->v != (uint64_t) candidate)
		rsim_check_fail(c, now, "vote safety: node %d granted votes to %llu and %d in term %llu",
						voter, (unsigned long long) e->v, candidate, (unsigned long long) term);
}

int
rsim_check_vote_of(const rsim_check *c, int voter, uint64_t term)
{
	kv		   *e = kv_find(&c->votes, (uint64_t) voter, term);

	return e ? (int) e->v : 0;
}
