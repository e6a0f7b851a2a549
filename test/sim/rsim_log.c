/*
 * rsim_log.c — the simulator's host-side log: append, truncate, compact,
 * copy, with a prefix hash per entry.
 */
#include <stdlib.h>
#include <string.h>

#include "rsim_log.h"

static void
free_entries(rsim_log *l, size_t from)
{
	size_t		k;

	for (k = from; k < l->n; k++)
		free(l->e[k].data);
	l->n = from;
}

void
rsim_log_reset(rsim_log *l, uint64_t index, uint64_t term, uint64_t chain)
{
	free_entries(l, 0);
	l->base_index = index;
	l->base_term = term;
	l->base_chain = chain;
}

void
rsim_log_free(rsim_log *l)
{
	free_entries(l, 0);
	free(l->e);
	free(l->chain);
	memset(l, 0, sizeof(*l));
}

uint64_t
rsim_log_last(const rsim_log *l)
{
	return l->base_index + l->n;
}

bool
rsim_log_chain_at(const rsim_log *l, uint64_t index, uint64_t *chain)
{
	if (index < l->base_index || index > rsim_log_last(l))
		return false;
	*chain = index == l->base_index ? l->base_chain : l->chain[index - l->base_index - 1];
	return true;
}

bool
rsim_log_term_at(const rsim_log *l, uint64_t index, uint64_t *term)
{
	if (index < l->base_index || index > rsim_log_last(l))
		return false;
	*term = index == l->base_index ? l->base_term : l->e[index - l->base_index - 1].term;
	return true;
}

void
rsim_log_truncate(rsim_log *l, uint64_t from)
{
	if (from <= l->base_index)
		from = l->base_index + 1;
	if (from > rsim_log_last(l))
		return;
	free_entries(l, (size_t) (from - l->base_index - 1));
}

bool
rsim_log_append(rsim_log *l, const mc_raft_entry *e, uint64_t *chain)
{
	uint64_t	prev = 0;
	mc_raft_entry *d;

	if (e->index != rsim_log_last(l) + 1)
		return false;
	rsim_log_chain_at(l, e->index - 1, &prev);
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = realloc(l->e, l->cap * sizeof(mc_raft_entry));
		l->chain = realloc(l->chain, l->cap * sizeof(uint64_t));
		if (!l->e || !l->chain)
			abort();
	}
	d = &l->e[l->n];
	*d = *e;
	d->data = NULL;
	if (e->len > 0)
	{
		d->data = malloc(e->len);
		if (!d->data)
			abort();
		memcpy(d->data, e->data, e->len);
	}
	l->chain[l->n] = rsim_chain_next(prev, e);
	*chain = l->chain[l->n];
	l->n++;
	return true;
}

void
rsim_log_compact(rsim_log *l, uint64_t index)
{
	size_t		drop,
				k;
	uint64_t	chain = 0,
				term = 0;

	if (index <= l->base_index || index > rsim_log_last(l))
		return;
	rsim_log_chain_at(l, index, &chain);
	rsim_log_term_at(l, index, &term);
	drop = (size_t) (index - l->base_index);
	for (k = 0; k < drop; k++)
		free(l->e[k].data);
	memmove(l->e, l->e + drop, (l->n - drop) * sizeof(mc_raft_entry));
	memmove(l->chain, l->chain + drop, (l->n - drop) * sizeof(uint64_t));
	l->n -= drop;
	l->base_index = index;
	l->base_term = term;
	l->base_chain = chain;
}

void
rsim_log_copy(rsim_log *dst, const rsim_log *src)
{
	size_t		k;
	uint64_t	chain;

	rsim_log_reset(dst, src->base_index, src->base_term, src->base_chain);
	for (k = 0; k < src->n; k++)
		rsim_log_append(dst, &src->e[k], &chain);
}
