//! SPCS service specifications: model, validation, templates, sidecar injection.
