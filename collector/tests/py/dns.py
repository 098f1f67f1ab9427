"""A small DNS server on loopback for discovery tests. Usage: dns.py EXPORTER_PORT.
SRV discover.monitor.pool.cp.spcs.internal -> node1.test.internal:EXPORTER_PORT;
A node1.test.internal and nodes.a.internal -> 127.0.0.1. Prints its UDP port."""
import os
import sys
import time

from dnslib import QTYPE, RR, A, SRV, RCODE
from dnslib.server import BaseResolver, DNSServer

port = int(sys.argv[1])


class Resolver(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        if name == "discover.monitor.pool.cp.spcs.internal" and qtype == "SRV":
            reply.add_answer(RR(request.q.qname, QTYPE.SRV, ttl=0,
                                rdata=SRV(priority=0, weight=0, port=port, target="node1.test.internal.")))
        elif name in ("node1.test.internal", "nodes.a.internal") and qtype == "A":
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=0, rdata=A("127.0.0.1")))
        elif name in ("node1.test.internal", "nodes.a.internal", "discover.monitor.pool.cp.spcs.internal"):
            pass  # the name exists, with no record of that type
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


server = DNSServer(Resolver(), port=0, address="127.0.0.1")
server.start_thread()
print(server.server.server_address[1], flush=True)
# The test stops reading after the port: later output would hit a closed pipe.
sys.stdout = open(os.devnull, "w")
while True:
    time.sleep(60)
