//! One tenant's dial plan: its types, and the pure parser from TOML text. The parser
//! reports every error it finds, each with the file and key path.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use toml::{Table, Value};

use super::error::{toml_syntax_problem, DialplanError, ErrorList};
use super::fields::Section;
use super::hours::{parse_hours, Hours};
use super::ids::{AgentId, GroupId, QueueId, TenantId};
use super::number::{check_claimable, normalise};

/// One municipality: its numbers, hours, queues, menu, agents and backoffice groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Short id, e.g. `almere`.
    pub id: TenantId,
    /// Display name, e.g. `Gemeente Almere`.
    pub name: String,
    /// SIP digest realm its agents authenticate in; part of every HA1.
    pub realm: String,
    /// Numbers this tenant answers, normalised (see [`super::number::normalise`]).
    pub numbers: Vec<String>,
    /// Opening hours of the contact centre.
    pub hours: Hours,
    /// Local closing days besides public holidays, sorted.
    pub closed_days: Vec<NaiveDate>,
    /// Prompt played to callers outside opening hours before hanging up.
    pub closed_prompt: String,
    /// Front-office queues, in file order.
    pub queues: Vec<Queue>,
    /// The entry menu; absent only when the tenant has exactly one queue.
    pub menu: Option<Menu>,
    /// Front-office agents.
    pub agents: Vec<Agent>,
    /// Backoffice groups (transfer targets).
    pub groups: Vec<Group>,
    /// Transfers one call may make (0..=10, default 2: the Dutch "max 2× doorverbinden");
    /// a further transfer is refused and the caller stays with the agent.
    pub max_transfers: u32,
}

impl Tenant {
    /// The queue with `id`.
    pub fn queue(&self, id: &QueueId) -> Option<&Queue> {
        self.queues.iter().find(|q| &q.id == id)
    }

    /// The agent with `id`.
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.agents.iter().find(|a| &a.id == id)
    }

    /// The backoffice group with `id`.
    pub fn group(&self, id: &GroupId) -> Option<&Group> {
        self.groups.iter().find(|g| &g.id == id)
    }

    /// Where a new call goes first: the menu, or else the only queue. `None` only for a
    /// tenant built by hand without queues (the parser rejects those).
    pub fn entry(&self) -> Option<Entry<'_>> {
        match (&self.menu, self.queues.first()) {
            (Some(menu), _) => Some(Entry::Menu(menu)),
            (None, Some(queue)) => Some(Entry::Queue(&queue.id)),
            (None, None) => None,
        }
    }
}

/// The first step of a new call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    /// Play the menu.
    Menu(&'a Menu),
    /// Queue directly.
    Queue(&'a QueueId),
}

/// A front-office queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// Id, e.g. `burgerzaken`.
    pub id: QueueId,
    /// Display name, e.g. `Burgerzaken`.
    pub name: String,
    /// Answer-within target for the service level (default 25 s, 1..=600).
    pub service_level_target_s: u32,
    /// Longest wait before overflow (default 600 s, 10..=7200).
    pub max_wait_s: u32,
    /// Most callers waiting; the next one overflows (default 50, 1..=10000).
    pub max_length: u32,
    /// Where callers go when the wait or length bound is reached.
    pub overflow: Overflow,
    /// Interval of position/wait announcements; 0 = never (default 60 s, 0..=600).
    pub announce_interval_s: u32,
    /// How an agent is chosen.
    pub strategy: Strategy,
    /// How long one agent is rung before trying another (default 15 s, 5..=120).
    pub ring_timeout_s: u32,
    /// After-call work time before the agent gets the next call (default 10 s, 0..=600).
    pub wrap_up_s: u32,
    /// Unanswered offers in a row before an agent is paused (default 3, 1..=20).
    pub max_missed_offers: u32,
}

/// What happens to a caller when a queue is full or the wait is too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overflow {
    /// Move to another queue of the same tenant (`overflow = { queue = "algemeen" }`).
    Queue(QueueId),
    /// Play a prompt, then hang up (`overflow = { prompt = "queue-full", then = "hangup" }`).
    PromptThenHangup(String),
}

/// Agent selection strategy of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The agent idle longest (default).
    LongestIdle,
    /// Agents in turn.
    RoundRobin,
    /// All free agents at once; the first to answer gets the call.
    RingAll,
    /// The agent with the fewest calls today.
    FewestCalls,
    /// The agent with the highest skill level for this queue.
    Skills,
}

impl Strategy {
    /// The strategy named in the file.
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "longest-idle" => Strategy::LongestIdle,
            "round-robin" => Strategy::RoundRobin,
            "ring-all" => Strategy::RingAll,
            "fewest-calls" => Strategy::FewestCalls,
            "skills" => Strategy::Skills,
            _ => return None,
        })
    }
}

/// The entry menu (IVR): a prompt, then one DTMF digit picks a destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    /// Prompt played on entry.
    pub prompt: String,
    /// Wait for a digit after the prompt (default 5 s, 1..=60).
    pub timeout_s: u32,
    /// Destination when no (valid) digit arrives.
    pub default: Destination,
    /// Destination per key (`0`–`9`, `*`, `#`).
    pub options: BTreeMap<char, Destination>,
}

/// A place a call can be sent within a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A front-office queue (`"queue:burgerzaken"`).
    Queue(QueueId),
    /// A backoffice group (`"group:vth"`).
    Group(GroupId),
}

/// A front-office agent. The SIP digest username is the id; no password is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// Id and digest username, e.g. `anouk`.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// MD5 of `id:realm:password`, lowercase hex (RFC 2617 HA1), if MD5 digest is allowed.
    pub ha1_md5: Option<String>,
    /// SHA-256 of `id:realm:password`, lowercase hex (RFC 7616 HA1).
    pub ha1_sha256: Option<String>,
    /// Queues the agent serves.
    pub queues: Vec<QueueId>,
    /// Skill level per queue, 1..=10 (higher is better), for the `skills` strategy.
    pub skills: BTreeMap<QueueId, u32>,
}

/// A backoffice group: a department's hunt group, a cold/warm transfer target.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Id, e.g. `vth`.
    pub id: GroupId,
    /// Display name.
    pub name: String,
    /// Who is rung.
    pub members: Vec<GroupMember>,
    /// How long the group rings before the transfer counts as unanswered (default 20 s, 5..=300).
    pub ring_timeout_s: u32,
    /// Whether members ring together or in turn.
    pub ring: RingMode,
    /// The group's own hours; `None` means the tenant's hours.
    pub hours: Option<Hours>,
}

/// One member of a backoffice group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupMember {
    /// An agent of this tenant.
    Agent(AgentId),
    /// Any SIP address (`sip:` or `sips:` URI), e.g. a backoffice desk phone.
    Uri(String),
}

/// How a group's members are rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingMode {
    /// All at once (default).
    Together,
    /// One after another, each for the ring timeout divided by the member count.
    InTurn,
}

/// Parses and validates one tenant file. Pure: `file_name` only labels errors.
pub fn parse_tenant(file_name: &str, text: &str) -> Result<Tenant, Vec<DialplanError>> {
    let mut errors = ErrorList::new(file_name);
    let table: Table = match text.parse() {
        Ok(table) => table,
        Err(e) => {
            errors.push("", toml_syntax_problem(text, &e));
            return Err(errors.into_vec());
        }
    };
    let mut top = Section::new(&table, "");
    let tenant = parse_sections(&mut top, &mut errors);
    top.finish(&mut errors);
    match tenant {
        Some(tenant) if errors.is_empty() => Ok(tenant),
        _ => Err(errors.into_vec()),
    }
}

fn parse_sections<'t>(top: &mut Section<'t>, errors: &mut ErrorList) -> Option<Tenant> {
    let tenant_section = top.table("tenant", errors);
    let (id, name, realm, numbers, max_transfers) = match tenant_section {
        Some(mut section) => {
            let id = section.name("id", errors);
            let name = section.string("name", errors);
            let realm = section.string("realm", errors);
            let numbers = parse_numbers(&mut section, errors);
            let max_transfers = section.uint("max_transfers", 0, 10, 2, errors);
            section.finish(errors);
            (id, name, realm, numbers, max_transfers)
        }
        None => {
            errors.push("tenant", "missing");
            (None, None, None, Vec::new(), 2)
        }
    };

    let (hours, closed_days, closed_prompt) = match top.table("hours", errors) {
        Some(mut section) => {
            let (hours, closed_days) = parse_hours(&mut section, true, errors);
            let closed_prompt = section
                .optional_name("closed_prompt", errors)
                .unwrap_or("closed")
                .to_owned();
            section.finish(errors);
            (Some(hours), closed_days, closed_prompt)
        }
        None => {
            errors.push("hours", "missing");
            (None, Vec::new(), String::new())
        }
    };

    let queues = parse_queues(top, errors);
    let queue_ids: HashSet<&QueueId> = queues.iter().map(|q| &q.id).collect();
    check_overflow_targets(&queues, errors);

    let agents = parse_agents(top, &queue_ids, errors);
    let agent_ids: HashSet<&AgentId> = agents.iter().map(|a| &a.id).collect();
    let groups = parse_groups(top, &agent_ids, errors);
    let group_ids: HashSet<&GroupId> = groups.iter().map(|g| &g.id).collect();

    let menu = match top.table("menu", errors) {
        Some(mut section) => {
            let menu = parse_menu(&mut section, &queue_ids, &group_ids, errors);
            section.finish(errors);
            menu
        }
        None => {
            if queues.len() > 1 {
                errors.push(
                    "menu",
                    "missing: a tenant with more than one queue needs a menu to choose one",
                );
            }
            None
        }
    };
    if queues.is_empty() {
        errors.push("queue", "missing: a tenant needs at least one [[queue]]");
    }

    Some(Tenant {
        id: TenantId::new(id?),
        name: name?.to_owned(),
        realm: realm?.to_owned(),
        numbers,
        hours: hours?,
        closed_days,
        closed_prompt,
        queues,
        menu,
        agents,
        groups,
        max_transfers,
    })
}

fn parse_numbers(section: &mut Section<'_>, errors: &mut ErrorList) -> Vec<String> {
    let written = section.strings("numbers", errors);
    let is_not_array = section.value("numbers").is_some_and(|v| !v.is_array());
    if written.is_empty() && !is_not_array {
        errors.push(
            &section.key_path("numbers"),
            "must list at least one number",
        );
    }
    let mut numbers: Vec<String> = Vec::new();
    for (path, text) in written {
        let Some(number) = normalise(text) else {
            errors.push(
                &path,
                format!("{text:?} must contain only digits after removing spaces and dashes"),
            );
            continue;
        };
        if let Err(problem) = check_claimable(&number) {
            errors.push(&path, format!("{text:?} {problem}"));
        } else if numbers.contains(&number) {
            errors.push(&path, format!("{text:?} is listed twice"));
        } else {
            numbers.push(number);
        }
    }
    numbers
}

fn parse_queues(top: &mut Section<'_>, errors: &mut ErrorList) -> Vec<Queue> {
    let mut queues: Vec<Queue> = Vec::new();
    for mut section in top.tables("queue", errors) {
        let id = section.name("id", errors);
        let name = section.string("name", errors);
        let service_level_target_s = section.uint("service_level_target_s", 1, 600, 25, errors);
        let max_wait_s = section.uint("max_wait_s", 10, 7200, 600, errors);
        let max_length = section.uint("max_length", 1, 10_000, 50, errors);
        let overflow = parse_overflow(&mut section, errors);
        let announce_interval_s = section.uint("announce_interval_s", 0, 600, 60, errors);
        let strategy = match section.optional_string("strategy", errors) {
            None => Some(Strategy::LongestIdle),
            Some(text) => {
                let strategy = Strategy::from_name(text);
                if strategy.is_none() {
                    errors.push(
                        &section.key_path("strategy"),
                        format!("{text:?} is not one of longest-idle, round-robin, ring-all, fewest-calls, skills"),
                    );
                }
                strategy
            }
        };
        let ring_timeout_s = section.uint("ring_timeout_s", 5, 120, 15, errors);
        let wrap_up_s = section.uint("wrap_up_s", 0, 600, 10, errors);
        let max_missed_offers = section.uint("max_missed_offers", 1, 20, 3, errors);
        if let Some(id) = id {
            if queues.iter().any(|q| q.id.as_str() == id) {
                errors.push(
                    &section.key_path("id"),
                    format!("{id:?} is used by an earlier queue"),
                );
            }
        }
        section.finish(errors);
        if let (Some(id), Some(name), Some(overflow), Some(strategy)) =
            (id, name, overflow, strategy)
        {
            queues.push(Queue {
                id: QueueId::new(id),
                name: name.to_owned(),
                service_level_target_s,
                max_wait_s,
                max_length,
                overflow,
                announce_interval_s,
                strategy,
                ring_timeout_s,
                wrap_up_s,
                max_missed_offers,
            });
        }
    }
    queues
}

/// Reads `overflow`; absent means the `queue-full` prompt, then hang up.
fn parse_overflow(section: &mut Section<'_>, errors: &mut ErrorList) -> Option<Overflow> {
    let Some(mut table) = section.table("overflow", errors) else {
        return Some(Overflow::PromptThenHangup("queue-full".to_owned()));
    };
    let queue = table.optional_name("queue", errors);
    let prompt = table.optional_name("prompt", errors);
    let then = table.optional_string("then", errors);
    let overflow = match (queue, prompt, then) {
        (Some(queue), None, None) => Some(Overflow::Queue(QueueId::new(queue))),
        (None, Some(prompt), None | Some("hangup")) => {
            Some(Overflow::PromptThenHangup(prompt.to_owned()))
        }
        (None, Some(_), Some(other)) => {
            errors.push(
                &table.key_path("then"),
                format!("{other:?} is not supported (only \"hangup\")"),
            );
            None
        }
        _ => {
            errors.push(
                &section.key_path("overflow"),
                "must be { queue = \"ID\" } or { prompt = \"NAME\", then = \"hangup\" }",
            );
            None
        }
    };
    table.finish(errors);
    overflow
}

fn check_overflow_targets(queues: &[Queue], errors: &mut ErrorList) {
    for (index, queue) in queues.iter().enumerate() {
        if let Overflow::Queue(target) = &queue.overflow {
            let key = format!("queue[{index}].overflow.queue");
            if target == &queue.id {
                errors.push(&key, "a queue cannot overflow into itself");
            } else if !queues.iter().any(|q| &q.id == target) {
                errors.push(
                    &key,
                    format!("{:?} is not a queue of this tenant", target.as_str()),
                );
            }
        }
    }
}

fn parse_agents(
    top: &mut Section<'_>,
    queue_ids: &HashSet<&QueueId>,
    errors: &mut ErrorList,
) -> Vec<Agent> {
    let mut agents: Vec<Agent> = Vec::new();
    for mut section in top.tables("agent", errors) {
        let id = section.name("id", errors);
        let name = section.string("name", errors);
        let ha1_md5 = parse_ha1(&mut section, "ha1_md5", 32, errors);
        let ha1_sha256 = parse_ha1(&mut section, "ha1_sha256", 64, errors);
        if section.value("ha1_md5").is_none() && section.value("ha1_sha256").is_none() {
            errors.push(
                &section.key_path("ha1_sha256"),
                "missing: an agent needs ha1_md5 or ha1_sha256 to log in",
            );
        }
        let mut queues = Vec::new();
        for (path, text) in section.strings("queues", errors) {
            let queue = QueueId::new(text);
            if !queue_ids.contains(&queue) {
                errors.push(&path, format!("{text:?} is not a queue of this tenant"));
            } else if queues.contains(&queue) {
                errors.push(&path, format!("{text:?} is listed twice"));
            } else {
                queues.push(queue);
            }
        }
        let mut skills = BTreeMap::new();
        if let Some(mut table) = section.table("skills", errors) {
            for (queue, level) in table.entries() {
                let path = table.key_path(queue);
                let queue_id = QueueId::new(queue);
                if !queue_ids.contains(&queue_id) {
                    errors.push(&path, format!("{queue:?} is not a queue of this tenant"));
                    continue;
                }
                match level {
                    Value::Integer(n) if (1..=10).contains(n) => {
                        skills.insert(queue_id, u32::try_from(*n).expect("1..=10 fits in u32"));
                    }
                    other => errors.push(
                        &path,
                        format!("must be a skill level between 1 and 10, not {other}"),
                    ),
                }
            }
            table.finish(errors);
        }
        if let Some(id) = id {
            if agents.iter().any(|a| a.id.as_str() == id) {
                errors.push(
                    &section.key_path("id"),
                    format!("{id:?} is used by an earlier agent"),
                );
            }
        }
        section.finish(errors);
        if let (Some(id), Some(name)) = (id, name) {
            agents.push(Agent {
                id: AgentId::new(id),
                name: name.to_owned(),
                ha1_md5,
                ha1_sha256,
                queues,
                skills,
            });
        }
    }
    agents
}

/// Reads an HA1 digest: `hex_len` lowercase hex digits, never a password.
fn parse_ha1(
    section: &mut Section<'_>,
    key: &'static str,
    hex_len: usize,
    errors: &mut ErrorList,
) -> Option<String> {
    let text = section.optional_string(key, errors)?;
    let is_hex = text.len() == hex_len
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if is_hex {
        Some(text.to_owned())
    } else {
        // Never echo the value: a misconfigured HA1 field may hold a plain password.
        errors.push(
            &section.key_path(key),
            format!("must be {hex_len} lowercase hex digits (the hash of \"user:realm:password\")"),
        );
        None
    }
}

fn parse_groups(
    top: &mut Section<'_>,
    agent_ids: &HashSet<&AgentId>,
    errors: &mut ErrorList,
) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for mut section in top.tables("group", errors) {
        let id = section.name("id", errors);
        let name = section.string("name", errors);
        let written_members = section.strings("members", errors);
        let is_not_array = section.value("members").is_some_and(|v| !v.is_array());
        if written_members.is_empty() && !is_not_array {
            errors.push(
                &section.key_path("members"),
                "must list at least one member",
            );
        }
        let mut members = Vec::new();
        for (path, text) in written_members {
            if let Some(member) = parse_member(&path, text, agent_ids, errors) {
                members.push(member);
            }
        }
        let ring_timeout_s = section.uint("ring_timeout_s", 5, 300, 20, errors);
        let ring = match section.optional_string("ring", errors) {
            None | Some("together") => RingMode::Together,
            Some("in-turn") => RingMode::InTurn,
            Some(other) => {
                errors.push(
                    &section.key_path("ring"),
                    format!("{other:?} is not one of together, in-turn"),
                );
                RingMode::Together
            }
        };
        let hours = section.table("hours", errors).map(|mut table| {
            let (hours, _) = parse_hours(&mut table, false, errors);
            table.finish(errors);
            hours
        });
        if let Some(id) = id {
            if groups.iter().any(|g| g.id.as_str() == id) {
                errors.push(
                    &section.key_path("id"),
                    format!("{id:?} is used by an earlier group"),
                );
            }
        }
        section.finish(errors);
        if let (Some(id), Some(name)) = (id, name) {
            groups.push(Group {
                id: GroupId::new(id),
                name: name.to_owned(),
                members,
                ring_timeout_s,
                ring,
                hours,
            });
        }
    }
    groups
}

fn parse_member(
    path: &str,
    text: &str,
    agent_ids: &HashSet<&AgentId>,
    errors: &mut ErrorList,
) -> Option<GroupMember> {
    if let Some(rest) = text
        .strip_prefix("sip:")
        .or_else(|| text.strip_prefix("sips:"))
    {
        let well_formed =
            !rest.is_empty() && !rest.starts_with('@') && !rest.contains(char::is_whitespace);
        if well_formed {
            return Some(GroupMember::Uri(text.to_owned()));
        }
        errors.push(
            path,
            format!("{text:?} is not a SIP URI like \"sip:balie@backoffice.example\""),
        );
        return None;
    }
    let agent = AgentId::new(text);
    if agent_ids.contains(&agent) {
        Some(GroupMember::Agent(agent))
    } else {
        errors.push(
            path,
            format!("{text:?} is neither an agent of this tenant nor a sip: URI"),
        );
        None
    }
}

fn parse_menu(
    section: &mut Section<'_>,
    queue_ids: &HashSet<&QueueId>,
    group_ids: &HashSet<&GroupId>,
    errors: &mut ErrorList,
) -> Option<Menu> {
    let prompt = section.name("prompt", errors);
    let timeout_s = section.uint("timeout_s", 1, 60, 5, errors);
    let default = section.string("default", errors).and_then(|text| {
        parse_destination(
            &section.key_path("default"),
            text,
            queue_ids,
            group_ids,
            errors,
        )
    });
    let mut options = BTreeMap::new();
    match section.table("options", errors) {
        None => errors.push(
            &section.key_path("options"),
            "missing: a menu needs at least one option",
        ),
        Some(mut table) => {
            for (key, value) in table.entries() {
                let path = table.key_path(key);
                let digit = match key.chars().collect::<Vec<_>>().as_slice() {
                    [c] if c.is_ascii_digit() || *c == '*' || *c == '#' => Some(*c),
                    _ => {
                        errors.push(
                            &path,
                            format!("{key:?} is not a key on a phone (0-9, *, #)"),
                        );
                        None
                    }
                };
                let destination = match value {
                    Value::String(text) => {
                        parse_destination(&path, text, queue_ids, group_ids, errors)
                    }
                    other => {
                        errors.push(
                            &path,
                            format!(
                                "must be a string like \"queue:ID\", not {}",
                                other.type_str()
                            ),
                        );
                        None
                    }
                };
                if let (Some(digit), Some(destination)) = (digit, destination) {
                    options.insert(digit, destination);
                }
            }
            table.finish(errors);
        }
    }
    Some(Menu {
        prompt: prompt?.to_owned(),
        timeout_s,
        default: default?,
        options,
    })
}

fn parse_destination(
    path: &str,
    text: &str,
    queue_ids: &HashSet<&QueueId>,
    group_ids: &HashSet<&GroupId>,
    errors: &mut ErrorList,
) -> Option<Destination> {
    if let Some(queue) = text.strip_prefix("queue:") {
        let queue = QueueId::new(queue);
        if queue_ids.contains(&queue) {
            return Some(Destination::Queue(queue));
        }
        errors.push(path, format!("{text:?} names no queue of this tenant"));
    } else if let Some(group) = text.strip_prefix("group:") {
        let group = GroupId::new(group);
        if group_ids.contains(&group) {
            return Some(Destination::Group(group));
        }
        errors.push(path, format!("{text:?} names no group of this tenant"));
    } else {
        errors.push(
            path,
            format!("{text:?} must be \"queue:ID\" or \"group:ID\""),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [tenant]
        id = "zwolle"
        name = "Gemeente Zwolle"
        realm = "zwolle.test"
        numbers = ["14038"]
        [hours]
        mon = ["09:00-12:00", "13:00-17:00"]
        [[queue]]
        id = "algemeen"
        name = "Algemeen"
    "#;

    #[test]
    fn minimal_tenant_gets_documented_defaults() {
        let tenant = parse_tenant("zwolle.toml", MINIMAL).expect("minimal tenant is valid");
        let queue = &tenant.queues[0];
        assert_eq!(queue.service_level_target_s, 25);
        assert_eq!(queue.max_wait_s, 600);
        assert_eq!(queue.max_length, 50);
        assert_eq!(queue.strategy, Strategy::LongestIdle);
        assert_eq!(queue.ring_timeout_s, 15);
        assert_eq!(queue.wrap_up_s, 10);
        assert_eq!(queue.max_missed_offers, 3);
        assert_eq!(
            queue.overflow,
            Overflow::PromptThenHangup("queue-full".to_owned())
        );
        assert_eq!(tenant.closed_prompt, "closed");
        assert!(tenant.hours.close_on_public_holidays);
        assert_eq!(tenant.hours.ranges(chrono::Weekday::Mon).len(), 2);
        assert_eq!(tenant.entry(), Some(Entry::Queue(&queue.id)));
    }

    #[test]
    fn two_queues_need_a_menu() {
        let text = format!("{MINIMAL}\n[[queue]]\nid = \"extra\"\nname = \"Extra\"\n");
        let errors = parse_tenant("zwolle.toml", &text).expect_err("menu required");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("zwolle.toml: menu: missing"),
            "{lines:?}"
        );
    }

    #[test]
    fn group_members_are_agents_or_sip_uris() {
        let text = format!(
            "{MINIMAL}\n[[agent]]\nid = \"eva\"\nname = \"Eva\"\nha1_md5 = \"{}\"\nqueues = [\"algemeen\"]\n\
             [[group]]\nid = \"vth\"\nname = \"VTH\"\nmembers = [\"eva\", \"sips:balie@vth.example\", \"sip:@x\"]\n",
            "0".repeat(32)
        );
        let errors = parse_tenant("zwolle.toml", &text).expect_err("bad URI rejected");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["zwolle.toml: group[0].members[2]: \"sip:@x\" is not a SIP URI like \"sip:balie@backoffice.example\""]);
        let fixed = text.replace(", \"sip:@x\"", "");
        let tenant = parse_tenant("zwolle.toml", &fixed).expect("valid members");
        assert_eq!(
            tenant.groups[0].members,
            [
                GroupMember::Agent(AgentId::new("eva")),
                GroupMember::Uri("sips:balie@vth.example".to_owned())
            ]
        );
        assert_eq!(tenant.groups[0].ring_timeout_s, 20);
        assert_eq!(tenant.groups[0].ring, RingMode::Together);
    }

    #[test]
    fn agent_without_any_ha1_cannot_log_in() {
        let text = format!("{MINIMAL}\n[[agent]]\nid = \"eva\"\nname = \"Eva\"\n");
        let errors = parse_tenant("zwolle.toml", &text).expect_err("HA1 required");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "agent[0].ha1_sha256");
    }
}
