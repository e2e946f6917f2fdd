-- The database both shells read (test/integration/cases_shell.sh): run
-- through sqlite3 on a local file and through dqlite on a node.
CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n);
INSERT INTO v VALUES (1, 42, 1.5, 'plain', x'414243', NULL);
INSERT INTO v VALUES (2, -7, 0.1, 'héllo wörld ☃ 日本', x'00ff41', 1);
INSERT INTO v VALUES (3, 9223372036854775807, 3e100, 'a "quoted", comma',
                      x'', 'x');
INSERT INTO v VALUES (4, NULL, -0.0, 'tab	in', NULL, 2.5);
INSERT INTO v VALUES (5, 0, 1e-7, 'line1
line2', x'0a0d09', NULL);
INSERT INTO v VALUES (6, 1, 123456789.123,
  'a very very very very very very very wide column value that goes on and on',
  x'e29883', -1);
INSERT INTO v VALUES (7, -9223372036854775808, 100.0, '', NULL, 'null');
INSERT INTO v VALUES (8, 3, 1e15, 'semi;colon', x'3b', 1e16);
CREATE TABLE e (x);
CREATE TABLE log (m TEXT);
CREATE INDEX v_i ON v(i);
CREATE UNIQUE INDEX v_t ON v(t);
CREATE VIEW vv AS SELECT id, t AS "the text" FROM v;
CREATE TABLE "odd name" (a PRIMARY KEY, "b c");
CREATE TRIGGER tr AFTER INSERT ON e BEGIN
  INSERT INTO log VALUES ('inserted; ' || new.x);
  INSERT INTO log VALUES ('end;');
END;
