//! Counters the engine keeps about what it saw and refused. Plain integers: the engine
//! is single-threaded; the driver copies them out for `/metrics` and logs.

/// Every reason a message was dropped or refused is counted here, never silently lost.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    /// Datagrams or stream frames that did not parse as SIP.
    pub malformed_dropped: u64,
    /// Malformed requests that were answered (400, 505, 513).
    pub malformed_answered: u64,
    /// Requests refused by semantic checks (400 missing header, 416, 420, …).
    pub requests_rejected: u64,
    /// INVITEs to a number no tenant answers (404).
    pub unknown_number: u64,
    /// INVITEs from a source outside `sip.trusted_peers` (403).
    pub untrusted_source: u64,
    /// Requests with Max-Forwards 0 (483).
    pub too_many_hops: u64,
    /// Requests for methods we do not support (405/501).
    pub method_not_allowed: u64,
    /// INVITEs refused for capacity: call limit or RTP ports exhausted (503).
    pub capacity_refused: u64,
    /// INVITEs refused while draining for shutdown (503).
    pub shutdown_refused: u64,
    /// RTP ports the driver announced that were outside the range or known already.
    pub rtp_ports_refused: u64,
    /// Offers with no codec in common (488).
    pub no_common_codec: u64,
    /// Wrong digest responses (wrong password or user), each answered 401 or, past the
    /// retry limit, 403.
    pub auth_failures: u64,
    /// Transfers refused: malformed or unpermitted REFERs, unknown targets, the hop limit.
    pub transfers_refused: u64,
    /// Calls that reached the established state.
    pub calls_established: u64,
    /// Calls that ended (any reason).
    pub calls_ended: u64,
    /// Requests that matched an existing transaction (retransmissions absorbed).
    pub responses_sent: u64,
}
