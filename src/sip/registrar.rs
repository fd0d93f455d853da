//! A sans-IO registrar (RFC 3261 §10.3): Contact bindings per address-of-record (AOR), their
//! expiry, and the 200 OK that lists them.
//!
//! Authentication happens before: the caller passes the username digest authentication
//! established (see [`crate::sip::auth`]), and a REGISTER may only bind the AOR whose user
//! part is that username (§10.3 step 4, otherwise 403).
//!
//! Time is an argument. The driver calls [`Registrar::handle_timeout`] at
//! [`Registrar::poll_timeout`] to drop expired bindings.
//!
//! Bounds: at most `max_aors` AORs (a REGISTER that would add one more is refused with 503)
//! and `max_contacts_per_aor` bindings per AOR. When a new Contact arrives at that bound, the
//! binding refreshed longest ago is replaced: a phone that was swapped or re-provisioned
//! leaves a binding behind that nobody refreshes, and the newest registration is the one
//! an agent is actually using.
//!
//! Connections: a binding made over TCP remembers the connection its REGISTER came in on,
//! so requests to the phone can reuse it (RFC 3261 §18.1.1 lets a client reuse an open
//! connection; RFC 5923 in spirit). When the driver reports that connection closed,
//! [`Registrar::connection_closed`] forgets it, but keeps the binding: the Contact may
//! still be reachable over a new connection, and the phone's registration has not lapsed.

use crate::core::ids::ConnectionId;
use crate::core::time::Instant;
use crate::sip::msg::{HeaderName, Method, NameAddr, Request, Response, SipUri, TypedError};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

/// Default binding lifetime when the REGISTER names none (RFC 3261 §10.2.1.1 suggests 3600 s).
pub const DEFAULT_EXPIRES_S: u64 = 3600;
/// Default shortest lifetime accepted; shorter requests get 423 (§10.3 step 7).
pub const DEFAULT_MIN_EXPIRES_S: u64 = 60;
/// Default longest lifetime; longer requests are shortened to it.
pub const DEFAULT_MAX_EXPIRES_S: u64 = 7200;
/// Default bound on bindings per AOR.
pub const DEFAULT_MAX_CONTACTS_PER_AOR: usize = 5;
/// Default bound on AORs with at least one binding.
pub const DEFAULT_MAX_AORS: usize = 10_000;

/// Registrar settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Lifetime when neither a Contact `expires` parameter nor an Expires header is given.
    pub default_expires_s: u64,
    /// Shortest non-zero lifetime accepted (423 Interval Too Brief below it).
    pub min_expires_s: u64,
    /// Longest lifetime granted; longer requests are clamped.
    pub max_expires_s: u64,
    /// Bindings per AOR; at the bound the least recently refreshed one is replaced.
    pub max_contacts_per_aor: usize,
    /// AORs with bindings; a REGISTER for one more is refused (503).
    pub max_aors: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            default_expires_s: DEFAULT_EXPIRES_S,
            min_expires_s: DEFAULT_MIN_EXPIRES_S,
            max_expires_s: DEFAULT_MAX_EXPIRES_S,
            max_contacts_per_aor: DEFAULT_MAX_CONTACTS_PER_AOR,
            max_aors: DEFAULT_MAX_AORS,
        }
    }
}

/// The transport a REGISTER arrived on; requests to the contact go back the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceTransport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
}

/// Where a REGISTER came from: the flow a later INVITE to that contact should use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegistrationSource {
    /// The remote address the request arrived from.
    pub addr: SocketAddr,
    /// The transport it arrived on.
    pub transport: SourceTransport,
    /// The stream connection it arrived on (TCP), while that connection is open; requests
    /// to the phone reuse it. `None` for UDP and once the connection closed.
    pub connection: Option<ConnectionId>,
}

/// One Contact binding of an AOR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The canonical AOR, `sip:user@host`.
    pub aor: String,
    /// The Contact URI as the phone sent it.
    pub contact: String,
    /// Where the REGISTER came from.
    pub source: RegistrationSource,
    /// When the binding lapses unless refreshed.
    pub expires_at: Instant,
    /// Call-ID of the REGISTER that last wrote the binding (§10.3 step 7 ordering).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
}

/// The registrar's answer to an acceptable REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterResult {
    /// 200 OK; `bindings` are all current bindings of the AOR (§10.3 step 8).
    Ok {
        /// The AOR's bindings after the update.
        bindings: Vec<Binding>,
    },
    /// 423 Interval Too Brief with `Min-Expires` (§10.3 step 7); nothing was changed.
    IntervalTooBrief {
        /// Our shortest accepted lifetime.
        min_expires_s: u64,
    },
    /// 403: the AOR is not the authenticated user's.
    Forbidden,
}

/// Why a REGISTER could not be processed; each maps to a response code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrarError {
    /// The request is not a REGISTER.
    #[error("not a register request")]
    NotRegister,
    /// A header the registrar needs is absent or does not parse.
    #[error("bad register request: {0}")]
    Malformed(#[from] TypedError),
    /// The To URI has no user part, so it names no AOR.
    #[error("address-of-record has no user part")]
    NoUserInAor,
    /// `Contact: *` with other contacts or without `Expires: 0` (§10.3 step 6).
    #[error("wildcard contact needs expires 0 and no other contact")]
    InvalidWildcard,
    /// Same Call-ID as a binding with a CSeq not lower than this request's: an old or
    /// reordered REGISTER (§10.3 step 7). Nothing was changed.
    #[error("register out of order")]
    OutOfOrder,
    /// The registrar holds `max_aors` AORs already.
    #[error("too many registered addresses")]
    TooManyAors,
}

impl RegistrarError {
    /// The status code and reason phrase to answer with.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RegistrarError::NotRegister => (405, "Method Not Allowed"),
            RegistrarError::Malformed(_) | RegistrarError::InvalidWildcard => (400, "Bad Request"),
            RegistrarError::NoUserInAor => (404, "Not Found"),
            // §10.3 step 7: "the update MUST be aborted and the request fails"; 500 is the
            // failure code that section names.
            RegistrarError::OutOfOrder => (500, "Out Of Order Register"),
            RegistrarError::TooManyAors => (503, "Service Unavailable"),
        }
    }

    /// The response to `request` for this error. The caller adds a To tag.
    pub fn to_response(&self, request: &Request) -> Response {
        let (status, reason) = self.status();
        let mut response = Response::to_request(request, status, reason);
        if *self == RegistrarError::NotRegister {
            response.headers.push(HeaderName::Allow, "REGISTER");
        }
        response
    }
}

impl RegisterResult {
    /// The response to `request` (200 with every binding and its remaining `expires`, 423
    /// with Min-Expires, or 403). The caller adds a To tag.
    pub fn to_response(&self, now: Instant, request: &Request) -> Response {
        match self {
            RegisterResult::Ok { bindings } => {
                let mut response = Response::to_request(request, 200, "OK");
                for binding in bindings {
                    let remaining_s = (binding.expires_at - now).as_secs_f64().ceil() as u64;
                    response.headers.push(HeaderName::Contact, format!("<{}>;expires={remaining_s}", binding.contact));
                }
                response
            }
            RegisterResult::IntervalTooBrief { min_expires_s } => {
                let mut response = Response::to_request(request, 423, "Interval Too Brief");
                response.headers.push(HeaderName::MinExpires, min_expires_s.to_string());
                response
            }
            RegisterResult::Forbidden => Response::to_request(request, 403, "Forbidden"),
        }
    }
}

/// A binding as stored, with the bookkeeping the public view does not need.
#[derive(Clone, Debug)]
struct StoredBinding {
    id: u64,
    key: ContactKey,
    refreshed_at: Instant,
    binding: Binding,
}

/// The parts of a Contact URI that decide whether two Contacts are the same binding
/// (a simplification of RFC 3261 §19.1.4: scheme and host case-insensitive, user and port
/// exact, and the transport parameter, which changes where requests go).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ContactKey {
    scheme: String,
    user: Option<String>,
    host: String,
    port: Option<u16>,
    transport: Option<String>,
}

impl ContactKey {
    fn of(uri: &SipUri) -> ContactKey {
        ContactKey {
            scheme: uri.scheme.to_ascii_lowercase(),
            user: uri.user.clone(),
            host: uri.host.to_ascii_lowercase(),
            port: uri.port,
            transport: uri
                .params
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case("transport"))
                .and_then(|p| p.value.as_ref())
                .map(|value| value.to_ascii_lowercase()),
        }
    }
}

/// One Contact of the request, with the lifetime it asks for.
struct RequestedContact {
    raw_uri: String,
    key: ContactKey,
    expires_s: u64,
}

/// The REGISTER a binding change comes from.
#[derive(Clone, Copy)]
struct UpdateOrigin<'a> {
    now: Instant,
    aor: &'a str,
    call_id: &'a str,
    cseq: u32,
    source: RegistrationSource,
}

/// What the Contact header fields of a REGISTER ask for.
enum ContactRequest {
    /// No Contact: a query for the current bindings (§10.3 step 6).
    Query,
    /// `Contact: *`: remove every binding.
    RemoveAll,
    /// Add, refresh or remove these.
    Update(Vec<RequestedContact>),
}

/// Registrar state: bindings per AOR and their expiry order.
#[derive(Debug, Clone)]
pub struct Registrar {
    config: RegistrarConfig,
    bindings_by_aor: HashMap<String, Vec<StoredBinding>>,
    /// (expires_at, binding id, AOR): the next binding to lapse comes first.
    expiry_order: BTreeSet<(Instant, u64, String)>,
    /// Connection → the AORs with a binding whose REGISTER came in on it, so a closed
    /// connection is forgotten without a scan of every binding. Entries may be stale (the
    /// binding moved to another connection or lapsed) and are checked on use; each
    /// connection's entry goes when it closes, so the map is bounded by open connections.
    aors_by_connection: HashMap<ConnectionId, HashSet<String>>,
    next_binding_id: u64,
}

impl Registrar {
    /// An empty registrar.
    pub fn new(config: RegistrarConfig) -> Self {
        Registrar {
            config,
            bindings_by_aor: HashMap::new(),
            expiry_order: BTreeSet::new(),
            aors_by_connection: HashMap::new(),
            next_binding_id: 0,
        }
    }

    /// Applies a REGISTER that digest authentication attributed to `authenticated_user`,
    /// received from `source` (RFC 3261 §10.3 steps 4–8). Either every binding change
    /// in the request is applied or none is.
    pub fn handle_register(
        &mut self,
        now: Instant,
        request: &Request,
        authenticated_user: &str,
        source: RegistrationSource,
    ) -> Result<RegisterResult, RegistrarError> {
        if request.method != Method::Register {
            return Err(RegistrarError::NotRegister);
        }
        let aor_uri = request.to_header()?.uri;
        let aor = canonical_aor(&aor_uri).ok_or(RegistrarError::NoUserInAor)?;
        // §10.3 step 4: the authenticated user must be allowed to modify this AOR; ours is
        // "an AOR belongs to the account whose username is its user part".
        if aor_user(&aor_uri).as_deref() != Some(authenticated_user) {
            return Ok(RegisterResult::Forbidden);
        }
        let call_id = String::from_utf8_lossy(request.call_id()?).trim().to_owned();
        let cseq = request.cseq()?.seq;
        let contacts = self.requested_contacts(request)?;

        let mut bindings = self.bindings_by_aor.get(&aor).cloned().unwrap_or_default();
        // Lapsed bindings not yet swept by `handle_timeout` neither count nor constrain.
        bindings.retain(|stored| stored.binding.expires_at > now);
        match contacts {
            ContactRequest::Query => {}
            ContactRequest::RemoveAll => {
                // §10.3 step 6: a binding written by this Call-ID with a CSeq not below ours
                // means this request is older: abort.
                if bindings.iter().any(|b| b.binding.call_id == call_id && b.binding.cseq >= cseq) {
                    return Err(RegistrarError::OutOfOrder);
                }
                bindings.clear();
            }
            ContactRequest::Update(requested) => {
                if let Some(shortest) = requested.iter().map(|c| c.expires_s).filter(|&s| s > 0).min() {
                    if shortest < self.config.min_expires_s {
                        return Ok(RegisterResult::IntervalTooBrief { min_expires_s: self.config.min_expires_s });
                    }
                }
                for contact in requested {
                    let origin = UpdateOrigin { now, aor: &aor, call_id: &call_id, cseq, source };
                    self.apply_contact(&origin, &mut bindings, contact)?;
                }
            }
        }
        if !self.bindings_by_aor.contains_key(&aor)
            && !bindings.is_empty()
            && self.bindings_by_aor.len() >= self.config.max_aors
        {
            return Err(RegistrarError::TooManyAors);
        }
        let bound = !bindings.is_empty();
        self.commit(&aor, bindings);
        if let (Some(connection), true) = (source.connection, bound) {
            self.aors_by_connection.entry(connection).or_default().insert(aor.clone());
        }
        Ok(RegisterResult::Ok { bindings: self.contacts_of_key(&aor) })
    }

    /// The driver reports `connection` closed: bindings made over it keep their Contact
    /// and lifetime but no longer name the connection, so the next request to the phone
    /// goes over a new one. Returns how many bindings changed.
    pub fn connection_closed(&mut self, connection: ConnectionId) -> usize {
        let Some(aors) = self.aors_by_connection.remove(&connection) else { return 0 };
        let mut changed = 0;
        for aor in aors {
            let Some(bindings) = self.bindings_by_aor.get_mut(&aor) else { continue };
            for stored in bindings.iter_mut().filter(|b| b.binding.source.connection == Some(connection)) {
                stored.binding.source.connection = None;
                changed += 1;
            }
        }
        changed
    }

    /// Applies one Contact to the tentative binding list (§10.3 step 7).
    fn apply_contact(
        &mut self,
        origin: &UpdateOrigin<'_>,
        bindings: &mut Vec<StoredBinding>,
        contact: RequestedContact,
    ) -> Result<(), RegistrarError> {
        let UpdateOrigin { now, aor, call_id, cseq, source } = *origin;
        let expires_at = now + Duration::from_secs(contact.expires_s);
        match bindings.iter().position(|b| b.key == contact.key) {
            Some(index) => {
                let existing = &bindings[index];
                if existing.binding.call_id == call_id && existing.binding.cseq >= cseq {
                    return Err(RegistrarError::OutOfOrder);
                }
                if contact.expires_s == 0 {
                    bindings.remove(index);
                } else {
                    let stored = &mut bindings[index];
                    stored.refreshed_at = now;
                    stored.binding.contact = contact.raw_uri;
                    stored.binding.source = source;
                    stored.binding.expires_at = expires_at;
                    stored.binding.call_id = call_id.to_owned();
                    stored.binding.cseq = cseq;
                }
            }
            None if contact.expires_s == 0 => {}
            None => {
                if bindings.len() >= self.config.max_contacts_per_aor.max(1) {
                    if let Some(stalest) =
                        bindings.iter().enumerate().min_by_key(|(_, b)| b.refreshed_at).map(|(i, _)| i)
                    {
                        bindings.remove(stalest);
                    }
                }
                self.next_binding_id += 1;
                bindings.push(StoredBinding {
                    id: self.next_binding_id,
                    key: contact.key,
                    refreshed_at: now,
                    binding: Binding {
                        aor: aor.to_owned(),
                        contact: contact.raw_uri,
                        source,
                        expires_at,
                        call_id: call_id.to_owned(),
                        cseq,
                    },
                });
            }
        }
        Ok(())
    }

    /// Makes `bindings` the AOR's bindings and brings the expiry order up to date.
    fn commit(&mut self, aor: &str, bindings: Vec<StoredBinding>) {
        if let Some(old) = self.bindings_by_aor.remove(aor) {
            for stored in old {
                self.expiry_order.remove(&(stored.binding.expires_at, stored.id, aor.to_owned()));
            }
        }
        if bindings.is_empty() {
            return;
        }
        for stored in &bindings {
            self.expiry_order.insert((stored.binding.expires_at, stored.id, aor.to_owned()));
        }
        self.bindings_by_aor.insert(aor.to_owned(), bindings);
    }

    /// Reads the Contact fields: query, wildcard removal, or a list with lifetimes.
    fn requested_contacts(&self, request: &Request) -> Result<ContactRequest, RegistrarError> {
        // A malformed Expires value counts as the default (RFC 3261 §20.19).
        let expires_header = request
            .headers
            .get_str(&HeaderName::Expires)
            .map(|text| parse_delta_seconds(text).unwrap_or(self.config.default_expires_s));
        let mut values = Vec::new();
        for field in request.headers.get_all(&HeaderName::Contact) {
            let text = std::str::from_utf8(field).map_err(|_| TypedError::Invalid("Contact"))?;
            values.extend(split_top_level_commas(text));
        }
        if values.is_empty() {
            return Ok(ContactRequest::Query);
        }
        if values.iter().any(|value| value.trim() == "*") {
            // §10.3 step 6: `*` only alone and only with Expires: 0.
            if values.len() != 1 || expires_header != Some(0) {
                return Err(RegistrarError::InvalidWildcard);
            }
            return Ok(ContactRequest::RemoveAll);
        }
        let mut requested = Vec::with_capacity(values.len());
        for value in values {
            let name_addr = NameAddr::parse(value.trim().as_bytes())?;
            let expires_param = name_addr
                .params
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case("expires"))
                .map(|p| p.value.as_deref().and_then(parse_delta_seconds).unwrap_or(self.config.default_expires_s));
            let expires_s = expires_param.or(expires_header).unwrap_or(self.config.default_expires_s);
            let key = ContactKey::of(&name_addr.uri);
            // The same Contact twice in one request: the later one wins.
            requested.retain(|earlier: &RequestedContact| earlier.key != key);
            requested.push(RequestedContact {
                raw_uri: raw_contact_uri(value.trim()),
                key,
                expires_s: expires_s.min(self.config.max_expires_s),
            });
        }
        Ok(ContactRequest::Update(requested))
    }

    /// Drops every binding whose lifetime ended at or before `now`; returns them.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Binding> {
        let mut expired = Vec::new();
        while let Some((expires_at, id, aor)) = self.expiry_order.first().cloned() {
            if expires_at > now {
                break;
            }
            self.expiry_order.pop_first();
            let Some(bindings) = self.bindings_by_aor.get_mut(&aor) else { continue };
            if let Some(index) = bindings.iter().position(|b| b.id == id) {
                expired.push(bindings.remove(index).binding);
            }
            if bindings.is_empty() {
                self.bindings_by_aor.remove(&aor);
            }
        }
        expired
    }

    /// When the next binding lapses, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiry_order.first().map(|(expires_at, _, _)| *expires_at)
    }

    /// The current bindings of the AOR named by `aor_uri` (e.g. `sip:agent7@example.org`);
    /// empty when it has none or does not parse.
    pub fn contacts(&self, aor_uri: &str) -> Vec<Binding> {
        match SipUri::parse(aor_uri.as_bytes()).ok().as_ref().and_then(canonical_aor) {
            Some(aor) => self.contacts_of_key(&aor),
            None => Vec::new(),
        }
    }

    fn contacts_of_key(&self, aor: &str) -> Vec<Binding> {
        self.bindings_by_aor
            .get(aor)
            .map(|bindings| bindings.iter().map(|stored| stored.binding.clone()).collect())
            .unwrap_or_default()
    }

    /// How many AORs have bindings.
    pub fn aor_count(&self) -> usize {
        self.bindings_by_aor.len()
    }
}

/// The AOR's user part with `%XX` escapes decoded (§10.3 step 5).
fn aor_user(uri: &SipUri) -> Option<String> {
    uri.user.as_deref().filter(|user| !user.is_empty()).map(percent_decode)
}

/// §10.3 step 5: the AOR in canonical form, `scheme:user@host` with parameters removed,
/// escapes decoded and the case-insensitive parts lowercased.
fn canonical_aor(uri: &SipUri) -> Option<String> {
    let user = aor_user(uri)?;
    Some(format!("{}:{}@{}", uri.scheme.to_ascii_lowercase(), user, uri.host.to_ascii_lowercase()))
}

/// Decodes `%XX` escapes; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let decoded = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `delta-seconds` (RFC 3261 §25.1); values beyond u64 saturate. `None` if not digits.
fn parse_delta_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

/// Splits a header value at commas outside quoted strings and angle brackets.
fn split_top_level_commas(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_quotes, mut in_angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (index, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' if !in_quotes && !in_angle => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|part| !part.trim().is_empty()).collect()
}

/// The URI text of one Contact value: inside `<…>` if present, else up to the first `;`
/// (without angle brackets, every `;` parameter belongs to the header, RFC 3261 §20.10).
fn raw_contact_uri(value: &str) -> String {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => {
                let rest = &value[index + 1..];
                return rest[..rest.find('>').unwrap_or(rest.len())].trim().to_owned();
            }
            _ => {}
        }
    }
    value[..value.find(';').unwrap_or(value.len())].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_contacts_outside_quotes_and_brackets() {
        let parts = split_top_level_commas(
            "\"Desk, 2\" <sip:a@192.0.2.1;x=\"1,2\">;expires=60, sip:b@192.0.2.2;expires=30 ,, <sip:c@h>",
        );
        assert_eq!(parts.len(), 3);
        assert_eq!(raw_contact_uri(parts[0].trim()), "sip:a@192.0.2.1;x=\"1,2\"");
        assert_eq!(raw_contact_uri(parts[1].trim()), "sip:b@192.0.2.2");
        assert_eq!(raw_contact_uri(parts[2].trim()), "sip:c@h");
        assert_eq!(raw_contact_uri("\"a <b>\" <sip:d@h>"), "sip:d@h");
    }

    #[test]
    fn delta_seconds_and_percent_decoding() {
        assert_eq!(parse_delta_seconds(" 3600 "), Some(3600));
        assert_eq!(parse_delta_seconds("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_delta_seconds("-1"), None);
        assert_eq!(parse_delta_seconds(""), None);
        assert_eq!(percent_decode("agent%37"), "agent7");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
