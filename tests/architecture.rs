//! The layer rules of the README's architecture section, checked on the source text.
//! A rule that is only written down erodes; this test fails on the first import or call
//! that breaks one.
//!
//! The checker reads each file as tokens (comments and string literals removed, so a doc
//! comment may name what a module avoids), resolves `crate::…` paths (also grouped,
//! `use crate::{a::X, b::Y}`) and `super::…` chains that climb to the crate root to the
//! top-level module they name, and checks every pair of layers against [`LAYERS`]. The
//! sans-IO rules skip `#[cfg(test)] mod …` blocks and files (tests may use a lock or a
//! clock to observe); the layer rules apply to test code too.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Every top-level module with its rank, bottom to top. A module may import only modules
/// of a lower rank; modules of the same rank are peers that never import each other
/// (`sip`, `media` and `dialplan` share nothing; `sim` and `live`, the two drivers,
/// never import each other). `main` is the binary (`src/main.rs`).
const LAYERS: &[(&str, u8)] = &[
    ("core", 0),
    ("sip", 1),
    ("media", 1),
    ("dialplan", 1),
    ("config", 2),
    ("acd", 3),
    ("engine", 4),
    ("stats", 5),
    ("traffic", 6),
    ("sim", 7),
    ("live", 7),
    ("main", 8),
];

/// Imports the ranks would allow but the architecture forbids: the routing domain never
/// names a SIP, SDP or RTP type (the engine translates).
const FORBIDDEN_EDGES: &[(&str, &str)] = &[("acd", "sip"), ("acd", "media")];

/// Modules that stay sans-IO: no tokio, sockets, locks, threads, files, store, OS clock
/// or OS randomness.
const SANS_IO: &[&str] = &["core", "sip", "media", "dialplan", "acd", "engine", "stats", "traffic", "sim"];

/// The one file of a sans-IO module allowed to read files: the dial-plan directory
/// loader (only the file patterns are allowed there).
const FILE_LOADER: &str = "dialplan/files.rs";

/// What betrays I/O in a sans-IO module: a token path (segments joined by `::`, matched
/// on whole tokens) and what it is.
const FORBIDDEN_IN_SANS_IO: &[(&str, &str)] = &[
    ("tokio", "async runtime"),
    ("UdpSocket", "socket"),
    ("TcpListener", "socket"),
    ("TcpStream", "socket"),
    ("UnixStream", "socket"),
    ("UnixListener", "socket"),
    ("UnixDatagram", "socket"),
    ("socket2", "socket"),
    ("Mutex", "lock"),
    ("RwLock", "lock"),
    ("Condvar", "lock"),
    ("mpsc", "channel between threads"),
    ("thread::spawn", "thread"),
    ("thread::Builder", "thread"),
    ("thread::scope", "thread"),
    ("SystemTime", "clock read"),
    ("Instant::now", "clock read"),
    ("Utc::now", "clock read"),
    ("Local::now", "clock read"),
    ("OsRng", "OS randomness"),
    ("thread_rng", "OS randomness"),
    ("from_entropy", "OS randomness"),
    ("getrandom", "OS randomness"),
    ("rand::random", "OS randomness"),
    ("RandomState", "OS randomness"),
    ("std::fs", "file access"),
    ("File::", "file access"),
    ("OpenOptions", "file access"),
    ("rusqlite", "store"),
    ("axum", "HTTP server"),
];

/// Categories [`FILE_LOADER`] may use.
const FILE_LOADER_ALLOWS: &[&str] = &["file access"];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, rank)| *rank)
}

// ---------------------------------------------------------------------------------------
// The checker.

/// One token of code: an identifier or keyword, `::`, or one other character.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

/// The tokens of `text`, without comments, string, char and number literals.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1, 0, &mut line);
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1; // a lifetime: its name follows as an identifier
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw_prefix = word == "r" || word == "br";
            if raw_prefix && (at(i) == '"' || at(i) == '#' && (at(i + 1) == '"' || at(i + 1) == '#')) {
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                i = skip_string(&chars, i + 1, hashes, &mut line);
            } else if word == "b" && at(i) == '"' {
                i = skip_string(&chars, i + 1, 0, &mut line);
            } else if word == "r" && at(i) == '#' {
                i += 1; // a raw identifier: r#type
            } else {
                out.push(Token { text: word, line });
            }
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token { text: "::".into(), line });
            i += 2;
        } else {
            out.push(Token { text: c.to_string(), line });
            i += 1;
        }
    }
    out
}

/// Skips a string literal whose body starts at `i`; `hashes` > 0 for a raw string (no
/// escapes, closed by `"` and that many `#`). Returns the index after it.
fn skip_string(chars: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' if hashes == 0 => i += 2,
            '"' if (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) => return i + 1 + hashes,
            c => {
                *line += usize::from(c == '\n');
                i += 1;
            }
        }
    }
    i
}

/// `tokens` without `#[cfg(test)] mod NAME { … }` blocks, and the names of the
/// `#[cfg(test)] mod NAME;` files (test code in a file of its own).
fn strip_test_modules(tokens: &[Token]) -> (Vec<Token>, Vec<String>) {
    const ATTRIBUTE: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut kept = Vec::new();
    let mut test_files = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_attribute = ATTRIBUTE.iter().enumerate().all(|(k, text)| tokens.get(i + k).is_some_and(|t| t.text == *text));
        if is_attribute {
            let mut j = i + ATTRIBUTE.len();
            if tokens.get(j).is_some_and(|t| t.text == "pub") {
                j += 1;
            }
            let is_mod = tokens.get(j).is_some_and(|t| t.text == "mod");
            if let (true, Some(name), Some(next)) = (is_mod, tokens.get(j + 1), tokens.get(j + 2)) {
                if next.text == ";" {
                    test_files.push(name.text.clone());
                    i = j + 3;
                    continue;
                }
                if next.text == "{" {
                    let mut depth = 0;
                    let mut k = j + 2;
                    while k < tokens.len() {
                        match tokens[k].text.as_str() {
                            "{" => depth += 1,
                            "}" => depth -= 1,
                            _ => {}
                        }
                        k += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    i = k;
                    continue;
                }
            }
        }
        kept.push(tokens[i].clone());
        i += 1;
    }
    (kept, test_files)
}

/// The module path of a file relative to `src/` (`sim/replay.rs` → `[sim, replay]`,
/// `sim/mod.rs` → `[sim]`, `main.rs` → `[main]`).
fn module_path(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative.trim_end_matches(".rs").split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts
}

/// The top-level modules `tokens` of the file at `relative` refer to, with their lines:
/// `crate::X`, `crate::{X::…, Y}`, and `super::…::X` chains that climb to the crate root.
fn referenced_layers(relative: &str, tokens: &[Token]) -> Vec<(usize, String)> {
    let file_depth = module_path(relative).len();
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut inline_modules: Vec<usize> = Vec::new();
    let text = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
    for i in 0..tokens.len() {
        match text(i) {
            "{" => {
                if i >= 2 && text(i - 2) == "mod" {
                    inline_modules.push(depth);
                }
                depth += 1;
                continue;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if inline_modules.last() == Some(&depth) {
                    inline_modules.pop();
                }
                continue;
            }
            _ => {}
        }
        if i > 0 && text(i - 1) == "::" {
            continue;
        }
        let after = match text(i) {
            "crate" if text(i + 1) == "::" => i + 2,
            "super" if text(i + 1) == "::" => {
                let mut j = i;
                let mut climbs = 0;
                while text(j) == "super" && text(j + 1) == "::" {
                    climbs += 1;
                    j += 2;
                }
                if climbs < file_depth + inline_modules.len() {
                    continue;
                }
                j
            }
            _ => continue,
        };
        if text(after) == "{" {
            let mut group_depth = 0;
            let mut expect_name = true;
            for k in after..tokens.len() {
                match text(k) {
                    "{" => group_depth += 1,
                    "}" => {
                        group_depth -= 1;
                        if group_depth == 0 {
                            break;
                        }
                    }
                    "," if group_depth == 1 => expect_name = true,
                    name if group_depth == 1 && expect_name => {
                        found.push((tokens[k].line, name.to_string()));
                        expect_name = false;
                    }
                    _ => expect_name = false,
                }
            }
        } else if let Some(token) = tokens.get(after) {
            found.push((token.line, token.text.clone()));
        }
    }
    found
}

/// Where `tokens` use what [`FORBIDDEN_IN_SANS_IO`] names: (line, pattern, category).
fn forbidden_uses(tokens: &[Token]) -> Vec<(usize, &'static str, &'static str)> {
    let mut found = Vec::new();
    for (pattern, category) in FORBIDDEN_IN_SANS_IO {
        let mut wanted: Vec<&str> = Vec::new();
        for (n, segment) in pattern.split("::").enumerate() {
            if n > 0 {
                wanted.push("::");
            }
            if !segment.is_empty() {
                wanted.push(segment);
            }
        }
        for start in 0..tokens.len() {
            let matches = wanted.iter().enumerate().all(|(k, text)| tokens.get(start + k).is_some_and(|t| t.text == *text));
            if matches {
                found.push((tokens[start].line, *pattern, *category));
            }
        }
    }
    found.sort();
    found
}

/// The layer-rule violations of one file.
fn layer_violations(relative: &str, text: &str) -> Vec<String> {
    let Some(own) = module_path(relative).first().cloned() else { return Vec::new() };
    let Some(own_rank) = rank(&own) else {
        return vec![format!("{relative}: module `{own}` is not in the layer table")];
    };
    let mut violations = Vec::new();
    for (line, target) in referenced_layers(relative, &tokens(text)) {
        if target == own {
            continue;
        }
        let Some(target_rank) = rank(&target) else {
            violations.push(format!("{relative}:{line}: `crate::{target}` is not a layer of the table"));
            continue;
        };
        if target_rank >= own_rank {
            let how = if target_rank == own_rank { "a peer" } else { "a higher layer" };
            violations.push(format!("{relative}:{line}: {own} imports {target}, {how}"));
        } else if FORBIDDEN_EDGES.contains(&(own.as_str(), target.as_str())) {
            violations.push(format!("{relative}:{line}: {own} must not name {target} types (the engine translates)"));
        }
    }
    violations
}

/// The sans-IO violations of one file (test modules stripped), and the files its
/// `#[cfg(test)] mod NAME;` items name (relative to `src/`), which hold test code only.
fn sans_io_violations(relative: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let (code, test_modules) = strip_test_modules(&tokens(text));
    let directory = match relative.rsplit_once('/') {
        Some((dir, file)) if file == "mod.rs" => dir.to_string(),
        Some((dir, file)) => format!("{dir}/{}", file.trim_end_matches(".rs")),
        None => String::new(),
    };
    let test_files = test_modules
        .iter()
        .flat_map(|name| [format!("{directory}/{name}.rs"), format!("{directory}/{name}/mod.rs")])
        .collect();
    let violations = forbidden_uses(&code)
        .into_iter()
        .filter(|(_, _, category)| !(relative == FILE_LOADER && FILE_LOADER_ALLOWS.contains(category)))
        .map(|(line, pattern, category)| format!("{relative}:{line}: `{pattern}` ({category})"))
        .collect();
    (violations, test_files)
}

// ---------------------------------------------------------------------------------------
// The rules over `src/`.

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).expect("readable source directory");
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every source file but `lib.rs` (which only declares the modules), relative to `src/`
/// with `/` separators, and its text.
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
            let text = fs::read_to_string(&file).expect("readable source");
            (relative, text)
        })
        .filter(|(relative, _)| relative != "lib.rs")
        .collect()
}

#[test]
fn every_pair_of_layers_is_in_order() {
    let files = sources();
    let modules: BTreeSet<String> = files.iter().filter_map(|(relative, _)| module_path(relative).first().cloned()).collect();
    assert!(modules.len() >= LAYERS.len(), "every layer of the table has source: {modules:?}");
    let violations: Vec<String> = files.iter().flat_map(|(relative, text)| layer_violations(relative, text)).collect();
    assert!(violations.is_empty(), "layer rule broken:\n{}", violations.join("\n"));
}

#[test]
fn sans_io_layers_do_no_io_lock_spawn_or_read_a_clock() {
    let files = sources();
    let mut violations = Vec::new();
    let mut test_files = BTreeSet::new();
    let mut checked = Vec::new();
    for (relative, text) in &files {
        let in_sans_io = module_path(relative).first().is_some_and(|module| SANS_IO.contains(&module.as_str()));
        if in_sans_io {
            let (found, tests) = sans_io_violations(relative, text);
            test_files.extend(tests);
            checked.push((relative.clone(), found));
        }
    }
    for (relative, found) in checked {
        if !test_files.contains(&relative) {
            violations.extend(found);
        }
    }
    assert!(violations.is_empty(), "sans-IO rule broken:\n{}", violations.join("\n"));
}

#[test]
fn only_live_and_main_use_tokio() {
    let mut violations = Vec::new();
    for (relative, text) in sources() {
        let module = module_path(&relative).first().cloned().unwrap_or_default();
        if module == "live" || module == "main" {
            continue;
        }
        for token in tokens(&text).iter().filter(|token| token.text == "tokio") {
            violations.push(format!("{relative}:{}", token.line));
        }
    }
    assert!(violations.is_empty(), "tokio outside live/:\n{}", violations.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The checker on small samples, so the rules above can fail.

#[test]
fn the_checker_flags_an_import_of_a_higher_layer_or_a_peer() {
    let sample = "use crate::core::time::Instant;\nuse crate::live::LiveClock;\nfn f() { crate::sim::replay::run(); }\n";
    let violations = layer_violations("traffic/phones.rs", sample);
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[0].starts_with("traffic/phones.rs:2: traffic imports live"), "{violations:?}");
    assert!(violations[1].starts_with("traffic/phones.rs:3: traffic imports sim"), "{violations:?}");
    let peers = layer_violations("sim/replay.rs", "use crate::live::metrics::Exporter;\n");
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert!(peers[0].contains("a peer"), "{peers:?}");
    let dialplan = layer_violations("dialplan/plan.rs", "use crate::sip::msg::Request;\n");
    assert_eq!(dialplan.len(), 1, "dialplan and sip are peers: {dialplan:?}");
}

#[test]
fn the_checker_reads_grouped_imports_and_super_chains_to_the_root() {
    let grouped = "use crate::{\n    core::ids::CallId,\n    engine::{Notification, Output},\n};\n";
    let violations = layer_violations("acd/call.rs", grouped);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].starts_with("acd/call.rs:3: acd imports engine"), "{violations:?}");
    // From sim/replay.rs, `super::` is `crate::sim`; `super::super::` is the crate root.
    assert!(layer_violations("sim/replay.rs", "use super::network::SimNetwork;\n").is_empty());
    let climbed = layer_violations("sim/replay.rs", "use super::super::live::LiveClock;\n");
    assert_eq!(climbed.len(), 1, "{climbed:?}");
    // Inside an inline module one `super` more is needed to reach the root.
    let inline = "mod inner {\n    use super::super::network::X;\n}\n";
    assert!(layer_violations("sim/replay.rs", inline).is_empty());
    assert_eq!(layer_violations("acd/call.rs", "use crate::sip::msg::Request;\n").len(), 1, "acd names no SIP type");
}

#[test]
fn the_checker_ignores_comments_and_strings_but_not_code() {
    let sample = "//! Never `use crate::live` here.\n/* crate::live */\nconst S: &str = \"crate::live\";\nconst R: &str = r#\"crate::live \"quoted\"\"#;\nlet c = '\"'; fn g<'a>(x: &'a str) {}\nuse crate::live::X;\n";
    let violations = layer_violations("stats/mod.rs", sample);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].starts_with("stats/mod.rs:6:"), "{violations:?}");
}

#[test]
fn the_checker_flags_io_outside_test_modules_only() {
    let sample = "use std::sync::Mutex;\nfn now() { let t = std::time::Instant::now(); }\nfn read() { std::fs::read(\"x\"); File::open(\"y\"); }\nfn spawn() { std::thread::spawn(|| {}); }\nuse rand::rngs::OsRng;\n#[cfg(test)]\nmod tests {\n    use std::sync::RwLock;\n    fn t() { SystemTime::now(); }\n}\n#[cfg(test)]\nmod more;\n";
    let (violations, test_files) = sans_io_violations("engine/timers.rs", sample);
    let lines: Vec<&str> = violations.iter().map(String::as_str).collect();
    assert_eq!(
        lines,
        [
            "engine/timers.rs:1: `Mutex` (lock)",
            "engine/timers.rs:2: `Instant::now` (clock read)",
            "engine/timers.rs:3: `File::` (file access)",
            "engine/timers.rs:3: `std::fs` (file access)",
            "engine/timers.rs:4: `thread::spawn` (thread)",
            "engine/timers.rs:5: `OsRng` (OS randomness)",
        ]
    );
    assert_eq!(test_files, ["engine/timers/more.rs", "engine/timers/more/mod.rs"]);
    // Words that merely contain a pattern are not it.
    assert!(sans_io_violations("core/x.rs", "struct MutexFree; fn instant_now() {}\n").0.is_empty());
    // The dial-plan loader may read files, and nothing else.
    let (loader, _) = sans_io_violations(FILE_LOADER, "use std::fs;\nuse std::sync::Mutex;\n");
    assert_eq!(loader, ["dialplan/files.rs:2: `Mutex` (lock)"]);
}
