/*
 * fuzz_packet.c — libFuzzer target for gossip packet opening
 * (mc_crypto_open / mc_crypto_open_from) and the per-(sender, source
 * address) replay window.
 *
 * Input byte 0 picks the mode:
 *   even: the rest is one datagram, opened raw (the decoder must never
 *         read outside it, and nothing forged may be accepted);
 *   odd:  the rest is a script of 13-byte steps {sender u16, dt i16,
 *         seq-delta i32, flags u8, tamper u32} that seal real packets and
 *         open them from one of three source addresses (picked by the
 *         sender word's high bits), checking the replay invariants: a
 *         packet opened once from an address is never opened again from
 *         it, and an untampered fresh packet whose sequence is above
 *         everything seen from that (sender, address) is accepted — even
 *         when the same sender id is also used from other addresses with
 *         higher sequences (G7: an impostor cannot lock out the real node).
 */
#include "mc_crypto.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static mc_keyring kr;
static mc_crypto_replay rp;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

#define NOW 1700000000000ULL
#define MAXSEEN 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen;
	mc_packet_info info;

	setup();
	mc_crypto_replay_reset(&rp);
	if (size == 0)
		return 0;

	if ((data[0] & 1) == 0)
	{
		/* raw datagram: copy to an exact-size heap buffer so ASan sees overreads */
		size_t		n = size - 1;
		uint8_t    *pkt = malloc(n ? n : 1);
		mc_drop_reason why;

		memcpy(pkt, data + 1, n);
		why = mc_crypto_open_from(&kr, &rp, n, NOW, pkt, n, out, sizeof(out), &olen, &info);
		/* nobody without the key can forge a packet */
		if (why == MC_DROP_NONE)
			abort();
		if (olen != 0 || why <= MC_DROP_NONE || why >= MC_DROP__COUNT)
			abort();
		/* a small output buffer is never overrun */
		why = mc_crypto_open(&kr, &rp, NOW, pkt, n, out, 8, &olen, &info);
		if (why == MC_DROP_NONE)
			abort();
		free(pkt);
		return 0;
	}
	else
	{
		mc_reader	r;
		uint64_t	seq = 1000000;
		struct
		{
			uint16_t	sender;
			uint64_t	src;
			uint64_t	seq;
		}			seen[MAXSEEN];
		int			nseen = 0;
		uint8_t		pkt[MC_CRYPTO_MAX_PACKET];
		uint8_t		keep[MC_CRYPTO_MAX_PACKET];
		int			keeplen = 0;
		uint64_t	keepsrc = 0;
		uint64_t	maxacc[9][3] = {{0}};	/* newest accepted seq per (sender, address) */

		mc_reader_init(&r, data + 1, size - 1);
		while (mc_remaining(&r) >= 13)
		{
			uint16_t	sw = mc_get_u16(&r);
			uint16_t	sender = sw % 8 + 1;
			int			ai = (sw >> 3) % 3;
			uint64_t	src = mc_crypto_source_tag((const uint8_t *) "\x7f\0\0\1", 4, (uint16_t) (21600 + ai));
			int16_t		dt = (int16_t) mc_get_u16(&r);
			int32_t		dseq = (int32_t) mc_get_u32(&r);
			uint8_t		flags = mc_get_u8(&r);
			uint32_t	tamper = mc_get_u32(&r);
			uint64_t	ts = NOW + (int64_t) dt * 4;	/* within +-131 s */
			uint64_t	pseq = seq + (int64_t) (dseq % 600);
			size_t		plen = flags % 32;
			int			n;
			bool		dup = false,
						fresh;
			mc_drop_reason why;

			if (flags & 0x80 && keeplen > 0)
			{
				/* replay the kept packet: must never be accepted again */
				why = mc_crypto_open_from(&kr, &rp, keepsrc, NOW, keep, keeplen, out, sizeof(out), &olen, &info);
				if (why == MC_DROP_NONE)
					abort();
				continue;
			}
			n = mc_crypto_seal_with(&kr, (flags >> 5) & 1, sender, ts, pseq,
									data, plen < size ? plen : size, pkt, sizeof(pkt));
			if (n < 0)
				abort();
			if (flags & 0x40)
				pkt[tamper % n] ^= (uint8_t) (1 + (tamper >> 24) % 255);
			for (int i = 0; i < nseen; i++)
				if (seen[i].sender == sender && seen[i].src == src && seen[i].seq == pseq)
					dup = true;
			why = mc_crypto_open_from(&kr, &rp, src, NOW, pkt, n, out, sizeof(out), &olen, &info);
			if (why == MC_DROP_NONE)
			{
				if (flags & 0x40)
					abort();	/* a tampered packet got through */
				if (dup)
					abort();	/* a replay got through */
				if (info.sender != sender || info.seq != pseq || info.timestamp_ms != ts)
					abort();
				if (nseen < MAXSEEN)
				{
					seen[nseen].sender = sender;
					seen[nseen].src = src;
					seen[nseen].seq = pseq;
					nseen++;
				}
				if (pseq > maxacc[sender][ai])
					maxacc[sender][ai] = pseq;
				memcpy(keep, pkt, n);
				keeplen = n;
				keepsrc = src;
				/* the very same bytes again, from the same address: refused */
				if (mc_crypto_open_from(&kr, &rp, src, NOW, pkt, n, out, sizeof(out), &olen, &info) == MC_DROP_NONE)
					abort();
			}
			else
			{
				/* an honest, fresh, in-window, never-seen, newest packet is accepted */
				fresh = !(flags & 0x40) && !dup &&
					ts + MC_CRYPTO_REPLAY_WINDOW_MS >= NOW && ts <= NOW + MC_CRYPTO_REPLAY_WINDOW_MS &&
					pseq > maxacc[sender][ai];
				if (fresh)
					abort();
			}
			if (pseq > seq)
				seq = pseq;
		}
	}
	return 0;
}
