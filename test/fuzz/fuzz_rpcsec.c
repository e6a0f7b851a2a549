/*
 * fuzz_rpcsec.c — libFuzzer target for the Raft RPC secure channel: the
 * handshake parsers and the incremental frame decoder (rpcsec.h).
 *
 * Input byte 0 picks the mode, byte 1 the chunk size used to feed:
 *   0: bytes from a stranger to a server waiting for HELLO;
 *   1: bytes from a stranger to a client waiting for WELCOME;
 *   2: a real HELLO is XOR-ed with the input and handed to a server, whose
 *      WELCOME is handed back to the client (tampered handshakes);
 *   3: bytes injected into an established channel (post-handshake decoder);
 *   4: an established pair exchanges frames whose sizes come from the
 *      input, delivered in the given chunk size: every frame must arrive
 *      intact and in order.
 * Never-accepted rule: in modes 0, 1 and 3 no frame may ever come out, and
 * in mode 2 the handshake may only complete if the XOR mask was all zeros.
 */
#include "rpcsec.h"

#include <stdlib.h>
#include <string.h>

static mc_keyring kr;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 4096

static void
setup(void)
{
	static int	done;

	if (done)
		return;
	if (mc_crypto_init() != 0 ||
		mc_crypto_keyring_parse(&kr, "fuzzing cluster secret one,fuzzing cluster secret two") != NULL)
		abort();
	done = 1;
}

/* Feed `n` bytes in chunks, draining frames; optionally close.  Returns frames seen. */
static int
feed_chunked(mc_rpcsec *s, const uint8_t *p, size_t n, size_t chunk, bool then_eof)
{
	int			frames = 0;

	for (size_t off = 0; off < n;)
	{
		size_t		k = n - off < chunk ? n - off : chunk;
		uint8_t    *copy = malloc(k);	/* exact size: ASan catches overreads */
		const uint8_t *f;
		size_t		flen;
		mc_rpcsec_status st;

		memcpy(copy, p + off, k);
		st = mc_rpcsec_feed(s, copy, k);
		free(copy);
		off += k;
		if (st != MC_RPCSEC_OK)
			break;
		while (mc_rpcsec_next_frame(s, &f, &flen) == MC_RPCSEC_OK && f != NULL)
		{
			if (flen > MAXF)
				abort();
			frames++;
		}
	}
	if (then_eof)
		(void) mc_rpcsec_eof(s);
	return frames;
}

/* Move all pending bytes of a into b. */
static void
move(mc_rpcsec *a, mc_rpcsec *b, size_t chunk)
{
	const uint8_t *p;
	size_t		n;

	while ((p = mc_rpcsec_pending(a, &n)) != NULL)
	{
		size_t		k = n < chunk ? n : chunk;

		if (mc_rpcsec_feed(b, p, k) != MC_RPCSEC_OK)
		{
			mc_rpcsec_written(a, n);
			break;
		}
		mc_rpcsec_written(a, k);
	}
}

static void
connect_pair(mc_rpcsec *c, mc_rpcsec *s)
{
	if (mc_rpcsec_init_client(c, &kr, 1, 2, MAXF) != MC_RPCSEC_OK ||
		mc_rpcsec_init_server(s, &kr, 2, MAXF) != MC_RPCSEC_OK)
		abort();
	move(c, s, 1 << 20);
	move(s, c, 1 << 20);
	move(c, s, 1 << 20);
	if (!mc_rpcsec_established(c) || !mc_rpcsec_established(s))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mc_rpcsec	c,
				s;
	int			mode;
	size_t		chunk;

	setup();
	if (size < 2)
		return 0;
	mode = data[0] % 5;
	chunk = (size_t) data[1] + 1;
	data += 2;
	size -= 2;

	switch (mode)
	{
		case 0:
			mc_rpcsec_init_server(&s, &kr, 2, MAXF);
			if (feed_chunked(&s, data, size, chunk, true) != 0)
				abort();
			mc_rpcsec_free(&s);
			break;
		case 1:
			mc_rpcsec_init_client(&c, &kr, 1, 2, MAXF);
			if (feed_chunked(&c, data, size, chunk, true) != 0)
				abort();
			mc_rpcsec_free(&c);
			break;
		case 2:
			{
				const uint8_t *p;
				size_t		n;
				uint8_t    *hello;
				bool		changed = false;

				mc_rpcsec_init_client(&c, &kr, 1, 2, MAXF);
				mc_rpcsec_init_server(&s, &kr, 2, MAXF);
				p = mc_rpcsec_pending(&c, &n);
				hello = malloc(n);
				memcpy(hello, p, n);
				mc_rpcsec_written(&c, n);
				for (size_t i = 0; i < n && i < size; i++)
				{
					hello[i] ^= data[i];
					changed |= data[i] != 0;
				}
				feed_chunked(&s, hello, n, chunk, false);
				free(hello);
				move(&s, &c, chunk);
				move(&c, &s, chunk);
				if (changed && (mc_rpcsec_established(&c) || mc_rpcsec_established(&s)))
					abort();
				if (!changed && !(mc_rpcsec_established(&c) && mc_rpcsec_established(&s)))
					abort();
				mc_rpcsec_free(&c);
				mc_rpcsec_free(&s);
			}
			break;
		case 3:
			connect_pair(&c, &s);
			if (feed_chunked(&s, data, size, chunk, true) != 0)
				abort();
			mc_rpcsec_free(&c);
			mc_rpcsec_free(&s);
			break;
		case 4:
			{
				uint32_t	expect_idx = 0,
							sent = 0;
				uint8_t    *msg = malloc(MAXF + 1);

				connect_pair(&c, &s);
				chunk *= 17;	/* byte-by-byte is the unit tests' job; keep runs fast */
				for (size_t i = 0; i + 1 < size && sent < 16; i += 2)
				{
					size_t		len = ((size_t) data[i] << 8 | data[i + 1]) % (MAXF + 2);
					mc_rpcsec_status st;

					memset(msg, (int) sent, len);
					st = mc_rpcsec_send(&c, msg, len);
					if (len > MAXF)
					{
						if (st != MC_RPCSEC_ERR_OVERSIZED)
							abort();
						continue;
					}
					if (st != MC_RPCSEC_OK)
						abort();
					sent++;
					/* deliver in chunks, taking frames as they complete */
					{
						const uint8_t *p,
								   *f;
						size_t		n,
									flen;

						while ((p = mc_rpcsec_pending(&c, &n)) != NULL)
						{
							size_t		k = n < chunk ? n : chunk;

							if (mc_rpcsec_feed(&s, p, k) != MC_RPCSEC_OK)
								abort();
							mc_rpcsec_written(&c, k);
							while (mc_rpcsec_next_frame(&s, &f, &flen) == MC_RPCSEC_OK && f)
							{
								for (size_t j = 0; j < flen; j++)
									if (f[j] != (uint8_t) expect_idx)
										abort();
								expect_idx++;
							}
						}
					}
					if (expect_idx != sent)
						abort();
				}
				if (mc_rpcsec_eof(&s) != MC_RPCSEC_OK)
					abort();
				free(msg);
				mc_rpcsec_free(&c);
				mc_rpcsec_free(&s);
			}
			break;
	}
	return 0;
}
