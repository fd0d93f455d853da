//! Dial-plan errors: each names the file, the key path and what is wrong, so `check`
//! output can be fixed without guessing.

use std::fmt;

/// One problem in one dial-plan file, e.g.
/// `dialplans/almere.toml: queue[2].service_level_target_s: must be between 1 and 600`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DialplanError {
    /// The file as named to the parser (`dialplans/almere.toml`).
    pub file: String,
    /// Dotted key path inside the file; empty for whole-file problems (syntax, reading).
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for DialplanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.problem)
        }
    }
}

/// Collects the errors of one file while parsing continues past each of them.
pub(crate) struct ErrorList {
    file: String,
    errors: Vec<DialplanError>,
}

impl ErrorList {
    /// An empty list for `file`.
    pub(crate) fn new(file: &str) -> Self {
        ErrorList {
            file: file.to_owned(),
            errors: Vec::new(),
        }
    }

    /// Records a problem at `key`.
    pub(crate) fn push(&mut self, key: &str, problem: impl Into<String>) {
        self.errors.push(DialplanError {
            file: self.file.clone(),
            key: key.to_owned(),
            problem: problem.into(),
        });
    }

    /// True when nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The recorded errors, in the order found.
    pub(crate) fn into_vec(self) -> Vec<DialplanError> {
        self.errors
    }
}

/// A one-line description of a TOML syntax error with its line and column, for error
/// lines that must stay one line each.
pub(crate) fn toml_syntax_problem(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("not valid TOML at line {line}, column {column}: {message}")
        }
        None => format!("not valid TOML: {message}"),
    }
}
