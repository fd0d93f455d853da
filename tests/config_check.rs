//! `veertien check` and config loading end to end: the shipped files pass, broken files
//! each produce an error naming the file and the key, and environment overrides work.

use std::fs;
use std::path::{Path, PathBuf};

use veertien::config::{self, check_with_env, load_with_env, ConfigError};
use veertien::dialplan::{self, load_dir, parse_tenant, Destination, Overflow};

const SHIPPED_CONFIG: &str = "config/veertien.toml";
const SHIPPED_DIALPLANS: &str = "dialplans";

/// A fresh directory under the system temp dir, unique per test and process.
fn temp_dir(test_name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "veertien-config-check-{}-{test_name}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write temp file");
    path
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The error lines of loading `config_text` (plus env), which must fail.
fn config_errors(
    test_name: &str,
    config_text: &str,
    env_pairs: &[(&str, &str)],
) -> (String, Vec<String>) {
    let dir = temp_dir(test_name);
    let path = write(&dir, "veertien.toml", config_text);
    let file = path.display().to_string();
    match load_with_env(&path, env(env_pairs)) {
        Ok(settings) => panic!("{test_name}: expected an error, loaded {settings:?}"),
        Err(e) => (file, e.messages()),
    }
}

fn assert_has_line(lines: &[String], expected: &str) {
    assert!(
        lines.iter().any(|l| l == expected),
        "expected line {expected:?} in {lines:#?}"
    );
}

fn the_shipped_almere() -> String {
    fs::read_to_string(Path::new(SHIPPED_DIALPLANS).join("almere.toml"))
        .expect("shipped almere.toml")
}

#[test]
fn shipped_config_and_dialplans_pass_check() {
    let report = check_with_env(Path::new(SHIPPED_CONFIG), no_env());
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.tenants, 2);
    assert_eq!(report.numbers, 3);
    assert_eq!(report.queues, 6);
    assert_eq!(report.agents, 6);
    assert_eq!(report.groups, 6);
    assert!(report.summary().contains("2 tenants"));
}

#[test]
fn shipped_config_has_the_documented_values() {
    let settings =
        load_with_env(Path::new(SHIPPED_CONFIG), no_env()).expect("shipped config loads");
    assert_eq!(settings.sip.listen.to_string(), "127.0.0.1:5060");
    assert_eq!(settings.http.listen.to_string(), "127.0.0.1:8080");
    assert!(settings.sip.is_trusted("127.0.0.1".parse().expect("ip")));
    assert!(!settings.sip.is_trusted("127.0.0.2".parse().expect("ip")));
    assert_eq!(
        (settings.sip.t1_ms, settings.sip.t2_ms, settings.sip.t4_ms),
        (500, 4000, 5000)
    );
    assert_eq!(settings.dialplan.directory, PathBuf::from("dialplans"));
    assert_eq!(settings.log.format, config::LogFormat::Text);
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let dir = temp_dir("empty");
    let path = write(&dir, "empty.toml", "");
    let defaults = load_with_env(&path, no_env()).expect("empty config is valid");
    let shipped = load_with_env(Path::new(SHIPPED_CONFIG), no_env()).expect("shipped config loads");
    assert_eq!(defaults.sip.listen, shipped.sip.listen);
    assert_eq!(defaults.rtp, shipped.rtp);
    assert_eq!(defaults.limits, shipped.limits);
    assert_eq!(defaults.shutdown, shipped.shutdown);
    assert_eq!(defaults.sip.trusted_peers, shipped.sip.trusted_peers);
}

#[test]
fn broken_configs_name_file_key_and_problem() {
    let cases: &[(&str, &str, &str)] = &[
        ("bad-listen", "[sip]\nlisten = \"127.0.0.1:99999\"\n", "sip.listen: \"127.0.0.1:99999\" is not a socket address"),
        ("t2-below-t1", "[sip]\nt1_ms = 500\nt2_ms = 400\n", "sip.t2_ms: must be at least sip.t1_ms (500)"),
        ("bad-cidr", "[sip]\ntrusted_peers = [\"127.0.0.1\", \"10.0.0.0/40\"]\n", "sip.trusted_peers[1]: \"10.0.0.0/40\" has a prefix length that is not 0..=32 (IPv4) or 0..=128 (IPv6)"),
        ("wildcard", "[sip]\nlisten = \"0.0.0.0:5060\"\n", "sip.public_address: must be set when sip.listen is a wildcard (0.0.0.0:5060)"),
        ("odd-rtp", "[rtp]\nport_min = 20001\n", "rtp.port_min: must be even (RTP uses even ports, RTCP the odd one above), not 20001"),
        ("low-rtp", "[rtp]\nport_min = 1000\nport_max = 2000\n", "rtp.port_min: must be above 1024, not 1000"),
        ("rtp-order", "[rtp]\nport_min = 30000\nport_max = 20000\n", "rtp.port_max: must be above rtp.port_min (30000)"),
        ("log-format", "[log]\nformat = \"xml\"\n", "log.format: \"xml\" is not one of \"text\", \"json\""),
        ("same-port", "[http]\nlisten = \"127.0.0.1:5060\"\n", "http.listen: must differ from sip.listen (127.0.0.1:5060): SIP also listens on TCP there"),
    ];
    for (name, text, expected) in cases {
        let (file, lines) = config_errors(name, text, &[]);
        assert_has_line(&lines, &format!("{file}: {expected}"));
    }
}

#[test]
fn unknown_and_mistyped_keys_are_named() {
    let (file, lines) = config_errors("unknown-key", "[sip]\nlisen = \"127.0.0.1:5060\"\n", &[]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{file}: sip.lisen: unknown key")),
        "{lines:?}"
    );

    let (file, lines) = config_errors("unknown-section", "[sipp]\nlisten = \"x\"\n", &[]);
    assert!(
        lines[0].starts_with(&format!("{file}: sipp: unknown key")),
        "{lines:?}"
    );

    let (file, lines) = config_errors("wrong-type", "[sip]\nt1_ms = \"fast\"\n", &[]);
    assert!(
        lines[0].starts_with(&format!("{file}: sip.t1_ms: expected")),
        "{lines:?}"
    );
}

#[test]
fn syntax_errors_name_the_file() {
    let dir = temp_dir("syntax");
    let path = write(&dir, "veertien.toml", "[sip\nlisten = 1\n");
    match load_with_env(&path, no_env()) {
        Err(ConfigError::Unreadable { file, reason }) => {
            assert_eq!(file, path.display().to_string());
            assert!(
                reason.starts_with("not valid TOML at line 1, column"),
                "{reason}"
            );
            assert!(!reason.contains('\n'), "one line per error: {reason}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn every_validation_problem_is_reported_at_once() {
    let text =
        "[sip]\nlisten = \"nope\"\nt1_ms = 0\n[rtp]\nport_min = 3\n[shutdown]\nretry_after_s = 0\n";
    let (_, lines) = config_errors("many", text, &[]);
    for key in [
        "sip.listen",
        "sip.t1_ms",
        "rtp.port_min",
        "shutdown.retry_after_s",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(&format!(": {key}: "))),
            "{key} missing in {lines:#?}"
        );
    }
}

#[test]
fn environment_overrides_the_file() {
    let overrides = env(&[
        ("VEERTIEN_SIP__LISTEN", "127.0.0.1:15060"),
        ("VEERTIEN_SIP__T1_MS", "250"),
        ("VEERTIEN_SIP__TRUSTED_PEERS", "127.0.0.1,10.1.0.0/16"),
        ("VEERTIEN_LOG__FORMAT", "json"),
        ("UNRELATED_VARIABLE", "ignored"),
    ]);
    let settings =
        load_with_env(Path::new(SHIPPED_CONFIG), overrides).expect("overrides are valid");
    assert_eq!(settings.sip.listen.to_string(), "127.0.0.1:15060");
    assert_eq!(settings.sip.t1_ms, 250);
    assert!(settings.sip.is_trusted("10.1.200.3".parse().expect("ip")));
    assert_eq!(settings.log.format, config::LogFormat::Json);
    assert_eq!(
        settings.sip.t2_ms, 4000,
        "keys not overridden keep the file's value"
    );
}

#[test]
fn bad_environment_values_name_the_variable() {
    let shipped = fs::read_to_string(SHIPPED_CONFIG).expect("shipped config");
    let (_, lines) = config_errors(
        "env-listen",
        &shipped,
        &[("VEERTIEN_SIP__LISTEN", "127.0.0.1:99999")],
    );
    assert_has_line(
        &lines,
        "VEERTIEN_SIP__LISTEN: sip.listen: \"127.0.0.1:99999\" is not a socket address",
    );

    let (_, lines) = config_errors("env-type", &shipped, &[("VEERTIEN_SIP__T1_MS", "fast")]);
    assert!(
        lines[0].starts_with("VEERTIEN_SIP__T1_MS: sip.t1_ms: "),
        "{lines:?}"
    );

    let (_, lines) = config_errors("env-order", &shipped, &[("VEERTIEN_SIP__T2_MS", "100")]);
    assert_has_line(
        &lines,
        "VEERTIEN_SIP__T2_MS: sip.t2_ms: must be at least sip.t1_ms (500)",
    );

    let (_, lines) = config_errors("env-section", &shipped, &[("VEERTIEN_SIP", "x")]);
    assert_has_line(
        &lines,
        "VEERTIEN_SIP: sip: must be a table of keys, not a single value",
    );

    let (_, lines) = config_errors("env-unknown", &shipped, &[("VEERTIEN_SIP__LISTEM", "x")]);
    assert!(
        lines[0].starts_with("VEERTIEN_SIP__LISTEM: sip.listem: unknown key"),
        "{lines:?}"
    );
}

/// A config in `dir` pointing at `dir/dialplans`, for dial-plan check tests.
fn config_with_dialplans(dir: &Path) -> (PathBuf, PathBuf) {
    let plans = dir.join("dialplans");
    fs::create_dir_all(&plans).expect("create dialplans dir");
    let config_text = format!(
        "[dialplan]\ndirectory = {:?}\n",
        plans.display().to_string()
    );
    (write(dir, "veertien.toml", &config_text), plans)
}

#[test]
fn check_reports_every_error_of_every_file() {
    let dir = temp_dir("check-all");
    let (config_path, plans) = config_with_dialplans(&dir);
    let almere = the_shipped_almere()
        .replacen(
            "service_level_target_s = 30",
            "service_level_target_s = 900",
            1,
        )
        .replacen(
            "\"1\" = \"queue:burgerzaken\"",
            "\"1\" = \"queue:burgerzakn\"",
            1,
        );
    let almere_path = write(&plans, "almere.toml", &almere);
    let other = "[tenant]\nid = \"almere\"\nname = \"Kopie\"\nrealm = \"x\"\nnumbers = [\"+31 36 539 9911\"]\n\
                 [hours]\nmon = [\"09:00-12:00\", \"11:00-13:00\"]\n[[queue]]\nid = \"a\"\nname = \"A\"\n";
    let other_path = write(&plans, "zz-other.toml", other);

    let report = check_with_env(&config_path, no_env());
    let almere_file = almere_path.display().to_string();
    let other_file = other_path.display().to_string();
    assert_has_line(
        &report.errors,
        &format!(
            "{almere_file}: queue[2].service_level_target_s: must be between 1 and 600, not 900"
        ),
    );
    assert_has_line(
        &report.errors,
        &format!(
            "{almere_file}: menu.options.1: \"queue:burgerzakn\" names no queue of this tenant"
        ),
    );
    assert_has_line(
        &report.errors,
        &format!("{other_file}: hours.mon[1]: overlaps the range 09:00-12:00"),
    );
    assert_eq!(report.errors.len(), 3, "{report}");

    // Fix the per-file errors: now the cross-file checks run.
    write(&plans, "almere.toml", &the_shipped_almere());
    write(
        &plans,
        "zz-other.toml",
        &other.replace("\"11:00-13:00\"", "\"13:00-14:00\""),
    );
    let report = check_with_env(&config_path, no_env());
    assert_has_line(
        &report.errors,
        &format!("{other_file}: tenant.id: \"almere\" is also the tenant id in {almere_file}"),
    );
    assert_has_line(
        &report.errors,
        &format!("{other_file}: tenant.numbers[0]: 0365399911 is also claimed by {almere_file}"),
    );
    assert_eq!(report.errors.len(), 2, "{report}");
}

#[test]
fn check_reports_config_and_dialplan_errors_together() {
    let dir = temp_dir("check-both");
    let (config_path, plans) = config_with_dialplans(&dir);
    let config_text = fs::read_to_string(&config_path).expect("config") + "[sip]\nt1_ms = 0\n";
    write(&dir, "veertien.toml", &config_text);
    write(&plans, "broken.toml", "[tenant]\nid = \"Broken Id\"\n");
    let report = check_with_env(&config_path, no_env());
    assert!(
        report
            .errors
            .iter()
            .any(|l| l.contains("sip.t1_ms: must be between 1 and")),
        "{report}"
    );
    assert!(
        report
            .errors
            .iter()
            .any(|l| l.contains("broken.toml: tenant.id: \"Broken Id\"")),
        "{report}"
    );
    assert!(
        report
            .errors
            .iter()
            .any(|l| l.contains("broken.toml: tenant.name: missing")),
        "{report}"
    );
    assert!(
        report
            .errors
            .iter()
            .any(|l| l.contains("broken.toml: hours: missing")),
        "{report}"
    );
}

#[test]
fn empty_dialplan_directory_is_an_error() {
    let dir = temp_dir("no-plans");
    let (config_path, plans) = config_with_dialplans(&dir);
    let report = check_with_env(&config_path, no_env());
    assert_eq!(
        report.errors,
        vec![format!("{}: no *.toml dial plans found", plans.display())]
    );
}

#[test]
fn broken_tenant_files_name_file_and_key() {
    let base = the_shipped_almere();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad number",
            base.replace("\"036-5399911\"", "\"036-53999\""),
            "tenant.numbers[1]: \"036-53999\" must be",
        ),
        (
            "letters in number",
            base.replace("\"14036\"", "\"14O36\""),
            "tenant.numbers[0]: \"14O36\" must contain only digits",
        ),
        (
            "bad strategy",
            base.replace("strategy = \"round-robin\"", "strategy = \"random\""),
            "queue[3].strategy: \"random\" is not one of",
        ),
        (
            "self overflow",
            base.replacen(
                "overflow = { queue = \"algemeen\" }",
                "overflow = { queue = \"burgerzaken\" }",
                1,
            ),
            "queue[0].overflow.queue: a queue cannot overflow into itself",
        ),
        (
            "bad then",
            base.replace(
                "then = \"hangup\" }\nannounce_interval_s = 60\nstrategy = \"fewest-calls\"",
                "then = \"voicemail\" }\nannounce_interval_s = 60\nstrategy = \"fewest-calls\"",
            ),
            "queue[2].overflow.then: \"voicemail\" is not supported",
        ),
        (
            "agent queue",
            base.replace(
                "queues = [\"algemeen\", \"stadsbeheer\"]",
                "queues = [\"algemeen\", \"parkeren\"]",
            ),
            "agent[4].queues[1]: \"parkeren\" is not a queue of this tenant",
        ),
        (
            "skill level",
            base.replace("skills = { algemeen = 7,", "skills = { algemeen = 11,"),
            "agent[4].skills.algemeen: must be a skill level between 1 and 10, not 11",
        ),
        (
            "plain password",
            base.replace(
                "ha1_md5 = \"3ed34954af728575b0e207f558388c1f\"",
                "ha1_md5 = \"geheim123\"",
            ),
            "agent[0].ha1_md5: must be 32 lowercase hex digits",
        ),
        (
            "group member",
            base.replace(
                "members = [\"anouk\", \"jeroen\"]",
                "members = [\"anouk\", \"jeroen-x\"]",
            ),
            "group[4].members[1]: \"jeroen-x\" is neither an agent",
        ),
        (
            "duplicate queue",
            base.replace("id = \"stadsbeheer\"", "id = \"belastingen\""),
            "queue[3].id: \"belastingen\" is used by an earlier queue",
        ),
        (
            "bad range",
            base.replace("fri = [\"08:00-18:00\"]", "fri = [\"18:00-08:00\"]"),
            "hours.fri[0]: \"18:00-08:00\": end must be after start",
        ),
        (
            "bad day",
            base.replace("\"2026-12-31\"", "\"2026-13-31\""),
            "hours.closed_days[1]: \"2026-13-31\" is not a date",
        ),
        (
            "timezone",
            base.replace("timezone = \"Europe/Amsterdam\"", "timezone = \"UTC\""),
            "hours.timezone: \"UTC\" is not supported",
        ),
        (
            "menu key",
            base.replace("\"0\" = \"queue:algemeen\"", "\"10\" = \"queue:algemeen\""),
            "menu.options.10: \"10\" is not a key on a phone",
        ),
        (
            "typo",
            base.replace("wrap_up_s = 20", "wrapup_s = 20"),
            "queue[0].wrapup_s: unknown key",
        ),
        (
            "syntax",
            base.replace("[menu]", "[menu"),
            "not valid TOML at line",
        ),
    ];
    for (name, text, expected) in cases {
        let errors = parse_tenant("dialplans/almere.toml", &text).expect_err(name);
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let wanted = format!("dialplans/almere.toml: {expected}");
        assert!(
            lines.iter().any(|l| l.starts_with(&wanted)),
            "{name}: expected {wanted:?} in {lines:#?}"
        );
    }
}

#[test]
fn a_bad_ha1_is_never_echoed() {
    let text = the_shipped_almere().replace(
        "ha1_md5 = \"3ed34954af728575b0e207f558388c1f\"",
        "ha1_md5 = \"geheim123\"",
    );
    let errors = parse_tenant("almere.toml", &text).expect_err("plain password rejected");
    assert!(
        errors.iter().all(|e| !e.to_string().contains("geheim123")),
        "{errors:?}"
    );
}

#[test]
fn shipped_almere_parses_with_the_expected_content() {
    let tenant = parse_tenant("almere.toml", &the_shipped_almere()).expect("almere parses");
    assert_eq!(tenant.id.as_str(), "almere");
    assert_eq!(
        tenant.numbers,
        vec!["14036".to_owned(), "0365399911".to_owned()]
    );
    let queue_names: Vec<&str> = tenant.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        queue_names,
        [
            "Burgerzaken",
            "Belastingen",
            "Sociale Zaken",
            "Stadsbeheer",
            "Algemeen"
        ]
    );
    assert_eq!(
        tenant.queues[0].overflow,
        Overflow::Queue(dialplan::QueueId::new("algemeen"))
    );
    let menu = tenant.menu.as_ref().expect("almere has a menu");
    assert_eq!(
        menu.options.get(&'1'),
        Some(&Destination::Queue(dialplan::QueueId::new("burgerzaken")))
    );
    assert_eq!(tenant.hours.ranges(chrono::Weekday::Mon).len(), 1);
    assert!(tenant.hours.ranges(chrono::Weekday::Sat).is_empty());
}

#[test]
fn numbers_route_in_every_written_form() {
    let plan = load_dir(Path::new(SHIPPED_DIALPLANS)).expect("shipped dial plans load");
    for dialled in [
        "14036",
        "0365399911",
        "036-5399911",
        "+31365399911",
        "0031365399911",
        "036 539 9911",
    ] {
        let tenant = plan.route(dialled).map(|t| t.id.as_str());
        assert_eq!(tenant, Some("almere"), "dialled {dialled}");
    }
    assert_eq!(plan.route("14070").map(|t| t.id.as_str()), Some("den-haag"));
    assert!(plan.route("14038").is_none());
    assert!(plan.route("anonymous").is_none());
    assert!(plan.route("").is_none());
}

#[test]
fn an_agent_id_in_two_tenants_is_an_error() {
    let dir = temp_dir("check-agent-clash");
    let (config_path, plans) = config_with_dialplans(&dir);
    let almere_path = write(&plans, "almere.toml", &the_shipped_almere());
    let other = "[tenant]\nid = \"zeewolde\"\nname = \"Zeewolde\"\nrealm = \"zeewolde.veertien\"\nnumbers = [\"14039\"]\n\
                 [hours]\nmon = [\"09:00-12:00\"]\n[[queue]]\nid = \"a\"\nname = \"A\"\n\
           [[agent]]\nid = \"anouk\"\nname = \"Another Anouk\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"\nqueues = [\"a\"]\n";
    let other_path = write(&plans, "zz-zeewolde.toml", other);
    let report = check_with_env(&config_path, no_env());
    let (almere_file, other_file) = (almere_path.display().to_string(), other_path.display().to_string());
    assert_has_line(
        &report.errors,
        &format!("{other_file}: agent[0].id: \"anouk\" is also an agent id in {almere_file}; digest usernames must be unique"),
    );
}

#[test]
fn a_prompt_the_dial_plan_names_must_exist() {
    let dir = temp_dir("check-prompts");
    let (config_path, plans) = config_with_dialplans(&dir);
    write(&plans, "almere.toml", &the_shipped_almere());
    let empty_prompts = dir.join("no-prompts");
    fs::create_dir_all(&empty_prompts).expect("temp dir");
    let env = vec![("VEERTIEN_RTP__PROMPT_DIRECTORY".to_string(), empty_prompts.display().to_string())];
    let report = check_with_env(&config_path, env);
    assert!(
        report.errors.iter().any(|l| l.contains("menu.prompt: prompt \"almere-welkom\" not found")),
        "{report}"
    );
}
