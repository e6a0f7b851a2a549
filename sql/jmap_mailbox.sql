-- jmap_mailbox.sql — Mailbox/get, /changes, /query, /set (RFC 8621 §2):
-- standard mailboxes of a new account, create/update/destroy with their
-- SetErrors, counts, states and /changes, queries.
-- A fresh extension, so that ids and states start at Raft index 1.
-- error positions inside PL/pgSQL functions are not part of the contract
\set SHOW_CONTEXT never
DROP EXTENSION mailcluster;
CREATE EXTENSION mailcluster;
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
SELECT jsonb_pretty(jr('[["Mailbox/get", {"accountId": "Ab", "ids": null}, "0"]]') #- '{0,1,list,1}' #- '{0,1,list,1}'
                       #- '{0,1,list,1}' #- '{0,1,list,1}' #- '{0,1,list,1}');
SELECT * FROM show('[["Mailbox/get", {"accountId": "Ab", "ids": ["Mb-b", "Mb-g", "nope"],
                                      "properties": ["name", "role", "sortOrder"]}, "1"]]');

-- ---- Mailbox/set create: parents by creation id in any order; SetErrors ----
SELECT * FROM show('[["Mailbox/set", {"accountId": "Ab", "create": {
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
SELECT * FROM show('[["Mailbox/set", {"accountId": "Ab", "update": {
    "Mc-c": {"name": "Projects & Co", "sortOrder": 1},
    "Mc-i": {"parentId": null, "isSubscribed": false},
    "Mb-g": {"role": null},
    "Mb-f": {"role": "archive"},
    "Mb-d": {"role": "inbox"},
    "Mx-nope": {"name": "x"},
    "Mb-c": {"parentId": "Mb-c"},
    "Mb-e": {"sortOrder": -1, "name": ""}}}, "0"]]');
-- a cycle: Projects under its own child
SELECT * FROM show('[["Mailbox/set", {"accountId": "Ab", "update": {"Mc-i": {"parentId": "Mc-c"}}}, "0"],
                     ["Mailbox/set", {"accountId": "Ab", "update": {"Mc-c": {"parentId": "Mc-i"}}}, "1"]]');

-- ---- ifInState: stateMismatch ----
SELECT * FROM show('[["Mailbox/set", {"accountId": "Ab", "ifInState": "1", "destroy": ["Mc-i"]}, "0"],
                     ["Mailbox/get", {"accountId": "Ab", "ids": [], "properties": ["id"]}, "1"]]');

-- ---- counts, mailboxHasEmail, mailboxHasChild, onDestroyRemoveEmails ----
SELECT mailcluster.deliver('Ab', convert_to(E'Message-ID: <m1@x>\nSubject: one\n\nbody one\n', 'UTF8'), 'Projects & Co');
SELECT mailcluster.deliver('Ab', convert_to(E'Message-ID: <m2@x>\nIn-Reply-To: <m1@x>\nSubject: Re: one\n\nbody two\n', 'UTF8'), 'Projects & Co');
SELECT mailcluster.deliver('Ab', convert_to(E'Message-ID: <m3@x>\nSubject: three\n\nbody three\n', 'UTF8'), 'trash');
SELECT * FROM show('[["Email/set", {"accountId": "Ab", "update": {"Eh-b": {"keywords/$seen": true},
                                                                   "Eg-b": {"mailboxIds/Mb-e": true}}}, "0"],
                     ["Mailbox/get", {"accountId": "Ab", "ids": ["Mc-c", "Mb-e"],
                      "properties": ["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"]}, "1"]]');
SELECT * FROM show('[["Mailbox/set", {"accountId": "Ab", "destroy": ["Mc-c", "Mb-e", "Mzz"]}, "0"]]');
-- Projects goes with its child and its mails: Eg-b is also in Trash, so it stays
SELECT * FROM show('[["Mailbox/set", {"accountId": "Ab", "destroy": ["Mc-c", "Mc-i"], "onDestroyRemoveEmails": true}, "0"],
                     ["Email/get", {"accountId": "Ab", "ids": ["Eg-b", "Eh-b", "Ei-b"], "properties": ["mailboxIds", "threadId"]}, "1"],
                     ["Thread/get", {"accountId": "Ab", "ids": ["Tg-c", "Ti-c"]}, "2"]]');

-- ---- Mailbox/changes ----
SELECT * FROM show('[["Mailbox/changes", {"accountId": "Ab", "sinceState": "1"}, "0"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "1", "maxChanges": 2}, "1"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "2", "maxChanges": 2}, "2"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "9"}, "3"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "999"}, "4"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "bogus"}, "5"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": 3}, "6"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "1", "maxChanges": 0}, "7"]]');
-- after a purge, older states cannot be caught up
SELECT mailcluster._submit('{"op": "purge_changes", "before_idx": 6}');
SELECT * FROM show('[["Mailbox/changes", {"accountId": "Ab", "sinceState": "1"}, "0"],
                     ["Mailbox/changes", {"accountId": "Ab", "sinceState": "5"}, "1"],
                     ["Mailbox/get", {"accountId": "Ab", "ids": []}, "2"]]');

-- ---- Mailbox/query ----
SELECT count(*) FROM show('[["Mailbox/set", {"accountId": "Ab", "create": {
                        "a": {"name": "alpha", "parentId": "Mb-g", "sortOrder": 2},
                        "b": {"name": "beta", "parentId": "Mb-g", "sortOrder": 1, "isSubscribed": false}}}, "c"]]');
SELECT * FROM show('[
  ["Mailbox/query", {"accountId": "Ab"}, "all"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"parentId": "Mb-g"}, "sort": [{"property": "name"}], "calculateTotal": true}, "kids"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"hasAnyRole": true}, "sort": [{"property": "sortOrder", "isAscending": false}], "limit": 2}, "roles"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"operator": "OR", "conditions": [{"role": "junk"}, {"name": "ALP"}]}}, "or"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"operator": "NOT", "conditions": [{"isSubscribed": true}]}}, "not"],
  ["Mailbox/query", {"accountId": "Ab", "position": -2, "calculateTotal": true}, "tail"],
  ["Mailbox/query", {"accountId": "Ab", "anchor": "Mb-d", "anchorOffset": -1, "limit": 3}, "anchor"],
  ["Mailbox/query", {"accountId": "Ab", "anchor": "Mnope"}, "anchorNotFound"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"colour": "red"}}, "unsupportedFilter"],
  ["Mailbox/query", {"accountId": "Ab", "sort": [{"property": "totalEmails"}]}, "unsupportedSort"],
  ["Mailbox/queryChanges", {"accountId": "Ab", "sinceQueryState": "8"}, "qc"],
  ["Mailbox/query", {"accountId": "Ab", "sort": [{"property": "name"}], "sortAsTree": true}, "tree"],
  ["Mailbox/query", {"accountId": "Ab", "sort": [{"property": "name"}]}, "flat"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"isSubscribed": false}, "filterAsTree": true}, "filterTree"],
  ["Mailbox/query", {"accountId": "Ab", "filter": {"operator": "OR", "conditions": [{"name": "Archive"}, {"name": "beta"}]}, "filterAsTree": true, "sortAsTree": true}, "bothTree"],
  ["Email/queryChanges", {"accountId": "Ab"}, "qc2"]]');

-- clean up the helpers (the next test file runs in the same database)
DROP FUNCTION show(jsonb);
DROP FUNCTION jr(jsonb);
