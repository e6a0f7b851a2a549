/*
 * wire.c — bounds-checked big-endian buffer reader/writer (see wire.h).
 */
#include "wire.h"

#include <string.h>

void
mc_writer_init(mc_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = false;
}

/* Reserve n bytes; NULL (and err) when they do not fit. */
static uint8_t *
reserve(mc_writer *w, size_t n)
{
	uint8_t    *p;

	if (w->err || n > w->cap - w->len)
	{
		w->err = true;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void
mc_put_u8(mc_writer *w, uint8_t v)
{
	uint8_t    *p = reserve(w, 1);

	if (p)
		p[0] = v;
}

void
mc_put_u16(mc_writer *w, uint16_t v)
{
	uint8_t    *p = reserve(w, 2);

	if (p)
	{
		p[0] = (uint8_t) (v >> 8);
		p[1] = (uint8_t) v;
	}
}

void
mc_put_u32(mc_writer *w, uint32_t v)
{
	uint8_t    *p = reserve(w, 4);

	if (p)
		for (int i = 0; i < 4; i++)
			p[i] = (uint8_t) (v >> (24 - 8 * i));
}

void
mc_put_u64(mc_writer *w, uint64_t v)
{
	uint8_t    *p = reserve(w, 8);

	if (p)
		for (int i = 0; i < 8; i++)
			p[i] = (uint8_t) (v >> (56 - 8 * i));
}

void
mc_put_bytes(mc_writer *w, const void *src, size_t n)
{
	uint8_t    *p = reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void
mc_put_str16(mc_writer *w, const void *src, size_t n)
{
	if (n > UINT16_MAX)
	{
		w->err = true;
		return;
	}
	mc_put_u16(w, (uint16_t) n);
	mc_put_bytes(w, src, n);
}

void
mc_put_blob32(mc_writer *w, const void *src, size_t n)
{
	if (n > UINT32_MAX)
	{
		w->err = true;
		return;
	}
	mc_put_u32(w, (uint32_t) n);
	mc_put_bytes(w, src, n);
}

void
mc_reader_init(mc_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
	r->err = false;
}

/* Consume n bytes; NULL (and err) when fewer are left. */
static const uint8_t *
take(mc_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err || n > r->len - r->pos)
	{
		r->err = true;
		return NULL;
	}
	p = r->buf + r->pos;
	r->pos += n;
	return p;
}

uint8_t
mc_get_u8(mc_reader *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

uint16_t
mc_get_u16(mc_reader *r)
{
	const uint8_t *p = take(r, 2);

	return p ? (uint16_t) ((p[0] << 8) | p[1]) : 0;
}

uint32_t
mc_get_u32(mc_reader *r)
{
	const uint8_t *p = take(r, 4);
	uint32_t	v = 0;

	if (p)
		for (int i = 0; i < 4; i++)
			v = (v << 8) | p[i];
	return v;
}

uint64_t
mc_get_u64(mc_reader *r)
{
	const uint8_t *p = take(r, 8);
	uint64_t	v = 0;

	if (p)
		for (int i = 0; i < 8; i++)
			v = (v << 8) | p[i];
	return v;
}

void
mc_get_bytes(mc_reader *r, void *dst, size_t n)
{
	const uint8_t *p = take(r, n);

	if (p)
		memcpy(dst, p, n);
	else if (n)
		memset(dst, 0, n);
}

const uint8_t *
mc_get_str16(mc_reader *r, size_t *n)
{
	size_t		len = mc_get_u16(r);
	const uint8_t *p = take(r, len);

	*n = p ? len : 0;
	return p;
}

const uint8_t *
mc_get_blob32(mc_reader *r, size_t *n)
{
	size_t		len = mc_get_u32(r);
	const uint8_t *p = take(r, len);

	*n = p ? len : 0;
	return p;
}

size_t
mc_remaining(const mc_reader *r)
{
	return r->err ? 0 : r->len - r->pos;
}
