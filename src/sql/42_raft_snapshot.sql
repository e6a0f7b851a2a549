-- 42_raft_snapshot.sql — where snapshots of the replicated state live
-- (doc/raft-in-postgres.md, "Snapshots and log compaction").  The encoding,
-- taking, serving, staging and installing are C (src/pg/snapshot_store.c);
-- these tables only hold the bytes.
--
-- A snapshot is a byte stream cut into chunks of at most ~256 KB (never
-- more than one Raft snapshot message, raft_batch_max), each chunk its own
-- row keyed by its byte offset in the stream, so no step ever holds the
-- whole snapshot in memory or in one value, and the chunk a follower asks
-- for at an offset is one index lookup.

-- Snapshots kept for serving: one row per complete snapshot (normally
-- only the newest; an older one left by a take that raced with an install
-- is removed by the next take or install).
CREATE TABLE mailcluster._raft_snapshot (
    idx     bigint PRIMARY KEY,       -- applied index the state is at
    size    bigint NOT NULL,          -- bytes of the stream (sum of chunk lengths)
    chunks  integer NOT NULL,
    nrows   bigint NOT NULL,          -- rows of replicated tables it holds (0 until a received one is loaded)
    made    text NOT NULL CHECK (made IN ('taken', 'installed'))
);

-- The chunks: those of kept snapshots (staged = false) and those of a
-- snapshot being received from the leader (staged = true, idx = the
-- snapshot it belongs to).  A completely received snapshot becomes a kept
-- one by flipping `staged` (an UPDATE that leaves the TOASTed bytes where
-- they are); the apply worker then loads the tables from the kept rows.
CREATE TABLE mailcluster._raft_snap_chunk (
    staged  boolean NOT NULL,
    idx     bigint  NOT NULL,
    off     bigint  NOT NULL CHECK (off >= 0),
    data    bytea   NOT NULL,
    PRIMARY KEY (staged, idx, off)
);
REVOKE ALL ON mailcluster._raft_snapshot, mailcluster._raft_snap_chunk FROM PUBLIC;
