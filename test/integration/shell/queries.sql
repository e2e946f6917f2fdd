-- The same input through sqlite3 and dqlite must print the same bytes
-- (test/integration/cases_shell.sh): every mode, headers on and off,
-- NULLs, blobs, floats, unicode, wide columns, empty results, statements
-- over several lines, ';' in strings, comments and trigger bodies.
.mode list
SELECT * FROM v ORDER BY id;
SELECT * FROM e;
SELECT count(*)
  FROM v
  WHERE id > 2;
SELECT 'a;b' AS "x;y", -- a comment; with a semicolon
       "id" FROM v /* block; comment */ WHERE id = 1;
WITH x(n) AS (VALUES (1), (2)) SELECT n, n * 1.5 FROM x;
VALUES (1, 'a'), (2, NULL);
PRAGMA table_info(v);
PRAGMA index_list(v);
INSERT INTO e VALUES (7) RETURNING x, x * 2 AS twice;
SELECT * FROM log ORDER BY rowid;
SELECT * FROM vv WHERE id < 3;
.headers on
SELECT * FROM v ORDER BY id;
SELECT * FROM e WHERE x > 100;
.mode csv
.headers off
SELECT * FROM v ORDER BY id;
.headers on
SELECT * FROM v ORDER BY id;
SELECT 1 AS one, 'two, three' AS "a header, with comma";
.mode column
SELECT * FROM v ORDER BY id;
SELECT * FROM e WHERE x > 100;
SELECT id, t FROM v WHERE id IN (2, 6);
.headers off
SELECT id, i, r FROM v ORDER BY id;
.mode json
SELECT * FROM v ORDER BY id;
SELECT * FROM e WHERE x > 100;
SELECT 1.0 / 3 AS third, 'tab	"q" \ back' AS s;
.mode line
SELECT * FROM v ORDER BY id;
SELECT 1 AS a, 2 AS "a longer name";
.mode table
SELECT * FROM v ORDER BY id;
SELECT id, t FROM v WHERE id = 5;
SELECT * FROM e WHERE x > 100;
.mode list
.headers on
SELECT 1 AS a
;
.tables
.tables v%
.indexes
.indexes v
.schema
.schema v
