//! The routing configuration: one TOML file per tenant (municipality) parsed into a
//! checked [`DialPlan`]. Parsing is pure (`&str` in); only [`load_dir`] in `files.rs`
//! touches the file system.

mod error;
mod fields;
mod files;
mod hours;
mod ids;
pub mod number;
mod plan;
mod tenant;

pub(crate) use error::toml_syntax_problem;
pub use error::DialplanError;
pub use files::load_dir;
pub use hours::{Hours, TimeRange, TimeZone, SECONDS_PER_DAY};
pub use ids::{is_valid_name, AgentId, GroupId, QueueId, TenantId, MAX_NAME_LEN};
pub use plan::DialPlan;
pub use tenant::{
    parse_tenant, Agent, Destination, Entry, Group, GroupMember, Menu, Overflow, Queue, RingMode,
    Strategy, Tenant,
};
