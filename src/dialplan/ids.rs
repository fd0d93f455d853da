//! Typed ids for dial-plan objects, so a queue id is never passed where an agent id is
//! expected. They are the names an operator writes in the dial-plan file.

use std::fmt;

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps a name that the dial-plan parser has already checked with [`is_valid_name`].
            pub fn new(name: impl Into<String>) -> Self {
                $name(name.into())
            }

            /// The name as written in the dial plan.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_id!(
    /// A tenant (one municipality), e.g. `almere`.
    TenantId
);
name_id!(
    /// A queue within a tenant, e.g. `burgerzaken`.
    QueueId
);
name_id!(
    /// A front-office agent within a tenant; also the agent's SIP digest username.
    AgentId
);
name_id!(
    /// A backoffice group within a tenant, e.g. `vth`.
    GroupId
);

/// Longest accepted id or prompt name; they appear in metrics labels and file names.
pub const MAX_NAME_LEN: usize = 40;

/// True for names usable as ids and prompt names: 1 to [`MAX_NAME_LEN`] characters of
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter or digit. Safe in
/// metric labels, file names and SIP user parts.
pub fn is_valid_name(name: &str) -> bool {
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    starts_well
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_slugs() {
        assert!(is_valid_name("sociale-zaken"));
        assert!(is_valid_name("a1_b"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("Burgerzaken"));
        assert!(!is_valid_name("-x"));
        assert!(!is_valid_name("with space"));
        assert!(!is_valid_name(&"x".repeat(MAX_NAME_LEN + 1)));
    }
}
