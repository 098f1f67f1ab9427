//! Prometheus scrape (`--scrape URL`, `--scrape-dns NAME`): each interval every target's
//! text exposition is fetched, turned into an OTLP metrics request (`parse.rs`) and written
//! through the receiver's durable path, with `up` and `scrape_duration_seconds` per target.
//! See README.md beside this file.

pub mod parse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cli::ReceiveArgs;
use crate::receive::Ingest;
use crate::receive::decode::Export;
use crate::telemetry::Counters;

/// Largest exposition read from one target.
const MAX_SCRAPE_BYTES: usize = 16 << 20;

/// The running scrapers; dropping it stops them.
#[derive(Debug, Default)]
pub struct Scrapers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Scrapers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Where to scrape.
#[derive(Debug, Clone)]
enum Source {
    Url(String),
    Dns(String),
}

/// Starts one task per `--scrape` and `--scrape-dns`. Must be called inside the runtime.
///
/// # Errors
/// When a URL is not `http://host:port/path` or the DNS configuration cannot be read.
pub fn start(
    args: &ReceiveArgs,
    counters: Arc<Counters>,
    ingest: Ingest,
) -> anyhow::Result<Scrapers> {
    let mut sources = Vec::new();
    for u in &args.scrape {
        let uri: hyper::Uri = u
            .parse()
            .with_context(|| format!("--scrape {u:?} is not a URL"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http") && uri.host().is_some(),
            "--scrape {u:?}: only http://host:port/path is supported"
        );
        sources.push(Source::Url(u.clone()));
    }
    sources.extend(args.scrape_dns.iter().cloned().map(Source::Dns));
    if sources.is_empty() {
        return Ok(Scrapers::default());
    }
    let resolver = if args.scrape_dns.is_empty() {
        None
    } else {
        Some(Arc::new(resolver(args.dns_server)?))
    };
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut tasks = Vec::new();
    for s in sources {
        let t = Target {
            source: s,
            port: args.scrape_dns_port,
            interval: args.scrape_interval,
            client: client.clone(),
            resolver: resolver.clone(),
            counters: counters.clone(),
            ingest: ingest.clone(),
        };
        tasks.push(tokio::spawn(t.run()));
    }
    Ok(Scrapers { tasks })
}

fn resolver(server: Option<std::net::SocketAddr>) -> anyhow::Result<TokioResolver> {
    let mut b = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().context("cannot read the system's DNS configuration")?,
    };
    // Nodes come and go: look the name up afresh every interval.
    b.options_mut().cache_size = 0;
    b.build().context("cannot build the DNS resolver")
}

struct Target {
    source: Source,
    port: u16,
    interval: Duration,
    client: HttpClient,
    resolver: Option<Arc<TokioResolver>>,
    counters: Arc<Counters>,
    ingest: Ingest,
}

impl Target {
    async fn run(self) {
        let mut starts = std::collections::HashMap::<String, parse::Starts>::new();
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (job, urls) = match &self.source {
                Source::Url(u) => ("scrape".to_string(), vec![u.clone()]),
                Source::Dns(name) => (name.clone(), self.discover(name).await),
            };
            for url in urls {
                let s = starts.entry(url.clone()).or_default();
                self.scrape_one(&job, &url, s).await;
            }
        }
    }

    /// SRV records (their targets and ports), else A records with `--scrape-dns-port`.
    async fn discover(&self, name: &str) -> Vec<String> {
        let Some(r) = &self.resolver else {
            return Vec::new();
        };
        let mut urls = Vec::new();
        if let Ok(srv) = r.srv_lookup(name).await {
            for rec in srv.answers() {
                if let RData::SRV(s) = &rec.data {
                    let host = s.target.to_utf8();
                    let host = host.trim_end_matches('.');
                    match r.ipv4_lookup(s.target.clone()).await {
                        Ok(a) => urls.extend(a.answers().iter().filter_map(|x| match &x.data {
                            RData::A(ip) => Some(format!("http://{}:{}/metrics", ip.0, s.port)),
                            _ => None,
                        })),
                        Err(_) => urls.push(format!("http://{host}:{}/metrics", s.port)),
                    }
                }
            }
        }
        if urls.is_empty() {
            match r.ipv4_lookup(name).await {
                Ok(a) => urls.extend(a.answers().iter().filter_map(|x| match &x.data {
                    RData::A(ip) => Some(format!("http://{}:{}/metrics", ip.0, self.port)),
                    _ => None,
                })),
                Err(e) => tracing::warn!(name, error = %e, "Cannot look up scrape targets"),
            }
        }
        urls.sort();
        urls.dedup();
        urls
    }

    async fn fetch(&self, url: &str) -> Result<String, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
        let resp = tokio::time::timeout(
            self.interval.min(Duration::from_secs(10)),
            self.client.get(uri),
        )
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let body = Limited::new(resp.into_body(), MAX_SCRAPE_BYTES)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| "not UTF-8 text".to_string())
    }

    async fn scrape_one(&self, job: &str, url: &str, starts: &mut parse::Starts) {
        let instance = url
            .parse::<hyper::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let resource = parse::target_resource(job, &instance, url);
        let began = Instant::now();
        let now = chrono::Utc::now();
        let time = u64::try_from(now.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
        let result = self.fetch(url).await.and_then(|text| {
            parse::to_request(&text, &resource, starts, now).map_err(|e| e.to_string())
        });
        let up = match result {
            Ok((req, n)) => match self.ingest.export(Export::Metrics(req), None).await {
                Ok(_) => {
                    self.counters
                        .add("firn_collector_scraped_samples_total", "", n as u64);
                    true
                }
                Err(e) => {
                    tracing::warn!(url, error = %e, "Cannot write scraped samples");
                    false
                }
            },
            Err(e) => {
                tracing::warn!(url, error = %e, "Scrape failed");
                false
            }
        };
        self.counters.add(
            "firn_collector_scrapes_total",
            if up {
                "result=\"ok\""
            } else {
                "result=\"failed\""
            },
            1,
        );
        let health = parse::health(&resource, up, began.elapsed().as_secs_f64(), time);
        if let Err(e) = self.ingest.export(Export::Metrics(health), None).await {
            tracing::warn!(url, error = %e, "Cannot write the scrape's up metric");
        }
    }
}
