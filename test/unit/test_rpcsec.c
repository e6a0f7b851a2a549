/*
 * test_rpcsec.c — unit tests of the Raft RPC secure channel
 * (src/core/rpcsec.h): handshake success and refusal on both sides, key
 * rotation (G11), frames before the handshake, tampering, replay and
 * reordering of frames, every bit flip of every handshake message,
 * byte-by-byte delivery, size limits and truncation.
 */
#define _GNU_SOURCE
#include "rpcsec.h"
#include "testutil.h"

#include <sodium.h>

#define S1 "first cluster secret k1"
#define S2 "second cluster secret k2"
#define S3 "third cluster secret k3"

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

/*
 * Move everything `from` wants to write into `to`, `chunk` bytes per feed
 * (0 = all at once).  Returns the number of bytes moved; stops at errors.
 */
static size_t
move(mc_rpcsec *from, mc_rpcsec *to, size_t chunk)
{
	size_t		moved = 0,
				n;
	const uint8_t *p;

	while ((p = mc_rpcsec_pending(from, &n)) != NULL)
	{
		size_t		k = (chunk && chunk < n) ? chunk : n;
		uint8_t		tmp[64];
		mc_rpcsec_status st;

		/* copy small chunks out first: feeding may not alias our buffer */
		if (k <= sizeof(tmp))
		{
			memcpy(tmp, p, k);
			mc_rpcsec_written(from, k);
			st = mc_rpcsec_feed(to, tmp, k);
		}
		else
		{
			st = mc_rpcsec_feed(to, p, k);
			mc_rpcsec_written(from, k);
		}
		moved += k;
		if (st != MC_RPCSEC_OK)
			break;
	}
	return moved;
}

/* Exchange bytes until neither side has anything more to say. */
static void
pump(mc_rpcsec *c, mc_rpcsec *s, size_t chunk)
{
	for (int i = 0; i < 10; i++)
		if (move(c, s, chunk) + move(s, c, chunk) == 0)
			break;
}

/* Handshake a fresh pair; returns true when both ends are established. */
static bool
connect_pair(mc_rpcsec *c, mc_rpcsec *s, const char *ckeys, const char *skeys,
			 size_t max_frame, size_t chunk)
{
	mc_keyring	ck = ring(ckeys),
				sk = ring(skeys);

	CHECK_EQ_INT(mc_rpcsec_init_client(c, &ck, 1, 2, max_frame), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_server(s, &sk, 2, max_frame), MC_RPCSEC_OK);
	mc_crypto_keyring_clear(&ck);
	mc_crypto_keyring_clear(&sk);
	pump(c, s, chunk);
	return mc_rpcsec_established(c) && mc_rpcsec_established(s);
}

/* Send msg from a to b and check b receives exactly it. */
static bool
deliver(mc_rpcsec *a, mc_rpcsec *b, const uint8_t *msg, size_t len, size_t chunk)
{
	const uint8_t *f;
	size_t		flen;
	bool		ok;

	if (mc_rpcsec_send(a, msg, len) != MC_RPCSEC_OK)
		return false;
	move(a, b, chunk);
	if (mc_rpcsec_next_frame(b, &f, &flen) != MC_RPCSEC_OK || f == NULL)
		return false;
	ok = flen == len && (len == 0 || memcmp(f, msg, len) == 0);
	/* nothing more */
	if (mc_rpcsec_next_frame(b, &f, &flen) != MC_RPCSEC_OK || f != NULL)
		ok = false;
	return ok;
}

static void
test_handshake_and_frames(void)
{
	mc_rpcsec	c,
				s;
	static uint8_t big[1 << 20];
	const uint8_t *f;
	size_t		flen;

	CHECK(!mc_rpcsec_established(&(mc_rpcsec) {.phase = MC_RPCSEC_CLIENT_WAIT_WELCOME}));
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_peer_id(&c), 2);
	CHECK_EQ_INT(mc_rpcsec_peer_id(&s), 1);
	CHECK_EQ_INT(mc_rpcsec_key_index(&c), 0);
	CHECK_EQ_INT(mc_rpcsec_key_index(&s), 0);
	CHECK(deliver(&c, &s, (const uint8_t *) "AppendEntries", 13, 0));
	CHECK(deliver(&s, &c, (const uint8_t *) "AppendEntriesResponse", 21, 0));
	CHECK(deliver(&c, &s, NULL, 0, 0));		/* empty frame */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t) (i ^ (i >> 8));
	CHECK(deliver(&c, &s, big, sizeof(big), 0));
	CHECK(deliver(&s, &c, big, sizeof(big), 7777));

	/* many frames queued at once arrive in order */
	for (int i = 0; i < 100; i++)
	{
		uint8_t		m[4] = {(uint8_t) i, 1, 2, 3};

		CHECK_EQ_INT(mc_rpcsec_send(&c, m, sizeof(m)), MC_RPCSEC_OK);
	}
	move(&c, &s, 0);
	for (int i = 0; i < 100; i++)
	{
		CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_OK);
		CHECK(f != NULL && flen == 4 && f[0] == (uint8_t) i);
	}
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_OK);
	CHECK(f == NULL);
	CHECK_EQ_INT(mc_rpcsec_eof(&s), MC_RPCSEC_OK);

	/* the wire does not carry the plaintext */
	{
		const uint8_t *p;
		size_t		n;

		CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "secret raft payload", 19), MC_RPCSEC_OK);
		p = mc_rpcsec_pending(&c, &n);
		CHECK(p != NULL && n == 19 + MC_RPCSEC_FRAME_OVERHEAD);
		CHECK(p && memmem(p, n, "secret raft", 11) == NULL);
	}
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);
}

/* A wrong key fails on both sides; the server answers nothing. */
static void
test_mismatched_keys(void)
{
	mc_rpcsec	c,
				s;
	size_t		n;
	const uint8_t *f;
	size_t		flen;

	CHECK(!connect_pair(&c, &s, S1, S2, 0, 0));
	CHECK(!mc_rpcsec_established(&c));
	CHECK(!mc_rpcsec_established(&s));
	CHECK_EQ_INT(mc_rpcsec_feed(&s, (const uint8_t *) "x", 1), MC_RPCSEC_ERR_AUTH);
	CHECK(mc_rpcsec_pending(&s, &n) == NULL);
	CHECK_EQ_INT(n, 0);
	/* the client sees the server close without answering */
	CHECK_EQ_INT(mc_rpcsec_eof(&c), MC_RPCSEC_ERR_TRUNCATED);
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "x", 1), MC_RPCSEC_ERR_TRUNCATED);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_AUTH);
	CHECK(f == NULL);
	CHECK_EQ_INT(mc_rpcsec_peer_id(&s), 0);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	/* a server whose ring has several keys, none the client's */
	CHECK(!connect_pair(&c, &s, S1, S2 "," S3, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_eof(&s), MC_RPCSEC_ERR_AUTH);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);
}

/*
 * A server that is answered by someone who does not have the key: the
 * client refuses a WELCOME it cannot verify.  (Simulated by a server
 * handshaking with a different client key set that happens to be known to
 * it, then relaying its WELCOME to our client.)
 */
static void
test_client_refuses_fake_server(void)
{
	mc_rpcsec	c,
				c2,
				s;
	mc_keyring	k1 = ring(S1),
				k2 = ring(S2);
	const uint8_t *p;
	size_t		n;

	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k1, 1, 0, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_client(&c2, &k2, 1, 0, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k2, 2, 0), MC_RPCSEC_OK);
	move(&c2, &s, 0);
	p = mc_rpcsec_pending(&s, &n);
	CHECK(p != NULL);
	CHECK_EQ_INT(mc_rpcsec_feed(&c, p, n), MC_RPCSEC_ERR_AUTH);
	CHECK(!mc_rpcsec_established(&c));
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&c2);
	mc_rpcsec_free(&s);
}

/* The client asked for node 3 but reached node 2: refused. */
static void
test_wrong_peer(void)
{
	mc_rpcsec	c,
				s;
	mc_keyring	k = ring(S1);

	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k, 1, 3, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	pump(&c, &s, 0);
	CHECK_EQ_INT(mc_rpcsec_eof(&s), MC_RPCSEC_ERR_PEER);
	CHECK(!mc_rpcsec_established(&c));
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	/* expected_peer 0 accepts any node */
	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k, 1, 0, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	pump(&c, &s, 0);
	CHECK(mc_rpcsec_established(&c) && mc_rpcsec_established(&s));
	CHECK_EQ_INT(mc_rpcsec_peer_id(&c), 2);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	/* bad init arguments */
	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k, 0, 0, 0), MC_RPCSEC_ERR_STATE);
	mc_rpcsec_free(&c);
	{
		mc_keyring	empty;

		memset(&empty, 0, sizeof(empty));
		CHECK_EQ_INT(mc_rpcsec_init_server(&s, &empty, 2, 0), MC_RPCSEC_ERR_STATE);
		mc_rpcsec_free(&s);
	}
}

/*
 * G11 for RPC: key rotation never prevents a connection, in either
 * direction, at any step of a rolling change — even the shortcut where a
 * node makes the new key primary before the other has it, because the
 * handshake negotiates a key both hold.
 */
static void
test_rotation_g11(void)
{
	static const char *const steps[][2] = {
		{S1, S1},
		{S1, S2 "," S1},		/* B adds k2 and uses it at once */
		{S2 "," S1, S2 "," S1},
		{S2, S2 "," S1},
		{S2, S2},
		/* the textbook order too: add, use, remove */
		{S2 "," S3, S2},
		{S2 "," S3, S2 "," S3},
		{S3 "," S2, S2 "," S3},
		{S3 "," S2, S3 "," S2},
		{S3, S3 "," S2},
		{S3, S3},
	};
	int			failures = 0;

	for (size_t st = 0; st < sizeof(steps) / sizeof(steps[0]); st++)
		for (int dir = 0; dir < 2; dir++)
		{
			mc_rpcsec	c,
						s;
			bool		ok = connect_pair(&c, &s, steps[st][dir], steps[st][1 - dir], 0, 0) &&
				deliver(&c, &s, (const uint8_t *) "vote?", 5, 0) &&
				deliver(&s, &c, (const uint8_t *) "yes", 3, 0);

			if (!ok)
			{
				failures++;
				fprintf(stderr, "rotation step %zu dir %d: no channel\n", st, dir);
			}
			mc_rpcsec_free(&c);
			mc_rpcsec_free(&s);
		}
	CHECK_EQ_INT(failures, 0);

	/* the client's preference wins when both share several keys */
	{
		mc_rpcsec	c,
					s;

		CHECK(connect_pair(&c, &s, S2 "," S1, S1 "," S2, 0, 0));
		CHECK_EQ_INT(mc_rpcsec_key_index(&c), 0);
		CHECK_EQ_INT(mc_rpcsec_key_index(&s), 1);
		mc_rpcsec_free(&c);
		mc_rpcsec_free(&s);
		CHECK(connect_pair(&c, &s, S3 "," S1, S2 "," S1, 0, 0));
		CHECK_EQ_INT(mc_rpcsec_key_index(&c), 1);
		CHECK_EQ_INT(mc_rpcsec_key_index(&s), 1);
		mc_rpcsec_free(&c);
		mc_rpcsec_free(&s);
	}
}

/* No frame is sent or accepted before the handshake. */
static void
test_frames_before_handshake(void)
{
	mc_rpcsec	c,
				s,
				c0,
				s0;
	mc_keyring	k = ring(S1);
	const uint8_t *f,
			   *p;
	size_t		flen,
				n;
	uint8_t		captured[256];
	size_t		caplen;

	/* capture a valid frame of another session */
	CHECK(connect_pair(&c0, &s0, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c0, (const uint8_t *) "RequestVote", 11), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c0, &caplen);
	CHECK(p != NULL && caplen < sizeof(captured));
	memcpy(captured, p, caplen);

	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k, 1, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "early", 5), MC_RPCSEC_ERR_STATE);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_send(&s, (const uint8_t *) "early", 5), MC_RPCSEC_ERR_STATE);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_OK);
	CHECK(f == NULL);

	/* the server fed a frame instead of a HELLO refuses it */
	CHECK(mc_rpcsec_feed(&s, captured, caplen) != MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_BAD_VERSION);
	CHECK(f == NULL);
	CHECK(!mc_rpcsec_established(&s));
	CHECK(mc_rpcsec_pending(&s, &n) == NULL);
	mc_rpcsec_free(&s);

	/* a frame slipped in between HELLO and FINISH is refused too */
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	move(&c, &s, 0);			/* HELLO */
	CHECK(!mc_rpcsec_established(&s));
	CHECK(mc_rpcsec_feed(&s, captured, caplen) != MC_RPCSEC_OK);
	CHECK(!mc_rpcsec_established(&s));
	CHECK(mc_rpcsec_next_frame(&s, &f, &flen) != MC_RPCSEC_OK);
	CHECK(f == NULL);

	/* and a frame of another session after the handshake fails auth */
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_feed(&s, captured, caplen), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_AUTH);
	CHECK(f == NULL);
	CHECK_EQ_INT(mc_rpcsec_send(&s, (const uint8_t *) "x", 1), MC_RPCSEC_ERR_AUTH);	/* sticky */
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);
	mc_rpcsec_free(&c0);
	mc_rpcsec_free(&s0);
}

/* Every bit flip of a frame on the wire: never a (wrong) frame accepted. */
static void
test_frame_tampering(void)
{
	mc_rpcsec	c,
				s;
	const char *msg = "AppendEntries term=7";
	uint8_t		wire[128];
	size_t		wlen;
	const uint8_t *p,
			   *f;
	size_t		flen;
	int			accepted = 0,
				undetected = 0;

	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) msg, strlen(msg)), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &wlen);
	CHECK(p != NULL && wlen <= sizeof(wire));
	memcpy(wire, p, wlen);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	for (size_t byte = 0; byte < wlen; byte++)
		for (int bit = 0; bit < 8; bit++)
		{
			mc_rpcsec_status st;

			CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
			CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) msg, strlen(msg)), MC_RPCSEC_OK);
			p = mc_rpcsec_pending(&c, &wlen);
			memcpy(wire, p, wlen);
			mc_rpcsec_written(&c, wlen);
			wire[byte] ^= (uint8_t) (1 << bit);
			st = mc_rpcsec_feed(&s, wire, wlen);
			if (st == MC_RPCSEC_OK)
				st = mc_rpcsec_next_frame(&s, &f, &flen);
			else
				f = NULL;
			if (f != NULL)
				accepted++;
			/* a length grown by the flip waits for bytes; the close reveals it */
			if (st == MC_RPCSEC_OK && f == NULL)
				st = mc_rpcsec_eof(&s);
			if (st == MC_RPCSEC_OK)
				undetected++;
			mc_rpcsec_free(&c);
			mc_rpcsec_free(&s);
		}
	CHECK_EQ_INT(accepted, 0);
	CHECK_EQ_INT(undetected, 0);
}

/* Replayed, reordered and dropped frames are detected. */
static void
test_frame_replay_reorder(void)
{
	mc_rpcsec	c,
				s;
	uint8_t		f1[64],
				f2[64];
	size_t		l1,
				l2,
				flen;
	const uint8_t *p,
			   *f;

	/* replay: the same frame twice */
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "one", 3), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &l1);
	memcpy(f1, p, l1);
	mc_rpcsec_written(&c, l1);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, f1, l1), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_OK);
	CHECK(f != NULL && flen == 3);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, f1, l1), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_AUTH);
	CHECK(f == NULL);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	/* reorder: second frame first */
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "one", 3), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &l1);
	memcpy(f1, p, l1);
	mc_rpcsec_written(&c, l1);
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "two", 3), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &l2);
	memcpy(f2, p, l2);
	mc_rpcsec_written(&c, l2);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, f2, l2), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_AUTH);
	mc_rpcsec_free(&s);
	mc_rpcsec_free(&c);

	/* drop: the first frame never arrives */
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "one", 3), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &l1);
	mc_rpcsec_written(&c, l1);
	CHECK_EQ_INT(mc_rpcsec_send(&c, (const uint8_t *) "two", 3), MC_RPCSEC_OK);
	move(&c, &s, 0);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_AUTH);
	mc_rpcsec_free(&s);
	mc_rpcsec_free(&c);

	/* reflection: a frame the server sent, echoed back to it */
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&s, (const uint8_t *) "one", 3), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&s, &l1);
	memcpy(f1, p, l1);
	mc_rpcsec_written(&s, l1);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, f1, l1), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_AUTH);
	mc_rpcsec_free(&s);
	mc_rpcsec_free(&c);
}

/* Every bit flip of HELLO, WELCOME or FINISH stops the handshake. */
static void
test_handshake_tampering(void)
{
	int			completed = 0,
				tried = 0;

	for (int which = 0; which < 3; which++)
	{
		size_t		msglen = 0;

		for (size_t byte = 0;; byte++)
		{
			for (int bit = 0; bit < 8; bit++)
			{
				mc_rpcsec	c,
							s;
				mc_keyring	k = ring(S1 "," S2);
				mc_rpcsec  *from,
						   *to;
				const uint8_t *p;
				uint8_t		buf[MC_RPCSEC_MAX_HANDSHAKE + 4];
				size_t		n;

				mc_rpcsec_init_client(&c, &k, 1, 2, 0);
				mc_rpcsec_init_server(&s, &k, 2, 0);
				/* deliver the messages before the one we tamper with */
				if (which >= 1)
					move(&c, &s, 0);
				if (which >= 2)
					move(&s, &c, 0);
				from = (which == 1) ? &s : &c;
				to = (which == 1) ? &c : &s;
				p = mc_rpcsec_pending(from, &n);
				CHECK(p != NULL && n <= sizeof(buf));
				msglen = n;
				if (byte < n)
				{
					memcpy(buf, p, n);
					mc_rpcsec_written(from, n);
					buf[byte] ^= (uint8_t) (1 << bit);
					mc_rpcsec_feed(to, buf, n);
					pump(&c, &s, 0);
					tried++;
					if (mc_rpcsec_established(&c) && mc_rpcsec_established(&s))
					{
						completed++;
						fprintf(stderr, "handshake msg %d survived flip %zu.%d\n", which, byte, bit);
					}
				}
				mc_rpcsec_free(&c);
				mc_rpcsec_free(&s);
			}
			if (byte + 1 >= msglen)
				break;
		}
	}
	CHECK(tried > 8 * (4 + 70 + 4 + 100 + 4 + 38));
	CHECK_EQ_INT(completed, 0);
}

/* The whole conversation delivered one byte at a time. */
static void
test_byte_by_byte(void)
{
	mc_rpcsec	c,
				s;
	const uint8_t *f;
	size_t		flen;
	uint8_t		msg[3000];

	CHECK(connect_pair(&c, &s, S2 "," S1, S1, 0, 1));
	CHECK_EQ_INT(mc_rpcsec_key_index(&c), 1);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t) (i * 13);
	for (int round = 0; round < 3; round++)
	{
		size_t		n;
		const uint8_t *p;
		int			frames = 0;

		CHECK_EQ_INT(mc_rpcsec_send(&c, msg, sizeof(msg) - round), MC_RPCSEC_OK);
		CHECK_EQ_INT(mc_rpcsec_send(&c, msg, round), MC_RPCSEC_OK);
		while ((p = mc_rpcsec_pending(&c, &n)) != NULL)
		{
			uint8_t		b = p[0];

			mc_rpcsec_written(&c, 1);
			CHECK_EQ_INT(mc_rpcsec_feed(&s, &b, 1), MC_RPCSEC_OK);
			/* a partial frame is never handed out */
			while (mc_rpcsec_next_frame(&s, &f, &flen) == MC_RPCSEC_OK && f != NULL)
			{
				if (frames == 0)
					CHECK(flen == sizeof(msg) - round && memcmp(f, msg, flen) == 0);
				else
					CHECK(flen == (size_t) round && memcmp(f, msg, flen) == 0);
				frames++;
			}
		}
		CHECK_EQ_INT(frames, 2);
	}
	CHECK(deliver(&s, &c, msg, 100, 1));
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);
}

/* Size limits and truncation. */
static void
test_limits_and_truncation(void)
{
	mc_rpcsec	c,
				s;
	mc_keyring	k = ring(S1);
	static uint8_t msg[4096];
	const uint8_t *p,
			   *f;
	size_t		n,
				flen;

	/* sending over the limit is refused and the channel stays usable */
	CHECK(connect_pair(&c, &s, S1, S1, 1000, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, msg, 1001), MC_RPCSEC_ERR_OVERSIZED);
	CHECK(deliver(&c, &s, msg, 1000, 0));
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	/* a receiver with a smaller limit refuses as soon as the length is in */
	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k, 1, 2, 4096), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 1000), MC_RPCSEC_OK);
	pump(&c, &s, 0);
	CHECK(mc_rpcsec_established(&c) && mc_rpcsec_established(&s));
	CHECK_EQ_INT(mc_rpcsec_send(&c, msg, 1001), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &n);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, p, 4), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_ERR_OVERSIZED);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	/* a huge length during the handshake */
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, (const uint8_t *) "\xff\xff\xff\xff", 4), MC_RPCSEC_ERR_OVERSIZED);
	mc_rpcsec_free(&s);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, (const uint8_t *) "\x00\x00\x02\x01", 4), MC_RPCSEC_ERR_OVERSIZED);
	mc_rpcsec_free(&s);
	/* a short body is malformed */
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, (const uint8_t *) "\x00\x00\x00\x06MCRS\x01\x01", 10),
				 MC_RPCSEC_ERR_MALFORMED);
	mc_rpcsec_free(&s);

	/* connection closed inside a frame, inside the handshake, or cleanly */
	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, msg, 100), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &n);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, p, n - 1), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_OK);
	CHECK(f == NULL);
	CHECK_EQ_INT(mc_rpcsec_eof(&s), MC_RPCSEC_ERR_TRUNCATED);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	CHECK(connect_pair(&c, &s, S1, S1, 0, 0));
	CHECK_EQ_INT(mc_rpcsec_send(&c, msg, 100), MC_RPCSEC_OK);
	move(&c, &s, 0);
	CHECK_EQ_INT(mc_rpcsec_eof(&s), MC_RPCSEC_OK);	/* whole frame still buffered */
	CHECK_EQ_INT(mc_rpcsec_next_frame(&s, &f, &flen), MC_RPCSEC_OK);
	CHECK(f != NULL && flen == 100);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);

	CHECK_EQ_INT(mc_rpcsec_init_client(&c, &k, 1, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&c, &n);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, p, n / 2), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_eof(&s), MC_RPCSEC_ERR_TRUNCATED);
	mc_rpcsec_free(&c);
	mc_rpcsec_free(&s);
}

/*
 * The wire format of doc/security.md, built by hand with libsodium: a HELLO
 * made from the documented layout is accepted and answered with a WELCOME
 * whose MAC checks out by the documented formula; a degenerate ephemeral
 * key from a key holder is refused without an answer.
 */
static void
hand_hello(uint8_t *rec, size_t *len, const mc_keyring *kr, const uint8_t eph[32])
{
	uint8_t    *b = rec + 4;
	size_t		n = 0;
	crypto_generichash_state st;
	static const char label[] = "mailcluster rpc hello";

	memcpy(b, "MCRS", 4);
	n = 4;
	b[n++] = 1;					/* version */
	b[n++] = 1;					/* HELLO */
	b[n++] = 0; b[n++] = 7;		/* client id 7 */
	b[n++] = 0; b[n++] = 2;		/* wants server 2 */
	memset(b + n, 0xAB, 32);	/* nonce_c */
	n += 32;
	memcpy(b + n, eph, 32);
	n += 32;
	b[n++] = 1;					/* one key offered */
	b[n++] = kr->keys[0].hint;
	crypto_generichash_init(&st, kr->keys[0].rpc, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *) label, strlen(label));
	crypto_generichash_update(&st, b, 74);
	crypto_generichash_final(&st, b + n, 32);
	n += 32;
	rec[0] = 0; rec[1] = 0; rec[2] = (uint8_t) (n >> 8); rec[3] = (uint8_t) n;
	*len = 4 + n;
}

static void
test_wire_format_by_hand(void)
{
	mc_keyring	k = ring(S1);
	mc_rpcsec	s;
	uint8_t		rec[256],
				eph_pk[32],
				eph_sk[32],
				zero[32] = {0};
	size_t		len,
				n;
	const uint8_t *p;

	crypto_kx_keypair(eph_pk, eph_sk);
	hand_hello(rec, &len, &k, eph_pk);
	CHECK_EQ_INT(len, 4 + 74 + 1 + 33);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, rec, len), MC_RPCSEC_OK);
	p = mc_rpcsec_pending(&s, &n);
	CHECK(p != NULL && n == 4 + 4 + 1 + 1 + 2 + 32 + 32 + 1 + 32);
	if (p && n == 4 + 105)
	{
		uint8_t		mac[32];
		crypto_generichash_state st;
		static const char label[] = "mailcluster rpc server";

		CHECK(p[3] == 105 && memcmp(p + 4, "MCRS\x01\x02", 6) == 0);
		CHECK(p[10] == 0 && p[11] == 2);	/* server id */
		CHECK_EQ_INT(p[4 + 72], 0);			/* chosen: our only key */
		crypto_generichash_init(&st, k.keys[0].rpc, 32, 32);
		crypto_generichash_update(&st, (const uint8_t *) label, strlen(label));
		crypto_generichash_update(&st, rec + 4, len - 4);
		crypto_generichash_update(&st, p + 4, 73);
		crypto_generichash_final(&st, mac, 32);
		CHECK(memcmp(mac, p + 4 + 73, 32) == 0);
	}
	mc_rpcsec_free(&s);

	/* a MAC under another key: refused, nothing sent */
	{
		mc_keyring	other = ring(S2);

		hand_hello(rec, &len, &other, eph_pk);
		CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
		CHECK_EQ_INT(mc_rpcsec_feed(&s, rec, len), MC_RPCSEC_ERR_AUTH);
		CHECK(mc_rpcsec_pending(&s, &n) == NULL);
		mc_rpcsec_free(&s);
	}
	/* our hint but a bad MAC (a stranger guessing the hint): refused, silent */
	hand_hello(rec, &len, &k, eph_pk);
	rec[len - 1] ^= 1;
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, rec, len), MC_RPCSEC_ERR_AUTH);
	CHECK(mc_rpcsec_pending(&s, &n) == NULL);
	mc_rpcsec_free(&s);
	/* an all-zero (low-order) ephemeral key: refused, nothing sent */
	hand_hello(rec, &len, &k, zero);
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, rec, len), MC_RPCSEC_ERR_AUTH);
	CHECK(mc_rpcsec_pending(&s, &n) == NULL);
	mc_rpcsec_free(&s);
	/* client id 0 is malformed */
	hand_hello(rec, &len, &k, eph_pk);
	rec[4 + 7] = 0;
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, rec, len), MC_RPCSEC_ERR_MALFORMED);
	mc_rpcsec_free(&s);
	/* a wrong version byte */
	hand_hello(rec, &len, &k, eph_pk);
	rec[4 + 4] = 2;
	CHECK_EQ_INT(mc_rpcsec_init_server(&s, &k, 2, 0), MC_RPCSEC_OK);
	CHECK_EQ_INT(mc_rpcsec_feed(&s, rec, len), MC_RPCSEC_ERR_BAD_VERSION);
	mc_rpcsec_free(&s);
}

static void
test_status_names(void)
{
	CHECK(strcmp(mc_rpcsec_status_name(MC_RPCSEC_ERR_AUTH), "auth_failed") == 0);
	CHECK(strcmp(mc_rpcsec_status_name(MC_RPCSEC_OK), "ok") == 0);
	CHECK(strcmp(mc_rpcsec_status_name(MC_RPCSEC__COUNT), "unknown") == 0);
	for (int a = 0; a < MC_RPCSEC__COUNT; a++)
		for (int b = 0; b < a; b++)
			CHECK(strcmp(mc_rpcsec_status_name(a), mc_rpcsec_status_name(b)) != 0);
}

int
main(void)
{
	if (mc_crypto_init() != 0)
		return 1;
	RUN(test_handshake_and_frames);
	RUN(test_mismatched_keys);
	RUN(test_client_refuses_fake_server);
	RUN(test_wrong_peer);
	RUN(test_rotation_g11);
	RUN(test_frames_before_handshake);
	RUN(test_frame_tampering);
	RUN(test_frame_replay_reorder);
	RUN(test_handshake_tampering);
	RUN(test_byte_by_byte);
	RUN(test_limits_and_truncation);
	RUN(test_wire_format_by_hand);
	RUN(test_status_names);
	return tu_finish("rpcsec");
}
