//! Loading: read the TOML file, merge `VEERTIEN_*` environment overrides with the
//! `config` crate, deserialise, then validate. Errors name the file or variable and key.

use std::collections::HashMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};

use super::error::{ConfigError, KeyProblem};
use super::raw::RawSettings;
use super::settings::Settings;
use super::validate::validate;
use crate::dialplan::toml_syntax_problem;

/// Prefix of environment overrides: `VEERTIEN_SIP__LISTEN` overrides `sip.listen`.
pub const ENV_PREFIX: &str = "VEERTIEN";

/// Separator between key levels in an environment variable name. Two underscores, so
/// keys that contain one underscore (`sip.t1_ms` ← `VEERTIEN_SIP__T1_MS`) stay intact.
pub const ENV_LEVEL_SEPARATOR: &str = "__";

/// Loads and validates the config file at `path`, with overrides from the process
/// environment.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    load_with_env(path, process_env())
}

/// The process environment as strings. Variables whose name or value is not Unicode are
/// skipped rather than aborting (`std::env::vars` would panic on them).
pub(crate) fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}

/// Like [`load`], but takes the environment as pairs, so tests need not touch the
/// process environment.
pub fn load_with_env(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let (raw, origins) = load_raw(path, env)?;
    validate(&raw, &origins)
}

/// Where each key's value came from: the file, or the environment variable overriding it.
pub(crate) struct Origins {
    file: String,
    env_var_by_key: HashMap<String, String>,
}

impl Origins {
    /// The origin to name in an error about `key` (`sip.trusted_peers[1]` → `sip.trusted_peers`).
    pub(crate) fn of(&self, key: &str) -> String {
        let key_without_index = key.split('[').next().unwrap_or(key);
        self.env_var_by_key
            .get(key_without_index)
            .cloned()
            .unwrap_or_else(|| self.file.clone())
    }

    /// A problem with `key`, attributed to its origin.
    pub(crate) fn problem(&self, key: &str, problem: impl Into<String>) -> KeyProblem {
        KeyProblem {
            origin: self.of(key),
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Reads and merges the sources into [`RawSettings`], without validating values. `check`
/// uses this to find the dial-plan directory even when other keys are invalid.
pub(crate) fn load_raw(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(RawSettings, Origins), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
        file: file.clone(),
        reason: format!("cannot read: {e}"),
    })?;

    // Syntax is checked with our own TOML parser first, for a one-line message.
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(ConfigError::Unreadable {
            file,
            reason: toml_syntax_problem(&text, &e),
        });
    }

    let env_prefix_lower = format!("{}_", ENV_PREFIX.to_lowercase());
    let overrides: config::Map<String, String> = env
        .into_iter()
        // An empty variable counts as unset: env files and orchestrators often "remove" a
        // setting by emptying it.
        .filter(|(name, value)| {
            name.to_lowercase().starts_with(&env_prefix_lower) && !value.is_empty()
        })
        .collect();
    let env_var_by_key = overrides
        .keys()
        .map(|name| {
            let key =
                name.to_lowercase()[env_prefix_lower.len()..].replace(ENV_LEVEL_SEPARATOR, ".");
            (key, name.clone())
        })
        .collect();
    let origins = Origins {
        file: file.clone(),
        env_var_by_key,
    };

    let merged = Config::builder()
        .add_source(File::from_str(&text, FileFormat::Toml))
        .add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator(ENV_LEVEL_SEPARATOR)
                .list_separator(",")
                .with_list_parse_key("sip.trusted_peers")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .map_err(|e| build_error(&file, e))?;
    let raw = merged
        .try_deserialize::<RawSettings>()
        .map_err(|e| ConfigError::Invalid(vec![deserialize_problem(&origins, e)]))?;
    Ok((raw, origins))
}

fn build_error(file: &str, error: config::ConfigError) -> ConfigError {
    let reason = match error {
        config::ConfigError::FileParse { cause, .. } => format!("not valid TOML: {cause}"),
        other => other.to_string(),
    };
    ConfigError::Unreadable {
        file: file.to_owned(),
        reason: reason.trim_end().to_owned(),
    }
}

/// Turns the `config` crate's deserialisation error into one keyed problem.
fn deserialize_problem(origins: &Origins, error: config::ConfigError) -> KeyProblem {
    match error {
        config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => {
            let key = key.unwrap_or_default();
            origins.problem(&key, format!("expected {expected}, found {unexpected}"))
        }
        config::ConfigError::At { error, key, .. } => message_problem(
            origins,
            key.as_deref().unwrap_or_default(),
            &error.to_string(),
        ),
        config::ConfigError::Message(message) => message_problem(origins, "", &message),
        config::ConfigError::NotFound(key) => origins.problem(&key, "missing"),
        other => origins.problem("", other.to_string()),
    }
}

/// serde reports unknown keys as "unknown field `x`, expected one of ..."; name the full
/// key path instead.
fn message_problem(origins: &Origins, parent: &str, message: &str) -> KeyProblem {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let key = if parent.is_empty() {
                field.to_owned()
            } else {
                format!("{parent}.{field}")
            };
            let expected = expected.trim_start_matches(", ");
            return origins.problem(&key, format!("unknown key ({expected})"));
        }
    }
    if message.contains("expected struct Raw") {
        // A section replaced by a plain value, e.g. `VEERTIEN_SIP=x`.
        return origins.problem(parent, "must be a table of keys, not a single value");
    }
    origins.problem(parent, message.to_owned())
}
