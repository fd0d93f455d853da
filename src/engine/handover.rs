//! The context a transfer hands over on the member's INVITE, so whoever picks up knows
//! who is calling and why before answering: the reference (`X-Veertien-Reference`, and
//! `User-to-User` in the ISDN package of RFC 7434), a `Call-Info` screen-pop link to the
//! call on the API, `Referred-By` with the agent (RFC 3892 §2.2), and a display name with
//! the reference and the subject. Notes stay on the API: never in a header.

use super::leg::Party;
use super::outbound::Dial;
use super::transfer::BounceReason;
use super::Engine;
use crate::core::addr_text::SocketAddrText;
use crate::core::ids::{CallId, LegId};
use crate::dialplan::{GroupId, GroupMember};
use crate::sip::msg::{HeaderName, SipUri};
use crate::sip::transport::{Peer, TransportKind};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};

/// Longest User-to-User payload of the ISDN package (RFC 7434 §4: 128 octets).
const MAX_UUI_OCTETS: usize = 128;
/// Characters of the subject shown in the display name.
const DISPLAY_SUBJECT_CHARS: usize = 40;

impl Engine {
    /// Sends the INVITE to one member with the call's context. An agent who is ringing or
    /// talking for a queue, or already on a transfer's leg, is busy (the daemon knows,
    /// so it does not ring a second call onto the phone); a member that cannot be rung
    /// (an agent not registered, a URI whose host is not an IP address while no outbound
    /// proxy is configured: the engine resolves no names) is unreachable.
    pub(super) fn dial_member(&mut self, call_id: CallId, member: &GroupMember, group: Option<GroupId>) -> Result<LegId, BounceReason> {
        let call = self.calls.get(&call_id).ok_or(BounceReason::Unreachable)?;
        let reference = call.reference.to_string().replace(' ', "");
        let subject = call.context.subject.clone();
        let tenant = call.tenant_id.clone();
        let referred_by = call
            .transfer
            .as_ref()
            .and_then(|transfer| transfer.transferor)
            .and_then(|leg| self.legs.get(leg))
            .and_then(|leg| leg.agent())
            .map(|agent| format!("<sip:{agent}@{}>", SocketAddrText(self.config.advertised)));
        let (request_uri, to, peer, target) = match member {
            GroupMember::Agent(agent) => {
                if !self.acd.can_take_transfer(&tenant, agent) || self.legs.agent_has_leg(&tenant, agent) {
                    return Err(BounceReason::Busy);
                }
                let account = self.agents.account(agent.as_str()).filter(|a| a.tenant == tenant).cloned();
                let (binding, peer) = account.and_then(|account| self.agent_target(&account)).ok_or(BounceReason::Unreachable)?;
                (binding.contact.trim_matches(['<', '>']).to_string(), format!("<{}>", binding.aor), peer, agent.to_string())
            }
            GroupMember::Uri(uri) => {
                let parsed = SipUri::parse(uri.as_bytes()).map_err(|_| BounceReason::Unreachable)?;
                let tcp = parsed.param("transport").flatten().is_some_and(|t| t.eq_ignore_ascii_case("tcp"));
                let direct = parsed.host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
                let remote = match direct {
                    Some(ip) => SocketAddr::new(ip, parsed.port_or_default()),
                    None => self.config.outbound_proxy.ok_or(BounceReason::Unreachable)?,
                };
                let peer = Peer {
                    transport: if tcp { TransportKind::Tcp } else { TransportKind::Udp },
                    local: self.config.advertised,
                    remote,
                    connection: None,
                };
                (uri.clone(), format!("<{uri}>"), peer, uri.clone())
            }
        };
        let mut extra_headers = vec![
            (HeaderName::Other(Bytes::from_static(super::REFERENCE_HEADER)), reference.clone()),
            (HeaderName::Other(Bytes::from_static(b"User-to-User")), user_to_user(&reference)),
            (HeaderName::CallInfo, format!("<{}/api/calls/{reference}>;purpose=info", self.config.http_base_url)),
        ];
        if let Some(referred_by) = referred_by {
            // RFC 3892 §2.2: the triggered INVITE carries Referred-By; phones often drop
            // it, so the daemon adds it on the leg it originates.
            extra_headers.push((HeaderName::ReferredBy, referred_by));
        }
        let agent = match member {
            GroupMember::Agent(agent) => Some(agent.clone()),
            GroupMember::Uri(_) => None,
        };
        let leg = self
            .dial(Dial {
                call: call_id,
                party: Party::Member { group, target, agent: agent.clone() },
                request_uri,
                to,
                from_display: display_name(&reference, subject.as_deref()),
                extra_headers,
                peer,
            })
            .ok_or(BounceReason::Unreachable)?;
        if let Some(agent) = agent {
            if let Err(error) = self.acd.agent_engaged(&tenant, &agent) {
                tracing::warn!(%agent, %error, "transfer rings an agent the ACD does not know");
            }
        }
        Ok(leg)
    }
}

/// `User-to-User` in the ISDN package (RFC 7434): hex of the protocol discriminator
/// 0x04 (IA5 characters) and the reference number, at most 128 octets.
fn user_to_user(reference: &str) -> String {
    let mut octets = vec![0x04u8];
    octets.extend(reference.bytes().take(MAX_UUI_OCTETS - 1));
    let hex: String = octets.iter().map(|octet| format!("{octet:02X}")).collect();
    format!("{hex};encoding=hex;purpose=isdn-uui;content=isdn-uui")
}

/// The display name the member's phone shows: the reference and the subject, without
/// characters that would end a quoted string.
fn display_name(reference: &str, subject: Option<&str>) -> String {
    let subject: String = subject
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(DISPLAY_SUBJECT_CHARS)
        .collect();
    if subject.is_empty() {
        format!("Ref {reference}")
    } else {
        format!("Ref {reference} {subject}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_to_user_is_hex_of_ia5_reference_in_the_isdn_package() {
        assert_eq!(user_to_user("12345678"), "043132333435363738;encoding=hex;purpose=isdn-uui;content=isdn-uui");
        let long = "9".repeat(300);
        let hex = user_to_user(&long);
        assert_eq!(hex.split(';').next().map(str::len), Some(2 * MAX_UUI_OCTETS));
    }

    #[test]
    fn display_names_drop_quotes_and_are_bounded() {
        assert_eq!(display_name("12345678", None), "Ref 12345678");
        assert_eq!(display_name("12345678", Some("Paspoort \"kwijt\"")), "Ref 12345678 Paspoort kwijt");
        assert_eq!(display_name("1", Some(&"x".repeat(100))).len(), "Ref 1 ".len() + 40);
    }
}

