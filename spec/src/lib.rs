//! SPCS service specifications: model, validation, templates, sidecar injection.
//!
//! ```
//! use firn_spec::check::{check, CheckOptions};
//!
//! let report = check("spec:\n  containers:\n  - name: app\n    image: /db/s/repo/app:1\n", &CheckOptions::default());
//! assert!(report.is_valid());
//! let settings = firn_spec::settings::agent_settings(report.valid.as_ref().unwrap(), Some("app")).unwrap();
//! assert_eq!(settings.log_level.value.as_str(), "INFO");
//! ```

pub mod check;
pub mod cli;
pub mod finding;
pub mod inject;
pub mod model;
pub mod settings;
pub mod template;
pub mod units;
pub mod yaml;

pub use check::{CheckOptions, Report, ValidSpec, check};
pub use cli::{SpecCommand, run};
pub use finding::{Finding, Severity};
pub use inject::{InjectOptions, inject};
pub use settings::{AgentSettings, agent_settings};
