/*
 * fuzz_snap_codec.c — libFuzzer target for the snapshot stream decoder
 * (src/core/snap_codec.c), driven the way the installer in
 * src/pg/snapshot_store.c drives it: the input is a stream of records
 * (header + payload); 'S' and 'E' payloads are read as their integers,
 * 'T' as a table header (name, columns: name, type, encoding), 'R' and
 * 'P' as rows of the last table's column count.  Every read must stay
 * inside the payload (ASan) and a field that does not fit must be refused
 * without moving the cursor.
 */
#include "snap_codec.h"

#include <stdlib.h>
#include <string.h>

/* Touch every byte of a slice, so ASan sees an out-of-bounds span. */
static volatile uint8_t sink;

static void
touch(const mc_snap_slice *s)
{
	for (uint32_t i = 0; i < s->len; i++)
		sink ^= s->p[i];
}

static void
check_refused(const mc_snap_cursor *before, const mc_snap_cursor *after)
{
	if (before->pos != after->pos)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		off = 0;
	uint16_t	ncols = 0;

	while (size - off >= MC_SNAP_REC_HDR)
	{
		char		kind;
		uint32_t	len;
		uint8_t    *payload;
		mc_snap_cursor c;

		if (!mc_snap_header(data + off, &kind, &len))
			return 0;
		off += MC_SNAP_REC_HDR;
		if (len > size - off)
			len = (uint32_t) (size - off);	/* a cut stream: read what is there */
		/* an exact-size copy, so any overrun is a heap overflow ASan sees */
		payload = malloc(len ? len : 1);
		if (payload == NULL)
			return 0;
		memcpy(payload, data + off, len);
		off += len;
		mc_snap_cursor_init(&c, payload, len);

		switch (kind)
		{
			case 'S':
				{
					uint32_t	format;
					uint64_t	idx;

					(void) (mc_snap_u32(&c, &format) && mc_snap_u64(&c, &idx));
					break;
				}
			case 'E':
				{
					uint32_t	tables;
					uint64_t	rows;

					(void) (mc_snap_u32(&c, &tables) && mc_snap_u64(&c, &rows));
					break;
				}
			case 'T':
				{
					mc_snap_slice name;

					ncols = 0;
					if (!mc_snap_str(&c, &name) || !mc_snap_u16(&c, &ncols))
						break;
					touch(&name);
					for (uint32_t i = 0; i < ncols; i++)
					{
						mc_snap_slice cn,
									ct;
						uint8_t		enc;
						mc_snap_cursor before = c;

						if (!mc_snap_str(&c, &cn))
						{
							check_refused(&before, &c);
							break;
						}
						if (!mc_snap_str(&c, &ct) || !mc_snap_u8(&c, &enc))
							break;
						touch(&cn);
						touch(&ct);
					}
					break;
				}
			case 'R':
			case 'P':
				for (uint32_t i = 0; i < ncols; i++)
				{
					mc_snap_slice v;
					bool		isnull;
					mc_snap_cursor before = c;

					if (!mc_snap_value(&c, &isnull, &v))
					{
						check_refused(&before, &c);
						break;
					}
					if (!isnull)
						touch(&v);
				}
				break;
			default:
				{
					const uint8_t *p;
					mc_snap_cursor before = c;

					/* any length beyond the payload is refused, cursor unmoved */
					if (!mc_snap_take(&c, len + 1, &p))
						check_refused(&before, &c);
					else
						abort();
				}
		}
		(void) mc_snap_at_end(&c);
		free(payload);
	}
	return 0;
}
