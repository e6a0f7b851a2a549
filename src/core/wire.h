/*
 * wire.h — bounds-checked byte buffers for every mailcluster wire codec.
 *
 * Pure C, no PostgreSQL, no I/O.  Integers are big-endian on the wire.
 * A writer never writes past its capacity and a reader never reads past its
 * length: the first failure sets the sticky `err` flag, later calls do
 * nothing, and the codec checks `err` once at the end.  This is what makes
 * the decoders safe to fuzz: no call here can touch memory outside the
 * buffer it was given.
 */
#ifndef MC_WIRE_H
#define MC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mc_writer
{
	uint8_t    *buf;
	size_t		cap;
	size_t		len;
	bool		err;			/* set once anything did not fit */
} mc_writer;

typedef struct mc_reader
{
	const uint8_t *buf;
	size_t		len;
	size_t		pos;
	bool		err;			/* set once anything was missing */
} mc_reader;

void		mc_writer_init(mc_writer *w, uint8_t *buf, size_t cap);
void		mc_put_u8(mc_writer *w, uint8_t v);
void		mc_put_u16(mc_writer *w, uint16_t v);
void		mc_put_u32(mc_writer *w, uint32_t v);
void		mc_put_u64(mc_writer *w, uint64_t v);
void		mc_put_bytes(mc_writer *w, const void *p, size_t n);
/* A length-prefixed (u16) byte string; err if n > 65535. */
void		mc_put_str16(mc_writer *w, const void *p, size_t n);
/* A length-prefixed (u32) byte string. */
void		mc_put_blob32(mc_writer *w, const void *p, size_t n);

void		mc_reader_init(mc_reader *r, const uint8_t *buf, size_t len);
uint8_t		mc_get_u8(mc_reader *r);
uint16_t	mc_get_u16(mc_reader *r);
uint32_t	mc_get_u32(mc_reader *r);
uint64_t	mc_get_u64(mc_reader *r);
/* Copy n bytes out; on shortage zero-fills dst and sets err. */
void		mc_get_bytes(mc_reader *r, void *dst, size_t n);
/*
 * Borrow a length-prefixed string in place: returns a pointer into the
 * buffer (NULL on error) and its length in *n; never copies.
 */
const uint8_t *mc_get_str16(mc_reader *r, size_t *n);
const uint8_t *mc_get_blob32(mc_reader *r, size_t *n);
/* Bytes left to read. */
size_t		mc_remaining(const mc_reader *r);

#endif
