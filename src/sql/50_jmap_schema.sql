-- 50_jmap_schema.sql — the replicated JMAP mail state (SPEC §4): tables
-- accounts, mailboxes, emails, email_mailboxes, threads, blobs, changes,
-- account_blobs and _responses, their indexes, the C write guard that makes
-- direct DML on them fail with MC004, and the C mail parser entry points.
-- Only the apply path (_apply, 55_jmap_apply.sql) writes these tables.

-- ---- C entry points -------------------------------------------------------

-- Parse one RFC 5322 message (GMime 3) into the JSON an import command carries.
CREATE FUNCTION mailcluster._parse_message(message bytea, blob_id text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'mc_parse_message' LANGUAGE C IMMUTABLE;

-- Decoded bytes of leaf part part_no (JMAP partId) of a message, NULL if none.
CREATE FUNCTION mailcluster._message_part(message bytea, part_no int)
RETURNS bytea AS 'MODULE_PATHNAME', 'mc_message_part' LANGUAGE C IMMUTABLE STRICT;

-- Whole UTF-8 text of text part part_no (bodyValues beyond what the log carried).
CREATE FUNCTION mailcluster._message_text(message bytea, part_no int)
RETURNS text AS 'MODULE_PATHNAME', 'mc_message_text' LANGUAGE C IMMUTABLE STRICT;

-- A raw header value in an RFC 8621 parsed form (Raw, Text, Addresses, ...).
CREATE FUNCTION mailcluster._header_parse(raw text, form text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'mc_header_parse' LANGUAGE C IMMUTABLE;

-- RFC 2047-encode a header value (phrase: a display name) for drafts.
CREATE FUNCTION mailcluster._header_encode(value text, phrase boolean)
RETURNS text AS 'MODULE_PATHNAME', 'mc_header_encode' LANGUAGE C IMMUTABLE STRICT;

-- The write guard: only mailcluster._apply() (C, 55_jmap_apply.sql) turns it
-- on; the trigger refuses DML while it is off.
CREATE FUNCTION mailcluster._guard_active() RETURNS bool
AS 'MODULE_PATHNAME', 'mc_jmap_guard_active' LANGUAGE C VOLATILE;
-- Statement trigger of every replicated table: MC004 unless _apply is running.
CREATE FUNCTION mailcluster._guard_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'mc_jmap_guard_trigger' LANGUAGE C;

-- ---- replicated tables ------------------------------------------------------

-- One row per account; the states of its types are max(changes.idx).
CREATE TABLE mailcluster.accounts (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    created_idx     bigint NOT NULL,      -- Raft index of account_create
    purged_before   bigint NOT NULL DEFAULT 0  -- /changes older than this: cannotCalculateChanges
);
-- the session state of every jmap() response is the newest account's index
CREATE INDEX accounts_created ON mailcluster.accounts (created_idx);

CREATE TABLE mailcluster.mailboxes (
    account_id      text NOT NULL REFERENCES mailcluster.accounts(id),
    id              text NOT NULL,
    name            text NOT NULL,
    parent_id       text,
    role            text,
    sort_order      integer NOT NULL DEFAULT 0,
    is_subscribed   boolean NOT NULL DEFAULT true,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX mailboxes_role ON mailcluster.mailboxes (account_id, role) WHERE role IS NOT NULL;
CREATE UNIQUE INDEX mailboxes_name ON mailcluster.mailboxes (account_id, coalesce(parent_id, ''), name);

CREATE TABLE mailcluster.threads (
    account_id      text NOT NULL REFERENCES mailcluster.accounts(id),
    id              text NOT NULL,
    PRIMARY KEY (account_id, id)
);

-- Content-addressed bytes: id = 'B' || hex(sha256(data)); stored once.
CREATE TABLE mailcluster.blobs (
    id              text PRIMARY KEY,
    size            bigint NOT NULL,
    data            bytea NOT NULL
);

-- Which account may read which blob (uploads), with the index that made it.
CREATE TABLE mailcluster.account_blobs (
    account_id      text NOT NULL REFERENCES mailcluster.accounts(id),
    blob_id         text NOT NULL REFERENCES mailcluster.blobs(id),
    type            text NOT NULL,
    idx             bigint NOT NULL,
    granted_at      timestamptz,          -- proposer's clock, carried in the command
    PRIMARY KEY (account_id, blob_id)
);
-- purge_blobs looks only at the grants that passed its cut since its last
-- round (granted_at) and those granted since then (idx): _purge_state
CREATE INDEX account_blobs_granted ON mailcluster.account_blobs (granted_at);
CREATE INDEX account_blobs_idx ON mailcluster.account_blobs (idx);

CREATE TABLE mailcluster.emails (
    account_id      text NOT NULL REFERENCES mailcluster.accounts(id),
    id              text NOT NULL,
    blob_id         text NOT NULL REFERENCES mailcluster.blobs(id),
    thread_id       text NOT NULL,
    keywords        jsonb NOT NULL DEFAULT '{}',
    size            bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    message_id      text[],
    in_reply_to     text[],
    "references"    text[],
    sender          jsonb,
    "from"          jsonb,
    "to"            jsonb,
    cc              jsonb,
    bcc             jsonb,
    reply_to        jsonb,
    subject         text,
    sent_at         timestamptz,
    sent_at_text    text,                 -- sentAt as written (with its offset)
    has_attachment  boolean NOT NULL DEFAULT false,
    preview         text NOT NULL DEFAULT '',
    headers         jsonb NOT NULL DEFAULT '[]',
    body_structure  jsonb,
    text_body       jsonb NOT NULL DEFAULT '[]',  -- partIds
    html_body       jsonb NOT NULL DEFAULT '[]',
    attachments     jsonb NOT NULL DEFAULT '[]',
    body_values     jsonb NOT NULL DEFAULT '{}',  -- partId -> {value, isEncodingProblem}
    thread_subject  text NOT NULL DEFAULT '',     -- normalised subject (threading)
    thread_keys     text[] NOT NULL DEFAULT '{}', -- message-id ∪ in-reply-to ∪ references
    search_text     text NOT NULL DEFAULT '',     -- lower-cased body text for filters
    PRIMARY KEY (account_id, id)
);
CREATE INDEX emails_received ON mailcluster.emails (account_id, received_at DESC, id COLLATE "C");
CREATE INDEX emails_thread ON mailcluster.emails (account_id, thread_id);
CREATE INDEX emails_blob ON mailcluster.emails (blob_id);
CREATE INDEX emails_thread_keys ON mailcluster.emails USING gin (thread_keys);

CREATE TABLE mailcluster.email_mailboxes (
    account_id      text NOT NULL,
    email_id        text NOT NULL,
    mailbox_id      text NOT NULL,
    PRIMARY KEY (account_id, email_id, mailbox_id),
    FOREIGN KEY (account_id, email_id) REFERENCES mailcluster.emails (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, mailbox_id) REFERENCES mailcluster.mailboxes (account_id, id)
);
CREATE INDEX email_mailboxes_mailbox ON mailcluster.email_mailboxes (account_id, mailbox_id, email_id);

-- One row per object changed by the entry at Raft index idx.
CREATE TABLE mailcluster.changes (
    account_id      text NOT NULL,
    type            text NOT NULL CHECK (type IN ('Mailbox', 'Email', 'Thread')),
    obj_id          text NOT NULL,
    idx             bigint NOT NULL,
    kind            char(1) NOT NULL CHECK (kind IN ('c', 'u', 'd')),
    PRIMARY KEY (account_id, type, idx, obj_id)
);
-- purge_changes looks only at the rows written since its last horizon (_purge_state)
CREATE INDEX changes_idx ON mailcluster.changes (idx);

-- Idempotency: the response of every command that carried a request_id.
CREATE TABLE mailcluster._responses (
    request_id      text COLLATE "C" PRIMARY KEY,  -- ASCII ids: byte order, no locale
    idx             bigint NOT NULL,
    response        jsonb
);

-- Parts of a blob too big for one log entry (mailcluster.raft_batch_max):
-- the proposer sends them as blob_part entries before the command that
-- uses the blob, which joins them, checks the hash, stores the blob and
-- deletes the parts.  Normally empty between commands.  The part size is
-- the proposer's (it follows its raft_batch_max) and part of the key: two
-- nodes sending the same blob cut at different sizes never mix their parts.
CREATE TABLE mailcluster._blob_parts (
    blob_id         text NOT NULL,
    part_size       int NOT NULL CHECK (part_size >= 0),
    seq             int NOT NULL CHECK (seq >= 0),
    idx             bigint NOT NULL,
    at              timestamptz,
    data            bytea NOT NULL,
    PRIMARY KEY (blob_id, part_size, seq)
);

-- The highest before_idx purge_changes ran with: every change row below it
-- that a newer row of its type outdated is gone, so the next purge looks
-- only at the types written since (one row).
--
-- The same for purge_blobs: the highest before_time it ran with and the
-- index of the entry that did (grants granted after that index with a time
-- already past a later cut, a proposer's clock behind, are looked at too),
-- and the highest before_idx it ran with.
CREATE TABLE mailcluster._purge_state (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    changes_before  bigint NOT NULL,
    blobs_time      timestamptz NOT NULL DEFAULT '-infinity',
    blobs_time_idx  bigint NOT NULL DEFAULT 0,
    blobs_before    bigint NOT NULL DEFAULT 0
);
INSERT INTO mailcluster._purge_state (one, changes_before) VALUES (true, 0);

-- Blobs an account's email let go of since the last purge_blobs: the
-- email was destroyed (_email_destroy adds the row; every way of deleting
-- an email must).  The next purge_blobs looks at their grants and the blobs
-- themselves and removes the rows, but for a grant younger than its cut.
CREATE TABLE mailcluster._blob_candidates (
    account_id      text NOT NULL,
    blob_id         text NOT NULL,
    PRIMARY KEY (account_id, blob_id)
);

-- ---- the guard --------------------------------------------------------------

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'mailboxes', 'threads', 'blobs', 'account_blobs',
                             'emails', 'email_mailboxes', 'changes', '_responses', '_blob_parts',
                             '_purge_state', '_blob_candidates'] LOOP
        -- statement level: refuses even statements that would touch no row
        EXECUTE format('CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
                        ON mailcluster.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION mailcluster._guard_trigger()', t);
        EXECUTE format('GRANT SELECT ON mailcluster.%I TO PUBLIC', t);
    END LOOP;
END $$;
REVOKE ALL ON mailcluster._responses FROM PUBLIC;
