//! Request limits checked before anything is written: rows per request, attributes per
//! row and attribute size. A request over a limit is refused whole, so a client never has
//! to guess which part was kept.

use firn_schemas::otlp::attributes_over;
use firn_schemas::otlp::proto::common::v1::{InstrumentationScope, KeyValue};
use firn_schemas::otlp::proto::metrics::v1::metric::Data;
use firn_schemas::otlp::proto::resource::v1::Resource;

use super::decode::Export;

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most rows in one request.
    pub max_rows: usize,
    /// Most attributes on one thing.
    pub max_attributes: usize,
    /// Longest key or string value.
    pub max_value_bytes: usize,
}

/// A request over a limit.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Too many rows (413).
    #[error("the request holds {rows} rows, past the limit of {limit}; send smaller batches")]
    TooManyRows {
        /// Rows in the request.
        rows: usize,
        /// The limit.
        limit: usize,
    },
    /// Attributes over a limit (400).
    #[error("{what} has {detail}, past the limits of {max} attributes and {max_bytes} bytes")]
    Attributes {
        /// Where.
        what: &'static str,
        /// What is over.
        detail: String,
        /// Attribute count limit.
        max: usize,
        /// Value size limit.
        max_bytes: usize,
    },
}

impl Limits {
    fn attrs(&self, what: &'static str, attrs: &[KeyValue]) -> Result<(), LimitError> {
        match attributes_over(attrs, self.max_attributes, self.max_value_bytes) {
            None => Ok(()),
            Some(detail) => Err(LimitError::Attributes {
                what,
                detail,
                max: self.max_attributes,
                max_bytes: self.max_value_bytes,
            }),
        }
    }

    fn outer(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
    ) -> Result<(), LimitError> {
        if let Some(r) = resource {
            self.attrs("a resource", &r.attributes)?;
        }
        if let Some(s) = scope {
            self.attrs("a scope", &s.attributes)?;
            if s.name.len() > self.max_value_bytes || s.version.len() > self.max_value_bytes {
                return Err(LimitError::Attributes {
                    what: "a scope",
                    detail: "a name or version too long".into(),
                    max: self.max_attributes,
                    max_bytes: self.max_value_bytes,
                });
            }
        }
        Ok(())
    }

    /// Checks a request; returns its row count.
    pub fn check(&self, req: &Export) -> Result<usize, LimitError> {
        let mut rows = 0usize;
        match req {
            Export::Logs(r) => {
                for rl in &r.resource_logs {
                    for sl in &rl.scope_logs {
                        self.outer(rl.resource.as_ref(), sl.scope.as_ref())?;
                        rows += sl.log_records.len();
                        self.rows(rows)?;
                        for l in &sl.log_records {
                            self.attrs("a log record", &l.attributes)?;
                        }
                    }
                }
            }
            Export::Traces(r) => {
                for rs in &r.resource_spans {
                    for ss in &rs.scope_spans {
                        self.outer(rs.resource.as_ref(), ss.scope.as_ref())?;
                        for s in &ss.spans {
                            rows += 1 + s.events.len();
                            self.rows(rows)?;
                            self.attrs("a span", &s.attributes)?;
                            for e in &s.events {
                                self.attrs("a span event", &e.attributes)?;
                            }
                            for l in &s.links {
                                self.attrs("a span link", &l.attributes)?;
                            }
                        }
                    }
                }
            }
            Export::Metrics(r) => {
                for rm in &r.resource_metrics {
                    for sm in &rm.scope_metrics {
                        self.outer(rm.resource.as_ref(), sm.scope.as_ref())?;
                        for m in &sm.metrics {
                            rows += self.metric_points(m.data.as_ref())?;
                            self.rows(rows)?;
                        }
                    }
                }
            }
        }
        Ok(rows)
    }

    fn rows(&self, rows: usize) -> Result<(), LimitError> {
        if rows > self.max_rows {
            return Err(LimitError::TooManyRows {
                rows,
                limit: self.max_rows,
            });
        }
        Ok(())
    }

    fn metric_points(&self, data: Option<&Data>) -> Result<usize, LimitError> {
        let what = "a data point";
        Ok(match data {
            None => 0,
            Some(Data::Gauge(g)) => {
                for p in &g.data_points {
                    self.attrs(what, &p.attributes)?;
                }
                g.data_points.len()
            }
            Some(Data::Sum(g)) => {
                for p in &g.data_points {
                    self.attrs(what, &p.attributes)?;
                }
                g.data_points.len()
            }
            Some(Data::Histogram(g)) => {
                for p in &g.data_points {
                    self.attrs(what, &p.attributes)?;
                }
                g.data_points.len()
            }
            Some(Data::ExponentialHistogram(g)) => {
                for p in &g.data_points {
                    self.attrs(what, &p.attributes)?;
                }
                g.data_points.len()
            }
            Some(Data::Summary(g)) => {
                for p in &g.data_points {
                    self.attrs(what, &p.attributes)?;
                }
                g.data_points.len()
            }
        })
    }
}
