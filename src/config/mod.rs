//! Daemon configuration: `veertien.toml` plus `VEERTIEN_*` environment overrides, loaded
//! into validated [`Settings`], and `veertien check`, which also checks every dial plan.

mod check;
mod cidr;
mod error;
mod load;
mod raw;
mod settings;
mod validate;

pub use check::{check, check_with_env, missing_prompts, CheckReport};
pub use cidr::{Cidr, CidrError};
pub use error::{ConfigError, KeyProblem};
pub use load::{load, load_with_env, ENV_LEVEL_SEPARATOR, ENV_PREFIX};
pub use settings::{
    ApiRole, ApiSettings, ApiToken,
    DialplanSettings, HttpSettings, LimitSettings, LogFormat, LogSettings, RtpSettings, Settings,
    ShutdownSettings, SipSettings, StoreSettings,
};
