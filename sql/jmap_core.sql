-- jmap_core.sql — RFC 8620 request processing through mailcluster.jmap():
-- request-level errors, Core/echo, unknown methods and capabilities,
-- back-references, creation ids, idempotent request ids, the MC004 guard
-- of the replicated tables and the _apply dispatch.
-- error positions inside PL/pgSQL functions are not part of the contract
\set SHOW_CONTEXT never
-- The regression node is standalone: a one-voter cluster and its own
-- leader, so every write below goes through its Raft log and apply worker.
-- Start from empty mail state (the rows of earlier files are wiped locally,
-- triggers off, as a superuser can) with the log at index 64, so that the
-- ids and states below do not depend on earlier files: the first write of
-- this file is Raft index 65.
DO $$ BEGIN
    FOR i IN 1..300 LOOP EXIT WHEN mailcluster.is_leader(); PERFORM pg_sleep(0.1); END LOOP;
END $$;
SELECT count(mailcluster._raft_submit('{"op": "purge_changes", "before_idx": 0}')) >= 0 AS padded
  FROM generate_series((SELECT last_log_index FROM mailcluster.raft_status) + 1, 64);
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
CREATE TABLE msgs (name text PRIMARY KEY, data bytea NOT NULL);
-- test/data/mail/alternative.eml
INSERT INTO msgs VALUES ('alternative', convert_to($m$Message-ID: <alt.3@example.com>
Date: Wed, 04 Nov 2026 18:00:00 -0500
From: =?UTF-8?Q?Andr=C3=A9_Lef=C3=A8vre?= <andre@example.com>
To: undisclosed-recipients:;
Cc: Team: dave@example.com, "Eve E." <eve@example.com>;
Subject: =?ISO-8859-1?Q?R=E9union_d=27=E9quipe?= =?UTF-8?B?IOKAkyBub3Rlcw==?=
List-Post: <mailto:team@example.com>, <https://lists.example.com/team>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt-b"

--alt-b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

R=E9sum=E9 de la r=E9union: tout va bien.
--alt-b
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PGh0bWw+PGJvZHk+PHA+UsOpc3Vtw6kgZGUgbGEgPGI+csOpdW5pb248L2I+OiB0b3V0IHZhIGJp
ZW4uPC9wPjwvYm9keT48L2h0bWw+
--alt-b--
$m$, 'UTF8'));
-- test/data/mail/attachment.eml
INSERT INTO msgs VALUES ('attachment', convert_to($m$Message-ID: <att.4@example.org>
Date: Thu, 05 Nov 2026 08:00:00 +0000
From: alice@example.org
To: bob@example.net
Subject: Report and logo
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>See the logo: <img src="cid:logo@example.org"></p>
--rel
Content-Type: image/png
Content-ID: <logo@example.org>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--mix
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCg==
--mix
Content-Type: text/plain; charset=utf-8; name="notes.txt"
Content-Disposition: attachment; filename*=UTF-8''n%C3%B6tes.txt

attached notes
--mix--
$m$, 'UTF8'));
-- test/data/mail/bad-charset.eml (not valid UTF-8: raw bytes in hex)
INSERT INTO msgs VALUES ('bad-charset', decode('4d6573736167652d49443a203c6261642e35406578616d706c652e6f72673e0a46726f6d3a204d616c6c6f7279203c6d616c6c6f7279406578616d706c652e6f72673e0a5375626a6563743a2062616420636861727365740a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d782d6e6f2d737563682d636861727365740a436f6e74656e742d5472616e736665722d456e636f64696e673a20386269740a0a50726963653a20313030a420616e6420e974e90a', 'hex'));
-- test/data/mail/garbage-8bit.eml (not valid UTF-8: raw bytes in hex)
INSERT INTO msgs VALUES ('garbage-8bit', decode('4d6573736167652d49443a203c676172626167652e36406578616d706c652e6f72673e0a46726f6d3a204772fc6e203c677275656e406578616d706c652e6f72673e0a5375626a6563743a204772fcdf6520fffe0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d7574662d380a0a48616c66206120636861723a20c3207468656e2000206e756c20616e6420fffe20656e642e0a', 'hex'));
-- test/data/mail/missing-headers.eml
INSERT INTO msgs VALUES ('missing-headers', convert_to($m$Subject: no date, no from, no message-id

Just a body.
$m$, 'UTF8'));
-- test/data/mail/plain.eml
INSERT INTO msgs VALUES ('plain', convert_to($m$Return-Path: <alice@example.org>
Message-ID: <first.1@example.org>
Date: Tue, 03 Nov 2026 09:15:00 +0100
From: Alice Example <alice@example.org>
To: Bob <bob@example.net>, carol@example.net
Subject: Lunch on Friday
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hi Bob,

shall we have lunch on Friday at noon?

Alice
$m$, 'UTF8'));
-- test/data/mail/reply.eml
INSERT INTO msgs VALUES ('reply', convert_to($m$Message-ID: <second.2@example.net>
In-Reply-To: <first.1@example.org>
References: <first.1@example.org>
Date: Tue, 03 Nov 2026 10:20:00 +0000
From: Bob <bob@example.net>
To: Alice Example <alice@example.org>
Subject: Re: Lunch on Friday
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Friday works. Café Müller?

> shall we have lunch on Friday at noon?
$m$, 'UTF8'));
-- test/data/mail/thread-a.eml
INSERT INTO msgs VALUES ('thread-a', convert_to($m$Message-ID: <a@thread.example>
Date: Mon, 09 Nov 2026 10:00:00 +0000
From: Ann <ann@thread.example>
To: team@thread.example
Subject: Release plan

What is the plan?
$m$, 'UTF8'));
-- test/data/mail/thread-b.eml
INSERT INTO msgs VALUES ('thread-b', convert_to($m$Message-ID: <b@thread.example>
In-Reply-To: <a@thread.example>
References: <a@thread.example>
Date: Mon, 09 Nov 2026 11:00:00 +0000
From: Ben <ben@thread.example>
To: team@thread.example
Subject: RE: [team] Release plan

Ship on Friday.
$m$, 'UTF8'));
-- test/data/mail/thread-c.eml
INSERT INTO msgs VALUES ('thread-c', convert_to($m$Message-ID: <c@thread.example>
In-Reply-To: <b@thread.example>
References: <b@thread.example>
Date: Mon, 09 Nov 2026 12:00:00 +0000
From: Cid <cid@thread.example>
To: team@thread.example
Subject: Re: Re: Release plan

Answering Ben (his mail has not arrived yet).
$m$, 'UTF8'));
-- test/data/mail/thread-other.eml
INSERT INTO msgs VALUES ('thread-other', convert_to($m$Message-ID: <x@thread.example>
In-Reply-To: <a@thread.example>
Date: Mon, 09 Nov 2026 13:00:00 +0000
From: Xena <xena@thread.example>
To: team@thread.example
Subject: Lunch?

Same references, different subject: a thread of its own.
$m$, 'UTF8'));

SELECT mailcluster.account_create('alice');
SELECT mailcluster.deliver('Acb', data) FROM msgs WHERE name = 'plain';
SELECT mailcluster.deliver('Acb', data) FROM msgs WHERE name = 'reply';

-- ---- request-level errors (RFC 8620 §3.6.1) ----
SELECT mailcluster.jmap('[]');
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"]}');
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"], "methodCalls": [["Core/echo", {}]]}');
SELECT mailcluster.jmap('{"using": [1], "methodCalls": []}');
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"], "methodCalls": [["Core/echo", [], "c"]]}');
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core", "urn:example:nope"], "methodCalls": []}');

-- ---- Core/echo: the RFC 8620 §4 example ----
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"],
  "methodCalls": [["Core/echo", {"hello": true, "high": 5}, "b3ff"]]}');

-- ---- unknownMethod: unknown name, or capability not in "using" ----
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"],
  "methodCalls": [["Foo/bar", {}, "a"], ["Mailbox/get", {"accountId": "Acb"}, "b"],
                  ["Core/echo", {"still": "running"}, "c"]]}');

-- ---- accountNotFound / invalidArguments ----
SELECT jr('[["Mailbox/get", {"accountId": "nope"}, "a"],
            ["Mailbox/get", {"accountId": 42}, "b"],
            ["Mailbox/get", {"accountId": "Acb", "ids": "Mcb-b"}, "c"],
            ["Mailbox/get", {"accountId": "Acb", "properties": ["name", "colour"]}, "d"],
            ["Email/query", {"accountId": "Acb", "limit": -1}, "e"]]');

-- ---- back-references: the RFC 8620 §3.7 example (sorted by sentAt, not by
-- receivedAt, which deliver() takes from the clock) ----
SELECT jsonb_pretty(jr('[
  ["Email/query", {"accountId": "Acb", "filter": {"inMailbox": "Mcb-b"},
                   "sort": [{"property": "sentAt", "isAscending": false}],
                   "collapseThreads": true, "position": 0, "limit": 10,
                   "calculateTotal": true}, "t0"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "t0", "name": "Email/query", "path": "/ids"},
                 "properties": ["threadId"]}, "t1"],
  ["Thread/get", {"accountId": "Acb", "#ids": {"resultOf": "t1", "name": "Email/get", "path": "/list/*/threadId"}}, "t2"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "t2", "name": "Thread/get", "path": "/list/*/emailIds"},
                 "properties": ["from", "sentAt", "subject"]}, "t3"]]'));

-- ---- invalidResultReference / invalidArguments with references ----
SELECT jsonb_pretty(jr('[
  ["Email/query", {"accountId": "Acb", "sort": [{"property": "size"}]}, "q"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "zz", "name": "Email/query", "path": "/ids"}}, "a"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "q", "name": "Email/get", "path": "/ids"}}, "b"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "q", "name": "Email/query", "path": "/nothing/here"}}, "c"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids/*/x"}}, "d"],
  ["Email/get", {"accountId": "Acb", "#ids": "not a reference"}, "e"],
  ["Email/get", {"accountId": "Acb", "ids": [], "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "f"],
  ["Email/get", {"accountId": "Acb", "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                 "properties": ["subject"]}, "g"]]'));

-- JSON pointers with escapes and '*'
SELECT mailcluster._json_pointer('{"a/b": {"m~n": [1, 2]}}', '/a~1b/m~0n/1'),
       mailcluster._json_pointer('{"l": [{"x": [1, 2]}, {"x": 3}]}', '/l/*/x'),
       mailcluster._json_pointer('{"l": [1]}', '/l/01') IS NULL AS leading_zero_refused;

-- ---- creation ids across method calls, and the request's createdIds ----
SELECT jsonb_pretty(mailcluster.jmap('{
  "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
  "createdIds": {"old": "Mcb-c"},
  "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"box": {"name": "Receipts", "parentId": "#old"}}}, "0"],
    ["Mailbox/get", {"accountId": "Acb", "ids": ["#box"], "properties": ["name", "parentId"]}, "1"],
    ["Email/set", {"accountId": "Acb", "update": {"Ecc-b": {"mailboxIds/#box": true}}}, "2"],
    ["Email/get", {"accountId": "Acb", "ids": ["Ecc-b"], "properties": ["mailboxIds"]}, "3"]]}') #- '{methodResponses,0,1,created,box,myRights}');

-- ---- request_id: a retry returns the first response and changes nothing ----
SELECT last_log_index AS log_before FROM mailcluster.raft_status;
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:mail"], "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"n": {"name": "Once"}}}, "0"]]}', 'req-1')
    #> '{methodResponses,0,1,created,n,id}' AS first_try;
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:mail"], "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"n": {"name": "Once"}}}, "0"]]}', 'req-1')
    #> '{methodResponses,0,1,created,n,id}' AS retry;
SELECT last_log_index AS log_after, (SELECT count(*) FROM mailcluster.mailboxes WHERE name = 'Once') AS boxes
  FROM mailcluster.raft_status;
-- the same request under another request_id is a new request
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:mail"], "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"n": {"name": "Once"}}}, "0"]]}', 'req-2')
    #> '{methodResponses,0,1,notCreated}' AS sibling_name_taken;

-- ---- _submit: a command is an object with an "op"; a request_id applied
-- before answers its stored response and proposes nothing ----
SELECT mailcluster._submit('[1]');
SELECT mailcluster._submit('{"x": 1}');
SELECT mailcluster._submit(NULL);
-- an entry over 8 MB is refused before it is proposed (it could be appended
-- but not sent: replication stopped behind it)
\set VERBOSITY terse
SELECT mailcluster._submit(jsonb_build_object('op', 'record_response', 'response', repeat('x', 8 * 1024 * 1024)));
\set VERBOSITY default
SELECT last_log_index AS before_rid FROM mailcluster.raft_status \gset
SELECT mailcluster._submit('{"op": "record_response", "response": {"n": 1}}', 'regress-rid-1') AS first;
SELECT mailcluster._submit('{"op": "record_response", "response": {"n": 2}}', 'regress-rid-1') AS again;
SELECT last_log_index - :before_rid AS entries FROM mailcluster.raft_status;

-- ---- commit failures (MC001 -> serverPartialFail, MC003 -> serverUnavailable);
-- such a response is not stored, so the retry does the work ----
SHOW mailcluster.enable_fault_injection;
SET mcjmap.fault_submit = 'MC001';
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:mail"], "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"n": {"name": "Flaky"}}}, "0"],
    ["Mailbox/query", {"accountId": "Acb", "filter": {"name": "Flaky"}}, "1"]]}', 'req-3') -> 'methodResponses';
SET mcjmap.fault_submit = 'MC003';
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:mail"], "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"n": {"name": "Flaky"}}}, "0"]]}', 'req-3') -> 'methodResponses';
RESET mcjmap.fault_submit;
SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:mail"], "methodCalls": [
    ["Mailbox/set", {"accountId": "Acb", "create": {"n": {"name": "Flaky"}}}, "0"],
    ["Mailbox/query", {"accountId": "Acb", "filter": {"name": "Flaky"}}, "1"]]}', 'req-3') -> 'methodResponses';
SELECT count(*) AS flaky_boxes FROM mailcluster.mailboxes WHERE name = 'Flaky';

-- ---- replicated tables refuse direct DML (MC004) ----
INSERT INTO mailcluster.accounts VALUES ('X', 'x', 1, 0);
UPDATE mailcluster.mailboxes SET name = 'hacked';
DELETE FROM mailcluster.emails WHERE false;
TRUNCATE mailcluster.changes;
DO $$
DECLARE t text; st text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'mailboxes', 'emails', 'email_mailboxes', 'threads',
                             'blobs', 'account_blobs', 'changes', '_responses', '_blob_parts'] LOOP
        BEGIN
            EXECUTE format('DELETE FROM mailcluster.%I', t);
            st := 'allowed!';
        EXCEPTION WHEN OTHERS THEN
            st := SQLSTATE;
        END;
        RAISE NOTICE '% -> %', t, st;
    END LOOP;
END $$;
SELECT mailcluster._guard_active() AS guard_on_outside_apply;
-- the index and id counter of the command being applied exist only inside _apply
SELECT mailcluster._cur_idx();
SELECT mailcluster._next_id('M');
-- _jmap_call: unknown methods and methods outside "using" are unknownMethod;
-- method errors become error responses; handlers run with the caller's privileges
SELECT mailcluster._jmap_call('Foo/bar', '{}', '{"using": ["urn:ietf:params:jmap:core"]}', '[]');
SELECT mailcluster._jmap_call('Mailbox/get', '{}', '{"using": ["urn:ietf:params:jmap:core"]}', '[]');
SELECT mailcluster._jmap_call('Mailbox/get', '{"accountId": 5}', '{"using": ["urn:ietf:params:jmap:mail"]}', '[]');
SELECT mailcluster._jmap_call('Core/echo', '{"#x": {"resultOf": "a", "name": "Core/echo", "path": "/y"}}',
                              '{"using": ["urn:ietf:params:jmap:core"]}', '[["Core/echo", {"y": 7}, "a"]]');
CREATE ROLE mc_call_user;
GRANT SELECT ON mailcluster._jmap_methods TO mc_call_user;
REVOKE EXECUTE ON FUNCTION mailcluster._m_core_echo(jsonb, jsonb) FROM PUBLIC;
SET ROLE mc_call_user;
SELECT mailcluster._jmap_call('Core/echo', '{}', '{"using": ["urn:ietf:params:jmap:core"]}', '[]');
RESET ROLE;
GRANT EXECUTE ON FUNCTION mailcluster._m_core_echo(jsonb, jsonb) TO PUBLIC;
REVOKE SELECT ON mailcluster._jmap_methods FROM mc_call_user;
DROP ROLE mc_call_user;

-- the C parsers refuse a NULL they cannot work with (they crashed the backend)
SELECT mailcluster._parse_message(NULL, NULL);
SELECT mailcluster._header_parse('x', NULL);
SELECT mailcluster._header_parse(NULL, 'Text') AS null_raw;

-- ---- _apply: dispatch, idempotency, unknown ops, errors clear the guard ----
SELECT mailcluster._apply(1000, '{"op": "no_such_op"}');
SELECT mailcluster._apply(1001, '{"op": "blob_put", "account_id": "Acb", "blob_id": "Bdead", "type": "x", "data": "aGVsbG8="}');
SELECT mailcluster._guard_active() AS guard_on_after_error;
-- the ops cannot write on their own: only _apply (C) turns the guard on
SELECT mailcluster._op_account_create(1001, '{"name": "sneaky"}');
UPDATE mailcluster.accounts SET name = 'still refused';
-- an error caught inside a transaction (subtransaction abort) clears it too
DO $$
BEGIN
    BEGIN
        PERFORM mailcluster._apply(1001, '{"op": "blob_put", "account_id": "Acb", "blob_id": "Bdead", "data": "aGk="}');
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE NOTICE 'caught %, guard on: %', SQLSTATE, mailcluster._guard_active();
    END;
    UPDATE mailcluster.accounts SET name = 'refused in the same transaction';
END $$;
SELECT mailcluster._apply(1002, '{"op": "account_create", "name": "bob", "request_id": "acct-bob"}');
SELECT mailcluster._apply(1003, '{"op": "account_create", "name": "bob", "request_id": "acct-bob"}');
SELECT id, name, created_idx FROM mailcluster.accounts ORDER BY id;
SELECT id, name, role FROM mailcluster.mailboxes WHERE account_id = 'A7k' ORDER BY sort_order;
-- ids derive from the index: base32, and per-command counters
SELECT mailcluster._b32(0), mailcluster._b32(1), mailcluster._b32(31), mailcluster._b32(32), mailcluster._b32(1002);
SELECT mailcluster._b32(9223372036854775807);
SELECT mailcluster._b32(-1);
-- jsonb helpers in C (jmap_json.c): top-level JSON nulls dropped, nested kept
SELECT mailcluster._compact(NULL), mailcluster._compact('{"x": null}'),
       mailcluster._compact('{"a": null, "b": 1, "c": {"d": null}, "e": [null]}');
SELECT mailcluster._compact('[1]');
-- keywords: lower-cased, values true, RFC 8621 4.1.1 characters only
SELECT j, mailcluster._keywords(j)
  FROM (VALUES (NULL::jsonb), ('null'), ('[]'), ('{"$Seen": true, "A": true}'), ('{"$seen": true, "$SEEN": true}'),
               ('{"x": false}'), ('{"x": "true"}'), ('{"a b": true}'), ('{"a(": true}'), ('{"a]": true}'),
               ('{"a}": true}'), ('{"a\\": true}'), ('{"é": true}'), ('{"": true}')) AS t(j);
SELECT mailcluster._keywords(jsonb_build_object(repeat('k', 255), true)) IS NOT NULL AS ok_255,
       mailcluster._keywords(jsonb_build_object(repeat('k', 256), true)) IS NULL AS refused_256;
-- which requests may skip jmap()'s read barrier: Email/set and Mailbox/set without create, only
SELECT c, mailcluster._jmap_write_only(c)
  FROM (VALUES ('[]'::jsonb),
               ('[["Email/set", {"update": {}}, "a"]]'),
               ('[["Email/set", {"destroy": ["E1"]}, "a"], ["Mailbox/set", {"update": {}}, "b"]]'),
               ('[["Email/set", {"create": {}}, "a"]]'),
               ('[["Email/set", {"update": {}}, "a"], ["Email/get", {}, "b"]]'),
               ('[["Email/set", [], "a"]]'),
               ('[[1, {}, "a"]]'),
               ('{}')) AS t(c);
SELECT a, mailcluster._jmap_has_backrefs(a)
  FROM (VALUES ('{}'::jsonb), ('{"ids": ["x"]}'), ('{"#ids": {"resultOf": "a"}}'), ('[]')) AS t(a);

-- clean up the helpers (the next test file runs in the same database)
DROP FUNCTION jr(jsonb);
DROP TABLE msgs;
