//! Configuration errors. Each names where the bad value came from (the file, or the
//! environment variable that overrode it), the key path, and what is wrong with it.

use std::fmt;

/// Why the configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, or is not valid TOML.
    #[error("{file}: {reason}")]
    Unreadable {
        /// The config file as given.
        file: String,
        /// What went wrong, with line and column for syntax errors.
        reason: String,
    },
    /// One or more keys are unknown, of the wrong type or out of range; all are listed.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<KeyProblem>),
}

impl ConfigError {
    /// One line per problem, each naming its origin and key.
    pub fn messages(&self) -> Vec<String> {
        match self {
            ConfigError::Unreadable { .. } => vec![self.to_string()],
            ConfigError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }
}

fn join_lines(problems: &[KeyProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One bad key: `origin: key: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// The config file path, or the environment variable that set the value.
    pub origin: String,
    /// Dotted key path, e.g. `sip.t1_ms`.
    pub key: String,
    /// What is wrong, e.g. `must be at least sip.t1_ms (500)`.
    pub problem: String,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.origin, self.key, self.problem)
    }
}
