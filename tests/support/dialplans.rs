//! Dial plans for tests that must pass at any hour: the shipped tenants (Almere's 14036,
//! The Hague's 14070) and the test tenant (14010) with opening hours of 24/7 and no
//! holiday closing. Written once per test process from the shipped files, so the tests
//! exercise the real dial plans, not a copy that drifts.

use super::{repo_root, ScratchDir};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A directory with every shipped and test dial plan, always open.
pub fn always_open() -> &'static Path {
    static DIR: OnceLock<ScratchDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = ScratchDir::new("dialplans-always-open");
        for source in dial_plan_files() {
            let text = std::fs::read_to_string(&source).expect("readable dial plan");
            let mut plan: toml::Table = text.parse().expect("dial plan is TOML");
            if let Some(toml::Value::Table(hours)) = plan.get_mut("hours") {
                for day in WEEKDAYS {
                    hours.insert(day.into(), toml::Value::Array(vec!["00:00-24:00".into()]));
                }
                hours.insert("close_on_public_holidays".into(), false.into());
                hours.insert("closed_days".into(), toml::Value::Array(Vec::new()));
            }
            let name = source.file_name().expect("file name");
            std::fs::write(dir.path().join(name), toml::to_string(&plan).expect("serialisable"))
                .expect("temp dir writable");
        }
        dir
    })
    .path()
}

fn dial_plan_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [repo_root().join("dialplans"), repo_root().join("tests/data/dialplans")] {
        let entries = std::fs::read_dir(&dir).expect("dial plan directory");
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")));
    }
    files.sort();
    files
}
