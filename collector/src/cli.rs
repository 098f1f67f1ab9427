//! Command line of `firn-collector`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use firn_schemas::units::{parse_duration, parse_size};

fn size(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// firn-collector: receives OTLP (HTTP and gRPC) and scrapes Prometheus endpoints, and writes
/// the same event-table Parquet as firn-agent.
#[derive(Debug, Parser)]
#[command(version, about, max_term_width = 100)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Only warnings and errors in the log.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail in the log (-vv for more still).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive OTLP logs, metrics and traces (and scrape Prometheus targets) into Parquet.
    Receive(Box<ReceiveArgs>),
    /// Run SQL over a folder of firn Parquet files (views events, logs, metrics).
    Query(QueryArgs),
    /// Serve a web dashboard over a folder of firn Parquet files.
    Serve(ServeArgs),
}

/// `firn-collector serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Folder of firn Parquet files (as written: date=YYYY-MM-DD/hour=HH/*.parquet below it).
    #[arg(long)]
    pub data: PathBuf,
    /// Address of the dashboard. Beyond loopback a token is required (as for receive).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// File holding the token (`Authorization: Bearer <token>`, or open the page as
    /// /?token=<token>). FIRN_TOKEN is used when this is not given.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Serve without a token on any address. Only where no one else can connect.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// How often the page asks again (new files count at once).
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub refresh: Duration,
    /// Memory the dashboard's queries may hold for sorts, joins and aggregates.
    #[arg(long, default_value = "512MiB", value_parser = size)]
    pub memory_limit: u64,
}

/// `firn-collector query`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Views: events (the 13 event-table columns), logs (ts, severity, message, \
stream, file, service, container, ...), metrics (ts, name, unit, value, service, container, ...); \
each also has date and hour, the date=/hour= folder (a filter on them skips whole folders). \
attr(json, 'key', ...) reads a key of a JSON column: attr(RECORD_ATTRIBUTES, 'log.file.path'). \
Names are case-sensitive. See collector/src/query/README.md."
)]
pub struct QueryArgs {
    /// Folder of firn Parquet files (as written: date=YYYY-MM-DD/hour=HH/*.parquet below it).
    #[arg(long)]
    pub data: PathBuf,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::query::Format,
    /// Print the executed plan with its metrics and what was read, instead of the rows.
    #[arg(long)]
    pub explain: bool,
    /// After the result, print to stderr what was read: files, row groups, bytes.
    #[arg(long)]
    pub stats: bool,
    /// Most rows a table shows (csv and json print every row).
    #[arg(long, default_value_t = 1000)]
    pub max_rows: usize,
    /// Memory a query may hold for sorts, joins and aggregates; past it the query fails.
    #[arg(long, default_value = "512MiB", value_parser = size)]
    pub memory_limit: u64,
    /// The SQL: one query (SELECT, WITH, EXPLAIN); `-` reads it from stdin. It may start with
    /// a `--` comment.
    #[arg(allow_hyphen_values = true)]
    pub sql: String,
}

/// `firn-collector receive`.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// OTLP/HTTP address (POST /v1/logs, /v1/metrics, /v1/traces; GET /healthcheck, /metrics).
    #[arg(long, default_value = "0.0.0.0:4318", help_heading = "Listen")]
    pub listen: SocketAddr,
    /// OTLP/gRPC address; `off` to serve no gRPC.
    #[arg(long, default_value = "0.0.0.0:4317", help_heading = "Listen")]
    pub grpc_listen: String,
    /// Folder for the Parquet files (date=YYYY-MM-DD/hour=HH/firn-*.parquet).
    #[arg(long, help_heading = "Output")]
    pub output: PathBuf,
    /// Name written into each file's footer (firn.agent_id); the host name by default.
    #[arg(long, help_heading = "Output")]
    pub collector_id: Option<String>,
    /// File holding the bearer token clients must send (`Authorization: Bearer <token>`),
    /// read again whenever it changes. The FIRN_TOKEN environment variable is used when
    /// this is not given.
    #[arg(long, help_heading = "Security")]
    pub token_file: Option<PathBuf>,
    /// Accept requests without a token. Only for a collector no one else can reach.
    #[arg(long, help_heading = "Security")]
    pub insecure_no_auth: bool,
    /// Largest request body as sent (compressed or not); larger is refused with 413.
    #[arg(long, default_value = "8MiB", value_parser = size, help_heading = "Limits")]
    pub max_body_bytes: u64,
    /// Largest request body once inflated; a gzip body that would inflate past it is refused
    /// with 413 (its stated size is checked before inflating).
    #[arg(long, default_value = "64MiB", value_parser = size, help_heading = "Limits")]
    pub max_decompressed_bytes: u64,
    /// Most rows (log records, spans and span events, data points) in one request.
    #[arg(long, default_value_t = 100_000, help_heading = "Limits")]
    pub max_rows_per_request: usize,
    /// Most attributes on one resource, scope, record, span, event or data point.
    #[arg(long, default_value_t = 128, help_heading = "Limits")]
    pub max_attributes: usize,
    /// Longest attribute key or string value.
    #[arg(long, default_value = "16KiB", value_parser = size, help_heading = "Limits")]
    pub max_attribute_value_bytes: u64,
    /// Requests being decoded or written at once; past it requests get 429 with Retry-After.
    #[arg(long, default_value_t = 64, help_heading = "Limits")]
    pub max_concurrent_requests: usize,
    /// Scrape this Prometheus endpoint (http://host:port/metrics); repeatable.
    #[arg(long, help_heading = "Prometheus scrape")]
    pub scrape: Vec<String>,
    /// Scrape every node behind this DNS name (SRV records, else A records with
    /// --scrape-dns-port), looked up again each interval; repeatable.
    #[arg(long, help_heading = "Prometheus scrape")]
    pub scrape_dns: Vec<String>,
    /// Port for A records of --scrape-dns (SRV records carry their own).
    #[arg(long, default_value_t = 9001, help_heading = "Prometheus scrape")]
    pub scrape_dns_port: u16,
    /// DNS server for --scrape-dns (host:port); the system's resolver by default.
    #[arg(long, help_heading = "Prometheus scrape")]
    pub dns_server: Option<SocketAddr>,
    /// Time between scrapes.
    #[arg(long, default_value = "30s", value_parser = duration, help_heading = "Prometheus scrape")]
    pub scrape_interval: Duration,
}
