/*
 * test_crypto.c — unit tests of the keyring and gossip packet sealing
 * (src/core/mc_crypto.h): parsing and refusals, round trips, wrong key,
 * every bit flip, every truncation, oversize, replay and staleness, and
 * key rotation without a split (scenario G11).
 */
#include "mc_crypto.h"
#include "testutil.h"

#include <sodium.h>

#define S1 "first cluster secret k1"
#define S2 "second cluster secret k2"
#define S3 "third cluster secret k3"
#define NOW 1700000000000ULL

static mc_crypto_replay replay_a,
			replay_b;

static mc_keyring
ring(const char *v)
{
	mc_keyring	kr;
	const char *err = mc_crypto_keyring_parse(&kr, v);

	if (err)
		fprintf(stderr, "ring(%s): %s\n", v, err);
	CHECK(err == NULL);
	return kr;
}

/* G11: the keyring GUC refuses what it must and accepts the SPEC's example. */
static void
test_keyring_parse(void)
{
	mc_keyring	kr;
	bool		all_zero = true;

	CHECK(mc_crypto_keyring_parse(&kr, "a long shared secret") == NULL);
	CHECK_EQ_INT(kr.nkeys, 1);
	CHECK(mc_crypto_keyring_parse(&kr, "  " S1 " ,\t" S2 "  ") == NULL);
	CHECK_EQ_INT(kr.nkeys, 2);
	/* trimming: same keys as untrimmed */
	{
		mc_keyring	kr2 = ring(S1 "," S2);

		CHECK(memcmp(kr.keys[0].gossip, kr2.keys[0].gossip, 32) == 0);
		CHECK(memcmp(kr.keys[1].rpc, kr2.keys[1].rpc, 32) == 0);
	}
	/* gossip and rpc keys differ; different secrets give different keys */
	CHECK(memcmp(kr.keys[0].gossip, kr.keys[0].rpc, 32) != 0);
	CHECK(memcmp(kr.keys[0].gossip, kr.keys[1].gossip, 32) != 0);

	CHECK(mc_crypto_keyring_parse(&kr, "") != NULL);
	CHECK_EQ_INT(kr.nkeys, 0);
	CHECK(mc_crypto_keyring_parse(&kr, "   ") != NULL);
	CHECK(mc_crypto_keyring_parse(&kr, NULL) != NULL);
	CHECK(mc_crypto_keyring_parse(&kr, S1 ",," S2) != NULL);
	CHECK(mc_crypto_keyring_parse(&kr, S1 ",") != NULL);
	CHECK(mc_crypto_keyring_parse(&kr, "," S1) != NULL);
	CHECK(mc_crypto_keyring_parse(&kr, S1 ",  ,") != NULL);
	/* short secrets are accepted and counted as weak */
	CHECK(mc_crypto_keyring_parse(&kr, "k") == NULL);
	CHECK_EQ_INT(kr.nweak, 1);
	CHECK(mc_crypto_keyring_parse(&kr, "fifteen bytes!!") == NULL);	/* 15 */
	CHECK_EQ_INT(kr.nweak, 1);
	CHECK(mc_crypto_keyring_parse(&kr, "sixteen bytes!!!") == NULL);	/* 16 */
	CHECK_EQ_INT(kr.nweak, 0);
	CHECK(mc_crypto_keyring_parse(&kr, "short, " S1 ", tiny") == NULL);
	CHECK_EQ_INT(kr.nkeys, 3);
	CHECK_EQ_INT(kr.nweak, 2);
	/* different short secrets still give different keys */
	{
		mc_keyring	a = ring("k1"), b = ring("k2");

		CHECK(memcmp(a.keys[0].gossip, b.keys[0].gossip, 32) != 0);
	}
	CHECK(mc_crypto_keyring_parse(&kr, S1 "," S1) != NULL);
	CHECK(mc_crypto_keyring_parse(&kr, S1 ", " S1 " ") != NULL);
	{
		char		big[1100];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		CHECK(mc_crypto_keyring_parse(&kr, big) != NULL);
		big[1024] = 0;
		CHECK(mc_crypto_keyring_parse(&kr, big) == NULL);
	}
	{
		char		many[512] = "";

		for (int i = 0; i < 9; i++)
		{
			char		one[40];

			snprintf(one, sizeof(one), "%ssecret number %d abcdef", i ? "," : "", i);
			strcat(many, one);
		}
		CHECK(mc_crypto_keyring_parse(&kr, many) != NULL);
		*strrchr(many, ',') = 0;
		CHECK(mc_crypto_keyring_parse(&kr, many) == NULL);
		CHECK_EQ_INT(kr.nkeys, 8);
	}
	/* a failed parse leaves nothing behind */
	CHECK(mc_crypto_keyring_parse(&kr, S1 ",x,") != NULL);
	CHECK_EQ_INT(kr.nkeys, 0);
	CHECK_EQ_INT(kr.nweak, 0);
	for (size_t i = 0; i < sizeof(kr); i++)
		if (((uint8_t *) &kr)[i])
			all_zero = false;
	CHECK(all_zero);

	/* check hook form: '' is "standalone", accepted */
	CHECK(mc_crypto_check_key_setting("") == NULL);
	CHECK(mc_crypto_check_key_setting(NULL) == NULL);
	CHECK(mc_crypto_check_key_setting("a long shared secret") == NULL);
	CHECK(mc_crypto_check_key_setting("tiny") == NULL);	/* weak, accepted */
	CHECK(mc_crypto_check_key_setting("tiny,") != NULL);
	CHECK(mc_crypto_check_key_setting(" ") != NULL);
	CHECK(mc_crypto_check_key_setting(S1 ",") != NULL);
}

static void
test_keyring_lines(void)
{
	mc_keyring	kr,
				kr2 = ring(S2 "," S1);
	const char	file[] = "# rotated 2026-11\n  " S2 "  \r\n\n" S1 "\n";
	const char	comma[] = "secret, with a comma inside\n";

	CHECK(mc_crypto_keyring_parse_lines(&kr, file, strlen(file)) == NULL);
	CHECK_EQ_INT(kr.nkeys, 2);
	CHECK(memcmp(kr.keys[0].gossip, kr2.keys[0].gossip, 32) == 0);
	CHECK(memcmp(kr.keys[1].gossip, kr2.keys[1].gossip, 32) == 0);
	CHECK(mc_crypto_keyring_parse_lines(&kr, comma, strlen(comma)) == NULL);
	CHECK_EQ_INT(kr.nkeys, 1);
	CHECK(mc_crypto_keyring_parse_lines(&kr, S1, strlen(S1)) == NULL);	/* no final newline */
	CHECK_EQ_INT(kr.nkeys, 1);
	CHECK(mc_crypto_keyring_parse_lines(&kr, "", 0) != NULL);
	CHECK(mc_crypto_keyring_parse_lines(&kr, "\n# only a comment\n\n", 20) != NULL);
	CHECK(mc_crypto_keyring_parse_lines(&kr, "short\n", 6) == NULL);
	CHECK_EQ_INT(kr.nweak, 1);
	CHECK(mc_crypto_keyring_parse_lines(&kr, S1 "\n" S1 "\n", 2 * strlen(S1) + 2) != NULL);
	{
		char		nul[] = S1 "\n" S2;

		nul[3] = '\0';
		CHECK(mc_crypto_keyring_parse_lines(&kr, nul, sizeof(nul) - 1) != NULL);
	}
}

static void
test_clear_wipes(void)
{
	mc_keyring	kr = ring(S1 "," S2);
	bool		all_zero = true;

	mc_crypto_keyring_clear(&kr);
	for (size_t i = 0; i < sizeof(kr); i++)
		if (((uint8_t *) &kr)[i])
			all_zero = false;
	CHECK(all_zero);
	CHECK_EQ_INT(kr.nkeys, 0);
}

static void
test_round_trip(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		pkt[MC_CRYPTO_MAX_PACKET],
				out[MC_CRYPTO_MAX_PAYLOAD],
				msg[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen = 99;
	mc_packet_info info;
	int			n;

	mc_crypto_replay_reset(&replay_a);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t) (i * 7 + 3);

	/* empty, small and maximal payloads */
	size_t		sizes[] = {0, 1, 100, MC_CRYPTO_MAX_PAYLOAD};

	for (int i = 0; i < 4; i++)
	{
		n = mc_crypto_seal(&kr, 42, NOW, 1000 + i, msg, sizes[i], pkt, sizeof(pkt));
		CHECK_EQ_INT(n, sizes[i] + MC_CRYPTO_OVERHEAD);
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW + 5, pkt, n, out, sizeof(out), &olen, &info),
					 MC_DROP_NONE);
		CHECK_EQ_INT(olen, sizes[i]);
		CHECK(memcmp(out, msg, sizes[i]) == 0);
		CHECK_EQ_INT(info.sender, 42);
		CHECK_EQ_INT(info.seq, 1000 + i);
		CHECK(info.timestamp_ms == NOW);
		CHECK_EQ_INT(info.key_index, 0);
	}
	/* ciphertext is not the plaintext, and two seals differ (random nonce) */
	{
		uint8_t		p2[MC_CRYPTO_MAX_PACKET];

		n = mc_crypto_seal(&kr, 42, NOW, 7, msg, 100, pkt, sizeof(pkt));
		CHECK(mc_crypto_seal(&kr, 42, NOW, 7, msg, 100, p2, sizeof(p2)) == n);
		CHECK(memcmp(pkt + MC_CRYPTO_HEADER_BYTES, msg, 100) != 0);
		CHECK(memcmp(pkt, p2, n) != 0);
	}
	/* seal refusals */
	CHECK_EQ_INT(mc_crypto_seal(&kr, 42, NOW, 1, msg, MC_CRYPTO_MAX_PAYLOAD + 1, pkt, sizeof(pkt) + 10), -1);
	CHECK_EQ_INT(mc_crypto_seal(&kr, 0, NOW, 1, msg, 10, pkt, sizeof(pkt)), -1);
	CHECK_EQ_INT(mc_crypto_seal(&kr, 1, NOW, 1, msg, 10, pkt, 10 + MC_CRYPTO_OVERHEAD - 1), -1);
	CHECK_EQ_INT(mc_crypto_seal_with(&kr, 1, 1, NOW, 1, msg, 10, pkt, sizeof(pkt)), -1);
	{
		mc_keyring	empty;

		memset(&empty, 0, sizeof(empty));
		CHECK_EQ_INT(mc_crypto_seal(&empty, 1, NOW, 1, msg, 10, pkt, sizeof(pkt)), -1);
		n = mc_crypto_seal(&kr, 42, NOW, 5000, msg, 10, pkt, sizeof(pkt));
		CHECK_EQ_INT(mc_crypto_open(&empty, NULL, NOW, pkt, n, out, sizeof(out), &olen, NULL),
					 MC_DROP_AUTH_FAILED);
	}
}

/* G11: a packet under a wrong key is dropped as auth_failed. */
static void
test_wrong_key(void)
{
	mc_keyring	a = ring(S1),
				b = ring(S2),
				b1 = ring(S2 "," S3);
	uint8_t		pkt[MC_CRYPTO_MAX_PACKET],
				out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen = 5;
	int			n = mc_crypto_seal(&a, 3, NOW, 1, (const uint8_t *) "hello", 5, pkt, sizeof(pkt));

	mc_crypto_replay_reset(&replay_b);
	CHECK_EQ_INT(mc_crypto_open(&b, &replay_b, NOW, pkt, n, out, sizeof(out), &olen, NULL),
				 MC_DROP_AUTH_FAILED);
	CHECK_EQ_INT(olen, 0);
	CHECK_EQ_INT(mc_crypto_open(&b1, &replay_b, NOW, pkt, n, out, sizeof(out), &olen, NULL),
				 MC_DROP_AUTH_FAILED);
	/* even if the hint byte is forced to match b's key, the tag fails */
	pkt[1] = b.keys[0].hint;
	CHECK_EQ_INT(mc_crypto_open(&b, &replay_b, NOW, pkt, n, out, sizeof(out), &olen, NULL),
				 MC_DROP_AUTH_FAILED);
}

/* G11: every single bit flip of a sealed packet is rejected. */
static void
test_bit_flips(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		pkt[MC_CRYPTO_MAX_PACKET],
				out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen;
	int			n = mc_crypto_seal(&kr, 9, NOW, 77, (const uint8_t *) "membership update", 17,
								   pkt, sizeof(pkt));
	int			accepted = 0,
				total = 0;

	for (int byte = 0; byte < n; byte++)
		for (int bit = 0; bit < 8; bit++)
		{
			mc_drop_reason why;

			mc_crypto_replay_reset(&replay_a);
			pkt[byte] ^= (uint8_t) (1 << bit);
			why = mc_crypto_open(&kr, &replay_a, NOW, pkt, n, out, sizeof(out), &olen, NULL);
			pkt[byte] ^= (uint8_t) (1 << bit);
			total++;
			if (why == MC_DROP_NONE)
			{
				accepted++;
				fprintf(stderr, "bit flip accepted at byte %d bit %d\n", byte, bit);
			}
			else if (byte == 0)
				CHECK_EQ_INT(why, MC_DROP_BAD_VERSION);
			else if (byte >= 2 && byte < 4 && why == MC_DROP_MALFORMED)
				;				/* sender id flipped to 0 */
			else
				CHECK_EQ_INT(why, MC_DROP_AUTH_FAILED);
		}
	CHECK_EQ_INT(total, n * 8);
	CHECK_EQ_INT(accepted, 0);
	/* and the untouched packet still opens */
	mc_crypto_replay_reset(&replay_a);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, pkt, n, out, sizeof(out), &olen, NULL),
				 MC_DROP_NONE);
}

/* G11: truncation at every length is rejected; oversized is rejected. */
static void
test_truncation_and_oversize(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		pkt[MC_CRYPTO_MAX_PACKET + 64],
				out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen;
	int			n = mc_crypto_seal(&kr, 9, NOW, 1, (const uint8_t *) "0123456789", 10, pkt, sizeof(pkt));

	for (int len = 0; len < n; len++)
	{
		mc_drop_reason why;

		mc_crypto_replay_reset(&replay_a);
		why = mc_crypto_open(&kr, &replay_a, NOW, pkt, len, out, sizeof(out), &olen, NULL);
		if (len < MC_CRYPTO_OVERHEAD)
			CHECK_EQ_INT(why, MC_DROP_TRUNCATED);
		else
			CHECK_EQ_INT(why, MC_DROP_AUTH_FAILED);
	}
	/* padding at the end is not accepted either */
	mc_crypto_replay_reset(&replay_a);
	pkt[n] = 0;
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, pkt, n + 1, out, sizeof(out), &olen, NULL),
				 MC_DROP_AUTH_FAILED);

	/* oversized: a maximal packet plus one byte */
	{
		uint8_t		big[MC_CRYPTO_MAX_PACKET + 1];
		uint8_t		msg[MC_CRYPTO_MAX_PAYLOAD] = {0};
		int			m = mc_crypto_seal(&kr, 9, NOW, 2, msg, sizeof(msg), big, sizeof(big));

		CHECK_EQ_INT(m, MC_CRYPTO_MAX_PACKET);
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, big, m + 1, out, sizeof(out), &olen, NULL),
					 MC_DROP_OVERSIZED);
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, big, 65507, out, sizeof(out), &olen, NULL),
					 MC_DROP_OVERSIZED);
		/* a too-small output buffer is refused, not overrun */
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, big, m, out, 100, &olen, NULL),
					 MC_DROP_MALFORMED);
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, big, m, out, sizeof(out), &olen, NULL),
					 MC_DROP_NONE);
	}
}

/* G11: replayed packets and stale timestamps are dropped; reordering is fine. */
static void
test_replay(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		p[6][128],
				out[MC_CRYPTO_MAX_PAYLOAD];
	int			n[6];
	size_t		olen;
	uint64_t	seq0 = mc_crypto_seq_init(NOW);

	mc_crypto_replay_reset(&replay_a);
	for (int i = 0; i < 6; i++)
		n[i] = mc_crypto_seal(&kr, 5, NOW, seq0 + i, (const uint8_t *) "x", 1, p[i], sizeof(p[i]));

	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[0], n[0], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[0], n[0], out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	/* out of order but new: 3, then 1, 2 */
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[3], n[3], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[1], n[1], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[2], n[2], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW + 10, p[i], n[i], out, sizeof(out), &olen, NULL),
					 MC_DROP_REPLAYED);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[5], n[5], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[4], n[4], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, p[4], n[4], out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);

	/* the same sequence from another sender is independent */
	{
		uint8_t		q[128];
		int			m = mc_crypto_seal(&kr, 6, NOW, seq0, (const uint8_t *) "x", 1, q, sizeof(q));

		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	}

	/* a jump far ahead, then something older than the window */
	{
		uint8_t		q[128];
		int			m = mc_crypto_seal(&kr, 5, NOW, seq0 + 5 + MC_CRYPTO_REPLAY_BITS + 10,
									   (const uint8_t *) "x", 1, q, sizeof(q));

		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
		m = mc_crypto_seal(&kr, 5, NOW, seq0 + 6, (const uint8_t *) "x", 1, q, sizeof(q));
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
		/* just inside the window */
		m = mc_crypto_seal(&kr, 5, NOW, seq0 + 5 + 11 + 1, (const uint8_t *) "x", 1, q, sizeof(q));
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	}

	/* timestamps: old, future, edge of window */
	{
		uint8_t		q[128];
		int			m;

		m = mc_crypto_seal(&kr, 7, NOW - MC_CRYPTO_REPLAY_WINDOW_MS - 1, 1, (const uint8_t *) "x", 1, q, sizeof(q));
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_STALE);
		m = mc_crypto_seal(&kr, 7, NOW + MC_CRYPTO_REPLAY_WINDOW_MS + 1, 2, (const uint8_t *) "x", 1, q, sizeof(q));
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_STALE);
		m = mc_crypto_seal(&kr, 7, NOW - MC_CRYPTO_REPLAY_WINDOW_MS, 3, (const uint8_t *) "x", 1, q, sizeof(q));
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
		/* the packet we accepted earlier, replayed 31 s later: stale */
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW + MC_CRYPTO_REPLAY_WINDOW_MS + 1, p[5], n[5],
									out, sizeof(out), &olen, NULL), MC_DROP_STALE);
	}

	/* a restarted sender (new seq base from its clock) is accepted */
	{
		uint8_t		q[128];
		uint64_t	later = NOW + 2000;
		int			m = mc_crypto_seal(&kr, 5, later, mc_crypto_seq_init(later), (const uint8_t *) "x", 1,
									   q, sizeof(q));

		CHECK(mc_crypto_seq_init(later) > seq0 + 5 + MC_CRYPTO_REPLAY_BITS + 10);
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, later, q, m, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	}
}

/* The sender table is bounded; slots of silent senders are reused safely. */
static void
test_replay_table_bound(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		q[128],
				out[MC_CRYPTO_MAX_PAYLOAD],
				first[128];
	size_t		olen;
	int			m,
				mfirst = 0,
				accepted = 0;

	mc_crypto_replay_reset(&replay_a);
	for (int s = 1; s <= MC_CRYPTO_REPLAY_SENDERS; s++)
	{
		m = mc_crypto_seal(&kr, (uint16_t) s, NOW, 1, (const uint8_t *) "x", 1, q, sizeof(q));
		if (s == 1)
			memcpy(first, q, (mfirst = m));
		if (mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL) == MC_DROP_NONE)
			accepted++;
	}
	CHECK_EQ_INT(accepted, MC_CRYPTO_REPLAY_SENDERS);
	/* table full of live senders: a new one is refused (fail closed) */
	m = mc_crypto_seal(&kr, 5000, NOW, 1, (const uint8_t *) "x", 1, q, sizeof(q));
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	/* known senders still tracked: replay refused */
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, first, mfirst, out, sizeof(out), &olen, NULL),
				 MC_DROP_REPLAYED);
	/* after the window the old slots may be reused */
	{
		uint64_t	later = NOW + MC_CRYPTO_REPLAY_WINDOW_MS + 1;

		m = mc_crypto_seal(&kr, 5000, later, 1, (const uint8_t *) "x", 1, q, sizeof(q));
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, later, q, m, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, later, q, m, out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
		/* and the evicted sender's old packet is still refused, as stale */
		CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, later, first, mfirst, out, sizeof(out), &olen, NULL),
					 MC_DROP_STALE);
	}
}

/*
 * G7 over the replay window: a second server with a live node's id, from
 * another address, sends packets that authenticate and carry far higher
 * sequences.  Each (id, address) has its own window: both are accepted,
 * interleaved; replays of each from the same address are refused; and once
 * the impostor stops, the real node's next packets still go through.
 */
static void
test_replay_impostor(void)
{
	mc_keyring	kr = ring(S1);
	const uint8_t ip[4] = {127, 0, 0, 1};
	uint64_t	real_src = mc_crypto_source_tag(ip, 4, 21602),
				dup_src = mc_crypto_source_tag(ip, 4, 21603);
	uint64_t	real_seq = mc_crypto_seq_init(NOW - 60000),
				dup_seq = mc_crypto_seq_init(NOW);	/* started later: far ahead */
	uint8_t		rq[8][128],
				dq[8][128],
				out[MC_CRYPTO_MAX_PAYLOAD];
	int			rn[8],
				dn[8];
	size_t		olen;
	mc_packet_info info;

	CHECK(real_src != dup_src);
	CHECK(mc_crypto_source_tag(ip, 4, 21602) == real_src);
	mc_crypto_replay_reset(&replay_a);
	for (int i = 0; i < 8; i++)
	{
		rn[i] = mc_crypto_seal(&kr, 2, NOW + i, real_seq + i, (const uint8_t *) "real", 4, rq[i], sizeof(rq[i]));
		dn[i] = mc_crypto_seal(&kr, 2, NOW + i, dup_seq + i, (const uint8_t *) "dup", 3, dq[i], sizeof(dq[i]));
	}
	/* interleaved: real, impostor, real, impostor ... all accepted */
	for (int i = 0; i < 4; i++)
	{
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, real_src, NOW + i, rq[i], rn[i],
										 out, sizeof(out), &olen, &info), MC_DROP_NONE);
		CHECK(info.sender == 2 && info.seq == real_seq + (uint64_t) i);
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, dup_src, NOW + i, dq[i], dn[i],
										 out, sizeof(out), &olen, &info), MC_DROP_NONE);
		CHECK(info.sender == 2 && info.seq == dup_seq + (uint64_t) i);
	}
	/* replays of each, from its own address: refused */
	for (int i = 0; i < 4; i++)
	{
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, real_src, NOW + 5, rq[i], rn[i],
										 out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, dup_src, NOW + 5, dq[i], dn[i],
										 out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	}
	/* the impostor stops; the real node carries on and is not locked out */
	for (int i = 4; i < 8; i++)
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, real_src, NOW + 10 + i, rq[i], rn[i],
										 out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	/* later too, after the impostor's slot expired */
	{
		uint64_t	later = NOW + MC_CRYPTO_REPLAY_WINDOW_MS + 1000;
		uint8_t		q[128];
		int			m = mc_crypto_seal(&kr, 2, later, real_seq + 100, (const uint8_t *) "x", 1, q, sizeof(q));

		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, real_src, later, q, m,
										 out, sizeof(out), &olen, NULL), MC_DROP_NONE);
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, real_src, later, q, m,
										 out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	}

	/*
	 * The old, per-id behaviour, for contrast: with one address (tag 0,
	 * mc_crypto_open) the impostor's higher sequences do push the window.
	 */
	mc_crypto_replay_reset(&replay_a);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, dq[0], dn[0], out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open(&kr, &replay_a, NOW, rq[0], rn[0], out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, 0, NOW, dq[0], dn[0], out, sizeof(out), &olen, NULL),
				 MC_DROP_REPLAYED);
}

/*
 * At most MC_CRYPTO_REPLAY_ADDRS_PER_SENDER live addresses per id: a
 * captured packet replayed from many (spoofed) source addresses is accepted
 * at most once per tracked address, and cannot fill the table.
 */
static void
test_replay_addrs_per_sender(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		q[128],
				q2[128],
				out[MC_CRYPTO_MAX_PAYLOAD];
	int			m,
				m2,
				accepted = 0;
	size_t		olen;

	mc_crypto_replay_reset(&replay_a);
	m = mc_crypto_seal(&kr, 7, NOW, 1000, (const uint8_t *) "x", 1, q, sizeof(q));
	for (uint64_t src = 1; src <= 100; src++)
		if (mc_crypto_open_from(&kr, &replay_a, src, NOW, q, m, out, sizeof(out), &olen, NULL) == MC_DROP_NONE)
			accepted++;
	CHECK_EQ_INT(accepted, MC_CRYPTO_REPLAY_ADDRS_PER_SENDER);
	/* a tracked address still gets its new packets; an untracked one does not */
	m2 = mc_crypto_seal(&kr, 7, NOW, 1001, (const uint8_t *) "y", 1, q2, sizeof(q2));
	CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, 1, NOW, q2, m2, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, 1, NOW, q2, m2, out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, 999, NOW, q2, m2, out, sizeof(out), &olen, NULL), MC_DROP_REPLAYED);
	/* other ids are not affected */
	m2 = mc_crypto_seal(&kr, 8, NOW, 1, (const uint8_t *) "z", 1, q2, sizeof(q2));
	CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, 999, NOW, q2, m2, out, sizeof(out), &olen, NULL), MC_DROP_NONE);
	/* once the extra addresses have been silent for the window, a new one is taken */
	{
		uint64_t	later = NOW + MC_CRYPTO_REPLAY_WINDOW_MS + 1;

		m2 = mc_crypto_seal(&kr, 7, later, 5000, (const uint8_t *) "w", 1, q2, sizeof(q2));
		CHECK_EQ_INT(mc_crypto_open_from(&kr, &replay_a, 999, later, q2, m2, out, sizeof(out), &olen, NULL),
					 MC_DROP_NONE);
	}
}

/* The packet layout of mc_crypto.h / doc/security.md, checked by hand. */
static void
test_packet_layout_by_hand(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		pkt[128],
				plain[32];
	unsigned long long mlen;
	int			n = mc_crypto_seal(&kr, 0x1234, 0x0102030405060708ULL, 0x1112131415161718ULL,
								   (const uint8_t *) "layout", 6, pkt, sizeof(pkt));

	CHECK_EQ_INT(n, 44 + 6 + 16);
	CHECK_EQ_INT(pkt[0], 0xC1);
	CHECK_EQ_INT(pkt[1], kr.keys[0].hint);
	CHECK(pkt[2] == 0x12 && pkt[3] == 0x34);
	CHECK(pkt[4] == 0x01 && pkt[11] == 0x08);
	CHECK(pkt[12] == 0x11 && pkt[19] == 0x18);
	CHECK_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, pkt + 44, n - 44,
															pkt, 44, pkt + 20, kr.keys[0].gossip), 0);
	CHECK(mlen == 6 && memcmp(plain, "layout", 6) == 0);
	/* the header really is associated data */
	CHECK(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, pkt + 44, n - 44,
													 pkt, 43, pkt + 20, kr.keys[0].gossip) != 0);
	/* the derivation of doc/security.md section 2 */
	{
		uint8_t		master[32],
					sub[32];
		static const char lbl[] = "mailcluster master key v1";

		crypto_generichash(master, 32, (const uint8_t *) S1, strlen(S1),
						   (const uint8_t *) lbl, strlen(lbl));
		crypto_kdf_derive_from_key(sub, 32, 1, "mcgossip", master);
		CHECK(memcmp(sub, kr.keys[0].gossip, 32) == 0);
		crypto_kdf_derive_from_key(sub, 32, 1, "mcrpcpsk", master);
		CHECK(memcmp(sub, kr.keys[0].rpc, 32) == 0);
		crypto_kdf_derive_from_key(sub, 16, 1, "mckeyhnt", master);
		CHECK_EQ_INT(sub[0], kr.keys[0].hint);
	}
}

static void
test_version_and_names(void)
{
	mc_keyring	kr = ring(S1);
	uint8_t		q[128],
				out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen;
	int			m = mc_crypto_seal(&kr, 5, NOW, 1, (const uint8_t *) "x", 1, q, sizeof(q));

	CHECK_EQ_INT(q[0], MC_CRYPTO_PACKET_VERSION);
	q[0] = 0xC2;
	CHECK_EQ_INT(mc_crypto_open(&kr, NULL, NOW, q, m, out, sizeof(out), &olen, NULL), MC_DROP_BAD_VERSION);
	CHECK_EQ_INT(mc_crypto_open(&kr, NULL, NOW, q, 1, out, sizeof(out), &olen, NULL), MC_DROP_BAD_VERSION);
	q[0] = MC_CRYPTO_PACKET_VERSION;
	CHECK_EQ_INT(mc_crypto_open(&kr, NULL, NOW, q, 1, out, sizeof(out), &olen, NULL), MC_DROP_TRUNCATED);

	CHECK(strcmp(mc_crypto_drop_reason_name(MC_DROP_AUTH_FAILED), "auth_failed") == 0);
	CHECK(strcmp(mc_crypto_drop_reason_name(MC_DROP_TRUNCATED), "truncated") == 0);
	CHECK(strcmp(mc_crypto_drop_reason_name(MC_DROP_OVERSIZED), "oversized") == 0);
	CHECK(strcmp(mc_crypto_drop_reason_name(MC_DROP_REPLAYED), "replayed") == 0);
	CHECK(strcmp(mc_crypto_drop_reason_name(MC_DROP__COUNT), "unknown") == 0);
	for (int r = 0; r < MC_DROP__COUNT; r++)
	{
		CHECK(mc_crypto_drop_reason_name((mc_drop_reason) r) != NULL);
		for (int s = 0; s < r; s++)
			CHECK(strcmp(mc_crypto_drop_reason_name((mc_drop_reason) r),
						 mc_crypto_drop_reason_name((mc_drop_reason) s)) != 0);
	}
}

/*
 * Can `from` send a gossip packet that `to` opens?  Uses a fresh sequence
 * each time (the replay state of the receiver persists across steps).
 */
static int
can_talk(const mc_keyring *from, uint16_t from_id, const mc_keyring *to,
		 mc_crypto_replay *to_rp, uint64_t *seq)
{
	uint8_t		q[128],
				out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen;
	int			m = mc_crypto_seal(from, from_id, NOW, (*seq)++, (const uint8_t *) "ping", 4, q, sizeof(q));

	return m > 0 &&
		mc_crypto_open(to, to_rp, NOW, q, m, out, sizeof(out), &olen, NULL) == MC_DROP_NONE &&
		olen == 4 && memcmp(out, "ping", 4) == 0;
}

/*
 * G11: key rotation — add, use, remove — never splits the cluster.  Three
 * nodes are reconfigured one at a time (a rolling reload); after every
 * single reload every ordered pair must still be able to talk.
 */
static void
test_rotation_g11(void)
{
	static mc_crypto_replay rps[3];
	static const char *const steps[][3] = {
		{S1, S1, S1},
		/* add k2 as a secondary everywhere */
		{S1 "," S2, S1, S1},
		{S1 "," S2, S1 "," S2, S1},
		{S1 "," S2, S1 "," S2, S1 "," S2},
		/* use k2: make it primary */
		{S2 "," S1, S1 "," S2, S1 "," S2},
		{S2 "," S1, S2 "," S1, S1 "," S2},
		{S2 "," S1, S2 "," S1, S2 "," S1},
		/* remove k1 */
		{S2, S2 "," S1, S2 "," S1},
		{S2, S2, S2 "," S1},
		{S2, S2, S2},
	};
	uint64_t	seq[3] = {1, 1, 1};
	int			splits = 0;

	for (int i = 0; i < 3; i++)
		mc_crypto_replay_reset(&rps[i]);
	for (size_t st = 0; st < sizeof(steps) / sizeof(steps[0]); st++)
	{
		mc_keyring	kr[3];

		for (int i = 0; i < 3; i++)
			kr[i] = ring(steps[st][i]);
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				if (a != b && !can_talk(&kr[a], (uint16_t) (a + 1), &kr[b], &rps[b], &seq[a]))
				{
					splits++;
					fprintf(stderr, "rotation step %zu: %d cannot talk to %d\n", st, a + 1, b + 1);
				}
	}
	CHECK_EQ_INT(splits, 0);

	/* a skipped step does split: B makes k2 primary before A knows it */
	{
		mc_keyring	a = ring(S1),
					b = ring(S2 "," S1);
		uint64_t	s = 100;

		mc_crypto_replay_reset(&rps[0]);
		mc_crypto_replay_reset(&rps[1]);
		CHECK(can_talk(&a, 1, &b, &rps[1], &s));
		CHECK(!can_talk(&b, 2, &a, &rps[0], &s));
	}
}

/*
 * G11 variant: answering with the key the peer used (info.key_index) lets
 * A ("k1") and B ("k2,k1") talk even though B's primary is unknown to A.
 */
static void
test_reply_with_peer_key(void)
{
	mc_keyring	a = ring(S1),
				b = ring(S2 "," S1);
	uint8_t		q[128],
				out[MC_CRYPTO_MAX_PAYLOAD];
	size_t		olen;
	mc_packet_info info;
	int			m;

	mc_crypto_replay_reset(&replay_a);
	mc_crypto_replay_reset(&replay_b);
	m = mc_crypto_seal(&a, 1, NOW, 1, (const uint8_t *) "ping", 4, q, sizeof(q));
	CHECK_EQ_INT(mc_crypto_open(&b, &replay_b, NOW, q, m, out, sizeof(out), &olen, &info), MC_DROP_NONE);
	CHECK_EQ_INT(info.key_index, 1);
	m = mc_crypto_seal_with(&b, info.key_index, 2, NOW, 1, (const uint8_t *) "ack", 3, q, sizeof(q));
	CHECK_EQ_INT(mc_crypto_open(&a, &replay_a, NOW, q, m, out, sizeof(out), &olen, &info), MC_DROP_NONE);
	CHECK_EQ_INT(info.key_index, 0);
	CHECK(olen == 3 && memcmp(out, "ack", 3) == 0);
}

int
main(void)
{
	if (mc_crypto_init() != 0)
	{
		fprintf(stderr, "sodium_init failed\n");
		return 1;
	}
	RUN(test_keyring_parse);
	RUN(test_keyring_lines);
	RUN(test_clear_wipes);
	RUN(test_round_trip);
	RUN(test_wrong_key);
	RUN(test_bit_flips);
	RUN(test_truncation_and_oversize);
	RUN(test_replay);
	RUN(test_replay_table_bound);
	RUN(test_replay_impostor);
	RUN(test_replay_addrs_per_sender);
	RUN(test_packet_layout_by_hand);
	RUN(test_version_and_names);
	RUN(test_rotation_g11);
	RUN(test_reply_with_peer_key);
	return tu_finish("crypto");
}
