// sqlclient drives a dqlite cluster through go-dqlite 1.11.5's database/sql
// driver, exactly as an application would, and checks what it reads back.
// It is built in GOPATH mode from Debian's golang-github-canonical-go-dqlite-dev
// and runs against any server speaking the dqlite wire protocol v1: ours in
// test/interop, the reference (libdqlite0 via dqlite-demo) to validate it.
//
//	sqlclient -cluster 127.0.0.1:9001,127.0.0.1:9002 -mode basic
//	sqlclient -cluster ... -mode writer -seconds 10 > acked.txt
//	sqlclient -cluster ... -mode verify < acked.txt
//
// Exit status 0 means every check passed; failures are printed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/client"
	"github.com/canonical/go-dqlite/driver"
)

var failures int

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		failures++
		fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	}
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func open(cluster []string, name string) *sql.DB {
	store := client.NewInmemNodeStore()
	infos := make([]client.NodeInfo, len(cluster))
	for i, a := range cluster {
		infos[i] = client.NodeInfo{Address: a}
	}
	must(store.Set(context.Background(), infos), "store")
	drv, err := driver.New(store, driver.WithConnectionTimeout(5*time.Second),
		driver.WithContextTimeout(10*time.Second))
	must(err, "driver")
	drvName := fmt.Sprintf("dqlite-interop-%d", time.Now().UnixNano())
	sql.Register(drvName, drv)
	db, err := sql.Open(drvName, name)
	must(err, "open")
	return db
}

// basic: every value type, transactions, errors, a large streamed query.
func basic(db *sql.DB) {
	_, err := db.Exec(`CREATE TABLE types (i INTEGER, f FLOAT, t TEXT,
		b BLOB, n TEXT, d DATETIME, ok BOOLEAN)`)
	must(err, "create types")
	when := time.Date(2023, 5, 17, 12, 34, 56, 0, time.UTC)
	blob := []byte{0, 1, 2, 255}
	_, err = db.Exec("INSERT INTO types VALUES (?, ?, ?, ?, ?, ?, ?)",
		int64(-42), 3.5, "héllo", blob, nil, when, true)
	must(err, "insert types")
	var (
		i  int64
		f  float64
		t  string
		b  []byte
		n  sql.NullString
		d  time.Time
		ok bool
	)
	row := db.QueryRow("SELECT i, f, t, b, n, d, ok FROM types")
	must(row.Scan(&i, &f, &t, &b, &n, &d, &ok), "scan types")
	check(i == -42 && f == 3.5 && t == "héllo", "scalars: %d %v %q", i, f, t)
	check(bytes.Equal(b, blob), "blob: %v", b)
	check(!n.Valid, "null: %v", n)
	check(d.Equal(when), "datetime: %v", d)
	check(ok, "boolean")

	_, err = db.Exec("CREATE TABLE test (n INT UNIQUE)")
	must(err, "create test")
	_, err = db.Exec("INSERT INTO test VALUES (1)")
	must(err, "insert 1")
	_, err = db.Exec("INSERT INTO test VALUES (1)")
	var derr driver.Error
	check(errors.As(err, &derr) && derr.Code == 2067 &&
		derr.Message == "UNIQUE constraint failed: test.n",
		"unique violation: %v", err)

	tx, err := db.Begin()
	must(err, "begin")
	_, err = tx.Exec("INSERT INTO test VALUES (2)")
	must(err, "tx insert")
	must(tx.Rollback(), "rollback")
	tx, err = db.Begin()
	must(err, "begin 2")
	_, err = tx.Exec("INSERT INTO test VALUES (3)")
	must(err, "tx insert 3")
	must(tx.Commit(), "commit")
	var count int
	must(db.QueryRow("SELECT count(*) FROM test").Scan(&count), "count")
	check(count == 2, "rows after rollback+commit: %d", count)

	stream(db, 100000)
}

// stream inserts `rows` rows in one transaction and reads them back in one
// query, which the server sends in many ROWS batches.
func stream(db *sql.DB, rows int) {
	_, err := db.Exec("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)")
	must(err, "create big")
	tx, err := db.Begin()
	must(err, "begin big")
	stmt, err := tx.Prepare("INSERT INTO big (v) VALUES (?)")
	must(err, "prepare big")
	for k := 0; k < rows; k++ {
		_, err = stmt.Exec(fmt.Sprintf("value-%d", k))
		must(err, "insert big")
	}
	must(stmt.Close(), "close stmt")
	must(tx.Commit(), "commit big")
	res, err := db.Query("SELECT id, v FROM big ORDER BY id")
	must(err, "query big")
	seen := 0
	for res.Next() {
		var id int64
		var v string
		must(res.Scan(&id, &v), "scan big")
		if v != fmt.Sprintf("value-%d", seen) {
			check(false, "row %d: %q", seen, v)
			break
		}
		seen++
	}
	must(res.Err(), "rows")
	check(seen == rows, "streamed %d rows, want %d", seen, rows)
}

// writer inserts rows with increasing keys for `seconds`, printing each
// acknowledged key; errors (leader changes) are retried, not fatal.
func writer(db *sql.DB, seconds int) {
	_, err := db.Exec("CREATE TABLE IF NOT EXISTS acked (k INTEGER PRIMARY KEY)")
	must(err, "create acked")
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	errs := 0
	for k := 1; time.Now().Before(deadline); k++ {
		if _, err := db.Exec("INSERT INTO acked VALUES (?)", k); err != nil {
			errs++
			time.Sleep(50 * time.Millisecond)
			continue
		}
		fmt.Println(k)
	}
	fmt.Fprintf(os.Stderr, "writer: %d errors retried\n", errs)
}

// verify reads acknowledged keys from stdin and checks each is stored.
func verify(db *sql.DB) {
	present := map[int64]bool{}
	rows, err := db.Query("SELECT k FROM acked")
	must(err, "query acked")
	for rows.Next() {
		var k int64
		must(rows.Scan(&k), "scan acked")
		present[k] = true
	}
	must(rows.Err(), "rows acked")
	scanner := bufio.NewScanner(os.Stdin)
	acked := 0
	for scanner.Scan() {
		k, err := strconv.ParseInt(strings.TrimSpace(scanner.Text()), 10, 64)
		if err != nil {
			continue
		}
		acked++
		check(present[k], "acknowledged key %d lost", k)
	}
	fmt.Fprintf(os.Stderr, "verify: %d acknowledged, %d stored\n", acked, len(present))
	check(acked > 0, "no acknowledged writes to verify")
}

func main() {
	cluster := flag.String("cluster", "127.0.0.1:9001", "comma-separated addresses")
	name := flag.String("db", "interop", "database name")
	mode := flag.String("mode", "basic", "basic | writer | verify")
	seconds := flag.Int("seconds", 5, "writer duration")
	flag.Parse()
	db := open(strings.Split(*cluster, ","), *name)
	defer db.Close()
	switch *mode {
	case "basic":
		basic(db)
	case "writer":
		writer(db, *seconds)
	case "verify":
		verify(db)
	default:
		must(fmt.Errorf("unknown mode %q", *mode), "mode")
	}
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "sqlclient: %d failure(s)\n", failures)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "sqlclient %s: ok\n", *mode)
}
