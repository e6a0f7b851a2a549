-- jmap_mailbox.sql — Mailbox/get, /changes, /query, /set (RFC 8621 §2):
-- standard mailboxes of a new account, create/update/destroy with their
-- SetErrors, counts, states and /changes, queries.
-- error positions inside PL/pgSQL functions are not part of the contract
\set SHOW_CONTEXT never
-- The regression node is standalone: a one-voter cluster and its own
-- leader, so every write below goes through its Raft log and apply worker.
-- Start from empty mail state (the rows of earlier files are wiped locally,
-- triggers off, as a superuser can) with the log at index 192, so that the
-- ids and states below do not depend on earlier files: the first write of
-- this file is Raft index 193.
DO $$ BEGIN
    FOR i IN 1..300 LOOP EXIT WHEN mailcluster.is_leader(); PERFORM pg_sleep(0.1); END LOOP;
END $$;
SELECT count(mailcluster._raft_submit('{"op": "purge_changes", "before_idx": 0}')) >= 0 AS padded
  FROM generate_series((SELECT last_log_index FROM mailcluster.raft_status) + 1, 192);
SET session_replication_role = replica;
TRUNCATE mailcluster.accounts, mailcluster.mailboxes, mailcluster.threads, mailcluster.blobs,
         mailcluster.account_blobs, mailcluster.emails, mailcluster.email_mailboxes,
         mailcluster.changes, mailcluster._responses, mailcluster._blob_parts;
RESET session_replication_role;
SELECT last_log_index, applied_index FROM mailcluster.raft_status;
CREATE FUNCTION jr(calls jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT mailcluster.jmap(jsonb_build_object(
        'using', '["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]'::jsonb,
        'methodCalls', calls)) -> 'methodResponses'
$$;
-- responses one per line: [name, call id, arguments]
CREATE FUNCTION show(calls jsonb) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT (r->>2) || ' ' || (r->>0) || ' ' || (r->1)::text
      FROM jsonb_array_elements(jr(calls)) r
$$;

SELECT mailcluster.account_create('');
SELECT mailcluster.account_create(NULL);
SELECT mailcluster.account_create('carol');

-- ---- Mailbox/get: the standard mailboxes with roles and counts ----
SELECT jsonb_pretty(jr('[["Mailbox/get", {"accountId": "Agb", "ids": null}, "0"]]') #- '{0,1,list,1}' #- '{0,1,list,1}'
                       #- '{0,1,list,1}' #- '{0,1,list,1}' #- '{0,1,list,1}');
SELECT * FROM show('[["Mailbox/get", {"accountId": "Agb", "ids": ["Mgb-b", "Mgb-g", "nope"],
                                      "properties": ["name", "role", "sortOrder"]}, "1"]]');

-- ---- Mailbox/set create: parents by creation id in any order; SetErrors ----
SELECT * FROM show('[["Mailbox/set", {"accountId": "Agb", "create": {
    "child": {"name": "2026", "parentId": "#parent", "sortOrder": 5},
    "parent": {"name": "Projects", "isSubscribed": false},
    "orphan": {"name": "Lost", "parentId": "#nobody"},
    "noname": {"sortOrder": 3},
    "badrole": {"name": "R", "role": "nonsense"},
    "duprole": {"name": "Second inbox", "role": "inbox"},
    "serverset": {"name": "S", "totalEmails": 7, "colour": "red"},
    "dupname": {"name": "Inbox"},
    "badparent": {"name": "P", "parentId": "Mzz"}}}, "0"]]');
SELECT id, name, parent_id, role, sort_order, is_subscribed FROM mailcluster.mailboxes
 WHERE role IS NULL ORDER BY id;

-- ---- Mailbox/set update: rename, move, role, cycle, notFound ----
SELECT * FROM show('[["Mailbox/set", {"accountId": "Agb", "update": {
    "Mgc-c": {"name": "Projects & Co", "sortOrder": 1},
    "Mgc-i": {"parentId": null, "isSubscribed": false},
    "Mgb-g": {"role": null},
    "Mgb-f": {"role": "archive"},
    "Mgb-d": {"role": "inbox"},
    "Mx-nope": {"name": "x"},
    "Mgb-c": {"parentId": "Mgb-c"},
    "Mgb-e": {"sortOrder": -1, "name": ""}}}, "0"]]');
-- a cycle: Projects under its own child
SELECT * FROM show('[["Mailbox/set", {"accountId": "Agb", "update": {"Mgc-i": {"parentId": "Mgc-c"}}}, "0"],
                     ["Mailbox/set", {"accountId": "Agb", "update": {"Mgc-c": {"parentId": "Mgc-i"}}}, "1"]]');

-- ---- ifInState: stateMismatch ----
SELECT * FROM show('[["Mailbox/set", {"accountId": "Agb", "ifInState": "193", "destroy": ["Mgc-i"]}, "0"],
                     ["Mailbox/get", {"accountId": "Agb", "ids": [], "properties": ["id"]}, "1"]]');

-- ---- counts, mailboxHasEmail, mailboxHasChild, onDestroyRemoveEmails ----
SELECT mailcluster.deliver('Agb', convert_to(E'Message-ID: <m1@x>\nSubject: one\n\nbody one\n', 'UTF8'), 'Projects & Co');
SELECT mailcluster.deliver('Agb', convert_to(E'Message-ID: <m2@x>\nIn-Reply-To: <m1@x>\nSubject: Re: one\n\nbody two\n', 'UTF8'), 'Projects & Co');
SELECT mailcluster.deliver('Agb', convert_to(E'Message-ID: <m3@x>\nSubject: three\n\nbody three\n', 'UTF8'), 'trash');
SELECT * FROM show('[["Email/set", {"accountId": "Agb", "update": {"Egi-b": {"keywords/$seen": true},
                                                                   "Egh-b": {"mailboxIds/Mgb-e": true}}}, "0"],
                     ["Mailbox/get", {"accountId": "Agb", "ids": ["Mgc-c", "Mgb-e"],
                      "properties": ["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"]}, "1"]]');
SELECT * FROM show('[["Mailbox/set", {"accountId": "Agb", "destroy": ["Mgc-c", "Mgb-e", "Mzz"]}, "0"]]');
-- Projects goes with its child and its mails: Egh-b is also in Trash, so it stays
SELECT * FROM show('[["Mailbox/set", {"accountId": "Agb", "destroy": ["Mgc-c", "Mgc-i"], "onDestroyRemoveEmails": true}, "0"],
                     ["Email/get", {"accountId": "Agb", "ids": ["Egh-b", "Egi-b", "Egj-b"], "properties": ["mailboxIds", "threadId"]}, "1"],
                     ["Thread/get", {"accountId": "Agb", "ids": ["Tgh-c", "Tgj-c"]}, "2"]]');

-- ---- Mailbox/changes ----
SELECT * FROM show('[["Mailbox/changes", {"accountId": "Agb", "sinceState": "193"}, "0"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "193", "maxChanges": 2}, "1"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "194", "maxChanges": 2}, "2"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "202"}, "3"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "999"}, "4"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "bogus"}, "5"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": 3}, "6"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "193", "maxChanges": 0}, "7"]]');
-- after a purge, older states cannot be caught up
SELECT mailcluster._submit('{"op": "purge_changes", "before_idx": 198}');
SELECT * FROM show('[["Mailbox/changes", {"accountId": "Agb", "sinceState": "193"}, "0"],
                     ["Mailbox/changes", {"accountId": "Agb", "sinceState": "197"}, "1"],
                     ["Mailbox/get", {"accountId": "Agb", "ids": []}, "2"]]');

-- ---- Mailbox/query ----
SELECT count(*) FROM show('[["Mailbox/set", {"accountId": "Agb", "create": {
                        "a": {"name": "alpha", "parentId": "Mgb-g", "sortOrder": 2},
                        "b": {"name": "beta", "parentId": "Mgb-g", "sortOrder": 1, "isSubscribed": false}}}, "c"]]');
SELECT * FROM show('[
  ["Mailbox/query", {"accountId": "Agb"}, "all"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"parentId": "Mgb-g"}, "sort": [{"property": "name"}], "calculateTotal": true}, "kids"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"hasAnyRole": true}, "sort": [{"property": "sortOrder", "isAscending": false}], "limit": 2}, "roles"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"operator": "OR", "conditions": [{"role": "junk"}, {"name": "ALP"}]}}, "or"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"operator": "NOT", "conditions": [{"isSubscribed": true}]}}, "not"],
  ["Mailbox/query", {"accountId": "Agb", "position": -2, "calculateTotal": true}, "tail"],
  ["Mailbox/query", {"accountId": "Agb", "anchor": "Mgb-d", "anchorOffset": -1, "limit": 3}, "anchor"],
  ["Mailbox/query", {"accountId": "Agb", "anchor": "Mnope"}, "anchorNotFound"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"colour": "red"}}, "unsupportedFilter"],
  ["Mailbox/query", {"accountId": "Agb", "sort": [{"property": "totalEmails"}]}, "unsupportedSort"],
  ["Mailbox/queryChanges", {"accountId": "Agb", "sinceQueryState": "201"}, "qc"],
  ["Mailbox/query", {"accountId": "Agb", "sort": [{"property": "name"}], "sortAsTree": true}, "tree"],
  ["Mailbox/query", {"accountId": "Agb", "sort": [{"property": "name"}]}, "flat"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"isSubscribed": false}, "filterAsTree": true}, "filterTree"],
  ["Mailbox/query", {"accountId": "Agb", "filter": {"operator": "OR", "conditions": [{"name": "Archive"}, {"name": "beta"}]}, "filterAsTree": true, "sortAsTree": true}, "bothTree"],
  ["Email/queryChanges", {"accountId": "Agb"}, "qc2"]]');

-- ---- purge_blobs looks only at the grants that passed its cut since its
-- last round, those granted since, and the blobs of emails destroyed since.
-- (Here, at the end of the last file, so that its log entries shift no id
-- or state of the files before.) ----
SELECT mailcluster.account_create('purge-blobs') AS pacct \gset
CREATE FUNCTION unused_grants_before(t timestamptz) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM mailcluster.account_blobs ab
     WHERE ab.granted_at < t AND NOT EXISTS (SELECT 1 FROM mailcluster.emails e
                                              WHERE e.account_id = ab.account_id AND e.blob_id = ab.blob_id)
$$;
CREATE FUNCTION orphan_blobs() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM mailcluster.blobs b
     WHERE NOT EXISTS (SELECT 1 FROM mailcluster.emails e WHERE e.blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM mailcluster.account_blobs ab WHERE ab.blob_id = b.id)
$$;
SELECT mailcluster.deliver(:'pacct', convert_to(E'From: a@example.com\r\nTo: b@example.com\r\nSubject: gone soon\r\nMessage-ID: <gone-soon@example.com>\r\n\r\nonly here\r\n', 'UTF8')) AS gone_id \gset
SELECT blob_id AS gone_blob FROM mailcluster.emails WHERE account_id = :'pacct' AND id = :'gone_id' \gset
-- a cut an hour ahead: every grant so far is past it; the used ones stay
SELECT now() + interval '1 hour' AS t1 \gset
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', :'t1')) ? 'deleted' AS purged_t1;
SELECT blobs_time = :'t1'::timestamptz AS horizon_t1, unused_grants_before(:'t1') AS unused_left,
       orphan_blobs() AS orphans_left, (SELECT count(*) FROM mailcluster.blobs WHERE id = :'gone_blob') AS used_blob_kept
  FROM mailcluster._purge_state;
-- its email destroyed, the grant (older than the horizon) and the blob go
-- at the next round with the same cut: through _blob_candidates
SELECT jr(format('[["Email/set", {"accountId": "%s", "destroy": ["%s"]}, "d"]]', :'pacct', :'gone_id')::jsonb)
       #> '{0,1,destroyed}' ? :'gone_id' AS destroyed;
SELECT count(*) AS candidates FROM mailcluster._blob_candidates;
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', :'t1')) AS purged_again;
SELECT (SELECT count(*) FROM mailcluster.blobs WHERE id = :'gone_blob') AS blob_left,
       (SELECT count(*) FROM mailcluster.account_blobs WHERE blob_id = :'gone_blob') AS grant_left,
       (SELECT count(*) FROM mailcluster._blob_candidates) AS candidates_left;
-- an upload granted after that round with a time already past the cut (as
-- from a proposer whose clock is behind) is looked at too
SELECT mailcluster.blob_upload(:'pacct', 'clock behind', 'text/plain') ->> 'size' AS behind;
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', :'t1')) AS purged_behind;
SELECT count(*) AS behind_left FROM mailcluster.blobs WHERE id = 'B' || encode(sha256('clock behind'), 'hex');
-- a round with a lower cut (a proposer's clock behind) between two rounds
-- at t1 loses nothing: neither an upload made before it nor an email
-- destroyed before it
SELECT mailcluster.deliver(:'pacct', convert_to(E'From: a@example.com\r\nTo: b@example.com\r\nSubject: gone later\r\nMessage-ID: <gone-later@example.com>\r\n\r\nalso only here\r\n', 'UTF8')) AS gone2_id \gset
SELECT blob_id AS gone2_blob FROM mailcluster.emails WHERE account_id = :'pacct' AND id = :'gone2_id' \gset
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', :'t1')) AS purged_used;
SELECT jr(format('[["Email/set", {"accountId": "%s", "destroy": ["%s"]}, "d"]]', :'pacct', :'gone2_id')::jsonb)
       #> '{0,1,destroyed}' ? :'gone2_id' AS destroyed2;
SELECT mailcluster.blob_upload(:'pacct', 'before a low cut', 'text/plain') ->> 'size' AS low;
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', now() - interval '1 day')) AS purged_low_cut;
SELECT count(*) AS candidates_kept FROM mailcluster._blob_candidates;
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', :'t1')) AS purged_after_low;
SELECT (SELECT count(*) FROM mailcluster.blobs WHERE id = 'B' || encode(sha256('before a low cut'), 'hex')) AS low_left,
       (SELECT count(*) FROM mailcluster.blobs WHERE id = :'gone2_blob') AS gone2_left,
       (SELECT count(*) FROM mailcluster._blob_candidates) AS candidates_left;
-- a lower cut leaves the horizon where it is
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs', 'before_time', now() - interval '1 day')) AS purged_lower;
SELECT blobs_time = :'t1'::timestamptz AS horizon_kept, unused_grants_before(:'t1') AS unused_left,
       orphan_blobs() AS orphans_left FROM mailcluster._purge_state;
DROP FUNCTION unused_grants_before(timestamptz);
DROP FUNCTION orphan_blobs();

-- ---- maintenance settings: reload-only, and purge_run()'s defaults ----
SHOW mailcluster.maintenance_interval;
SHOW mailcluster.purge_keep_entries;
SHOW mailcluster.purge_blob_grace;
SET mailcluster.purge_keep_entries = 5;
SELECT pg_get_function_arguments('mailcluster.purge_run'::regproc) AS purge_run_args;
-- the log is far shorter than the 10000 entries kept: no purge_changes
SELECT r->'changes' AS changes_proposed FROM (SELECT mailcluster.purge_run() AS r) x;

-- ---- blobs in parts, and a blob that does not match its id ----
-- parts are keyed by their size: the same blob cut at two sizes (two
-- proposers with different raft_batch_max) is joined from one size only.
-- 'abcdef' cut in 3 + 3 and in 2 + 2 + 2; the command names the 2-byte parts.
SELECT count(*) AS parts_sent FROM (VALUES (3, 0, 'abc'), (3, 1, 'def'), (2, 2, 'ef'), (2, 0, 'ab'), (2, 1, 'cd')) v(sz, seq, d),
  LATERAL mailcluster._submit(jsonb_build_object('op', 'blob_part', 'blob_id', 'B' || encode(sha256('abcdef'), 'hex'),
                                                 'part_size', sz, 'seq', seq, 'at', '2026-01-01T00:00:00Z',
                                                 'data', encode(convert_to(d, 'UTF8'), 'base64')));
SELECT part_size, count(*) FROM mailcluster._blob_parts GROUP BY 1 ORDER BY 1;
SELECT mailcluster._submit(jsonb_build_object('op', 'blob_put', 'account_id', 'Agb', 'type', 'text/plain',
                                              'blob_id', 'B' || encode(sha256('abcdef'), 'hex'),
                                              'at', '2026-01-01T00:00:00Z', 'parts', 3, 'part_size', 2)) ->> 'size' AS joined_size;
SELECT convert_from(mailcluster.blob_download('Agb', 'B' || encode(sha256('abcdef'), 'hex')), 'UTF8') AS joined,
       (SELECT count(*) FROM mailcluster._blob_parts) AS parts_left;
-- a command whose bytes do not hash to its blob id is refused like any
-- other bad command, on every node alike (invalid_parameter_value), and
-- the log goes on: it used to stop the apply (data_corrupted restarted
-- the apply worker, which met the entry again)
SELECT mailcluster._submit('{"op": "blob_put", "account_id": "Agb", "blob_id": "Bdead", "type": "x", "data": "aGVsbG8=", "at": "2026-01-01T00:00:00Z"}');
SELECT mailcluster._submit('{"op": "record_response", "response": {"after": "Bdead"}}');
SELECT applied_index = commit_index AS apply_caught_up FROM mailcluster.raft_status;
-- a key too big for an index fails alike on every node (program_limit_exceeded,
-- answered like any bad command): it too used to stop the apply
DO $$
BEGIN
    PERFORM mailcluster._submit(jsonb_build_object('op', 'blob_part', 'part_size', 1, 'seq', 0,
        'blob_id', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i),
        'at', '2026-01-01T00:00:00Z', 'data', 'eA=='));
EXCEPTION WHEN program_limit_exceeded THEN
    RAISE NOTICE 'refused by the apply: %', SQLSTATE;
END $$;
SELECT mailcluster._submit('{"op": "record_response", "response": {"after": "big key"}}');
SELECT applied_index = commit_index AS apply_caught_up FROM mailcluster.raft_status;
-- request ids are keys too: at most 256 bytes (jmap), refused before anything is proposed
SELECT last_log_index AS log_before FROM mailcluster.raft_status \gset
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"], "methodCalls": []}', repeat('r', 257));
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"], "methodCalls": []}', '');
SELECT mailcluster._submit('{"op": "record_response", "response": {}}', repeat('r', 321));
SELECT last_log_index = :log_before AS nothing_proposed FROM mailcluster.raft_status;
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"], "methodCalls": [["Core/echo", {"a": 1}, "e"]]}',
                        repeat('r', 256)) -> 'methodResponses' AS longest_id_ok;

-- a method whose write would not fit one log entry (8 MB): requestTooLarge,
-- nothing proposed
SELECT last_log_index AS log_before FROM mailcluster.raft_status \gset
SELECT jr(jsonb_build_array(jsonb_build_array('Mailbox/set', jsonb_build_object('accountId', 'Agb',
          'create', (SELECT jsonb_object_agg('c' || i, jsonb_build_object('name', md5(i::text) || md5((-i)::text)))
                       FROM generate_series(1, 120000) i)), 'big'))) #> '{0}' AS too_large;
SELECT last_log_index = :log_before AS nothing_proposed FROM mailcluster.raft_status;

-- one patch that marks an email read and moves it: its inbox (left, and its
-- unread count changed) and the mailbox it enters are each recorded once,
-- with the email, in one INSERT; newState is the patch's own index
SELECT mailcluster.deliver('Agb', convert_to(E'From: a@example.com\r\nSubject: move me\r\n\r\nbody\r\n', 'UTF8')) AS moved \gset
SELECT id AS target FROM mailcluster.mailboxes WHERE account_id = 'Agb' AND role IS DISTINCT FROM 'inbox' ORDER BY id LIMIT 1 \gset
SELECT jr(jsonb_build_array(jsonb_build_array('Email/set', jsonb_build_object('accountId', 'Agb',
          'update', jsonb_build_object(:'moved', jsonb_build_object('keywords/$seen', true,
             'mailboxIds', jsonb_build_object(:'target', true)))),
          'u'))) #> '{0,1}' AS r \gset
SELECT :'r'::jsonb -> 'updated' AS updated,
       (:'r'::jsonb ->> 'newState')::bigint = (SELECT max(idx) FROM mailcluster.changes WHERE account_id = 'Agb') AS new_state_is_its_index,
       :'r'::jsonb ->> 'newState' <> :'r'::jsonb ->> 'oldState' AS state_moved;
SELECT c.type, CASE c.obj_id WHEN :'moved' THEN 'the email' WHEN :'target' THEN 'the mailbox entered'
                ELSE coalesce(m.role, c.obj_id) END AS what, c.kind
  FROM mailcluster.changes c LEFT JOIN mailcluster.mailboxes m ON m.account_id = c.account_id AND m.id = c.obj_id
 WHERE c.account_id = 'Agb' AND c.idx = (SELECT max(idx) FROM mailcluster.changes WHERE account_id = 'Agb')
 ORDER BY 1, 2;

-- clean up the helpers (the next test file runs in the same database)
DROP FUNCTION show(jsonb);
DROP FUNCTION jr(jsonb);
