/*
 * swim_bcast.c — the piggyback queue (G2): membership updates waiting to
 * ride on outgoing messages.  One entry per node id (a newer update about a
 * node replaces the older one); each is sent λ·ceil(log10(n+1)) times,
 * those sent the fewest times first, newest first among equals.
 */
#include "swim_int.h"

#include <math.h>
#include <stdlib.h>

uint32_t
mc_swim_retransmit_limit(const mc_swim *s)
{
	int			n = mc_swim_cluster_size(s);

	return s->cfg.retransmit_mult * (uint32_t) ceil(log10((double) n + 1.0));
}

void
mc_swim_bcast_queue(mc_swim *s, const mc_swim_rec *r)
{
	int			i;

	for (i = 0; i < s->nbq; i++)
		if (s->bq[i].rec.node == r->node)
			break;
	if (i == s->nbq)
	{
		if (s->nbq == s->cap_bq)
		{
			int			ncap = s->cap_bq ? s->cap_bq * 2 : 16;
			mc_swim_bcast *nb = realloc(s->bq, sizeof(mc_swim_bcast) * ncap);

			if (nb == NULL)
				return;			/* update lost; push-pull repairs it */
			s->bq = nb;
			s->cap_bq = ncap;
		}
		s->nbq++;
	}
	s->bq[i].rec = *r;
	s->bq[i].transmits = 0;
	s->bq[i].id = ++s->bcast_id;
}

static int
bcast_cmp(const void *a, const void *b)
{
	const mc_swim_bcast *x = a,
			   *y = b;

	if (x->transmits != y->transmits)
		return x->transmits < y->transmits ? -1 : 1;
	if (x->id != y->id)
		return x->id > y->id ? -1 : 1;
	return 0;
}

/*
 * Append as many queued records as fit in w (at most MC_SWIM_MAX_RECS),
 * count the transmissions and drop those sent often enough.  Returns the
 * number appended.
 */
int
mc_swim_bcast_fill(mc_swim *s, mc_writer *w)
{
	uint32_t	limit = mc_swim_retransmit_limit(s);
	int			i,
				j,
				n = 0;

	if (s->nbq == 0)
		return 0;
	qsort(s->bq, s->nbq, sizeof(mc_swim_bcast), bcast_cmp);
	for (i = 0; i < s->nbq && n < MC_SWIM_MAX_RECS; i++)
	{
		if (!mc_swim_enc_rec(w, &s->bq[i].rec))
			break;
		s->bq[i].transmits++;
		n++;
	}
	for (i = 0, j = 0; i < s->nbq; i++)
		if (s->bq[i].transmits < limit)
			s->bq[j++] = s->bq[i];
	s->nbq = j;
	return n;
}

void
mc_swim_bcast_clear(mc_swim *s)
{
	s->nbq = 0;
}
