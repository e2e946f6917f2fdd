// ctl is the interop tier's helper: cluster membership through go-dqlite
// 1.11.5's client package, and the replay of the captured protocol vectors.
//
//	ctl -cluster A,B,C join ID ADDRESS    ADD the node, then ASSIGN it voter
//	ctl -cluster A,B,C leader             print the leader's address
//	ctl -cluster A,B,C member ...         one client-package call: member.go
//	ctl replay [flags] FILE...            see replay.go
//
// -cert FILE -key FILE: every connection over TLS, as Debian's dqlite shell
// does (app.SimpleDialTLSConfig, the certificate file as the CA pool).
//
// Built in GOPATH mode from Debian's golang-github-canonical-go-dqlite-dev.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/client"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ctl: "+format+"\n", args...)
	os.Exit(1)
}

// How every client connects: plain TCP unless -cert/-key (useTLS).
var dialFunc = client.DefaultDialFunc
var clientOpts []client.Option

func useTLS(certFile, keyFile string) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		die("tls: %v", err)
	}
	data, err := os.ReadFile(certFile)
	if err != nil {
		die("tls: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		die("tls: bad certificate %s", certFile)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil || len(leaf.DNSNames) == 0 {
		die("tls: %s needs a DNS name (as app.SimpleDialTLSConfig)", certFile)
	}
	// What app.SimpleDialTLSConfig sets (ctl does not link app's cgo).
	config := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool,
		Certificates: []tls.Certificate{cert}, ServerName: leaf.DNSNames[0]}
	dialFunc = client.DialFuncWithTLS(client.DefaultDialFunc, config)
	clientOpts = append(clientOpts, client.WithDialFunc(dialFunc))
}

func store(cluster string) client.NodeStore {
	s := client.NewInmemNodeStore()
	var infos []client.NodeInfo
	for _, a := range strings.Split(cluster, ",") {
		infos = append(infos, client.NodeInfo{Address: a})
	}
	if err := s.Set(context.Background(), infos); err != nil {
		die("store: %v", err)
	}
	return s
}

// retry runs f until it succeeds or the deadline passes.
func retry(timeout time.Duration, what string, f func(ctx context.Context) error) {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			die("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "replay" {
		os.Exit(replayMain(os.Args[2:]))
	}
	cluster := flag.String("cluster", "127.0.0.1:9001", "comma-separated addresses")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after")
	cert := flag.String("cert", "", "TLS certificate (PEM; also the CA pool)")
	key := flag.String("key", "", "TLS key (PEM)")
	flag.Parse()
	if *cert != "" {
		useTLS(*cert, *key)
	}
	args := flag.Args()
	if len(args) == 0 {
		die("usage: ctl -cluster A,B join ID ADDRESS | leader | replay ...")
	}
	s := store(*cluster)
	switch args[0] {
	case "join":
		if len(args) != 3 {
			die("usage: join ID ADDRESS")
		}
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			die("id: %v", err)
		}
		added := false
		retry(*timeout, "join", func(ctx context.Context) error {
			cli, err := client.FindLeader(ctx, s, clientOpts...)
			if err != nil {
				return err
			}
			defer cli.Close()
			if !added {
				// ADD (as spare), then ASSIGN voter: what client.Add
				// does for a voter, split so that a retry after a
				// committed ADD only repeats the ASSIGN.
				if err := cli.Add(ctx, client.NodeInfo{ID: id,
					Address: args[2], Role: client.Spare}); err != nil {
					return err
				}
				added = true
			}
			return cli.Assign(ctx, id, client.Voter)
		})
		fmt.Printf("joined %d %s\n", id, args[2])
	case "leader":
		retry(*timeout, "leader", func(ctx context.Context) error {
			cli, err := client.FindLeader(ctx, s, clientOpts...)
			if err != nil {
				return err
			}
			defer cli.Close()
			info, err := cli.Leader(ctx)
			if err != nil {
				return err
			}
			if info == nil || info.Address == "" {
				return fmt.Errorf("no leader")
			}
			fmt.Println(info.Address)
			return nil
		})
	case "remove":
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			die("id: %v", err)
		}
		retry(*timeout, "remove", func(ctx context.Context) error {
			cli, err := client.FindLeader(ctx, s, clientOpts...)
			if err != nil {
				return err
			}
			defer cli.Close()
			return cli.Remove(ctx, id)
		})
	case "transfer":
		// TRANSFER to ID, then how long until every node reports it as
		// leader (protocol.md §5.17: EMPTY once leadership has moved).
		if len(args) != 2 {
			die("usage: transfer ID")
		}
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			die("id: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cli, err := client.FindLeader(ctx, s, clientOpts...)
		if err != nil {
			die("find leader: %v", err)
		}
		start := time.Now()
		if err := cli.Transfer(ctx, id); err != nil {
			die("transfer: %v", err)
		}
		cli.Close()
		fmt.Printf("transfer answered after %v\n", time.Since(start))
		for _, a := range strings.Split(*cluster, ",") {
			for {
				c, err := client.New(ctx, a, clientOpts...)
				if err != nil {
					die("dial %s: %v", a, err)
				}
				info, err := c.Leader(ctx)
				c.Close()
				if err == nil && info != nil && info.ID == id {
					fmt.Printf("%s reports leader %d after %v\n", a, id, time.Since(start))
					break
				}
				if ctx.Err() != nil {
					die("%s: no leader %d after %v (last %v %v)", a, id, time.Since(start), info, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	case "member":
		memberMain(s, *timeout, args[1:]) // member.go
	default:
		die("unknown command %q", args[0])
	}
}
