-- EXPLAIN and EXPLAIN QUERY PLAN through sqlite3 and dqlite must print the
-- same bytes (test/integration/cases_shell.sh): sqlite3 prints them in its
-- explain layouts (indented loops, a plan tree) whatever the mode.
.mode list
.headers off
EXPLAIN SELECT 1;
EXPLAIN SELECT * FROM v WHERE i = 42;
explain query plan SELECT * FROM v WHERE i = 42;
EXPLAIN SELECT t, count(*) FROM v GROUP BY t ORDER BY 2 DESC;
EXPLAIN QUERY PLAN SELECT t, count(*) FROM v GROUP BY t ORDER BY 2 DESC;
EXPLAIN SELECT a.id, b.t FROM v a, v b WHERE a.i = b.id AND a.t IN (SELECT "the text" FROM vv);
EXPLAIN QUERY PLAN SELECT a.id, b.t FROM v a, v b WHERE a.i = b.id AND a.t IN (SELECT "the text" FROM vv);
EXPLAIN SELECT * FROM (SELECT id FROM v ORDER BY r LIMIT 3) UNION ALL SELECT x FROM e;
EXPLAIN QUERY PLAN SELECT id FROM v UNION SELECT x FROM e EXCEPT SELECT 5;
EXPLAIN WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT n FROM c;
EXPLAIN QUERY PLAN WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5) SELECT n FROM c;
EXPLAIN SELECT 'héllo ☃ wide literal value', x'00ff', 1.5, NULL;
EXPLAIN SELECT * FROM v WHERE id < 3 ORDER BY t DESC LIMIT 2;
EXPLAIN SELECT * FROM v WHERE i = 1 OR t = 'x';
EXPLAIN QUERY PLAN SELECT * FROM v WHERE i = 1 OR t = 'x';
EXPLAIN INSERT INTO e SELECT id FROM v;
EXPLAIN UPDATE v SET n = 1 WHERE i > 0;
EXPLAIN DELETE FROM e WHERE x IN (SELECT id FROM v);
  /* leading comment */ EXPLAIN -- line comment
  QUERY   PLAN SELECT * FROM v;
.headers on
EXPLAIN SELECT count(*) FROM e;
EXPLAIN QUERY PLAN SELECT * FROM e;
.mode csv
EXPLAIN SELECT count(*) FROM e;
EXPLAIN QUERY PLAN SELECT * FROM v WHERE t = 'x';
.mode column
EXPLAIN SELECT count(*) FROM e;
EXPLAIN QUERY PLAN SELECT * FROM v WHERE t = 'x';
.mode table
EXPLAIN SELECT max(id) FROM v;
EXPLAIN QUERY PLAN SELECT * FROM v, e;
.mode json
EXPLAIN SELECT max(id) FROM v;
EXPLAIN QUERY PLAN SELECT * FROM v, e;
.mode line
EXPLAIN SELECT max(id) FROM v;
EXPLAIN QUERY PLAN SELECT * FROM v, e;
.headers off
.mode list
SELECT 'explain' AS "EXPLAIN";
