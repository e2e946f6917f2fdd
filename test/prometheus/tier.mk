# make check-prometheus: a real Prometheus server (Debian's prometheus)
# scrapes a 3-node cluster during a fault run (test/prometheus/run.sh).
# About a minute: not part of `make check`.
.PHONY: check-prometheus
check-prometheus: $(B)/dqlited $(B)/dqlite
	timeout -k 5 300 test/prometheus/run.sh $(B)

# make bench-scrape: write latency with and without a client scraping
# every node's /metrics 100 times a second, during a follower
# SIGSTOP/SIGCONT cycle (scripts/bench-scrape.sh). Figures, ~1 min.
.PHONY: bench-scrape
bench-scrape: $(B)/dqlited $(B)/dqlite $(B)/dqlite-bench
	timeout -k 5 600 scripts/bench-scrape.sh $(B)
