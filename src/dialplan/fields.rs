//! A reader over one TOML table that records a keyed error for every missing, mistyped,
//! out-of-range or unknown key and keeps going, so a file's errors are reported together.
//! (serde would stop at the first error.)

use std::collections::BTreeSet;

use toml::{Table, Value};

use super::error::ErrorList;
use super::ids::is_valid_name;

/// One table being read, with the key path that leads to it (`queue[2]`, `hours`).
pub(crate) struct Section<'t> {
    table: &'t Table,
    path: String,
    read: BTreeSet<&'t str>,
}

impl<'t> Section<'t> {
    /// Reads `table`, found at `path` (empty for the top level).
    pub(crate) fn new(table: &'t Table, path: &str) -> Self {
        Section {
            table,
            path: path.to_owned(),
            read: BTreeSet::new(),
        }
    }

    /// The full key path of `key` in this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value of `key`, marking it as known.
    pub(crate) fn value(&mut self, key: &'t str) -> Option<&'t Value> {
        self.read.insert(key);
        self.table.get(key)
    }

    /// A required string.
    pub(crate) fn string(&mut self, key: &'t str, errors: &mut ErrorList) -> Option<&'t str> {
        match self.value(key) {
            None => {
                errors.push(&self.key_path(key), "missing");
                None
            }
            Some(value) => self.as_str(key, value, errors),
        }
    }

    /// An optional string.
    pub(crate) fn optional_string(
        &mut self,
        key: &'t str,
        errors: &mut ErrorList,
    ) -> Option<&'t str> {
        let value = self.value(key)?;
        self.as_str(key, value, errors)
    }

    fn as_str(&self, key: &str, value: &'t Value, errors: &mut ErrorList) -> Option<&'t str> {
        match value {
            Value::String(s) => Some(s.as_str()),
            other => {
                errors.push(
                    &self.key_path(key),
                    format!("must be a string, not {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A required name (id or prompt name) per [`is_valid_name`].
    pub(crate) fn name(&mut self, key: &'t str, errors: &mut ErrorList) -> Option<&'t str> {
        let text = self.string(key, errors)?;
        self.check_name(key, text, errors)
    }

    /// An optional name per [`is_valid_name`].
    pub(crate) fn optional_name(
        &mut self,
        key: &'t str,
        errors: &mut ErrorList,
    ) -> Option<&'t str> {
        let text = self.optional_string(key, errors)?;
        self.check_name(key, text, errors)
    }

    fn check_name(&self, key: &str, text: &'t str, errors: &mut ErrorList) -> Option<&'t str> {
        if is_valid_name(text) {
            Some(text)
        } else {
            errors.push(
                &self.key_path(key),
                format!("{text:?} must be 1-40 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"),
            );
            None
        }
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub(crate) fn uint(
        &mut self,
        key: &'t str,
        min: u32,
        max: u32,
        default: u32,
        errors: &mut ErrorList,
    ) -> u32 {
        match self.value(key) {
            None => default,
            Some(Value::Integer(n)) => match u32::try_from(*n) {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    errors.push(
                        &self.key_path(key),
                        format!("must be between {min} and {max}, not {n}"),
                    );
                    default
                }
            },
            Some(other) => {
                errors.push(
                    &self.key_path(key),
                    format!("must be an integer, not {}", other.type_str()),
                );
                default
            }
        }
    }

    /// A boolean, or `default` when absent.
    pub(crate) fn boolean(&mut self, key: &'t str, default: bool, errors: &mut ErrorList) -> bool {
        match self.value(key) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(other) => {
                errors.push(
                    &self.key_path(key),
                    format!("must be true or false, not {}", other.type_str()),
                );
                default
            }
        }
    }

    /// An array of strings, each with its key path (`tenant.numbers[1]`); empty when absent.
    pub(crate) fn strings(
        &mut self,
        key: &'t str,
        errors: &mut ErrorList,
    ) -> Vec<(String, &'t str)> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let Value::Array(items) = value else {
            errors.push(
                &self.key_path(key),
                format!("must be an array of strings, not {}", value.type_str()),
            );
            return Vec::new();
        };
        let mut strings = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{}[{index}]", self.key_path(key));
            match item {
                Value::String(s) => strings.push((item_path, s.as_str())),
                other => errors.push(
                    &item_path,
                    format!("must be a string, not {}", other.type_str()),
                ),
            }
        }
        strings
    }

    /// An optional sub-table (`[hours]` or an inline table).
    pub(crate) fn table(&mut self, key: &'t str, errors: &mut ErrorList) -> Option<Section<'t>> {
        match self.value(key)? {
            Value::Table(table) => Some(Section::new(table, &self.key_path(key))),
            other => {
                errors.push(
                    &self.key_path(key),
                    format!("must be a table, not {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An array of tables (`[[queue]]`), each with its key path (`queue[2]`); empty when absent.
    pub(crate) fn tables(&mut self, key: &'t str, errors: &mut ErrorList) -> Vec<Section<'t>> {
        let Some(value) = self.value(key) else {
            return Vec::new();
        };
        let Value::Array(items) = value else {
            errors.push(
                &self.key_path(key),
                format!(
                    "must be an array of tables ([[{key}]]), not {}",
                    value.type_str()
                ),
            );
            return Vec::new();
        };
        let mut sections = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{}[{index}]", self.key_path(key));
            match item {
                Value::Table(table) => sections.push(Section::new(table, &item_path)),
                other => errors.push(
                    &item_path,
                    format!("must be a table, not {}", other.type_str()),
                ),
            }
        }
        sections
    }

    /// The entries of this table in file order, for maps like `options` and `skills`;
    /// marks every key as known.
    pub(crate) fn entries(&mut self) -> Vec<(&'t str, &'t Value)> {
        let entries: Vec<(&'t str, &'t Value)> =
            self.table.iter().map(|(k, v)| (k.as_str(), v)).collect();
        for (key, _) in &entries {
            self.read.insert(key);
        }
        entries
    }

    /// Reports every key that no reader asked for: a typo must not be silently ignored.
    pub(crate) fn finish(self, errors: &mut ErrorList) {
        for key in self.table.keys() {
            if !self.read.contains(key.as_str()) {
                errors.push(&self.key_path(key), "unknown key");
            }
        }
    }
}
