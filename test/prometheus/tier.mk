# make check-prometheus: a real Prometheus server (Debian's prometheus)
# scrapes a 3-node cluster during a fault run (test/prometheus/run.sh).
# About a minute: not part of `make check`.
.PHONY: check-prometheus
check-prometheus: $(B)/dqlited $(B)/dqlite
	timeout -k 5 300 test/prometheus/run.sh $(B)
