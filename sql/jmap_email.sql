-- jmap_email.sql — Email/get, /changes, /query, /set, /import, Thread/get,
-- /changes, blob_upload / blob_download / deliver, on the sample messages
-- of test/data/mail (multipart/alternative, attachments, encoded words, a
-- bad charset, missing headers, 8-bit garbage, a thread that must merge).
-- error positions inside PL/pgSQL functions are not part of the contract
\set SHOW_CONTEXT never
-- The regression node is standalone: a one-voter cluster and its own
-- leader, so every write below goes through its Raft log and apply worker.
-- Start from empty mail state (the rows of earlier files are wiped locally,
-- triggers off, as a superuser can) with the log at index 128, so that the
-- ids and states below do not depend on earlier files: the first write of
-- this file is Raft index 129.
DO $$ BEGIN
    FOR i IN 1..300 LOOP EXIT WHEN mailcluster.is_leader(); PERFORM pg_sleep(0.1); END LOOP;
END $$;
SELECT count(mailcluster._raft_submit('{"op": "purge_changes", "before_idx": 0}')) >= 0 AS padded
  FROM generate_series((SELECT last_log_index FROM mailcluster.raft_status) + 1, 128);
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
-- responses one per line: call id, name, arguments
CREATE FUNCTION show(calls jsonb) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT (r->>2) || ' ' || (r->>0) || ' ' || (r->1)::text
      FROM jsonb_array_elements(jr(calls)) r
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

SELECT mailcluster.account_create('dave');
SELECT mailcluster.account_create('erin');

-- ---- blob_upload: content-addressed, stored once ----
CREATE TABLE up AS
SELECT name, mailcluster.blob_upload('Aeb', data) AS r FROM msgs ORDER BY name;
SELECT name, r->>'size' AS size, r->>'type' AS type,
       r->>'blobId' = 'B' || encode(sha256(m.data), 'hex') AS blob_is_sha256
  FROM up JOIN msgs m USING (name) ORDER BY name;
SELECT count(*) AS blobs FROM mailcluster.blobs;
-- the same bytes again (other account): no second copy, and no bytes in the command
SELECT mailcluster.blob_upload('Aec', data, 'message/rfc822') ->> 'size' FROM msgs WHERE name = 'plain';
SELECT count(*) AS blobs, (SELECT convert_from(data, 'UTF8')::jsonb ? 'data' FROM mailcluster._raft_log
                            WHERE type = 0 ORDER BY idx DESC LIMIT 1) AS carried
  FROM mailcluster.blobs;
SELECT mailcluster.blob_upload('nobody', 'x');
SELECT mailcluster.blob_upload('Aeb', NULL);

-- ---- Email/import of every sample but thread-b (received one minute apart) ----
CREATE TABLE imp AS
SELECT jr(jsonb_build_array(jsonb_build_array('Email/import', jsonb_build_object(
         'accountId', 'Aeb',
         'emails', (SELECT jsonb_object_agg(name, jsonb_build_object(
                        'blobId', r->>'blobId', 'mailboxIds', '{"Meb-b": true}'::jsonb,
                        'keywords', CASE WHEN name = 'plain' THEN '{"$seen": true}'::jsonb ELSE '{}' END,
                        'receivedAt', to_char((timestamptz '2026-11-10 10:00:00Z' + n * interval '1 minute')
                                              AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
                      FROM (SELECT name, r, row_number() OVER (ORDER BY name) AS n FROM up
                             WHERE name <> 'thread-b') u)), 'i'))) -> 0 -> 1 AS r;
SELECT r->>'oldState' AS old_state, r->>'newState' AS new_state, r->'notCreated' AS not_created FROM imp;
SELECT key AS name, value->>'id' AS id, value->>'threadId' AS thread, value->>'size' AS size
  FROM imp, jsonb_each(r->'created') ORDER BY value->>'id';
-- import errors: blobNotFound, a blob of another account, invalid mailboxIds, keywords, tooLarge, stateMismatch
SELECT * FROM show(jsonb_build_array(jsonb_build_array('Email/import', jsonb_build_object('accountId', 'Aec',
  'emails', jsonb_build_object(
     'nosuch', jsonb_build_object('blobId', 'Bfeed', 'mailboxIds', jsonb_build_object('Mec-b', true)),
     'other', jsonb_build_object('blobId', (SELECT r->>'blobId' FROM up WHERE name = 'reply'), 'mailboxIds', jsonb_build_object('Mec-b', true)),
     'nobox', jsonb_build_object('blobId', (SELECT r->>'blobId' FROM up WHERE name = 'plain'), 'mailboxIds', '{}'::jsonb),
     'badbox', jsonb_build_object('blobId', (SELECT r->>'blobId' FROM up WHERE name = 'plain'), 'mailboxIds', jsonb_build_object('Meb-b', true)),
     'badkw', jsonb_build_object('blobId', (SELECT r->>'blobId' FROM up WHERE name = 'plain'), 'mailboxIds', jsonb_build_object('Mec-b', true),
                                 'keywords', '{"bad(kw": true}'::jsonb),
     'noblob', '{}'::jsonb)), 'e1')));
SET mcjmap.max_email_size = 100;
SELECT * FROM show(jsonb_build_array(jsonb_build_array('Email/import', jsonb_build_object('accountId', 'Aec',
  'emails', jsonb_build_object('big', jsonb_build_object('blobId', (SELECT r->>'blobId' FROM up WHERE name = 'plain'),
                                                          'mailboxIds', jsonb_build_object('Mec-b', true)))), 'e2')));
SELECT mailcluster.deliver('Aec', data) FROM msgs WHERE name = 'plain';
RESET mcjmap.max_email_size;
SELECT * FROM show('[["Email/import", {"accountId": "Aec", "ifInState": "999", "emails": {}}, "e3"],
                     ["Email/import", {"accountId": "Aec"}, "e4"]]');

-- ---- Email/get: default properties of a simple message ----
SELECT jsonb_pretty(jr('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-b"]}, "g"]]') -> 0 -> 1 -> 'list' -> 0);
-- multipart/alternative with encoded words, groups, List-Post; all body values
SELECT jsonb_pretty(jr('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-k"], "fetchAllBodyValues": true,
    "properties": ["subject", "from", "to", "cc", "sentAt", "preview", "textBody", "htmlBody", "attachments",
                   "bodyValues", "hasAttachment", "header:Subject", "header:Subject:asText", "header:From:asAddresses",
                   "header:Cc:asGroupedAddresses", "header:To:asGroupedAddresses", "header:Message-ID:asMessageIds",
                   "header:Date:asDate", "header:List-Post:asURLs", "header:Received:all", "header:X-Missing",
                   "header:date:asDate:all"],
    "bodyProperties": ["partId", "type", "charset", "size"]}, "g"]]') -> 0 -> 1 -> 'list' -> 0);
-- bodyValues: html only, truncated on a character boundary (maxBodyValueBytes)
SELECT jr('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-k"], "properties": ["bodyValues"],
             "fetchHTMLBodyValues": true, "maxBodyValueBytes": 28}, "g"]]') #> '{0,1,list,0,bodyValues}';
SELECT jr('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-k"], "properties": ["bodyValues"],
             "fetchTextBodyValues": true, "maxBodyValueBytes": 2}, "g"]]') #> '{0,1,list,0,bodyValues}';
-- attachments, multipart/related, RFC 2231 file names; the MIME tree
SELECT jsonb_pretty(jr('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-i"],
    "properties": ["hasAttachment", "preview", "textBody", "htmlBody", "attachments", "bodyStructure"],
    "bodyProperties": ["partId", "type", "name", "disposition", "cid", "size", "subParts", "header:Content-Type:asRaw"]}, "g"]]')
    -> 0 -> 1 -> 'list' -> 0);
-- a bad charset, 8-bit garbage, missing headers
SELECT * FROM show('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-m", "Eep-o", "Eep-s"], "fetchTextBodyValues": true,
    "properties": ["subject", "from", "sentAt", "messageId", "preview", "bodyValues", "header:Subject", "header:From:asAddresses"]}, "g"]]');
-- the RFC 8621 §4.2 Email/get example (our ids; blobIds left out for width)
SELECT jsonb_pretty(jr('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-k", "Eep-b"],
    "properties": ["threadId", "mailboxIds", "from", "subject", "receivedAt", "header:List-POST:asURLs",
                   "htmlBody", "bodyValues"],
    "bodyProperties": ["partId", "size", "type"],
    "fetchHTMLBodyValues": true, "maxBodyValueBytes": 256}, "#1"]]') -> 0 -> 1 -> 'list');
-- errors and missing ids
SELECT * FROM show('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-b", "Enope"], "properties": ["size"]}, "a"],
                     ["Email/get", {"accountId": "Aeb", "ids": [], "properties": ["header:Subject:asNonsense"]}, "b"],
                     ["Email/get", {"accountId": "Aeb", "ids": [], "properties": ["header:"]}, "c"],
                     ["Email/get", {"accountId": "Aeb", "ids": [], "bodyProperties": ["nope"]}, "d"],
                     ["Email/get", {"accountId": "Aeb", "ids": [1]}, "e"],
                     ["Email/get", {"accountId": "Aec", "ids": ["Eep-b"]}, "f"]]');

-- ---- blob_download: messages and their parts ----
SELECT convert_from(mailcluster.blob_download('Aeb', r->>'blobId'), 'UTF8') = convert_from(m.data, 'UTF8') AS same_bytes
  FROM up JOIN msgs m USING (name) WHERE name = 'plain';
SELECT encode(mailcluster.blob_download('Aeb', (r->>'blobId') || '_2'), 'hex') AS png,
       convert_from(mailcluster.blob_download('Aeb', (r->>'blobId') || '_3'), 'UTF8') AS pdf,
       convert_from(mailcluster.blob_download('Aeb', (r->>'blobId') || '_4'), 'UTF8') AS notes
  FROM up WHERE name = 'attachment';
SELECT mailcluster.blob_download('Aeb', (r->>'blobId') || '_9') FROM up WHERE name = 'attachment';
SELECT mailcluster.blob_download('Aec', r->>'blobId') FROM up WHERE name = 'attachment';
SELECT mailcluster.blob_download('Aeb', 'Bnope');

-- ---- threads: C answers B (not there yet), X shares A's id but not its subject ----
SELECT * FROM show('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-e", "Eep-g", "Eep-q"], "properties": ["subject", "threadId"]}, "t"],
                     ["Thread/get", {"accountId": "Aeb", "ids": ["Tep-f", "Tep-h", "Tep-r"]}, "u"]]');
SELECT jr('[["Thread/get", {"accountId": "Aeb", "ids": []}, "t"]]') #> '{0,1,state}' AS thread_state;
-- B arrives: it links A and C, whose threads merge into the smaller id
SELECT jr(jsonb_build_array(jsonb_build_array('Email/import', jsonb_build_object('accountId', 'Aeb',
    'emails', jsonb_build_object('b', jsonb_build_object('blobId', (SELECT r->>'blobId' FROM up WHERE name = 'thread-b'),
        'mailboxIds', '{"Meb-b": true}'::jsonb, 'receivedAt', '2026-11-10T11:00:00Z'))), 'i'))) #> '{0,1,created,b}';
SELECT * FROM show('[["Email/get", {"accountId": "Aeb", "ids": ["Eep-e", "Eet-b", "Eep-g", "Eep-q"], "properties": ["subject", "threadId"]}, "t"],
                     ["Thread/get", {"accountId": "Aeb", "ids": ["Tep-f", "Tep-h", "Tep-r"]}, "u"],
                     ["Thread/changes", {"accountId": "Aeb", "sinceState": "143"}, "v"],
                     ["Email/changes", {"accountId": "Aeb", "sinceState": "143"}, "w"],
                     ["Mailbox/changes", {"accountId": "Aeb", "sinceState": "143"}, "x"]]');

-- ---- Email/query: filters ----
SELECT * FROM show('[
  ["Email/query", {"accountId": "Aeb", "calculateTotal": true}, "all"],
  ["Email/query", {"accountId": "Aeb", "filter": {"hasAttachment": true}}, "att"],
  ["Email/query", {"accountId": "Aeb", "filter": {"from": "ALICE"}, "sort": [{"property": "receivedAt"}]}, "from"],
  ["Email/query", {"accountId": "Aeb", "filter": {"to": "bob@"}}, "to"],
  ["Email/query", {"accountId": "Aeb", "filter": {"cc": "eve"}}, "cc"],
  ["Email/query", {"accountId": "Aeb", "filter": {"bcc": "x"}}, "bcc"],
  ["Email/query", {"accountId": "Aeb", "filter": {"subject": "release"}, "sort": [{"property": "receivedAt"}]}, "subject"],
  ["Email/query", {"accountId": "Aeb", "filter": {"body": "café"}}, "body"],
  ["Email/query", {"accountId": "Aeb", "filter": {"text": "lefèvre"}}, "text"],
  ["Email/query", {"accountId": "Aeb", "filter": {"header": ["List-Post"]}}, "header1"],
  ["Email/query", {"accountId": "Aeb", "filter": {"header": ["message-id", "GARBAGE"]}}, "header2"],
  ["Email/query", {"accountId": "Aeb", "filter": {"before": "2026-11-10T10:03:00Z", "after": "2026-11-10T10:01:00Z"}}, "dates"],
  ["Email/query", {"accountId": "Aeb", "filter": {"minSize": 300, "maxSize": 800}, "sort": [{"property": "size"}]}, "sizes"],
  ["Email/query", {"accountId": "Aeb", "filter": {"hasKeyword": "$SEEN"}}, "seen"],
  ["Email/query", {"accountId": "Aeb", "filter": {"operator": "AND", "conditions": [{"notKeyword": "$seen"}, {"inMailbox": "Meb-b"}, {"subject": "lunch"}]}}, "and"],
  ["Email/query", {"accountId": "Aeb", "filter": {"someInThreadHaveKeyword": "$seen"}, "sort": [{"property": "receivedAt"}]}, "somethread"],
  ["Email/query", {"accountId": "Aeb", "filter": {"allInThreadHaveKeyword": "$seen"}}, "allthread"],
  ["Email/query", {"accountId": "Aeb", "filter": {"operator": "NOT", "conditions": [{"noneInThreadHaveKeyword": "$seen"}, {"hasAttachment": true}]}}, "not"],
  ["Email/query", {"accountId": "Aeb", "filter": {"operator": "OR", "conditions": [{"subject": "charset"}, {"inMailboxOtherThan": ["Meb-b"]}]}}, "or"]]');
-- ---- Email/query: sorts, collapseThreads, windows, errors ----
SELECT * FROM show('[
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "receivedAt", "isAscending": true}]}, "received"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "size", "isAscending": false}], "limit": 3}, "size"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "from"}, {"property": "receivedAt"}]}, "from"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "subject"}, {"property": "receivedAt"}]}, "subject"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "sentAt", "isAscending": false}], "limit": 4}, "sent"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "hasKeyword", "keyword": "$seen", "isAscending": false}, {"property": "receivedAt"}], "limit": 2}, "kw"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "receivedAt"}], "collapseThreads": true, "calculateTotal": true}, "collapse"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "receivedAt"}], "position": 2, "limit": 2}, "page"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "receivedAt"}], "position": -3}, "last3"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "receivedAt"}], "anchor": "Eep-k", "anchorOffset": 1, "limit": 2}, "anchor"],
  ["Email/query", {"accountId": "Aeb", "anchor": "Enope"}, "anchorNotFound"],
  ["Email/query", {"accountId": "Aeb", "filter": {"sender": "x"}}, "unsupportedFilter"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "preview"}]}, "unsupportedSort"],
  ["Email/query", {"accountId": "Aeb", "sort": [{"property": "hasKeyword"}]}, "noKeyword"],
  ["Email/query", {"accountId": "Aeb", "filter": {"before": "yesterday"}}, "badDate"],
  ["Email/query", {"accountId": "Aeb", "filter": {"minSize": "big"}}, "badSize"],
  ["Email/query", {"accountId": "Aeb", "filter": {"operator": "XOR", "conditions": []}}, "badOperator"]]');

-- ---- Email/set: a draft with an attachment, patches, destroy ----
SELECT mailcluster.blob_upload('Aeb', convert_to('col1,col2', 'UTF8'), 'text/csv') ->> 'size' AS csv_size;
SELECT jsonb_pretty(jr(jsonb_build_array(
  jsonb_build_array('Email/set', jsonb_build_object('accountId', 'Aeb', 'create', jsonb_build_object(
    'draft', jsonb_build_object(
       'mailboxIds', '{"Meb-c": true}'::jsonb, 'keywords', '{"$draft": true}'::jsonb,
       'from', '[{"name": "Dave Düsentrieb", "email": "dave@example.org"}]'::jsonb,
       'to', '[{"name": null, "email": "erin@example.org"}]'::jsonb,
       'subject', 'Zahlen für Q4', 'sentAt', '2026-11-11T09:00:00Z',
       'inReplyTo', '["first.1@example.org"]'::jsonb,
       'textBody', '[{"partId": "t", "type": "text/plain"}]'::jsonb,
       'htmlBody', '[{"partId": "h", "type": "text/html"}]'::jsonb,
       'bodyValues', '{"t": {"value": "Anbei die Zahlen."}, "h": {"value": "<p>Anbei die <b>Zahlen</b>.</p>"}}'::jsonb,
       'attachments', jsonb_build_array(jsonb_build_object('blobId', 'B' || encode(sha256(convert_to('col1,col2', 'UTF8')), 'hex'),
                                                           'type', 'text/csv', 'name', 'q4.csv'))),
    'badprop', '{"mailboxIds": {"Meb-c": true}, "threadId": "T1"}'::jsonb,
    'nobox', '{"mailboxIds": {}, "subject": "x"}'::jsonb,
    'badatt', '{"mailboxIds": {"Meb-c": true}, "attachments": [{"blobId": "Bnope"}]}'::jsonb))
  , 's'),
  jsonb_build_array('Email/get', jsonb_build_object('accountId', 'Aeb', 'ids', '["#draft"]'::jsonb,
    'properties', '["subject", "from", "to", "sentAt", "inReplyTo", "keywords", "mailboxIds", "hasAttachment", "preview", "textBody", "htmlBody", "attachments", "bodyValues"]'::jsonb,
    'bodyProperties', '["partId", "type", "name", "size"]'::jsonb, 'fetchAllBodyValues', true), 'g')))
  #- '{0,1,created,draft,blobId}' #- '{0,1,created,draft,size}');
SELECT * FROM show('[["Email/set", {"accountId": "Aeb", "update": {
     "Eep-b": {"keywords": {"$Flagged": true, "$seen": true}},
     "Eep-d": {"keywords/$answered": true, "mailboxIds/Meb-g": true, "mailboxIds/Meb-b": null},
     "Eep-e": {"mailboxIds": {"Meb-f": true}},
     "Eep-g": {"mailboxIds": {}},
     "Eep-i": {"mailboxIds/Mnope": true},
     "Eep-k": {"keywords/bad(kw": true, "subject": "new"},
     "Eep-m": {"keywords": {"$seen": false}},
     "Enope": {"keywords": {}}}}, "u"],
  ["Email/get", {"accountId": "Aeb", "ids": ["Eep-b", "Eep-d", "Eep-e"], "properties": ["keywords", "mailboxIds"]}, "g"],
  ["Email/query", {"accountId": "Aeb", "filter": {"hasKeyword": "$flagged"}}, "q"]]');
SELECT * FROM show('[["Email/set", {"accountId": "Aeb", "ifInState": "131", "destroy": ["Eep-b"]}, "mismatch"],
                     ["Email/set", {"accountId": "Aeb", "destroy": ["Eep-b", "Eep-d", "Enope"]}, "d"],
                     ["Email/get", {"accountId": "Aeb", "ids": ["Eep-b", "Eep-d"], "properties": ["id"]}, "g"],
                     ["Thread/get", {"accountId": "Aeb", "ids": ["Tep-c"]}, "t"],
                     ["Email/set", {"accountId": "Aeb", "create": "nope"}, "bad"]]');
SET mcjmap.max_email_size = 50;
SELECT * FROM show('[["Email/set", {"accountId": "Aeb", "create": {"big": {"mailboxIds": {"Meb-c": true}, "subject": "too big"}}}, "s"]]');
RESET mcjmap.max_email_size;

-- ---- Email/changes, Thread/changes with maxChanges ----
SELECT * FROM show('[["Email/changes", {"accountId": "Aeb", "sinceState": "143"}, "a"],
                     ["Email/changes", {"accountId": "Aeb", "sinceState": "143", "maxChanges": 1}, "b"],
                     ["Thread/changes", {"accountId": "Aeb", "sinceState": "143"}, "c"],
                     ["Thread/changes", {"accountId": "Aeb", "sinceState": "x"}, "d"],
                     ["Email/changes", {"accountId": "Aeb"}, "e"]]');

-- ---- deliver(): by mailbox name or role, Inbox by default; errors ----
SELECT mailcluster.deliver('Aec', data, 'junk') FROM msgs WHERE name = 'reply';
SELECT mailcluster.deliver('Aec', data, 'no such box') FROM msgs WHERE name = 'thread-a';
-- ids null: the newest emails, newest first; the two were delivered a moment
-- apart (receivedAt = the proposer's clock), so their order is not fixed
SELECT e AS email FROM jsonb_array_elements(jr('[["Email/get", {"accountId": "Aec", "ids": null, "properties": ["mailboxIds", "subject"]}, "g"]]')->0->1->'list') e ORDER BY e->>'id';
SELECT mailcluster.deliver('nobody', 'x');
SELECT mailcluster.deliver('Aec', '');
SELECT count(*) AS blobs FROM mailcluster.blobs;

-- ---- purge_blobs: only unreferenced uploads older than the cut go ----
SELECT mailcluster.blob_upload('Aec', 'scratch', 'text/plain') ->> 'size' AS scratch;
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_blobs',
         'before_idx', (SELECT last_log_index + 1 FROM mailcluster.raft_status)));
SELECT count(*) AS blobs FROM mailcluster.blobs;
SELECT mailcluster.blob_download('Aec', 'B' || encode(sha256('scratch'), 'hex'));
SELECT length(mailcluster.blob_download('Aeb', r->>'blobId')) AS still_there FROM up WHERE name = 'alternative';

-- purge_run: the role holders propose the purges (this node holds what it holds now)
SELECT mailcluster.blob_upload('Aec', 'scratch 2', 'text/plain') ->> 'size' AS scratch2;
-- (which roles a regress node holds is the cluster layer's business: check against has_role)
-- (the /changes horizon moves for the accounts that lost change rows, only)
CREATE TABLE pr_before AS
    SELECT a.id, a.purged_before, (SELECT count(*) FROM mailcluster.changes c WHERE c.account_id = a.id) AS n
      FROM mailcluster.accounts a;
CREATE TABLE pr AS SELECT mailcluster.purge_run(0, '0 seconds') AS r,
                          mailcluster.has_role('purge.stores') AS stores, mailcluster.has_role('purge.accounts') AS accounts;
CREATE TABLE pr_after AS
    SELECT b.id, b.purged_before AS before_p, a.purged_before AS after_p,
           (SELECT count(*) FROM mailcluster.changes c WHERE c.account_id = b.id) < b.n AS lost_rows
      FROM pr_before b JOIN mailcluster.accounts a USING (id);
SELECT (jsonb_typeof(r->'blobs') = 'object') = stores AS blobs_iff_holder,
       (jsonb_typeof(r->'changes') = 'object') = accounts AS changes_iff_holder,
       NOT stores OR (r->'blobs'->>'deleted')::int = 1 AS one_blob_purged,
       NOT stores OR NOT EXISTS (SELECT 1 FROM mailcluster.blobs WHERE id = 'B' || encode(sha256('scratch 2'), 'hex')) AS scratch2_gone,
       NOT accounts OR (SELECT bool_or(lost_rows) FROM pr_after) AS some_account_lost_rows,
       NOT accounts OR (SELECT bool_and(CASE WHEN lost_rows THEN after_p > 1 ELSE after_p = before_p END) FROM pr_after)
           AS horizon_moved_where_rows_went,
       NOT accounts OR (r->'changes'->>'deleted')::bigint = (SELECT sum(n) FROM pr_before)
           - (SELECT count(*) FROM mailcluster.changes) AS deleted_count_right
  FROM pr;
DROP TABLE pr, pr_before, pr_after;
SELECT mailcluster.purge_run(-1);

-- ---- long texts: the log entry carries 64 KB of a body value, Email/get reads the rest from the blob ----
SELECT mailcluster.deliver('Aec', convert_to(E'Message-ID: <long@x>\nSubject: long\nContent-Type: text/plain; charset=utf-8\n\n'
                                            || repeat('ab', 32767) || 'é' || repeat('z', 40000), 'UTF8')) AS long_id \gset
SELECT octet_length(body_values->'1'->>'value') AS stored_bytes, body_values->'1'->'storedTruncated' AS stored_cut,
       length(preview) AS preview_chars
  FROM mailcluster.emails WHERE id = :'long_id';
SELECT octet_length(v->>'value') AS bytes, length(v->>'value') AS chars, right(v->>'value', 3) AS tail,
       v->'isTruncated' AS truncated, v ? 'storedTruncated' AS leaks
  FROM (SELECT jr(jsonb_build_array(jsonb_build_array('Email/get', jsonb_build_object('accountId', 'Aec',
          'ids', jsonb_build_array(:'long_id'), 'properties', '["bodyValues"]'::jsonb,
          'fetchTextBodyValues', true), 'g'))) #> '{0,1,list,0,bodyValues,1}' AS v) x;
-- cut inside the two-byte é: the value stops before it
SELECT octet_length(v->>'value') AS bytes, right(v->>'value', 2) AS tail, v->'isTruncated' AS truncated
  FROM (SELECT jr(jsonb_build_array(jsonb_build_array('Email/get', jsonb_build_object('accountId', 'Aec',
          'ids', jsonb_build_array(:'long_id'), 'properties', '["bodyValues"]'::jsonb,
          'fetchTextBodyValues', true, 'maxBodyValueBytes', 65535), 'g'))) #> '{0,1,list,0,bodyValues,1}' AS v) x;

-- clean up the helpers (the next test file runs in the same database)
DROP FUNCTION show(jsonb);
-- ---- a message bigger than one part (_blob_part_size: 1 MB, at most half
-- of raft_batch_max) travels in blob_part entries, joined on apply ----
SELECT mailcluster._blob_part_size() AS part_size;
CREATE TABLE bigmsg AS
SELECT convert_to(E'Message-ID: <big.1@example.com>\r\nSubject: big\r\nContent-Type: application/octet-stream\r\n'
                  || E'Content-Transfer-Encoding: base64\r\n\r\n', 'UTF8')
       || convert_to((SELECT string_agg(encode(decode(md5(i::text) || md5((-i)::text) || md5((2 * i)::text), 'hex'), 'base64'), E'\r\n')
                        FROM generate_series(1, 38000) i), 'UTF8') AS m;
SELECT length(m) AS bytes FROM bigmsg;
SELECT last_log_index AS log_before FROM mailcluster.raft_status \gset
SELECT mailcluster.deliver('Aec', m) AS big_id FROM bigmsg \gset
SELECT last_log_index - :log_before AS entries FROM mailcluster.raft_status;
SELECT count(*) AS parts_left FROM mailcluster._blob_parts;
SELECT b.size = length(m) AS same_size, b.data = m AS same_bytes
  FROM mailcluster.blobs b, bigmsg WHERE b.id = 'B' || encode(sha256(m), 'hex');
SELECT mailcluster.blob_download('Aec', 'B' || encode(sha256(m), 'hex')) = m AS downloads FROM bigmsg;
SELECT jr(format('[["Email/get", {"accountId": "Aec", "ids": ["%s"], "properties": ["size", "subject"]}, "g"]]',
                 :'big_id')::jsonb) #> '{0,1,list,0}' AS big_email;
-- a draft with that message attached: its generated message (over 3 MB)
-- travels in parts before the email_set entry
SELECT last_log_index AS log_before FROM mailcluster.raft_status \gset
SELECT r #> '{0,0}' AS method, (r #> '{0,1,created,d}') ? 'id' AS created,
       (r #>> '{0,1,created,d,size}')::int > 3300000 AS big
  FROM (SELECT jr(jsonb_build_array(jsonb_build_array('Email/set', jsonb_build_object('accountId', 'Aec',
          'create', jsonb_build_object('d', jsonb_build_object(
              'mailboxIds', '{"Mec-b": true}'::jsonb, 'subject', 'with attachment',
              'bodyValues', '{"t": {"value": "see attached"}}'::jsonb,
              'textBody', '[{"partId": "t", "type": "text/plain"}]'::jsonb,
              'attachments', jsonb_build_array(jsonb_build_object('blobId', 'B' || encode(sha256(m), 'hex'),
                                                                  'type', 'message/rfc822', 'name', 'big.eml'))))), 's'))) AS r
          FROM bigmsg) x;
SELECT last_log_index - :log_before >= 5 AS in_parts, (SELECT count(*) FROM mailcluster._blob_parts) AS parts_left
  FROM mailcluster.raft_status;
-- parts whose command never came are dropped by purge_blobs
SELECT mailcluster._submit(jsonb_build_object('op', 'blob_part', 'blob_id', 'Bnever', 'seq', 0,
                                              'at', '2026-01-01T00:00:00Z', 'data', 'eA=='));
SELECT count(*) AS orphan_parts FROM mailcluster._blob_parts;
SELECT mailcluster._submit('{"op": "purge_blobs", "before_time": "2026-01-02T00:00:00Z"}') ? 'deleted' AS purged;
SELECT count(*) AS orphan_parts FROM mailcluster._blob_parts;
DROP TABLE bigmsg;

-- ---- a move marks both mailboxes changed: the one left and the one entered ----
SELECT jr('[["Mailbox/get", {"accountId": "Aec", "ids": []}, "s"]]') #>> '{0,1,state}' AS mb_state \gset
SELECT jr(format('[["Email/get", {"accountId": "Aec", "ids": ["%s"], "properties": ["mailboxIds"]}, "g"]]',
                 :'big_id')::jsonb) #> '{0,1,list,0,mailboxIds}' AS big_in;
SELECT jr(format('[["Email/set", {"accountId": "Aec", "update": {"%s": {"mailboxIds": {"Mec-g": true}}}}, "m"]]',
                 :'big_id')::jsonb) #> '{0,1,updated}' ? :'big_id' AS moved;
SELECT jr(format('[["Mailbox/changes", {"accountId": "Aec", "sinceState": "%s"}, "c"]]',
                 :'mb_state')::jsonb) #> '{0,1,updated}' AS mailboxes_changed;

-- ---- patch paths: a mailbox by creation id, keywords in any case, bad paths, a non-object patch ----
SELECT r->>2 AS call, CASE WHEN r->>2 = 'mb' THEN r->1 #> '{created,nb,id}'
            ELSE mailcluster._compact((r->1) - 'oldState' - 'newState' - 'accountId') END AS args
  FROM jsonb_array_elements(jr(format('[
   ["Mailbox/set", {"accountId": "Aec", "create": {"nb": {"name": "Moved here"}}}, "mb"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": {"mailboxIds/#nb": true, "keywords/$Flagged": true, "keywords/": null}}}, "u1"],
   ["Email/get", {"accountId": "Aec", "ids": ["%1$s"], "properties": ["mailboxIds", "keywords"]}, "g1"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": {"keywords/$FLAGGED": null, "mailboxIds/#nope": true, "keywords/a b": true}}}, "u2"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": {"keywords/$FLAGGED": null, "mailboxIds/Mec-g": null}}}, "u3"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": {"keywords": null}}}, "u4"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": "x", "#nope": {}}}, "u5"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": {"mailboxIds": {"#nb": true, "Mec-b": false}}}}, "u6"],
   ["Email/set", {"accountId": "Aec", "update": {"%1$s": {"mailboxIds": ["Mec-b"]}}}, "u7"],
   ["Email/get", {"accountId": "Aec", "ids": ["%1$s"], "properties": ["mailboxIds", "keywords"]}, "g2"]]', :'big_id')::jsonb)) r;

-- ---- one Email/set creating, updating and destroying by creation id; bad kinds of arguments ----
SELECT (r->1->'created'->'n1') ? 'id' AS created_n1,
       r->1->'updated' AS updated, r->1->'destroyed' = jsonb_build_array(r->1->'created'->'n1'->>'id') AS destroyed_n1,
       r->1->'notUpdated' AS not_updated, r->1->'notDestroyed' AS not_destroyed
  FROM jsonb_array_elements(jr('[["Email/set", {"accountId": "Aec",
          "create": {"n1": {"mailboxIds": {"Mec-b": true}, "subject": "made, changed, gone"}},
          "update": {"#n1": {"keywords/$seen": true}, "#nope": {}},
          "destroy": ["#n1", "#nope", "Enope", "#n1"]}, "cud"]]')) r;
SELECT r->>2 AS call, r->1 AS args
  FROM jsonb_array_elements(jr('[["Email/set", {"accountId": "Aec", "update": ["x"]}, "a"],
                                 ["Email/set", {"accountId": "Aec", "destroy": {"x": 1}}, "b"],
                                 ["Email/set", {"accountId": "Aec", "destroy": [1, true]}, "c"],
                                 ["Email/set", {"accountId": "Aec", "ifInState": "0", "update": {"x": {}}}, "d"],
                                 ["Email/set", {"accountId": "Anope", "update": {}}, "e"],
                                 ["Email/set", {"accountId": 5}, "f"],
                                 ["Email/set", {"accountId": "Aec", "ifInState": 5, "create": []}, "g"],
                                 ["Email/set", {"accountId": "Aec", "create": {}, "update": {}, "destroy": []}, "h"]]')) r;

-- ---- purge_changes looks only at the types written since its last horizon,
-- and still leaves no outdated row below its horizon ----
CREATE FUNCTION outdated_below(b bigint) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM mailcluster.changes c
     WHERE c.idx < b AND EXISTS (SELECT 1 FROM mailcluster.changes m
                                  WHERE m.account_id = c.account_id AND m.type = c.type AND m.idx > c.idx)
$$;
SELECT last_log_index + 1 AS b1 FROM mailcluster.raft_status \gset
SELECT outdated_below(:b1) > 0 AS some_outdated;
SELECT (mailcluster._submit(jsonb_build_object('op', 'purge_changes', 'before_idx', :b1))->>'deleted')::int > 0 AS p1_deleted;
SELECT outdated_below(:b1) AS left_after_p1, changes_before = :b1 AS horizon_kept FROM mailcluster._purge_state;
-- the newest Email row of Aec is below b1 now; a later update outdates it
SELECT jr(format('[["Email/set", {"accountId": "Aec", "update": {"%s": {"keywords/$seen": true}}}, "s"]]',
                 :'big_id')::jsonb) #> '{0,1,updated}' ? :'big_id' AS flagged;
SELECT outdated_below(:b1) AS outdated_below_b1;
SELECT last_log_index + 1 AS b2 FROM mailcluster.raft_status \gset
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_changes', 'before_idx', :b2)) AS p2;
SELECT outdated_below(:b2) AS left_after_p2;
-- a lower horizon (keep_entries raised) leaves the recorded one where it is
SELECT mailcluster._submit(jsonb_build_object('op', 'purge_changes', 'before_idx', :b1 - 5)) AS p3;
SELECT changes_before = :b2 AS horizon_kept FROM mailcluster._purge_state;
DROP FUNCTION outdated_below(bigint);

DROP FUNCTION jr(jsonb);
DROP TABLE msgs, up, imp;
