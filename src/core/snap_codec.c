/*
 * snap_codec.c — bounds-checked reads of a snapshot stream's record
 * headers and payload fields (snap_codec.h).
 */
#include "snap_codec.h"

#include <stddef.h>

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

bool
mc_snap_header(const uint8_t *h, char *kind, uint32_t *len)
{
	*kind = (char) h[0];
	*len = be32(h + 1);
	return *len <= MC_SNAP_REC_LIMIT;
}

void
mc_snap_cursor_init(mc_snap_cursor *c, const uint8_t *p, uint32_t len)
{
	c->p = p;
	c->len = len;
	c->pos = 0;
}

bool
mc_snap_take(mc_snap_cursor *c, uint32_t n, const uint8_t **out)
{
	if (n > c->len - c->pos)
		return false;
	*out = c->p + c->pos;
	c->pos += n;
	return true;
}

bool
mc_snap_u8(mc_snap_cursor *c, uint8_t *v)
{
	const uint8_t *p;

	if (!mc_snap_take(c, 1, &p))
		return false;
	*v = p[0];
	return true;
}

bool
mc_snap_u16(mc_snap_cursor *c, uint16_t *v)
{
	const uint8_t *p;

	if (!mc_snap_take(c, 2, &p))
		return false;
	*v = (uint16_t) ((p[0] << 8) | p[1]);
	return true;
}

bool
mc_snap_u32(mc_snap_cursor *c, uint32_t *v)
{
	const uint8_t *p;

	if (!mc_snap_take(c, 4, &p))
		return false;
	*v = be32(p);
	return true;
}

bool
mc_snap_u64(mc_snap_cursor *c, uint64_t *v)
{
	const uint8_t *p;

	if (!mc_snap_take(c, 8, &p))
		return false;
	*v = ((uint64_t) be32(p) << 32) | be32(p + 4);
	return true;
}

bool
mc_snap_str(mc_snap_cursor *c, mc_snap_slice *s)
{
	uint32_t	start = c->pos;
	uint16_t	n;

	if (!mc_snap_u16(c, &n) || !mc_snap_take(c, n, &s->p))
	{
		c->pos = start;
		return false;
	}
	s->len = n;
	return true;
}

bool
mc_snap_value(mc_snap_cursor *c, bool *isnull, mc_snap_slice *v)
{
	uint32_t	start = c->pos;
	uint32_t	raw;
	int32_t		n;

	if (!mc_snap_u32(c, &raw))
		return false;
	n = (int32_t) raw;
	if (n == -1)
	{
		*isnull = true;
		v->p = NULL;
		v->len = 0;
		return true;
	}
	if (n < 0 || !mc_snap_take(c, (uint32_t) n, &v->p))
	{
		c->pos = start;
		return false;
	}
	*isnull = false;
	v->len = (uint32_t) n;
	return true;
}

bool
mc_snap_at_end(const mc_snap_cursor *c)
{
	return c->pos == c->len;
}
