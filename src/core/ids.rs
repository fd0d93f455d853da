//! Typed ids, so a call id is never passed where a dialog id is expected.

use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}

typed_id!(
    /// One call as the B2BUA sees it (all its legs together).
    CallId, "call-"
);
typed_id!(
    /// One SIP transaction inside the transaction layer.
    TransactionId, "tx-"
);
typed_id!(
    /// One SIP dialog.
    DialogId, "dlg-"
);
typed_id!(
    /// One media session (an RTP port pair bound to a call leg).
    MediaSessionId, "media-"
);
typed_id!(
    /// One outgoing leg of a call: the daemon ringing an agent's phone.
    LegId, "leg-"
);
typed_id!(
    /// One stream connection (TCP) known to the transport layer.
    ConnectionId, "conn-"
);

/// Hands out ids of one kind in increasing order. Deterministic, so replays match.
#[derive(Debug, Default, Clone)]
pub struct IdAllocator {
    next: u64,
}

impl IdAllocator {
    /// The next raw id value (starting at 1).
    pub fn next_raw(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}
