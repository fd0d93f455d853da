//! Agents' phones: REGISTER with digest authentication (RFC 3261 §22, RFC 8760) against
//! the HA1 hashes in the dial plan, bindings in the registrar (§10.3), and the ACD told
//! who is reachable.
//!
//! Decision: a phone that registers logs its agent in and makes it available; removing
//! the last binding (or letting it expire) logs it out. Contact centres log agents in
//! at their desk phone; the HTTP API (operations issue) adds pause/ready by supervisors.

use super::Engine;
use crate::core::ids::TransactionId;
use crate::core::rng::SeededRng;
use crate::dialplan::{AgentId, DialPlan, TenantId};
use crate::sip::auth::{AuthConfig, AuthOutcome, Authenticator, DigestAlgorithm, StoredCredentials};
use crate::sip::msg::{HeaderName, Request, SipUri};
use crate::sip::registrar::{Binding, RegisterResult, RegistrationSource, SourceTransport};
use crate::sip::transport::{Peer, TransportKind};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Realm used to challenge a username no tenant knows, so a REGISTER cannot tell which
/// usernames exist.
const UNKNOWN_USER_REALM: &str = "veertien";

/// One agent account: where it belongs and its stored hashes.
#[derive(Debug, Clone)]
pub struct AgentAccount {
    pub tenant: TenantId,
    pub agent: AgentId,
    pub realm: String,
    pub credentials: StoredCredentials,
}

/// Every agent account by digest username, and one authenticator per realm.
pub struct AgentDirectory {
    accounts: HashMap<String, AgentAccount>,
    authenticators: HashMap<String, Authenticator>,
}

impl AgentDirectory {
    /// The accounts of every tenant in `plan`. A username in two tenants keeps the first
    /// (dial-plan check reports such clashes per tenant; usernames are the agent ids).
    pub fn new(plan: &DialPlan, rng: &mut SeededRng) -> Self {
        let mut accounts = HashMap::new();
        let mut authenticators = HashMap::new();
        for tenant in plan.tenants() {
            authenticators
                .entry(tenant.realm.clone())
                .or_insert_with(|| Authenticator::new(AuthConfig::new(tenant.realm.clone()), rng));
            for agent in &tenant.agents {
                accounts.entry(agent.id.as_str().to_string()).or_insert_with(|| AgentAccount {
                    tenant: tenant.id.clone(),
                    agent: agent.id.clone(),
                    realm: tenant.realm.clone(),
                    credentials: StoredCredentials { ha1_md5: agent.ha1_md5.clone(), ha1_sha256: agent.ha1_sha256.clone() },
                });
            }
        }
        authenticators
            .entry(UNKNOWN_USER_REALM.to_string())
            .or_insert_with(|| Authenticator::new(AuthConfig::new(UNKNOWN_USER_REALM), rng));
        AgentDirectory { accounts, authenticators }
    }

    /// The account for a digest username.
    pub fn account(&self, username: &str) -> Option<&AgentAccount> {
        self.accounts.get(username)
    }

    /// Authentication failures answered 403 or re-challenged with a wrong response.
    pub fn failures(&self) -> u64 {
        self.authenticators.values().map(|a| a.stats().wrong_responses).sum()
    }
}

impl Engine {
    /// REGISTER out of dialog: authenticate, then update the bindings.
    pub(super) fn on_register(&mut self, tx: TransactionId, request: Request, peer: Peer) {
        let user = request.to_header().ok().and_then(|to| to.uri.user).unwrap_or_default();
        let Some((account, authenticated)) = self.authenticate_agent(tx, &request, peer, &user) else { return };
        let source = RegistrationSource {
            addr: peer.remote,
            transport: match peer.transport {
                TransportKind::Udp => SourceTransport::Udp,
                TransportKind::Tcp => SourceTransport::Tcp,
            },
            // A phone that registers over TCP is rung over the same connection while it
            // is open (RFC 3261 §18.1.1 connection reuse; the phone may accept nothing else).
            connection: peer.connection.filter(|_| peer.transport == TransportKind::Tcp),
        };
        let response = match self.registrar.handle_register(self.now.mono, &request, &authenticated, source) {
            Ok(result) => {
                if let RegisterResult::Ok { bindings } = &result {
                    if let Some(binding) = bindings.first() {
                        self.agent_aors.insert(authenticated.clone(), binding.aor.clone());
                    }
                    self.agent_reachability_changed(&account, !bindings.is_empty());
                }
                result.to_response(self.now.mono, &request)
            }
            Err(error) => error.to_response(&request),
        };
        let mut response = response;
        let tag = self.new_tag();
        let _ = response.set_to_tag(&tag);
        response.headers.push(HeaderName::Server, self.config.user_agent.clone());
        self.send_on(tx, response);
    }

    /// Digest authentication of a request from the phone of agent `user` (RFC 3261 §22):
    /// the account and the authenticated username, or `None` once a challenge (401) or a
    /// refusal (403) was sent. Unknown users are challenged in a realm of their own, with
    /// every algorithm, so the answer does not reveal which usernames exist.
    pub(super) fn authenticate_agent(&mut self, tx: TransactionId, request: &Request, peer: Peer, user: &str) -> Option<(AgentAccount, String)> {
        let account = self.agents.account(user).cloned();
        let realm = account.as_ref().map_or(UNKNOWN_USER_REALM.to_string(), |a| a.realm.clone());
        let authenticator = self.agents.authenticators.get_mut(&realm)?;
        let credentials = account.as_ref().map(|a| a.credentials.clone());
        let outcome = authenticator.authenticate(self.now.mono, request, peer.remote.ip(), |username| {
            (username == user).then_some(credentials).flatten()
        });
        let authenticated = match outcome {
            AuthOutcome::Ok(username) => username,
            AuthOutcome::Challenge { stale } => {
                let algorithms: Vec<DigestAlgorithm> = match &account {
                    Some(account) => DigestAlgorithm::PREFERENCE_ORDER
                        .into_iter()
                        .filter(|algorithm| account.credentials.ha1(*algorithm).is_some())
                        .collect(),
                    None => DigestAlgorithm::PREFERENCE_ORDER.to_vec(),
                };
                let mut challenge = authenticator.challenge_response_for(self.now.mono, request, stale, &algorithms);
                let tag = self.new_tag();
                // A request without a parseable To was refused by validation already.
                let _ = challenge.set_to_tag(&tag);
                challenge.headers.push(HeaderName::Server, self.config.user_agent.clone());
                self.send_on(tx, challenge);
                self.stats.auth_failures = self.agents.failures();
                return None;
            }
            AuthOutcome::Forbidden => {
                self.stats.auth_failures = self.agents.failures();
                self.reply(tx, request, 403, "Forbidden");
                return None;
            }
        };
        let Some(account) = account.filter(|a| a.agent.as_str() == authenticated) else {
            self.reply(tx, request, 403, "Forbidden");
            return None;
        };
        Some((account, authenticated))
    }

    /// Bindings that expired: agents without any binding left are unreachable.
    pub(super) fn on_bindings_expired(&mut self, expired: Vec<Binding>) {
        for binding in expired {
            if !self.registrar.contacts(&binding.aor).is_empty() {
                continue;
            }
            let user = binding.aor.split(':').nth(1).and_then(|rest| rest.split('@').next()).unwrap_or_default();
            if let Some(account) = self.agents.account(user).cloned() {
                self.agent_reachability_changed(&account, false);
            }
        }
    }

    fn agent_reachability_changed(&mut self, account: &AgentAccount, reachable: bool) {
        let now = self.now.mono;
        let (tenant, agent) = (&account.tenant, &account.agent);
        let _ = self.acd.agent_registered(now, tenant, agent, reachable);
        let logged_out = matches!(self.acd.agent_state(tenant, agent), Some(crate::acd::AgentState::LoggedOut));
        if reachable && logged_out {
            tracing::info!(%agent, %tenant, "agent registered: logged in and available");
            let _ = self.acd.agent_login(now, tenant, agent);
            let _ = self.acd.agent_ready(now, tenant, agent);
        } else if !reachable && !logged_out {
            tracing::info!(%agent, %tenant, "agent has no registration left: logged out");
            let _ = self.acd.agent_logout(now, tenant, agent);
        }
    }

    /// The freshest binding of `agent`, as the peer to send its INVITE to.
    ///
    /// Decision: the Contact's address when it is an IP literal (RFC 3261 §10: requests go
    /// to the registered contact; phones on the contact centre's LAN or VPN register
    /// reachable contacts), otherwise where the REGISTER came from (the flow a phone
    /// behind NAT keeps open). The core resolves no host names.
    ///
    /// A phone that registered over TCP is rung over TCP: over its registration
    /// connection while that is open (the peer names it), otherwise over a new connection
    /// the driver opens to that address (the peer names none). A Contact with
    /// `transport=tcp` is rung over TCP too, however it registered.
    pub(super) fn agent_target(&self, account: &AgentAccount) -> Option<(Binding, Peer)> {
        let aor = self.agent_aors.get(account.agent.as_str())?;
        let binding = self.registrar.contacts(aor).into_iter().max_by_key(|b| b.expires_at)?;
        let contact = SipUri::parse(binding.contact.trim_matches(['<', '>']).as_bytes()).ok();
        let contact_addr = contact.as_ref().and_then(|uri| {
            let ip: IpAddr = uri.host.trim_matches(['[', ']']).parse().ok()?;
            Some(SocketAddr::new(ip, uri.port_or_default()))
        });
        let contact_tcp = contact
            .as_ref()
            .and_then(|uri| uri.param("transport").flatten().map(|t| t.eq_ignore_ascii_case("tcp")))
            .unwrap_or(false);
        let registered_tcp = binding.source.transport == SourceTransport::Tcp;
        let transport = match (contact_addr.is_some(), contact_tcp, registered_tcp) {
            (true, true, _) | (_, _, true) => TransportKind::Tcp,
            _ => TransportKind::Udp,
        };
        let remote = contact_addr.unwrap_or(binding.source.addr);
        let connection = binding.source.connection.filter(|_| transport == TransportKind::Tcp && registered_tcp);
        let peer = Peer { transport, local: self.config.advertised, remote, connection };
        Some((binding, peer))
    }
}
