// upgrade-node runs go-dqlite 1.11.5's app package (the one dqlite-demo is
// built on) on one or three data directories in one process, with whatever
// libdqlite.so.0 the loader finds: Debian's 1.11.1 to make a dqlite 1.11
// directory, ours (LD_LIBRARY_PATH) to check that it was converted.
//
//	upgrade-node -dirs D1[,D2,D3] -addrs A1[,A2,A3] [-snapshot T,R] write FROM TO stop|crash
//	upgrade-node -dirs ... -addrs ... check N
//
// write stores keys kFROM..kTO (value vI) in table model of database demo,
// as dqlite-demo does, then either stops every node cleanly or exits
// without closing anything (crash: open segments stay as they are).
// check starts the nodes one by one, waits for a leader, reads k1..kN back
// through every node in turn as leader (leadership is transferred to each),
// writes one more key and prints "ok". Built in GOPATH mode from Debian's
// golang-github-canonical-go-dqlite-dev (test/upgrade/tier.mk).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	dqlite "github.com/canonical/go-dqlite"
	"github.com/canonical/go-dqlite/app"
	"github.com/canonical/go-dqlite/client"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "upgrade-node: "+format+"\n", args...)
	os.Exit(1)
}

func ctxFor(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // released by the deadline; the process is short-lived
	return ctx
}

func start(dirs, addrs []string, i int, snap []uint64) *app.App {
	opts := []app.Option{app.WithAddress(addrs[i])}
	if i > 0 {
		opts = append(opts, app.WithCluster(addrs[:1]))
	}
	if snap != nil {
		opts = append(opts, app.WithSnapshotParams(dqlite.SnapshotParams{
			Threshold: snap[0], Trailing: snap[1]}))
	}
	if err := os.MkdirAll(dirs[i], 0755); err != nil {
		die("mkdir: %v", err)
	}
	a, err := app.New(dirs[i], opts...)
	if err != nil {
		die("node %d: %v", i+1, err)
	}
	return a
}

func ready(a *app.App, i int) {
	if err := a.Ready(ctxFor(60 * time.Second)); err != nil {
		die("node %d ready: %v", i+1, err)
	}
}

// waitVoters waits until the cluster has n voters.
func waitVoters(a *app.App, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		cli, err := a.Leader(ctxFor(5 * time.Second))
		if err == nil {
			nodes, err := cli.Cluster(ctxFor(5 * time.Second))
			cli.Close()
			voters := 0
			for _, node := range nodes {
				if err == nil && node.Role == client.Voter {
					voters++
				}
			}
			if voters >= n {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	die("cluster never reached %d voters", n)
}

func openDB(a *app.App) *sql.DB {
	db, err := a.Open(ctxFor(10*time.Second), "demo")
	if err != nil {
		die("open demo: %v", err)
	}
	return db
}

func write(apps []*app.App, from, to int) {
	db := openDB(apps[0])
	defer db.Close()
	ctx := ctxFor(120 * time.Second)
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS model "+
		"(key TEXT, value TEXT, UNIQUE(key))"); err != nil {
		die("create: %v", err)
	}
	for i := from; i <= to; i++ {
		if _, err := db.ExecContext(ctx, "INSERT OR REPLACE INTO model"+
			"(key, value) VALUES(?, ?)", fmt.Sprintf("k%d", i),
			fmt.Sprintf("v%d", i)); err != nil {
			die("insert k%d: %v", i, err)
		}
	}
}

// readAll checks that k1..kn hold v1..vn.
func readAll(db *sql.DB, n int) {
	rows, err := db.QueryContext(ctxFor(30*time.Second),
		"SELECT key, value FROM model")
	if err != nil {
		die("select: %v", err)
	}
	defer rows.Close()
	seen := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			die("scan: %v", err)
		}
		seen[k] = v
	}
	for i := 1; i <= n; i++ {
		k := fmt.Sprintf("k%d", i)
		if seen[k] != fmt.Sprintf("v%d", i) {
			die("key %s: got %q (%d rows)", k, seen[k], len(seen))
		}
	}
}

func check(apps []*app.App, n int) {
	for _, a := range apps {
		if len(apps) > 1 {
			cli, err := apps[0].Leader(ctxFor(10 * time.Second))
			if err != nil {
				die("leader: %v", err)
			}
			leader, err := cli.Leader(ctxFor(10 * time.Second))
			if err != nil {
				die("leader: %v", err)
			}
			if leader.ID != a.ID() {
				err = cli.Transfer(ctxFor(10*time.Second), a.ID())
			}
			if err != nil {
				die("transfer to %d: %v", a.ID(), err)
			}
			cli.Close()
		}
		db := openDB(a)
		readAll(db, n)
		db.Close()
	}
	db := openDB(apps[0])
	if _, err := db.ExecContext(ctxFor(10*time.Second), "INSERT INTO model"+
		"(key, value) VALUES(?, ?)", fmt.Sprintf("k%d", n+1),
		fmt.Sprintf("v%d", n+1)); err != nil {
		die("write after the conversion: %v", err)
	}
	readAll(db, n+1)
	db.Close()
}

func main() {
	dirsFlag := flag.String("dirs", "", "data directories")
	addrsFlag := flag.String("addrs", "", "node addresses")
	snapFlag := flag.String("snapshot", "", "THRESHOLD,TRAILING")
	flag.Parse()
	dirs := strings.Split(*dirsFlag, ",")
	addrs := strings.Split(*addrsFlag, ",")
	args := flag.Args()
	if len(dirs) != len(addrs) || len(args) < 2 {
		die("usage: see the source")
	}
	var snap []uint64
	if *snapFlag != "" {
		for _, s := range strings.Split(*snapFlag, ",") {
			v, _ := strconv.ParseUint(s, 10, 64)
			snap = append(snap, v)
		}
	}
	var apps []*app.App
	for i := range dirs {
		apps = append(apps, start(dirs, addrs, i, snap))
		if args[0] == "write" { // joining needs the nodes before it ready
			ready(apps[i], i)
		}
	}
	for i, a := range apps {
		ready(a, i)
	}
	waitVoters(apps[0], len(apps))
	switch args[0] {
	case "write":
		from, _ := strconv.Atoi(args[1])
		to, _ := strconv.Atoi(args[2])
		write(apps, from, to)
		if len(args) > 3 && args[3] == "crash" {
			os.Exit(0)
		}
	case "check":
		n, _ := strconv.Atoi(args[1])
		check(apps, n)
		fmt.Println("ok")
	default:
		die("unknown command %s", args[0])
	}
	for i := len(apps) - 1; i >= 0; i-- {
		apps[i].Handover(ctxFor(10 * time.Second))
		apps[i].Close()
	}
}
