//! The `[api]` section: tokens with names and roles load; every bad entry is reported with
//! its key, and no error message or debug print shows a secret.

use std::path::PathBuf;
use veertien::config::{load_with_env, ApiRole, ConfigError};

fn load(api_section: &str, name: &str) -> Result<veertien::config::Settings, ConfigError> {
    let dir = std::env::temp_dir().join(format!("veertien-api-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join("veertien.toml");
    std::fs::write(&path, api_section).expect("write config");
    let result = load_with_env(&path, Vec::<(String, String)>::new());
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[test]
fn tokens_load_with_their_roles_and_never_print_the_secret() {
    let settings = load(
        "[api]\ntokens = [\n { name = \"wallboard\", token = \"read-secret-0123456789\", role = \"read\" },\n \
         { name = \"lead\", token = \"supervise-secret-01234\", role = \"supervise\" },\n]\n",
        "good",
    )
    .expect("valid");
    let roles: Vec<(String, ApiRole)> = settings.api.tokens.iter().map(|t| (t.name.clone(), t.role)).collect();
    assert_eq!(roles, [("wallboard".to_owned(), ApiRole::Read), ("lead".to_owned(), ApiRole::Supervise)]);
    assert!(!format!("{settings:?}").contains("secret"), "Debug must not print tokens");
    assert!(load("", "empty").expect("defaults").api.tokens.is_empty());
}

#[test]
fn every_bad_token_entry_is_reported_by_key() {
    let error = load(
        "[api]\ntokens = [\n { name = \"a\", token = \"short-secret\", role = \"read\" },\n \
         { name = \"a\", token = \"long-enough-secret-0123\", role = \"admin\" },\n \
         { name = \"\", token = \"another-long-secret-0123\", role = \"read\" },\n]\n",
        "bad",
    )
    .expect_err("invalid");
    let ConfigError::Invalid(problems) = &error else { panic!("expected key problems: {error}") };
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    for key in ["api.tokens[0].token", "api.tokens[1].name", "api.tokens[1].role", "api.tokens[2].name"] {
        assert!(keys.contains(&key), "{key} not reported in {keys:?}");
    }
    assert!(!error.to_string().contains("short-secret"), "{error}");
}
