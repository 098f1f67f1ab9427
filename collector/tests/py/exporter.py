"""A real Prometheus exporter: prometheus_client serving a registry on a loopback port.
Prints the port, then serves until killed."""
import os
import sys
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, start_http_server

reg = CollectorRegistry()
Counter("jobs", "Jobs done", ["queue"], registry=reg).labels(queue="a").inc(7)
Gauge("temperature", "Room temperature", registry=reg).set(21.5)
h = Histogram("latency_seconds", "Latency", buckets=[0.5, 1.0], registry=reg)
h.observe(0.25)
h.observe(0.75)
s = Summary("size_bytes", "Sizes", registry=reg)
s.observe(10)
s.observe(30)
server, _ = start_http_server(0, addr="127.0.0.1", registry=reg)
print(server.server_address[1], flush=True)
# The test stops reading after the port: later output would hit a closed pipe.
sys.stdout = open(os.devnull, "w")
while True:
    time.sleep(60)
