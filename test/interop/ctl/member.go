// The "member" subcommands of ctl: one call each of go-dqlite 1.11.5's
// client package (Leader, Cluster, Add, Assign, Remove, Transfer, Describe,
// Weight, Dump) against our nodes, plus SQL through its database/sql
// driver to give them data. No retries: a failure prints the client
// package's error and exits 1, so test/interop/member.sh can check the
// message of every refusal.
//
//	ctl -cluster A,B [-timeout D] member leader             ID ADDRESS
//	ctl ... member cluster                                   ID|ADDRESS|ROLE lines
//	ctl ... member add ID ADDRESS [voter|stand-by|spare]     (Add, on the leader)
//	ctl ... member assign ID ROLE                            (Assign)
//	ctl ... member remove ID                                 (Remove)
//	ctl ... member transfer ID                               (Transfer)
//	ctl ... member describe ADDRESS                          ADDRESS|DOMAIN|WEIGHT
//	ctl ... member weight ADDRESS WEIGHT                     (Weight)
//	ctl ... member dump ADDRESS DB DIR                       (Dump, files into DIR)
//	ctl ... member exec DB SQL                               (database/sql Exec)
//	ctl ... member query DB SQL                              rows, values joined by |
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/client"
	"github.com/canonical/go-dqlite/driver"
)

var roleNames = map[string]client.NodeRole{
	"voter": client.Voter, "stand-by": client.StandBy, "standby": client.StandBy,
	"spare": client.Spare,
}

func parseID(text string) uint64 {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		die("bad id %q: %v", text, err)
	}
	return id
}

func parseRole(text string) client.NodeRole {
	role, ok := roleNames[text]
	if !ok {
		die("bad role %q (voter, stand-by or spare)", text)
	}
	return role
}

// onLeader runs f with a client connected to the leader.
func onLeader(ctx context.Context, s client.NodeStore, what string, f func(*client.Client) error) {
	cli, err := client.FindLeader(ctx, s, clientOpts...)
	if err != nil {
		die("%s: find leader: %v", what, err)
	}
	defer cli.Close()
	if err := f(cli); err != nil {
		die("%s: %v", what, err)
	}
}

// onNode runs f with a client connected to the node at address.
func onNode(ctx context.Context, address, what string, f func(*client.Client) error) {
	cli, err := client.New(ctx, address, clientOpts...)
	if err != nil {
		die("%s: %v", what, err)
	}
	defer cli.Close()
	if err := f(cli); err != nil {
		die("%s: %v", what, err)
	}
}

func memberCluster(ctx context.Context, cli *client.Client) error {
	nodes, err := cli.Cluster(ctx)
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	for _, n := range nodes {
		fmt.Printf("%d|%s|%s\n", n.ID, n.Address, n.Role)
	}
	return nil
}

func memberDump(ctx context.Context, cli *client.Client, db, dir string) error {
	files, err := cli.Dump(ctx, db)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0600); err != nil {
			return err
		}
		fmt.Printf("%s %d\n", f.Name, len(f.Data))
	}
	return nil
}

// memberSQL runs one statement through go-dqlite's database/sql driver.
func memberSQL(ctx context.Context, s client.NodeStore, query bool, db, stmt string) error {
	drv, err := driver.New(s, driver.WithConnectionTimeout(5*time.Second), driver.WithDialFunc(dialFunc))
	if err != nil {
		return err
	}
	name := fmt.Sprintf("dqlite-member-%d", time.Now().UnixNano())
	sql.Register(name, drv)
	conn, err := sql.Open(name, db)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !query {
		_, err = conn.ExecContext(ctx, stmt)
		return err
	}
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	return printRows(rows)
}

func printRows(rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]interface{}, len(cols))
	ptrs := make([]interface{}, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		text := make([]string, len(vals))
		for i, v := range vals {
			text[i] = fmt.Sprint(v)
		}
		fmt.Println(strings.Join(text, "|"))
	}
	return rows.Err()
}

// memberChange runs the subcommands that change the configuration.
func memberChange(ctx context.Context, s client.NodeStore, args []string) bool {
	switch {
	case args[0] == "add" && (len(args) == 3 || len(args) == 4):
		info := client.NodeInfo{ID: parseID(args[1]), Address: args[2], Role: client.Spare}
		if len(args) == 4 {
			info.Role = parseRole(args[3])
		}
		onLeader(ctx, s, "add", func(c *client.Client) error { return c.Add(ctx, info) })
	case args[0] == "assign" && len(args) == 3:
		id, role := parseID(args[1]), parseRole(args[2])
		onLeader(ctx, s, "assign", func(c *client.Client) error { return c.Assign(ctx, id, role) })
	case args[0] == "remove" && len(args) == 2:
		id := parseID(args[1])
		onLeader(ctx, s, "remove", func(c *client.Client) error { return c.Remove(ctx, id) })
	case args[0] == "transfer" && len(args) == 2:
		id := parseID(args[1])
		onLeader(ctx, s, "transfer", func(c *client.Client) error { return c.Transfer(ctx, id) })
	default:
		return false
	}
	return true
}

// memberInspect runs the subcommands that only read or set node metadata.
func memberInspect(ctx context.Context, s client.NodeStore, args []string) bool {
	switch {
	case args[0] == "leader" && len(args) == 1:
		onLeader(ctx, s, "leader", func(c *client.Client) error {
			info, err := c.Leader(ctx)
			if err == nil && info != nil {
				fmt.Printf("%d %s\n", info.ID, info.Address)
			}
			return err
		})
	case args[0] == "cluster" && len(args) == 1:
		onLeader(ctx, s, "cluster", func(c *client.Client) error { return memberCluster(ctx, c) })
	case args[0] == "describe" && len(args) == 2:
		onNode(ctx, args[1], "describe", func(c *client.Client) error {
			md, err := c.Describe(ctx)
			if err == nil {
				fmt.Printf("%s|%d|%d\n", args[1], md.FailureDomain, md.Weight)
			}
			return err
		})
	case args[0] == "weight" && len(args) == 3:
		w := parseID(args[2])
		onNode(ctx, args[1], "weight", func(c *client.Client) error { return c.Weight(ctx, w) })
	case args[0] == "dump" && len(args) == 4:
		onNode(ctx, args[1], "dump", func(c *client.Client) error {
			return memberDump(ctx, c, args[2], args[3])
		})
	default:
		return false
	}
	return true
}

func memberMain(s client.NodeStore, timeout time.Duration, args []string) {
	if len(args) == 0 {
		die("usage: member leader|cluster|add|assign|remove|transfer|describe|weight|dump|exec|query ...")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if memberChange(ctx, s, args) || memberInspect(ctx, s, args) {
		return
	}
	if (args[0] == "exec" || args[0] == "query") && len(args) == 3 {
		if err := memberSQL(ctx, s, args[0] == "query", args[1], args[2]); err != nil {
			die("%s: %v", args[0], err)
		}
		return
	}
	die("member: bad command %q (see member.go)", strings.Join(args, " "))
}
