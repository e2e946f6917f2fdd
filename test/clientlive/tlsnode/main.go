// tlsnode runs one node of go-dqlite 1.11.5's app package (Debian's
// libdqlite 1.11.1 underneath) with app.WithTLS(app.SimpleTLSConfig(...)):
// go-dqlite's TLS convention, one certificate and key for the whole
// cluster, that certificate its own CA. The reference our TLS client is
// checked against (test/clientlive/tls.sh).
//
//	tlsnode -dir DIR -addr HOST:PORT [-join HOST:PORT] [-cert FILE -key FILE]
//
// Without -cert the node speaks plaintext (the baseline of
// scripts/bench-tls.sh).
//
// Prints "ready" once the node is part of a cluster with a leader and runs
// until SIGTERM or SIGINT. Built in GOPATH mode from Debian's
// golang-github-canonical-go-dqlite-dev (test/clientlive/tier.mk).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io/ioutil"
	"math/rand"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/canonical/go-dqlite/app"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlsnode: "+format+"\n", args...)
	os.Exit(1)
}

// loadTLS loads the cluster key pair and makes the certificate the pool's
// one CA, as go-dqlite's documentation of SimpleTLSConfig does.
func loadTLS(crt, key string) (tls.Certificate, *x509.CertPool) {
	cert, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		die("load key pair: %v", err)
	}
	data, err := ioutil.ReadFile(crt)
	if err != nil {
		die("read certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		die("bad certificate")
	}
	return cert, pool
}

func main() {
	dir := flag.String("dir", "", "data directory")
	addr := flag.String("addr", "", "node address")
	join := flag.String("join", "", "address of a member to join")
	crt := flag.String("cert", "", "cluster certificate (PEM)")
	key := flag.String("key", "", "cluster key (PEM)")
	flag.Parse()
	// go-dqlite's app binds the node to "@dqlite-<rand.Uint64()>" behind
	// its TLS proxy: without a seed every process picks the same name and
	// a second concurrent run (another test) fails to bind.
	rand.Seed(time.Now().UnixNano() ^ int64(os.Getpid())<<32)
	opts := []app.Option{app.WithAddress(*addr)}
	if *crt != "" {
		opts = append(opts, app.WithTLS(app.SimpleTLSConfig(loadTLS(*crt, *key))))
	}
	if *join != "" {
		opts = append(opts, app.WithCluster([]string{*join}))
	}
	if err := os.MkdirAll(*dir, 0755); err != nil {
		die("mkdir: %v", err)
	}
	a, err := app.New(*dir, opts...)
	if err != nil {
		die("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err = a.Ready(ctx)
	cancel()
	if err != nil {
		die("ready: %v", err)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	a.Handover(ctx)
	cancel()
	a.Close()
}
