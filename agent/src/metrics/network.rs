//! `network`: traffic of firn's network namespace (shared by every container of an SPCS
//! service instance) from `/proc/net/dev`, loopback excluded; established inbound
//! connections per endpoint port from `/proc/net/tcp` and `tcp6`; accepted connections per
//! second from `/proc/net/snmp` (`Tcp: PassiveOpens`).

use crate::pipeline::MetricValue;

use super::Sampler;
use super::config::Group;
use super::sample::{Sample, int};

/// Receive and transmit counters of one interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfCounters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
}

/// The interfaces of a `/proc/net/dev` text, loopback left out.
pub fn parse_net_dev(text: &str) -> Vec<(String, IfCounters)> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            Some((
                name.to_string(),
                IfCounters {
                    rx_bytes: *f.first()?,
                    rx_packets: *f.get(1)?,
                    tx_bytes: *f.get(8)?,
                    tx_packets: *f.get(9)?,
                },
            ))
        })
        .collect()
}

/// Established TCP connections whose local port is `port`, in a `/proc/net/tcp` or
/// `tcp6` text.
pub fn established_on(text: &str, port: u16) -> u64 {
    let mut n = 0;
    for l in text.lines().skip(1) {
        let mut it = l.split_whitespace();
        let (Some(_sl), Some(local), Some(_remote), Some(st)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let local_port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        if st == "01" && local_port == Some(port) {
            n += 1;
        }
    }
    n
}

/// `Tcp: PassiveOpens` from a `/proc/net/snmp` text.
pub fn passive_opens(text: &str) -> Option<u64> {
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let names = tcp.next()?;
    let values = tcp.next()?;
    let i = names.split_whitespace().position(|n| n == "PassiveOpens")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

impl Sampler {
    /// Every metric of the group.
    pub(super) fn sample_network(&mut self, mono_ns: u64, out: &mut Vec<Sample>) {
        let g = Group::Network;
        let dev = self.host.join("proc/net/dev");
        if let Some(text) = self.files.read(&dev, "network.egress.*") {
            let ifs = parse_net_dev(&text);
            let mut sum: Option<[u64; 4]> = None;
            for (name, c) in &ifs {
                let vals = [c.rx_bytes, c.rx_packets, c.tx_bytes, c.tx_packets];
                for (i, (k, v)) in ["rxb", "rxp", "txb", "txp"].iter().zip(vals).enumerate() {
                    if let Some((d, _)) = self.rates.delta(&format!("net/{name}/{k}"), v, mono_ns) {
                        let s = sum.get_or_insert([0; 4]);
                        s[i] += d;
                    }
                }
            }
            // An interface gone must not leave its old counters behind: if it comes back
            // (re-created, counting from 0) its first sample is a new start.
            self.rates.retain(|k| {
                !k.starts_with("net/")
                    || ifs.iter().any(|(n, _)| {
                        k.strip_prefix("net/")
                            .is_some_and(|r| r.starts_with(&format!("{n}/")))
                    })
            });
            if let Some(s) = sum {
                for (name, unit, v) in [
                    ("network.egress.received.bytes", "bytes", s[0]),
                    ("network.egress.received.packets", "packets", s[1]),
                    ("network.egress.transmitted.bytes", "bytes", s[2]),
                    ("network.egress.transmitted.packets", "packets", s[3]),
                ] {
                    out.push(Sample::new(g, name, unit, int(v)));
                }
            }
        }
        self.sample_connections(mono_ns, out);
    }

    fn sample_connections(&mut self, mono_ns: u64, out: &mut Vec<Sample>) {
        let g = Group::Network;
        const ACTIVE: &str = "network.ingress.connections.active";
        if !self.cfg.endpoints.is_empty() {
            let t4 = self.files.read(&self.host.join("proc/net/tcp"), ACTIVE);
            let t6 = self.files.read(&self.host.join("proc/net/tcp6"), ACTIVE);
            if t4.is_some() || t6.is_some() {
                for e in &self.cfg.endpoints {
                    let n = t4.as_deref().map_or(0, |t| established_on(t, e.port))
                        + t6.as_deref().map_or(0, |t| established_on(t, e.port));
                    out.push(
                        Sample::new(g, ACTIVE, "connections", int(n)).with("endpoint", &e.name),
                    );
                }
            }
        }
        const CPS: &str = "network.ingress.cps";
        let snmp = self.host.join("proc/net/snmp");
        let Some(text) = self.files.read(&snmp, CPS) else {
            return;
        };
        let Some(opens) = passive_opens(&text) else {
            self.files.report(&snmp, CPS, "no Tcp PassiveOpens");
            return;
        };
        if let Some(rate) = self.rates.rate("tcp/passive", opens, mono_ns) {
            // The kernel counts accepted connections per namespace, not per port: with one
            // endpoint they are its connections, otherwise they are reported as `*`.
            let endpoint = match self.cfg.endpoints.as_slice() {
                [one] => one.name.clone(),
                _ => "*".to_string(),
            };
            out.push(
                Sample::new(g, CPS, "connections/sec", MetricValue::Double(rate))
                    .with("endpoint", endpoint),
            );
        }
    }
}
