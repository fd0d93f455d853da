//! Digest authentication end to end: a simulated phone answers our challenges.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use veertien::core::rng::SeededRng;
use veertien::core::time::Instant;
use veertien::sip::auth::{
    compute_response, AuthConfig, AuthOutcome, Authenticator, ChallengeKind, DigestAlgorithm, QopAuth,
    StoredCredentials,
};
use veertien::sip::msg::{HeaderName, Method, Request};

const REALM: &str = "almere.veertien.test";
const REGISTRAR_URI: &str = "sip:almere.veertien.test";
const PHONE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
const OTHER_PHONE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 21));

fn at_s(seconds: u64) -> Instant {
    Instant::from_micros(seconds * 1_000_000)
}

fn authenticator(kind: ChallengeKind) -> Authenticator {
    let config = AuthConfig { kind, ..AuthConfig::new(REALM) };
    Authenticator::new(config, &mut SeededRng::fork(14036, "digest"))
}

fn accounts(username: &str) -> Option<StoredCredentials> {
    (username == "agent7").then(|| StoredCredentials::from_password("agent7", REALM, "correct horse"))
}

fn register() -> Request {
    let mut request = Request::new(Method::Register, REGISTRAR_URI);
    request.headers.push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKtest1");
    request.headers.push(HeaderName::From, "<sip:agent7@almere.veertien.test>;tag=p1");
    request.headers.push(HeaderName::To, "<sip:agent7@almere.veertien.test>");
    request.headers.push(HeaderName::CallId, "reg-1@192.0.2.20");
    request.headers.push(HeaderName::CSeq, "1 REGISTER");
    request
}

/// A quoted parameter of a challenge value, the way a phone reads it.
fn challenge_param(challenge: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = challenge.find(&marker).expect("parameter present") + marker.len();
    let end = challenge[start..].find('"').expect("closing quote") + start;
    challenge[start..end].to_owned()
}

/// What a phone sends back for `challenge` with `password` and nonce count `nc`.
struct Answer<'a> {
    username: &'a str,
    password: &'a str,
    algorithm: DigestAlgorithm,
    nc: u32,
    uri: &'a str,
    realm: &'a str,
    qop: bool,
}

impl<'a> Answer<'a> {
    fn new(password: &'a str, algorithm: DigestAlgorithm) -> Self {
        Answer { username: "agent7", password, algorithm, nc: 1, uri: REGISTRAR_URI, realm: REALM, qop: true }
    }

    fn header_value(&self, nonce: &str, opaque: &str) -> String {
        let ha1 = self.algorithm.ha1(self.username, self.realm, self.password);
        let nc = format!("{:08x}", self.nc);
        let qop = self.qop.then_some(QopAuth { nonce_count: &nc, cnonce: "0a4f113b" });
        let response = compute_response(self.algorithm, &ha1, "REGISTER", self.uri, nonce, qop);
        let qop_part = if self.qop { format!(", qop=auth, nc={nc}, cnonce=\"0a4f113b\"") } else { String::new() };
        format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{}\", response=\"{response}\", algorithm={}, opaque=\"{opaque}\"{qop_part}",
            self.username, self.realm, self.uri, self.algorithm.token()
        )
    }

    fn request(&self, nonce: &str, opaque: &str, kind: ChallengeKind) -> Request {
        let mut request = register();
        request.headers.push(kind.credentials_header(), self.header_value(nonce, opaque));
        request
    }
}

/// Gets a fresh challenge and returns (nonce, opaque).
fn fresh_challenge(auth: &mut Authenticator, now: Instant) -> (String, String) {
    let values = auth.challenge_values(now, false);
    (challenge_param(&values[0], "nonce"), challenge_param(&values[0], "opaque"))
}

#[test]
fn challenge_lists_sha256_before_md5() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let request = register();
    assert_eq!(auth.authenticate(at_s(1), &request, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    let response = auth.challenge_response(at_s(1), &request, false);
    assert_eq!(response.status, 401);
    let challenges: Vec<String> = response
        .headers
        .get_all(&HeaderName::WwwAuthenticate)
        .map(|value| String::from_utf8(value.to_vec()).expect("ascii"))
        .collect();
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].contains("algorithm=SHA-256"), "{}", challenges[0]);
    assert!(challenges[1].contains("algorithm=MD5"), "{}", challenges[1]);
    for challenge in &challenges {
        assert!(challenge.starts_with("Digest "));
        assert!(challenge.contains("qop=\"auth\""));
        assert!(challenge.contains(&format!("realm=\"{REALM}\"")));
        assert!(!challenge.contains("stale"));
    }
    assert_eq!(response.headers.get_str(&HeaderName::CallId), Some("reg-1@192.0.2.20"));
}

#[test]
fn correct_answers_with_either_algorithm_are_accepted() {
    for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Md5] {
        let mut auth = authenticator(ChallengeKind::Origin);
        let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
        let request = Answer::new("correct horse", algorithm).request(&nonce, &opaque, ChallengeKind::Origin);
        assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Ok("agent7".into()));
        assert_eq!(auth.stats().accepted, 1);
    }
}

#[test]
fn wrong_password_gets_401_then_403_after_the_limit_and_is_counted() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let wrong = Answer::new("battery staple", DigestAlgorithm::Sha256);
    let mut outcomes = Vec::new();
    for second in 1..=3 {
        let (nonce, opaque) = fresh_challenge(&mut auth, at_s(second));
        outcomes.push(auth.authenticate(
            at_s(second),
            &wrong.request(&nonce, &opaque, ChallengeKind::Origin),
            PHONE,
            accounts,
        ));
    }
    assert_eq!(
        outcomes,
        vec![AuthOutcome::Challenge { stale: false }, AuthOutcome::Challenge { stale: false }, AuthOutcome::Forbidden]
    );
    assert_eq!(auth.stats().wrong_responses, 3);
    assert_eq!(auth.stats().forbidden, 1);

    // Locked: even the right password gets 403 from that source until the window passes.
    let right = Answer::new("correct horse", DigestAlgorithm::Sha256);
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(4));
    let request = right.request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(4), &request, PHONE, accounts), AuthOutcome::Forbidden);
    // Another source is not affected.
    assert_eq!(auth.authenticate(at_s(4), &request, OTHER_PHONE, accounts), AuthOutcome::Ok("agent7".into()));
    let later = at_s(1) + Duration::from_secs(301);
    let (nonce, opaque) = fresh_challenge(&mut auth, later);
    let request = right.request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(later, &request, PHONE, accounts), AuthOutcome::Ok("agent7".into()));
}

#[test]
fn unknown_user_counts_as_a_wrong_answer() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let stranger = Answer { username: "nobody", ..Answer::new("whatever", DigestAlgorithm::Md5) };
    for second in 1..=2 {
        let (nonce, opaque) = fresh_challenge(&mut auth, at_s(second));
        let request = stranger.request(&nonce, &opaque, ChallengeKind::Origin);
        assert_eq!(auth.authenticate(at_s(second), &request, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    }
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(3));
    let request = stranger.request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(3), &request, PHONE, accounts), AuthOutcome::Forbidden);
}

#[test]
fn replayed_nonce_count_is_refused_and_a_higher_one_accepted() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
    let first = Answer::new("correct horse", DigestAlgorithm::Sha256).request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &first, PHONE, accounts), AuthOutcome::Ok("agent7".into()));
    assert_eq!(auth.authenticate(at_s(3), &first, PHONE, accounts), AuthOutcome::Challenge { stale: true });
    assert_eq!(auth.stats().replays, 1);
    assert_eq!(auth.stats().wrong_responses, 0);
    let second = Answer { nc: 2, ..Answer::new("correct horse", DigestAlgorithm::Sha256) };
    let request = second.request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(4), &request, PHONE, accounts), AuthOutcome::Ok("agent7".into()));
}

#[test]
fn without_qop_a_nonce_is_good_for_one_use() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
    let answer = Answer { qop: false, ..Answer::new("correct horse", DigestAlgorithm::Md5) };
    let request = answer.request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Ok("agent7".into()));
    assert_eq!(auth.authenticate(at_s(3), &request, PHONE, accounts), AuthOutcome::Challenge { stale: true });
}

#[test]
fn expired_nonce_with_right_answer_is_stale_not_a_failure() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
    let late = at_s(1) + Duration::from_secs(301);
    let right = Answer::new("correct horse", DigestAlgorithm::Sha256).request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(late, &right, PHONE, accounts), AuthOutcome::Challenge { stale: true });
    assert_eq!(auth.stats().wrong_responses, 0);
    assert_eq!(auth.stats().stale_challenged, 1);
    let values = auth.challenge_values(late, true);
    assert!(values.iter().all(|value| value.ends_with(", stale=true")));

    // With a wrong answer an expired nonce still counts as a failure.
    let wrong = Answer::new("battery staple", DigestAlgorithm::Sha256).request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(late, &wrong, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    assert_eq!(auth.stats().wrong_responses, 1);
}

#[test]
fn tampered_nonce_is_challenged_and_not_counted() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
    let mut tampered = nonce.clone().into_bytes();
    tampered[5] = if tampered[5] == b'x' { b'y' } else { b'x' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let request =
        Answer::new("correct horse", DigestAlgorithm::Sha256).request(&tampered, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    assert_eq!(auth.stats().wrong_responses, 0);
    // A nonce from another server instance (another secret) is not ours either.
    let mut other = Authenticator::new(AuthConfig::new(REALM), &mut SeededRng::fork(14070, "digest"));
    let (foreign, _) = fresh_challenge(&mut other, at_s(1));
    let request =
        Answer::new("correct horse", DigestAlgorithm::Sha256).request(&foreign, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Challenge { stale: false });
}

#[test]
fn answers_for_another_request_uri_realm_or_opaque_are_challenged() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
    let other_uri = Answer { uri: "sip:zwolle.veertien.test", ..Answer::new("correct horse", DigestAlgorithm::Sha256) };
    let other_realm = Answer { realm: "zwolle", ..Answer::new("correct horse", DigestAlgorithm::Sha256) };
    for answer in [other_uri, other_realm] {
        let request = answer.request(&nonce, &opaque, ChallengeKind::Origin);
        assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    }
    let request =
        Answer::new("correct horse", DigestAlgorithm::Sha256).request(&nonce, "not-ours", ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    assert_eq!(auth.stats().wrong_responses, 0);
}

#[test]
fn account_without_the_hash_for_that_algorithm_is_refused() {
    let mut auth = authenticator(ChallengeKind::Origin);
    let sha_only = |username: &str| accounts(username).map(|stored| StoredCredentials { ha1_md5: None, ..stored });
    let (nonce, opaque) = fresh_challenge(&mut auth, at_s(1));
    let md5 = Answer::new("correct horse", DigestAlgorithm::Md5).request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &md5, PHONE, sha_only), AuthOutcome::Challenge { stale: false });
    let sha = Answer::new("correct horse", DigestAlgorithm::Sha256).request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &sha, PHONE, sha_only), AuthOutcome::Ok("agent7".into()));
}

#[test]
fn proxy_authentication_uses_407_and_proxy_headers() {
    let mut auth = authenticator(ChallengeKind::Proxy);
    let response = auth.challenge_response(at_s(1), &register(), false);
    assert_eq!(response.status, 407);
    let challenge = response.headers.get_str(&HeaderName::ProxyAuthenticate).expect("challenge").to_owned();
    assert!(response.headers.get(&HeaderName::WwwAuthenticate).is_none());
    let nonce = challenge_param(&challenge, "nonce");
    let opaque = challenge_param(&challenge, "opaque");
    let answer = Answer::new("correct horse", DigestAlgorithm::Sha256);
    // Credentials in the wrong header are not looked at.
    let misplaced = answer.request(&nonce, &opaque, ChallengeKind::Origin);
    assert_eq!(auth.authenticate(at_s(2), &misplaced, PHONE, accounts), AuthOutcome::Challenge { stale: false });
    let request = answer.request(&nonce, &opaque, ChallengeKind::Proxy);
    assert_eq!(auth.authenticate(at_s(2), &request, PHONE, accounts), AuthOutcome::Ok("agent7".into()));
}

#[test]
fn mutated_credentials_never_panic() {
    let valid = Answer::new("correct horse", DigestAlgorithm::Sha256).header_value("bm9uY2U", "opaque");
    let mut rng = SeededRng::fork(7, "digest-mutation");
    let mut auth = authenticator(ChallengeKind::Origin);
    for _ in 0..5_000 {
        let mut bytes = valid.clone().into_bytes();
        for _ in 0..=rng.below(4) {
            let index = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[index] = rng.below(256) as u8,
                1 => {
                    bytes.remove(index);
                }
                _ => bytes.insert(index, b"\",=\\ \t"[rng.below(6) as usize]),
            }
            if bytes.is_empty() {
                break;
            }
        }
        let _ = veertien::sip::auth::DigestCredentials::parse(&bytes);
        let mut request = register();
        request.headers.push(HeaderName::Authorization, bytes);
        let outcome = auth.authenticate(at_s(1), &request, PHONE, accounts);
        assert!(!matches!(outcome, AuthOutcome::Ok(_)), "a mutated answer to no challenge was accepted");
    }
}
