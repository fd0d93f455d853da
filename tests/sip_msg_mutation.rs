//! Seeded mutation fuzzing of the message layer over the RFC 4475 corpus.
//!
//! Every case is a corpus message with a few random mutations (byte flips, insertions,
//! deletions, truncations, spliced or duplicated header lines, huge numbers, stray line
//! breaks). The properties: nothing panics; a parsed message serialises to bytes that
//! parse again to the same message; every typed view that parses prints back to text that
//! parses to the same value. `FUZZ_ITERATIONS` sets the number of cases and
//! `FUZZ_SEED` the seed; a failure prints both and the case.

use bytes::Bytes;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use veertien::core::rng::SeededRng;
use veertien::sip::msg::{
    parse, validate_request, validate_response, CSeq, HeaderName, Message, NameAddr, Response, SipUri, StreamFramer,
    Via,
};

const DEFAULT_SEED: u64 = 4475;

/// Fewer cases in unoptimised builds, where each one costs roughly ten times more.
const DEFAULT_ITERATIONS: u64 = if cfg!(debug_assertions) { 20_000 } else { 200_000 };

/// Bytes that are structurally meaningful somewhere in a SIP message.
const INTERESTING: &[&[u8]] = &[
    b"\r\n", b"\n", b"\r", b"\r\n ", b"\r\n\r\n", b" ", b"\t", b";", b",", b":", b"\"", b"\\", b"<", b">", b"@", b"=",
    b"%", b"%0", b"[", b"]", b"?", b"&", b"/", b"\0", b"\xff", b"\xc3", b"SIP/2.0", b"sip:", b";tag=", b";branch=",
    b"l: ", b"Content-Length: 1\r\n", b"Via: SIP/2.0/UDP [::1]\r\n",
];

/// Numbers at and beyond the limits the parser enforces.
const HUGE_NUMBERS: &[&[u8]] = &[
    b"4294967295", b"4294967296", b"18446744073709551616", b"99999999999999999999999999999999", b"65535",
    b"65536", b"999999999", b"1000000000", b"256", b"0000000000000000000001", b"-1",
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(default)
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dat"))
        .collect();
    paths.sort();
    paths.iter().map(|path| std::fs::read(path).expect("readable file")).collect()
}

fn pick<'a, T>(rng: &mut SeededRng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

fn position(rng: &mut SeededRng, len: usize) -> usize {
    rng.below(len as u64 + 1) as usize
}

/// Byte offsets just after each `\n` (line starts), plus 0.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0).chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1)).collect()
}

/// A random whole line (with its line break) of `bytes`.
fn random_line(rng: &mut SeededRng, bytes: &[u8]) -> Vec<u8> {
    let starts = line_starts(bytes);
    let start = *pick(rng, &starts);
    let end = bytes[start..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| start + i + 1);
    bytes[start..end].to_vec()
}

fn mutate(rng: &mut SeededRng, case: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    match rng.below(10) {
        0 => {
            if !case.is_empty() {
                let at = rng.below(case.len() as u64) as usize;
                case[at] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let at = position(rng, case.len());
            let insert = pick(rng, INTERESTING).to_vec();
            case.splice(at..at, insert);
        }
        2 => {
            let at = position(rng, case.len());
            let byte = rng.below(256) as u8;
            case.insert(at, byte);
        }
        3 => {
            let start = position(rng, case.len());
            let end = (start + rng.below(16) as usize + 1).min(case.len());
            case.drain(start..end);
        }
        4 => {
            let keep = position(rng, case.len());
            case.truncate(keep);
        }
        5 => {
            // Splice a header line from another message in at a line boundary.
            let donor = pick(rng, corpus);
            let line = random_line(rng, donor);
            let starts = line_starts(case);
            let at = *pick(rng, &starts);
            case.splice(at..at, line);
        }
        6 => {
            // Duplicate or drop one of this message's lines.
            let line = random_line(rng, case);
            let starts = line_starts(case);
            let at = *pick(rng, &starts);
            if rng.below(2) == 0 {
                case.splice(at..at, line);
            } else {
                let end = case[at..].iter().position(|b| *b == b'\n').map_or(case.len(), |i| at + i + 1);
                case.drain(at..end);
            }
        }
        7 => {
            // Replace a run of digits with a huge or boundary number.
            let digit_positions: Vec<usize> = case.iter().enumerate().filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
            if !digit_positions.is_empty() {
                let start = *pick(rng, &digit_positions);
                let end = case[start..].iter().position(|b| !b.is_ascii_digit()).map_or(case.len(), |i| start + i);
                let number = pick(rng, HUGE_NUMBERS).to_vec();
                case.splice(start..end, number);
            }
        }
        8 => {
            let at = position(rng, case.len());
            const LINE_BREAKS: [&[u8]; 4] = [b"\r\n", b"\n", b"\r\n\t", b"\r\n\r\n"];
            let line_break = *pick(rng, &LINE_BREAKS);
            case.splice(at..at, line_break.iter().copied());
        }
        _ => {
            // Swap two lines.
            let starts = line_starts(case);
            if starts.len() > 2 {
                let first = *pick(rng, &starts);
                let first_end = case[first..].iter().position(|b| *b == b'\n').map_or(case.len(), |i| first + i + 1);
                let line = case[first..first_end].to_vec();
                case.drain(first..first_end);
                let starts = line_starts(case);
                let at = *pick(rng, &starts);
                case.splice(at..at, line);
            }
        }
    }
}

/// Parses `text`'s Display form again and requires the same value.
fn assert_display_round_trip<T, E>(value: &T, parse_again: impl Fn(&[u8]) -> Result<T, E>, what: &str)
where
    T: std::fmt::Display + std::fmt::Debug + PartialEq,
{
    let text = value.to_string();
    match parse_again(text.as_bytes()) {
        Ok(again) => assert_eq!(&again, value, "{what} display round trip via {text:?}"),
        Err(_) => panic!("{what} printed as {text:?} does not parse again"),
    }
}

fn headers_without_length(message: &Message) -> Vec<(HeaderName, Bytes)> {
    message
        .headers()
        .iter()
        .filter(|h| h.name != HeaderName::ContentLength)
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

fn exercise_typed_views(message: &Message) {
    let checks = |headers: &veertien::sip::msg::Headers| {
        for header in headers.iter() {
            let value = header.value.as_ref();
            match header.name {
                HeaderName::Via => {
                    if let Ok(vias) = Via::parse_list(value) {
                        for via in &vias {
                            assert_display_round_trip(via, Via::parse_first, "Via");
                            let _ = (via.sent_by_port_or_default(), via.rport(), via.received(), via.branch());
                        }
                    }
                }
                HeaderName::From | HeaderName::To | HeaderName::Contact | HeaderName::Route | HeaderName::RecordRoute => {
                    if let Ok(values) = NameAddr::parse_list(value) {
                        for name_addr in &values {
                            assert_display_round_trip(name_addr, NameAddr::parse, "NameAddr");
                            assert_display_round_trip(&name_addr.uri, SipUri::parse, "SipUri");
                            let _ = (name_addr.tag(), name_addr.uri.user_unescaped(), name_addr.clone().with_tag("x"));
                        }
                    }
                }
                HeaderName::CSeq => {
                    if let Ok(cseq) = CSeq::parse(value) {
                        assert_display_round_trip(&cseq, CSeq::parse, "CSeq");
                    }
                }
                _ => {}
            }
        }
    };
    checks(message.headers());
    match message {
        Message::Request(request) => {
            let _ = (request.top_via(), request.vias(), request.call_id(), request.cseq());
            let _ = (request.from_header(), request.to_header(), request.contacts(), request.record_routes());
            let _ = request.max_forwards();
            if let Ok(uri) = request.uri() {
                assert_display_round_trip(&uri, SipUri::parse, "Request-URI");
            }
            let _ = validate_request(request, &["timer"]);
            if let (Ok(mut top), Ok(vias)) = (request.top_via(), request.vias()) {
                let mut rewritten = request.clone();
                top.set_received("192.0.2.1");
                top.set_rport(5060);
                rewritten.set_top_via(&top).expect("a Via is present");
                let after = rewritten.vias().expect("rewritten Vias parse");
                assert_eq!(after.len(), vias.len(), "Via count after set_top_via");
                assert_eq!(&after[1..], &vias[1..], "lower Vias untouched");
            }
        }
        Message::Response(response) => {
            let _ = (response.top_via(), response.vias(), response.call_id(), response.cseq());
            let _ = (response.from_header(), response.to_header(), response.contacts());
            let _ = validate_response(response);
        }
    }
}

fn exercise(case: &[u8], chunk_seed: u64) {
    let bytes = Bytes::copy_from_slice(case);
    match parse(bytes.clone()) {
        Ok(message) => {
            exercise_typed_views(&message);
            let wire = message.to_bytes();
            let again = parse(wire.clone()).unwrap_or_else(|e| panic!("serialised form does not parse: {e}"));
            assert_eq!(headers_without_length(&message), headers_without_length(&again), "headers after round trip");
            assert_eq!(again.to_bytes(), wire, "serialisation is stable");
        }
        Err(error) => {
            if let Some(request) = error.request_for_reply {
                let _ = Response::to_request(&request, error.status, &error.reason).to_bytes();
            }
        }
    }
    // The same bytes as a stream, cut into chunks of 1 to 64 bytes.
    let mut framer = StreamFramer::new(8 * 1024);
    let mut chunk_rng = SeededRng::fork(chunk_seed, "chunks");
    let mut offset = 0;
    while offset < case.len() {
        let end = (offset + 1 + chunk_rng.below(64) as usize).min(case.len());
        framer.push(&case[offset..end]);
        offset = end;
        while let Ok(Some(frame)) = framer.next_message() {
            let _ = parse(frame);
        }
    }
}

#[test]
fn mutated_corpus_never_panics_and_round_trips() {
    let seed = env_number("FUZZ_SEED", DEFAULT_SEED);
    let iterations = env_number("FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
    let corpus = corpus();
    assert!(!corpus.is_empty(), "corpus present");
    let mut rng = SeededRng::fork(seed, "sip_msg_mutation");
    // Quiet the default hook: a failure is reported once, below, with its case.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    for iteration in 0..iterations {
        let mut case = pick(&mut rng, &corpus).clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut case, &corpus);
        }
        let chunk_seed = rng.next_u64();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| exercise(&case, chunk_seed))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failure = Some(format!(
                "seed {seed}, iteration {iteration}: {message}\ncase: {:?}",
                String::from_utf8_lossy(&case)
            ));
            break;
        }
    }
    std::panic::set_hook(default_hook);
    if let Some(report) = failure {
        panic!("{report}");
    }
}
