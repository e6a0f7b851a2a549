/*
 * snap_codec.h — the byte-level decoding of a snapshot stream (the format
 * is described in src/pg/snapshot_store.c): record headers and the fields of
 * record payloads, every read bounds-checked.  Plain C, no PostgreSQL, so
 * that it is fuzzed (test/fuzz/fuzz_snap_codec.c); snapshot_store.c turns
 * every false into a data_corrupted ERROR.
 */
#ifndef MC_SNAP_CODEC_H
#define MC_SNAP_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#define MC_SNAP_REC_HDR		5	/* u8 kind + u32 payload length */
#define MC_SNAP_REC_LIMIT	(64u * 1024 * 1024)	/* bound of one record */

/* A span of bytes inside a payload (not terminated). */
typedef struct mc_snap_slice
{
	const uint8_t *p;
	uint32_t	len;
} mc_snap_slice;

/* A payload being read. */
typedef struct mc_snap_cursor
{
	const uint8_t *p;
	uint32_t	len;
	uint32_t	pos;
} mc_snap_cursor;

/* Read a record header (MC_SNAP_REC_HDR bytes at h): false when its
 * length is beyond MC_SNAP_REC_LIMIT. */
extern bool mc_snap_header(const uint8_t *h, char *kind, uint32_t *len);

extern void mc_snap_cursor_init(mc_snap_cursor *c, const uint8_t *p, uint32_t len);

/* Each reads the next field and advances; false (cursor unchanged) when
 * the payload has fewer bytes left than the field needs. */
extern bool mc_snap_take(mc_snap_cursor *c, uint32_t n, const uint8_t **out);
extern bool mc_snap_u8(mc_snap_cursor *c, uint8_t *v);
extern bool mc_snap_u16(mc_snap_cursor *c, uint16_t *v);
extern bool mc_snap_u32(mc_snap_cursor *c, uint32_t *v);
extern bool mc_snap_u64(mc_snap_cursor *c, uint64_t *v);
/* u16 length + bytes */
extern bool mc_snap_str(mc_snap_cursor *c, mc_snap_slice *s);
/* A column value of a row: i32 length (-1: NULL) + bytes.  False also for
 * a negative length other than -1. */
extern bool mc_snap_value(mc_snap_cursor *c, bool *isnull, mc_snap_slice *v);

/* Has the whole payload been read? */
extern bool mc_snap_at_end(const mc_snap_cursor *c);

#endif
