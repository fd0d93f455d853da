//! The registrar (RFC 3261 §10.3) driven with hand-built REGISTER requests and a virtual clock.

use std::net::SocketAddr;
use std::time::Duration;
use veertien::core::time::Instant;
use veertien::sip::msg::{HeaderName, Method, Request};
use veertien::sip::registrar::{
    RegisterResult, Registrar, RegistrarConfig, RegistrarError, RegistrationSource, SourceTransport,
};

const AOR: &str = "sip:agent7@almere.veertien.test";

fn at_s(seconds: u64) -> Instant {
    Instant::from_micros(seconds * 1_000_000)
}

fn source(port: u16) -> RegistrationSource {
    let addr: SocketAddr = format!("192.0.2.20:{port}").parse().expect("literal address");
    RegistrationSource { addr, transport: SourceTransport::Udp, connection: None }
}

/// A REGISTER for `to_uri` with the given Call-ID, CSeq, Contact values and Expires header.
fn register_to(to_uri: &str, call_id: &str, cseq: u32, contacts: &[&str], expires: Option<&str>) -> Request {
    let mut request = Request::new(Method::Register, "sip:almere.veertien.test");
    request.headers.push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKreg");
    request.headers.push(HeaderName::From, format!("<{to_uri}>;tag=f1"));
    request.headers.push(HeaderName::To, format!("<{to_uri}>"));
    request.headers.push(HeaderName::CallId, call_id.to_owned());
    request.headers.push(HeaderName::CSeq, format!("{cseq} REGISTER"));
    for contact in contacts {
        request.headers.push(HeaderName::Contact, contact.to_string());
    }
    if let Some(expires) = expires {
        request.headers.push(HeaderName::Expires, expires.to_owned());
    }
    request
}

fn register(call_id: &str, cseq: u32, contacts: &[&str], expires: Option<&str>) -> Request {
    register_to(AOR, call_id, cseq, contacts, expires)
}

fn contact_uris(registrar: &Registrar) -> Vec<String> {
    let mut uris: Vec<String> = registrar.contacts(AOR).into_iter().map(|b| b.contact).collect();
    uris.sort();
    uris
}

fn ok_bindings(result: Result<RegisterResult, RegistrarError>) -> Vec<veertien::sip::registrar::Binding> {
    match result {
        Ok(RegisterResult::Ok { bindings }) => bindings,
        other => panic!("expected 200 OK, got {other:?}"),
    }
}

#[test]
fn binds_a_contact_with_the_default_lifetime_and_answers_200_with_it() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20:5060>"], None);
    let result = registrar.handle_register(at_s(10), &request, "agent7", source(5060)).expect("valid register");
    let RegisterResult::Ok { bindings } = &result else { panic!("expected 200, got {result:?}") };
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].contact, "sip:agent7@192.0.2.20:5060");
    assert_eq!(bindings[0].aor, AOR);
    assert_eq!(bindings[0].expires_at, at_s(10) + Duration::from_secs(3600));
    assert_eq!(bindings[0].source, source(5060));

    let response = result.to_response(at_s(10), &request);
    assert_eq!(response.status, 200);
    assert_eq!(response.headers.get_str(&HeaderName::Contact), Some("<sip:agent7@192.0.2.20:5060>;expires=3600"));
    assert_eq!(response.headers.get_str(&HeaderName::CallId), Some("c1"));
    assert_eq!(registrar.contacts(AOR), *bindings);
}

#[test]
fn contact_expires_parameter_beats_the_expires_header_and_several_contacts_coexist() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register(
        "c1",
        1,
        &["<sip:agent7@192.0.2.20:5060>;expires=120, <sip:agent7@192.0.2.21:5060>", "sip:agent7@192.0.2.22"],
        Some("600"),
    );
    let mut bindings = ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));
    bindings.sort_by(|a, b| a.contact.cmp(&b.contact));
    let lifetimes: Vec<Duration> = bindings.iter().map(|b| b.expires_at - at_s(0)).collect();
    assert_eq!(lifetimes, vec![Duration::from_secs(120), Duration::from_secs(600), Duration::from_secs(600)]);

    // Another phone of the same agent adds a binding under its own Call-ID.
    let other = register("c2", 1, &["<sip:agent7@198.51.100.5:5070>"], None);
    assert_eq!(ok_bindings(registrar.handle_register(at_s(5), &other, "agent7", source(5070))).len(), 4);
    assert_eq!(contact_uris(&registrar).len(), 4);
}

#[test]
fn too_brief_interval_gets_423_and_changes_nothing() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20>;expires=30", "<sip:agent7@192.0.2.21>"], None);
    let result = registrar.handle_register(at_s(0), &request, "agent7", source(5060)).expect("handled");
    assert_eq!(result, RegisterResult::IntervalTooBrief { min_expires_s: 60 });
    let response = result.to_response(at_s(0), &request);
    assert_eq!(response.status, 423);
    assert_eq!(response.headers.get_str(&HeaderName::MinExpires), Some("60"));
    assert!(registrar.contacts(AOR).is_empty());
}

#[test]
fn too_long_interval_is_clamped_to_the_maximum() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20>"], Some("86400"));
    let bindings = ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));
    assert_eq!(bindings[0].expires_at, at_s(7200));
}

#[test]
fn wildcard_with_expires_zero_removes_every_binding() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20>", "<sip:agent7@192.0.2.21>"], None);
    ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));

    let no_expires = register("c1", 2, &["*"], None);
    assert_eq!(
        registrar.handle_register(at_s(1), &no_expires, "agent7", source(5060)),
        Err(RegistrarError::InvalidWildcard)
    );
    let with_other = register("c1", 2, &["*", "<sip:agent7@192.0.2.22>"], Some("0"));
    assert_eq!(
        registrar.handle_register(at_s(1), &with_other, "agent7", source(5060)),
        Err(RegistrarError::InvalidWildcard)
    );
    assert_eq!(contact_uris(&registrar).len(), 2);

    let remove_all = register("c1", 2, &["*"], Some("0"));
    assert!(ok_bindings(registrar.handle_register(at_s(1), &remove_all, "agent7", source(5060))).is_empty());
    assert!(registrar.contacts(AOR).is_empty());
    assert_eq!(registrar.aor_count(), 0);
    assert_eq!(registrar.poll_timeout(), None);
}

#[test]
fn wildcard_older_than_a_binding_of_the_same_call_id_is_refused() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    ok_bindings(registrar.handle_register(
        at_s(0),
        &register("c1", 5, &["<sip:agent7@192.0.2.20>"], None),
        "agent7",
        source(5060),
    ));
    let stale_wildcard = register("c1", 5, &["*"], Some("0"));
    assert_eq!(
        registrar.handle_register(at_s(1), &stale_wildcard, "agent7", source(5060)),
        Err(RegistrarError::OutOfOrder)
    );
    assert_eq!(contact_uris(&registrar).len(), 1);
}

#[test]
fn expires_zero_on_one_contact_removes_only_that_binding() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20>", "<sip:agent7@192.0.2.21>"], None);
    ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));
    let remove_one = register("c1", 2, &["<sip:agent7@192.0.2.20>;expires=0"], None);
    let bindings = ok_bindings(registrar.handle_register(at_s(1), &remove_one, "agent7", source(5060)));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].contact, "sip:agent7@192.0.2.21");
}

#[test]
fn same_call_id_needs_a_higher_cseq_other_call_ids_do_not() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let contact = "<sip:agent7@192.0.2.20>";
    ok_bindings(registrar.handle_register(
        at_s(0),
        &register("c1", 10, &[contact], Some("600")),
        "agent7",
        source(5060),
    ));

    for old_cseq in [9, 10] {
        let reordered = register("c1", old_cseq, &[&format!("{contact};expires=0")], None);
        let result = registrar.handle_register(at_s(1), &reordered, "agent7", source(5060));
        assert_eq!(result, Err(RegistrarError::OutOfOrder));
        assert_eq!(RegistrarError::OutOfOrder.to_response(&reordered).status, 500);
    }
    assert_eq!(registrar.contacts(AOR)[0].expires_at, at_s(600));

    let refresh = register("c1", 11, &[contact], Some("900"));
    let bindings = ok_bindings(registrar.handle_register(at_s(2), &refresh, "agent7", source(5061)));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].expires_at, at_s(902));
    assert_eq!(bindings[0].cseq, 11);
    assert_eq!(bindings[0].source, source(5061));

    // A phone that rebooted uses a new Call-ID and may start its CSeq low again.
    let rebooted = register("c9", 1, &[contact], Some("300"));
    let bindings = ok_bindings(registrar.handle_register(at_s(3), &rebooted, "agent7", source(5062)));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].expires_at, at_s(303));
}

#[test]
fn bindings_expire_through_the_timeout() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request =
        register("c1", 1, &["<sip:agent7@192.0.2.20>;expires=60", "<sip:agent7@192.0.2.21>;expires=120"], None);
    ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));
    assert_eq!(registrar.poll_timeout(), Some(at_s(60)));
    assert!(registrar.handle_timeout(at_s(59)).is_empty());

    let expired = registrar.handle_timeout(at_s(60));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].contact, "sip:agent7@192.0.2.20");
    assert_eq!(contact_uris(&registrar), vec!["sip:agent7@192.0.2.21".to_owned()]);
    assert_eq!(registrar.poll_timeout(), Some(at_s(120)));

    assert_eq!(registrar.handle_timeout(at_s(500)).len(), 1);
    assert!(registrar.contacts(AOR).is_empty());
    assert_eq!(registrar.poll_timeout(), None);
    assert_eq!(registrar.aor_count(), 0);
}

#[test]
fn a_refresh_moves_the_deadline() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let contact = "<sip:agent7@192.0.2.20>";
    ok_bindings(registrar.handle_register(at_s(0), &register("c1", 1, &[contact], Some("60")), "agent7", source(5060)));
    ok_bindings(registrar.handle_register(
        at_s(50),
        &register("c1", 2, &[contact], Some("60")),
        "agent7",
        source(5060),
    ));
    assert_eq!(registrar.poll_timeout(), Some(at_s(110)));
    assert!(registrar.handle_timeout(at_s(60)).is_empty());
    assert_eq!(registrar.contacts(AOR).len(), 1);
}

#[test]
fn only_the_authenticated_user_may_bind_its_aor() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20>"], None);
    let result = registrar.handle_register(at_s(0), &request, "agent8", source(5060)).expect("handled");
    assert_eq!(result, RegisterResult::Forbidden);
    assert_eq!(result.to_response(at_s(0), &request).status, 403);
    assert!(registrar.contacts(AOR).is_empty());
}

#[test]
fn aor_is_canonical_for_lookup() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request =
        register_to("sip:agent%37@ALMERE.veertien.test;user=phone", "c1", 1, &["<sip:agent7@192.0.2.20>"], None);
    ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));
    assert_eq!(registrar.contacts(AOR).len(), 1);
    assert_eq!(registrar.contacts("sip:agent7@Almere.Veertien.Test").len(), 1);
    assert!(registrar.contacts("sip:agent8@almere.veertien.test").is_empty());
    assert!(registrar.contacts("not a uri").is_empty());
}

#[test]
fn at_the_contact_bound_the_least_recently_refreshed_binding_is_replaced() {
    let config = RegistrarConfig { max_contacts_per_aor: 3, ..RegistrarConfig::default() };
    let mut registrar = Registrar::new(config);
    for (second, host) in [(0, "192.0.2.1"), (1, "192.0.2.2"), (2, "192.0.2.3")] {
        let request = register(&format!("c-{host}"), 1, &[&format!("<sip:agent7@{host}>")], None);
        ok_bindings(registrar.handle_register(at_s(second), &request, "agent7", source(5060)));
    }
    // Refresh the first so the second becomes the stalest.
    let refresh = register("c-192.0.2.1", 2, &["<sip:agent7@192.0.2.1>"], None);
    ok_bindings(registrar.handle_register(at_s(3), &refresh, "agent7", source(5060)));
    let newcomer = register("c-new", 1, &["<sip:agent7@192.0.2.4>"], None);
    let bindings = ok_bindings(registrar.handle_register(at_s(4), &newcomer, "agent7", source(5060)));
    assert_eq!(bindings.len(), 3);
    assert_eq!(contact_uris(&registrar), vec!["sip:agent7@192.0.2.1", "sip:agent7@192.0.2.3", "sip:agent7@192.0.2.4"]);
    // The replaced binding's deadline is gone too: the next one belongs to a kept binding.
    assert_eq!(registrar.poll_timeout(), Some(at_s(2) + Duration::from_secs(3600)));
}

#[test]
fn at_the_aor_bound_new_aors_are_refused_with_503() {
    let config = RegistrarConfig { max_aors: 2, ..RegistrarConfig::default() };
    let mut registrar = Registrar::new(config);
    for agent in ["agent1", "agent2"] {
        let request = register_to(&format!("sip:{agent}@almere.veertien.test"), "c1", 1, &["<sip:x@192.0.2.1>"], None);
        ok_bindings(registrar.handle_register(at_s(0), &request, agent, source(5060)));
    }
    let third = register_to("sip:agent3@almere.veertien.test", "c1", 1, &["<sip:x@192.0.2.1>"], None);
    let error = registrar.handle_register(at_s(1), &third, "agent3", source(5060)).expect_err("full");
    assert_eq!(error, RegistrarError::TooManyAors);
    assert_eq!(error.to_response(&third).status, 503);
    // Existing AORs keep working.
    let refresh = register_to("sip:agent1@almere.veertien.test", "c1", 2, &["<sip:x@192.0.2.1>"], None);
    ok_bindings(registrar.handle_register(at_s(1), &refresh, "agent1", source(5060)));
    assert_eq!(registrar.aor_count(), 2);
}

#[test]
fn register_without_contact_is_a_query() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    ok_bindings(registrar.handle_register(
        at_s(0),
        &register("c1", 1, &["<sip:agent7@192.0.2.20>"], None),
        "agent7",
        source(5060),
    ));
    let query = register("c1", 2, &[], None);
    let bindings = ok_bindings(registrar.handle_register(at_s(100), &query, "agent7", source(5060)));
    assert_eq!(bindings.len(), 1);
    let response = RegisterResult::Ok { bindings }.to_response(at_s(100), &query);
    assert_eq!(response.headers.get_str(&HeaderName::Contact), Some("<sip:agent7@192.0.2.20>;expires=3500"));
}

#[test]
fn malformed_or_foreign_requests_are_errors() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let mut invite = register("c1", 1, &["<sip:agent7@192.0.2.20>"], None);
    invite.method = Method::Invite;
    let error = registrar.handle_register(at_s(0), &invite, "agent7", source(5060)).expect_err("not register");
    assert_eq!(error, RegistrarError::NotRegister);
    assert_eq!(error.to_response(&invite).status, 405);

    let mut no_to = register("c1", 1, &["<sip:agent7@192.0.2.20>"], None);
    no_to.headers.remove(&HeaderName::To);
    let error = registrar.handle_register(at_s(0), &no_to, "agent7", source(5060)).expect_err("no To");
    assert_eq!(error.status().0, 400);

    let no_user = register_to("sip:almere.veertien.test", "c1", 1, &["<sip:agent7@192.0.2.20>"], None);
    assert_eq!(registrar.handle_register(at_s(0), &no_user, "agent7", source(5060)), Err(RegistrarError::NoUserInAor));

    let bad_contact = register("c1", 1, &["<sip:agent7@192.0.2.20"], None);
    let error = registrar.handle_register(at_s(0), &bad_contact, "agent7", source(5060)).expect_err("bad contact");
    assert_eq!(error.status().0, 400);
    assert!(registrar.contacts(AOR).is_empty());
}

#[test]
fn challenged_register_then_authenticated_binding() {
    use veertien::core::rng::SeededRng;
    use veertien::sip::auth::{
        compute_response, AuthConfig, AuthOutcome, Authenticator, DigestAlgorithm, QopAuth, StoredCredentials,
    };
    let realm = "almere.veertien.test";
    let accounts = |username: &str| {
        (username == "agent7").then(|| StoredCredentials::from_password("agent7", realm, "correct horse"))
    };
    let mut auth = Authenticator::new(AuthConfig::new(realm), &mut SeededRng::fork(1, "digest"));
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let phone = source(5060).addr.ip();

    let first = register("c1", 1, &["<sip:agent7@192.0.2.20>"], None);
    assert_eq!(auth.authenticate(at_s(0), &first, phone, accounts), AuthOutcome::Challenge { stale: false });
    let challenge = auth.challenge_response(at_s(0), &first, false);
    let value = challenge.headers.get_str(&HeaderName::WwwAuthenticate).expect("challenge").to_owned();
    let param = |name: &str| {
        let marker = format!("{name}=\"");
        let start = value.find(&marker).expect("param") + marker.len();
        value[start..start + value[start..].find('"').expect("quote")].to_owned()
    };
    let (nonce, opaque) = (param("nonce"), param("opaque"));

    let mut second = register("c1", 2, &["<sip:agent7@192.0.2.20>"], None);
    let ha1 = DigestAlgorithm::Sha256.ha1("agent7", realm, "correct horse");
    let qop = QopAuth { nonce_count: "00000001", cnonce: "abc" };
    let uri = "sip:almere.veertien.test";
    let response = compute_response(DigestAlgorithm::Sha256, &ha1, "REGISTER", uri, &nonce, Some(qop));
    second.headers.push(
        HeaderName::Authorization,
        format!(
            "Digest username=\"agent7\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"abc\", opaque=\"{opaque}\""
        ),
    );
    let AuthOutcome::Ok(user) = auth.authenticate(at_s(1), &second, phone, accounts) else {
        panic!("the right answer is accepted")
    };
    let result = registrar.handle_register(at_s(1), &second, &user, source(5060)).expect("valid");
    assert_eq!(result.to_response(at_s(1), &second).status, 200);
    assert_eq!(registrar.contacts(AOR).len(), 1);
}

#[test]
fn the_same_contact_twice_in_one_request_counts_once_with_the_later_lifetime() {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let request =
        register("c1", 1, &["<sip:agent7@192.0.2.20>;expires=300, <SIP:agent7@192.0.2.20>;expires=600"], None);
    let bindings = ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", source(5060)));
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].expires_at, at_s(600));
}

#[test]
fn a_tcp_binding_remembers_its_connection_until_it_closes() {
    use veertien::core::ids::ConnectionId;
    let mut registrar = Registrar::new(RegistrarConfig::default());
    let over_tcp = |connection: u64| RegistrationSource {
        addr: "192.0.2.20:40000".parse().expect("literal address"),
        transport: SourceTransport::Tcp,
        connection: Some(ConnectionId(connection)),
    };
    let request = register("c1", 1, &["<sip:agent7@192.0.2.20:5060;transport=tcp>"], None);
    ok_bindings(registrar.handle_register(at_s(0), &request, "agent7", over_tcp(3)));
    assert_eq!(registrar.contacts(AOR)[0].source.connection, Some(ConnectionId(3)));

    assert_eq!(registrar.connection_closed(ConnectionId(9)), 0, "another connection changes nothing");
    assert_eq!(registrar.connection_closed(ConnectionId(3)), 1);
    let bindings = registrar.contacts(AOR);
    assert_eq!(bindings.len(), 1, "the binding outlives its connection: the Contact may still be reachable");
    assert_eq!(bindings[0].source.connection, None);
    assert_eq!(registrar.connection_closed(ConnectionId(3)), 0, "a closed connection is forgotten once");

    // A refresh over a new connection names the new one; the old one closing later is stale.
    let refresh = register("c1", 2, &["<sip:agent7@192.0.2.20:5060;transport=tcp>"], None);
    ok_bindings(registrar.handle_register(at_s(10), &refresh, "agent7", over_tcp(4)));
    assert_eq!(registrar.connection_closed(ConnectionId(3)), 0);
    assert_eq!(registrar.contacts(AOR)[0].source.connection, Some(ConnectionId(4)));
}
