//! RFC 4475 torture messages against the message layer: for every file, what the table in
//! `tests/data/rfc4475/README.md` says must happen, as far as parse and validation decide it.
//!
//! Where the RFC's answer needs knowledge the message layer does not have (registrar
//! rules, accepted body types, authentication, routing), the file must parse and
//! validate cleanly and the comment names what the engine must do with it.

use bytes::Bytes;
use std::path::PathBuf;
use veertien::sip::msg::{parse, validate_request, validate_response, HeaderName, Message, ParseError, Rejection};

/// Option tags the daemon supports; none of the corpus's made-up tags are among them.
const SUPPORTED: &[&str] = &["timer", "100rel", "replaces"];

/// What the message layer must do with one file.
#[derive(Debug)]
enum Expect {
    /// Parses, and validates without objection.
    Accept,
    /// `parse` fails; `Some(status)` when the start line and Via/From/To/Call-ID/CSeq
    /// allow an answer with that status, `None` when the message must be dropped.
    ParseError(Option<u16>),
    /// Parses, but `validate_request` refuses it with this status.
    Rejected(u16),
}

fn expectation(file: &str) -> Expect {
    use Expect::*;
    match file {
        // §3.1.1: valid messages.
        "wsinv" | "intmeth" | "esc01" | "escnull" | "esc02" | "lwsdisp" | "longreq" | "dblreq" | "semiuri"
        | "transports" | "mpart01" | "unreason" | "noreason" => Accept,
        // §3.1.2: malformed. A Via that does not parse leaves nowhere to answer.
        "badinv01" => ParseError(None),
        "clerr" | "ncl" | "scalar02" | "quotbal" | "ltgtruri" | "lwsruri" | "lwsstart" | "trws" | "escruri"
        | "baddate" | "regbadct" | "badaspec" | "baddn" => ParseError(Some(400)),
        "badvers" => ParseError(Some(505)),
        // Malformed responses are dropped.
        "scalarlg" | "bigcode" => ParseError(None),
        // Well-formed but inconsistent: refused by validation with 400.
        "mismatch01" | "mismatch02" => Rejected(400),
        // §3.2–§3.4, answered here.
        "insuf" | "multi01" | "mcl01" => Rejected(400),
        "unkscm" | "novelsc" => Rejected(416),
        "bext01" => Rejected(420),
        // Left to the engine (valid for the message layer):
        // badbranch: branch is only the magic cookie; process normally (transaction layer).
        // unksm2: registrar answers 400, the To of a REGISTER must be a SIP(S) URI.
        // invut: 415 Unsupported Media Type with Accept (engine's body handling).
        // regaut01: unknown Authorization scheme; challenge with 401 (registrar).
        // bcast: response whose second Via is a broadcast address; never forward it.
        // zeromf: Max-Forwards 0 only stops forwarding; a UAS answers the OPTIONS.
        // cparam01/cparam02: registrar stores the Contact with its parameters.
        // regescrt: registrar must not turn the escaped Route into a header.
        // sdp01: Accept excludes SDP: answer 406 Not Acceptable.
        // inv2543: RFC 2543 peer (no branch, no Max-Forwards): RFC 3261 §17.2.3 matching.
        "badbranch" | "unksm2" | "invut" | "regaut01" | "bcast" | "zeromf" | "cparam01" | "cparam02" | "regescrt"
        | "sdp01" | "inv2543" => Accept,
        other => panic!("{other}.dat is not in the RFC 4475 table"),
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475")
}

/// Every `.dat` file with its name (without extension) and bytes, sorted by name.
fn corpus() -> Vec<(String, Bytes)> {
    let mut files: Vec<(String, Bytes)> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dat"))
        .map(|path| {
            let name = path.file_stem().expect("file name").to_string_lossy().into_owned();
            (name, Bytes::from(std::fs::read(&path).expect("readable file")))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn validate(message: &Message) -> Result<(), Rejection> {
    match message {
        Message::Request(request) => validate_request(request, SUPPORTED),
        Message::Response(response) => {
            validate_response(response).map_err(|reason| Rejection { status: 0, reason, headers: Vec::new() })
        }
    }
}

fn check_file(name: &str, bytes: Bytes) -> Result<(), String> {
    let result = parse(bytes);
    match (expectation(name), result) {
        (Expect::Accept, Ok(message)) => validate(&message).map_err(|r| format!("validation refused: {r:?}")),
        (Expect::Rejected(status), Ok(message)) => match validate(&message) {
            Err(rejection) if rejection.status == status => Ok(()),
            other => Err(format!("expected rejection {status}, got {other:?}")),
        },
        (Expect::ParseError(reply), Err(ParseError { status, request_for_reply, reason })) => {
            match (reply, request_for_reply) {
                (None, None) => Ok(()),
                (Some(expected), Some(request)) if expected == status => {
                    // The reply basis must let the caller build the answer.
                    let needed = [HeaderName::Via, HeaderName::From, HeaderName::To, HeaderName::CallId, HeaderName::CSeq];
                    match needed.iter().all(|h| request.headers.get(h).is_some()) {
                        true => Ok(()),
                        false => Err("reply basis lacks headers".to_string()),
                    }
                }
                (expected, got) => Err(format!("expected reply {expected:?}, got status {status} ({reason}) with {got:?}")),
            }
        }
        (expected, got) => Err(format!("expected {expected:?}, got {got:?}")),
    }
}

#[test]
fn every_corpus_file_gets_the_rfc_answer() {
    let files = corpus();
    assert_eq!(files.len(), 49, "the RFC has 49 messages");
    let failures: Vec<String> = files
        .into_iter()
        .filter_map(|(name, bytes)| check_file(&name, bytes).err().map(|why| format!("{name}: {why}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn readme_table_matches_the_expectations() {
    let readme = std::fs::read_to_string(corpus_dir().join("README.md")).expect("README");
    let mut rows = 0;
    for line in readme.lines().filter(|line| line.starts_with("| ") && line.contains(".dat")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (file, expect) = (cells[1].trim_end_matches(".dat"), cells[3]);
        let consistent = matches!(
            (expect, expectation(file)),
            ("parse", Expect::Accept)
                | ("reject", Expect::ParseError(_) | Expect::Rejected(400))
                | ("semantic-400", Expect::Rejected(400))
                | ("semantic", _)
        );
        assert!(consistent, "{file}: README says {expect}, test expects {:?}", expectation(file));
        rows += 1;
    }
    assert_eq!(rows, 49);
}

#[test]
fn bext01_lists_every_unsupported_option() {
    let bytes = std::fs::read(corpus_dir().join("bext01.dat")).expect("file");
    let Ok(Message::Request(request)) = parse(Bytes::from(bytes)) else { panic!("bext01 parses") };
    let rejection = validate_request(&request, SUPPORTED).expect_err("420");
    assert_eq!(rejection.headers.len(), 1);
    assert_eq!(rejection.headers[0].name, HeaderName::Unsupported);
    assert_eq!(rejection.headers[0].value.as_ref(), b"nothingSupportsThis, nothingSupportsThisEither");
}

#[test]
fn insuf_names_a_missing_header() {
    let bytes = std::fs::read(corpus_dir().join("insuf.dat")).expect("file");
    let Ok(Message::Request(request)) = parse(Bytes::from(bytes)) else { panic!("insuf parses") };
    let rejection = validate_request(&request, SUPPORTED).expect_err("400");
    assert!(rejection.reason.starts_with("Missing "), "{}", rejection.reason);
}

/// Headers other than Content-Length (which serialisation recomputes) in order.
fn headers_without_length(message: &Message) -> Vec<(String, Bytes)> {
    message
        .headers()
        .iter()
        .filter(|h| h.name != HeaderName::ContentLength)
        .map(|h| (h.name.as_str().to_string(), h.value.clone()))
        .collect()
}

fn body(message: &Message) -> &Bytes {
    match message {
        Message::Request(r) => &r.body,
        Message::Response(r) => &r.body,
    }
}

#[test]
fn valid_messages_survive_a_round_trip() {
    let mut round_tripped = 0;
    for (name, bytes) in corpus() {
        let Ok(first) = parse(bytes) else { continue };
        let second = parse(first.to_bytes()).unwrap_or_else(|e| panic!("{name}: re-parse failed: {e}"));
        assert_eq!(headers_without_length(&first), headers_without_length(&second), "{name}: headers");
        assert_eq!(body(&first), body(&second), "{name}: body");
        match (&first, &second) {
            (Message::Request(a), Message::Request(b)) => assert_eq!((&a.method, &a.uri), (&b.method, &b.uri), "{name}"),
            (Message::Response(a), Message::Response(b)) => assert_eq!((a.status, &a.reason), (b.status, &b.reason), "{name}"),
            _ => panic!("{name}: kind changed"),
        }
        assert_eq!(second.to_bytes(), first.to_bytes(), "{name}: serialisation is stable");
        round_tripped += 1;
    }
    assert!(round_tripped >= 13 + 13, "at least the valid and semantic files round-trip, got {round_tripped}");
}

#[test]
fn multipart_body_is_byte_identical() {
    let bytes = Bytes::from(std::fs::read(corpus_dir().join("mpart01.dat")).expect("file"));
    let Ok(Message::Request(request)) = parse(bytes.clone()) else { panic!("mpart01 parses") };
    let declared: usize = request.headers.get_str(&HeaderName::ContentLength).expect("length").trim().parse().expect("number");
    assert_eq!(request.body.len(), declared);
    assert!(bytes.ends_with(&request.body), "the body is the datagram's tail");
    assert!(request.body.iter().any(|b| !b.is_ascii()), "mpart01 carries binary");
}

#[test]
fn dblreq_keeps_only_the_first_request() {
    let bytes = std::fs::read(corpus_dir().join("dblreq.dat")).expect("file");
    let Ok(Message::Request(request)) = parse(Bytes::from(bytes)) else { panic!("dblreq parses") };
    assert!(request.body.is_empty(), "Content-Length 0 cuts the second request off (RFC 3261 §18.3)");
}
