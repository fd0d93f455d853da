//! Every prompt WAV decoded once at start, shared by all sessions. A prompt that is
//! missing or unreadable is a startup error naming the file: an operator finds a typo in
//! the prompt set when deploying, not when the first caller hears silence.

use crate::media::wav::parse_wav;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Prompts the engine plays on every call; the cache refuses a directory without them.
pub const REQUIRED_PROMPTS: [&str; 2] = ["welcome", "hold_music"];

/// Why the prompt set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The directory or a file in it could not be read.
    #[error("cannot read prompt {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file is not an 8 kHz mono 16-bit WAV.
    #[error("bad prompt {path}: {reason}")]
    Bad { path: PathBuf, reason: String },
    /// A prompt the engine needs is not in the directory.
    #[error("missing prompt {path}")]
    Missing { path: PathBuf },
}

/// Prompt name (file stem) → 16-bit PCM at 8 kHz.
#[derive(Debug, Default)]
pub struct PromptCache {
    prompts: HashMap<Arc<str>, Arc<[i16]>>,
}

impl PromptCache {
    /// Loads every `*.wav` in `directory`; [`REQUIRED_PROMPTS`] must be among them.
    pub fn load(directory: &Path) -> Result<Self, PromptError> {
        let read_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PromptError::Read { path, source }
        };
        let mut prompts = HashMap::new();
        for entry in std::fs::read_dir(directory).map_err(read_error(directory))? {
            let path = entry.map_err(read_error(directory))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("wav") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let bytes = std::fs::read(&path).map_err(read_error(&path))?;
            let samples = parse_wav(&bytes).map_err(|e| PromptError::Bad {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            prompts.insert(Arc::from(name), Arc::from(samples));
        }
        for name in REQUIRED_PROMPTS {
            if !prompts.contains_key(name) {
                return Err(PromptError::Missing {
                    path: directory.join(format!("{name}.wav")),
                });
            }
        }
        Ok(PromptCache { prompts })
    }

    /// The samples of prompt `name`, if loaded.
    pub fn get(&self, name: &str) -> Option<Arc<[i16]>> {
        self.prompts.get(name).cloned()
    }

    /// How many prompts are loaded.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Whether no prompt is loaded (only a cache made with `default()`).
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prompts/nl")
    }

    #[test]
    fn the_shipped_prompt_set_loads_with_audio() {
        let cache = PromptCache::load(&shipped()).expect("shipped prompts load");
        let welcome = cache.get("welcome").expect("welcome loaded");
        assert!(welcome.len() > 8000, "welcome lasts over a second: {}", welcome.len());
        assert!(cache.get("no_such_prompt").is_none());
    }

    #[test]
    fn a_missing_directory_names_the_path() {
        let error = PromptCache::load(Path::new("no/such/prompt/dir")).expect_err("missing dir fails");
        assert!(error.to_string().contains("no/such/prompt/dir"), "{error}");
    }
}
