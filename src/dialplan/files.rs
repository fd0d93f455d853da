//! The only file I/O of the dial-plan module: read every `*.toml` of a directory, in
//! name order, and hand the texts to the pure parser.

use std::path::Path;

use super::error::DialplanError;
use super::plan::DialPlan;
use super::tenant::parse_tenant;

/// Reads and checks every `*.toml` in `dir` (sorted by file name). Returns every error of
/// every file, plus the cross-file ones, rather than stopping at the first.
pub fn load_dir(dir: &Path) -> Result<DialPlan, Vec<DialplanError>> {
    let texts = read_dir_texts(dir)?;
    let mut errors = Vec::new();
    let mut tenants = Vec::new();
    for (file, text) in texts {
        match parse_tenant(&file, &text) {
            Ok(tenant) => tenants.push((file, tenant)),
            Err(mut file_errors) => errors.append(&mut file_errors),
        }
    }
    match DialPlan::new(tenants) {
        Ok(plan) if errors.is_empty() => Ok(plan),
        Ok(_) => Err(errors),
        Err(mut cross_file_errors) => {
            errors.append(&mut cross_file_errors);
            Err(errors)
        }
    }
}

/// The `(file name as displayed, text)` of every `*.toml` in `dir`, sorted by name.
fn read_dir_texts(dir: &Path) -> Result<Vec<(String, String)>, Vec<DialplanError>> {
    let dir_name = dir.display().to_string();
    let whole_dir_error = |problem: String| {
        vec![DialplanError {
            file: dir_name.clone(),
            key: String::new(),
            problem,
        }]
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| whole_dir_error(format!("cannot read directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| whole_dir_error(format!("cannot read directory: {e}")))?
            .path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(whole_dir_error("no *.toml dial plans found".to_owned()));
    }
    paths.sort();
    let mut texts = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push((file, text)),
            Err(e) => errors.push(DialplanError {
                file,
                key: String::new(),
                problem: format!("cannot read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(texts)
    } else {
        Err(errors)
    }
}
