//! The whole dial plan: every tenant, checked against each other, and routing of a
//! dialled number to its tenant.

use std::collections::HashMap;

use super::error::DialplanError;
use super::ids::TenantId;
use super::number::normalise;
use super::tenant::Tenant;

/// All tenants of one deployment, indexed by number.
#[derive(Debug, Clone, PartialEq)]
pub struct DialPlan {
    tenants: Vec<Tenant>,
    tenant_index_by_number: HashMap<String, usize>,
}

impl DialPlan {
    /// Combines parsed tenants, each with the file it came from. Rejects a tenant id used
    /// twice, a number claimed by two tenants and an agent id (the agent's digest
    /// username, which a REGISTER names without a tenant) used by two tenants, naming both
    /// files.
    pub fn new(tenants: Vec<(String, Tenant)>) -> Result<Self, Vec<DialplanError>> {
        let mut errors = Vec::new();
        let mut file_by_tenant_id: HashMap<TenantId, String> = HashMap::new();
        let mut claim_by_number: HashMap<String, (usize, String)> = HashMap::new();
        let mut file_by_agent_id: HashMap<String, String> = HashMap::new();
        for (index, (file, tenant)) in tenants.iter().enumerate() {
            if let Some(first_file) = file_by_tenant_id.get(&tenant.id) {
                errors.push(DialplanError {
                    file: file.clone(),
                    key: "tenant.id".to_owned(),
                    problem: format!(
                        "{:?} is also the tenant id in {first_file}",
                        tenant.id.as_str()
                    ),
                });
            } else {
                file_by_tenant_id.insert(tenant.id.clone(), file.clone());
            }
            for (agent_index, agent) in tenant.agents.iter().enumerate() {
                match file_by_agent_id.get(agent.id.as_str()) {
                    Some(first_file) => errors.push(DialplanError {
                        file: file.clone(),
                        key: format!("agent[{agent_index}].id"),
                        problem: format!("{:?} is also an agent id in {first_file}; digest usernames must be unique", agent.id.as_str()),
                    }),
                    None => {
                        file_by_agent_id.insert(agent.id.as_str().to_owned(), file.clone());
                    }
                }
            }
            for (number_index, number) in tenant.numbers.iter().enumerate() {
                if let Some((_, first_file)) = claim_by_number.get(number) {
                    errors.push(DialplanError {
                        file: file.clone(),
                        key: format!("tenant.numbers[{number_index}]"),
                        problem: format!("{number} is also claimed by {first_file}"),
                    });
                } else {
                    claim_by_number.insert(number.clone(), (index, file.clone()));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let tenant_index_by_number = claim_by_number
            .into_iter()
            .map(|(number, (index, _))| (number, index))
            .collect();
        Ok(DialPlan {
            tenants: tenants.into_iter().map(|(_, tenant)| tenant).collect(),
            tenant_index_by_number,
        })
    }

    /// The tenant answering `dialled` (a Request-URI user part), after normalising it:
    /// `14036`, `0365399911`, `036-5399911` and `+31365399911` all reach Almere. User-part
    /// parameters (`;phone-context=...`, RFC 3966 style) are ignored.
    pub fn route(&self, dialled: &str) -> Option<&Tenant> {
        let number_part = dialled.split(';').next().unwrap_or(dialled);
        let number = normalise(number_part)?;
        self.tenant_index_by_number
            .get(&number)
            .map(|&index| &self.tenants[index])
    }

    /// All tenants, in file-name order.
    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// The tenant with `id`.
    pub fn tenant(&self, id: &TenantId) -> Option<&Tenant> {
        self.tenants.iter().find(|t| &t.id == id)
    }
}
