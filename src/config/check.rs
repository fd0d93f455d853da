//! `veertien check`: load the config and every dial plan, and list every problem found
//! (not just the first), each with its file and key path.

use std::fmt;
use std::path::{Path, PathBuf};

use super::load::{load_raw, process_env};
use super::validate::validate;
use crate::dialplan::{load_dir, DialPlan, Overflow};

/// Outcome of `veertien check`: every error, and what was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// One line per problem, `file: key: problem`; empty when all is well.
    pub errors: Vec<String>,
    /// Tenants loaded.
    pub tenants: usize,
    /// Numbers claimed by all tenants together.
    pub numbers: usize,
    /// Queues of all tenants together.
    pub queues: usize,
    /// Agents of all tenants together.
    pub agents: usize,
    /// Backoffice groups of all tenants together.
    pub groups: usize,
}

impl CheckReport {
    /// True when no errors were found.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// One line: counts of what was loaded and of errors.
    pub fn summary(&self) -> String {
        format!(
            "{} tenants, {} numbers, {} queues, {} agents, {} backoffice groups; {} errors",
            self.tenants,
            self.numbers,
            self.queues,
            self.agents,
            self.groups,
            self.errors.len()
        )
    }

    fn count(&mut self, plan: &DialPlan) {
        let tenants = plan.tenants();
        self.tenants = tenants.len();
        self.numbers = tenants.iter().map(|t| t.numbers.len()).sum();
        self.queues = tenants.iter().map(|t| t.queues.len()).sum();
        self.agents = tenants.iter().map(|t| t.agents.len()).sum();
        self.groups = tenants.iter().map(|t| t.groups.len()).sum();
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.errors {
            writeln!(f, "{error}")?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Checks the config at `config_path` (with the process environment's overrides) and the
/// dial plans in its `dialplan.directory`.
pub fn check(config_path: &Path) -> CheckReport {
    check_with_env(config_path, process_env())
}

/// Like [`check`], with the environment given as pairs (for tests).
pub fn check_with_env(
    config_path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> CheckReport {
    let mut report = CheckReport::default();
    let raw = match load_raw(config_path, env) {
        Ok((raw, origins)) => {
            if let Err(e) = validate(&raw, &origins) {
                report.errors.extend(e.messages());
            }
            Some(raw)
        }
        Err(e) => {
            report.errors.extend(e.messages());
            None
        }
    };
    // Even with a bad config, the dial plans are checked when their directory is known,
    // so one run shows every problem.
    if let Some(raw) = raw {
        match load_dir(&PathBuf::from(&raw.dialplan.directory)) {
            Ok(plan) => {
                report.count(&plan);
                let prompts = PathBuf::from(&raw.rtp.prompt_directory);
                report.errors.extend(missing_prompts(&plan, &prompts));
            }
            Err(errors) => report.errors.extend(errors.iter().map(ToString::to_string)),
        }
    }
    report
}

/// Every prompt a dial plan names must exist as `<name>.wav` in the prompt directory;
/// otherwise a caller would hear silence where the plan promised a message.
pub fn missing_prompts(plan: &DialPlan, prompt_directory: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    for tenant in plan.tenants() {
        let mut named = vec![("hours.closed_prompt".to_owned(), tenant.closed_prompt.clone())];
        if let Some(menu) = &tenant.menu {
            named.push(("menu.prompt".to_owned(), menu.prompt.clone()));
        }
        for (index, queue) in tenant.queues.iter().enumerate() {
            if let Overflow::PromptThenHangup(prompt) = &queue.overflow {
                named.push((format!("queue[{index}].overflow.prompt"), prompt.clone()));
            }
        }
        for (key, prompt) in named {
            let file = prompt_directory.join(format!("{prompt}.wav"));
            if !file.is_file() {
                errors.push(format!(
                    "tenant {}: {key}: prompt {prompt:?} not found as {}",
                    tenant.id,
                    file.display()
                ));
            }
        }
    }
    errors
}
