//! Call reference numbers: every call gets one at arrival, so a caller can quote it later
//! and a complaint about how a call went can be traced to its record.
//!
//! Shape: 8 digits, 7 random digits followed by a Damm check digit, read out in two groups
//! (`1234 5678`). Eight digits fit a phone keypad and a person's short-term memory.
//!
//! Why Damm and not Luhn: the Damm check digit comes from a totally anti-symmetric
//! quasigroup of order 10, so it detects *every* single-digit error and *every* transposition
//! of two adjacent digits. Luhn misses the transposition `09` ↔ `90`, which is exactly the
//! kind of slip people make when reading a number aloud.
//!
//! The first digit is never 0, so a spoken or keyed reference cannot be mistaken for a
//! phone number (which starts with 0 in the Netherlands) and never loses a leading zero when
//! someone writes it into a spreadsheet.

use crate::core::rng::SeededRng;
use std::collections::{HashSet, VecDeque};
use std::fmt;

/// Damm's quasigroup table (weakly totally anti-symmetric, zero diagonal).
const DAMM_TABLE: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// Digits in a reference number, check digit included.
pub const REFERENCE_DIGITS: usize = 8;

/// Smallest random part (7 digits, first digit non-zero).
const PAYLOAD_MIN: u32 = 1_000_000;
/// How many random parts exist: 9 × 10^6.
const PAYLOAD_COUNT: u32 = 9_000_000;

/// Default number of recently issued references kept to guarantee uniqueness per tenant.
pub const DEFAULT_UNIQUENESS_WINDOW: usize = 100_000;
/// Upper bound on the uniqueness window: at most a ninth of the 9 × 10^6 possible numbers,
/// so a fresh draw collides with probability ≤ 1/9 and allocation stays fast.
pub const MAX_UNIQUENESS_WINDOW: usize = 1_000_000;

/// The Damm check digit of `digits` (each 0..=9). A number followed by its check digit
/// has interim digit 0.
fn damm_interim(digits: impl IntoIterator<Item = u8>) -> u8 {
    digits.into_iter().fold(0, |interim, digit| DAMM_TABLE[usize::from(interim)][usize::from(digit)])
}

/// The decimal digits of `value`, most significant first, padded to `count`.
fn decimal_digits(value: u32, count: usize) -> impl Iterator<Item = u8> {
    (0..count).rev().map(move |position| ((value / 10u32.pow(position as u32)) % 10) as u8)
}

/// A call reference number: 7 random digits and a Damm check digit, first digit non-zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ReferenceNumber(u32);

/// Why a text is not a reference number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// A character other than a digit, a space or a dash.
    #[error("reference contains a character that is not a digit")]
    NotADigit,
    /// Not exactly 8 digits.
    #[error("reference must have 8 digits")]
    WrongLength,
    /// Issued references never start with 0.
    #[error("reference cannot start with 0")]
    LeadingZero,
    /// The check digit does not match: a digit was mistyped or two were swapped.
    #[error("reference check digit does not match")]
    WrongCheckDigit,
}

impl ReferenceNumber {
    /// The reference for a 7-digit random part in `1_000_000..=9_999_999`.
    fn from_payload(payload: u32) -> ReferenceNumber {
        debug_assert!((PAYLOAD_MIN..PAYLOAD_MIN + PAYLOAD_COUNT).contains(&payload));
        let check = damm_interim(decimal_digits(payload, REFERENCE_DIGITS - 1));
        ReferenceNumber(payload * 10 + u32::from(check))
    }

    /// Parses a spoken/keyed reference; spaces and dashes between digits are ignored.
    pub fn parse(text: &str) -> Result<ReferenceNumber, ReferenceError> {
        let mut digits = Vec::with_capacity(REFERENCE_DIGITS);
        for c in text.trim().chars() {
            match c {
                ' ' | '-' => {}
                '0'..='9' => {
                    if digits.len() == REFERENCE_DIGITS {
                        return Err(ReferenceError::WrongLength);
                    }
                    digits.push(c as u8 - b'0');
                }
                _ => return Err(ReferenceError::NotADigit),
            }
        }
        if digits.len() != REFERENCE_DIGITS {
            return Err(ReferenceError::WrongLength);
        }
        if digits[0] == 0 {
            return Err(ReferenceError::LeadingZero);
        }
        if damm_interim(digits.iter().copied()) != 0 {
            return Err(ReferenceError::WrongCheckDigit);
        }
        let value = digits.iter().fold(0u32, |value, &digit| value * 10 + u32::from(digit));
        Ok(ReferenceNumber(value))
    }

    /// True when `text` parses as a reference number.
    pub fn is_valid(text: &str) -> bool {
        ReferenceNumber::parse(text).is_ok()
    }

    /// The 8-digit value (check digit last).
    pub fn value(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ReferenceNumber {
    /// Two groups of four, the way an agent reads it out: `1234 5678`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04} {:04}", self.0 / 10_000, self.0 % 10_000)
    }
}

/// Issues reference numbers for one tenant: random (deterministic under a seed) and unique
/// among the last `uniqueness_window` numbers issued.
#[derive(Debug, Clone)]
pub struct ReferenceAllocator {
    rng: SeededRng,
    uniqueness_window: usize,
    recent: HashSet<ReferenceNumber>,
    recent_order: VecDeque<ReferenceNumber>,
}

impl ReferenceAllocator {
    /// An allocator drawing from `rng`, unique over `uniqueness_window` issues (clamped to
    /// `1..=MAX_UNIQUENESS_WINDOW`).
    pub fn new(rng: SeededRng, uniqueness_window: usize) -> Self {
        let uniqueness_window = uniqueness_window.clamp(1, MAX_UNIQUENESS_WINDOW);
        ReferenceAllocator {
            rng,
            uniqueness_window,
            recent: HashSet::with_capacity(uniqueness_window.min(DEFAULT_UNIQUENESS_WINDOW)),
            recent_order: VecDeque::new(),
        }
    }

    /// The allocator for `tenant` under the run's `seed`, on its own random stream so one
    /// tenant's traffic does not shift another's numbers.
    pub fn for_tenant(seed: u64, tenant: &str, uniqueness_window: usize) -> Self {
        ReferenceAllocator::new(SeededRng::fork(seed, &format!("reference-numbers/{tenant}")), uniqueness_window)
    }

    /// The next reference. Draws again on a collision with a recently issued number; the
    /// window bound keeps the collision chance per draw at or below 1/9.
    pub fn allocate(&mut self) -> ReferenceNumber {
        let reference = loop {
            let payload = PAYLOAD_MIN + self.rng.below(u64::from(PAYLOAD_COUNT)) as u32;
            let candidate = ReferenceNumber::from_payload(payload);
            if !self.recent.contains(&candidate) {
                break candidate;
            }
        };
        self.remember(reference);
        reference
    }

    /// Counts `reference` as issued (one a previous run of the daemon handed out, read
    /// back from the store), so it is not issued again within the window.
    pub fn mark_issued(&mut self, reference: ReferenceNumber) {
        if !self.recent.contains(&reference) {
            self.remember(reference);
        }
    }

    fn remember(&mut self, reference: ReferenceNumber) {
        if self.recent_order.len() == self.uniqueness_window {
            if let Some(oldest) = self.recent_order.pop_front() {
                self.recent.remove(&oldest);
            }
        }
        self.recent.insert(reference);
        self.recent_order.push_back(reference);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits_of(reference: ReferenceNumber) -> Vec<u8> {
        decimal_digits(reference.value(), REFERENCE_DIGITS).collect()
    }

    fn text_of(digits: &[u8]) -> String {
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    #[test]
    fn a_reference_marked_issued_is_not_issued_again() {
        let first = ReferenceAllocator::for_tenant(1, "almere", 1000).allocate();
        let mut restarted = ReferenceAllocator::for_tenant(1, "almere", 1000);
        restarted.mark_issued(first);
        for _ in 0..500 {
            assert_ne!(restarted.allocate(), first, "the same seed would repeat it without the mark");
        }
    }

    #[test]
    fn damm_matches_the_published_example() {
        // Damm's worked example: 572 has check digit 4.
        assert_eq!(damm_interim([5, 7, 2]), 4);
        assert_eq!(damm_interim([5, 7, 2, 4]), 0);
    }

    #[test]
    fn every_single_substitution_and_adjacent_transposition_is_detected() {
        let mut allocator = ReferenceAllocator::for_tenant(14036, "almere", 1000);
        for _ in 0..200 {
            let reference = allocator.allocate();
            let digits = digits_of(reference);
            assert!(ReferenceNumber::is_valid(&text_of(&digits)));
            for position in 0..REFERENCE_DIGITS {
                for replacement in 0..10u8 {
                    if replacement == digits[position] {
                        continue;
                    }
                    let mut mutated = digits.clone();
                    mutated[position] = replacement;
                    assert!(!ReferenceNumber::is_valid(&text_of(&mutated)), "{mutated:?} from {reference}");
                }
            }
            for position in 0..REFERENCE_DIGITS - 1 {
                if digits[position] == digits[position + 1] {
                    continue;
                }
                let mut swapped = digits.clone();
                swapped.swap(position, position + 1);
                assert!(!ReferenceNumber::is_valid(&text_of(&swapped)), "{swapped:?} from {reference}");
            }
        }
    }

    #[test]
    fn catches_the_transposition_luhn_misses() {
        // A payload containing "09": swapping to "90" must fail the check.
        let reference = ReferenceNumber::from_payload(1_230_945);
        let text = reference.value().to_string();
        let swapped = text.replacen("09", "90", 1);
        assert_ne!(text, swapped);
        assert!(ReferenceNumber::is_valid(&text));
        assert!(!ReferenceNumber::is_valid(&swapped));
    }

    #[test]
    fn displays_in_two_groups_and_parses_back_with_spaces_or_dashes() {
        let reference = ReferenceNumber::from_payload(1_234_567);
        let shown = reference.to_string();
        assert_eq!(shown.len(), 9);
        assert_eq!(&shown[..4], "1234");
        assert_eq!(&shown[4..5], " ");
        assert_eq!(ReferenceNumber::parse(&shown), Ok(reference));
        assert_eq!(ReferenceNumber::parse(&shown.replace(' ', "-")), Ok(reference));
        assert_eq!(ReferenceNumber::parse(&format!("  {} ", reference.value())), Ok(reference));
    }

    #[test]
    fn rejects_malformed_text() {
        let valid = ReferenceNumber::from_payload(7_654_321).value().to_string();
        assert_eq!(ReferenceNumber::parse(&valid[..7]), Err(ReferenceError::WrongLength));
        assert_eq!(ReferenceNumber::parse(&format!("{valid}1")), Err(ReferenceError::WrongLength));
        assert_eq!(ReferenceNumber::parse("1234a678"), Err(ReferenceError::NotADigit));
        assert_eq!(ReferenceNumber::parse(""), Err(ReferenceError::WrongLength));
        // A number starting with 0 is rejected even when its check digit is right.
        let check = damm_interim([0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(ReferenceNumber::parse(&format!("0123456{check}")), Err(ReferenceError::LeadingZero));
    }

    #[test]
    fn allocations_never_start_with_zero_and_are_unique_within_the_window() {
        let window = 5_000;
        let mut allocator = ReferenceAllocator::for_tenant(1, "zwolle", window);
        let mut seen = HashSet::new();
        for _ in 0..window {
            let reference = allocator.allocate();
            assert!((10_000_000..100_000_000).contains(&reference.value()));
            assert!(seen.insert(reference), "duplicate {reference}");
        }
    }

    #[test]
    fn collisions_draw_again() {
        // 50 000 draws from 9 × 10^6 numbers collide about 139 times (birthday bound), so the
        // draw-again path runs many times here.
        let mut allocator = ReferenceAllocator::new(SeededRng::fork(3, "collisions"), 50_000);
        let mut seen = HashSet::new();
        for _ in 0..50_000 {
            assert!(seen.insert(allocator.allocate()));
        }
    }

    #[test]
    fn same_seed_same_numbers_and_tenants_differ() {
        let draw = |seed, tenant| {
            let mut allocator = ReferenceAllocator::for_tenant(seed, tenant, 100);
            (0..20).map(|_| allocator.allocate()).collect::<Vec<_>>()
        };
        assert_eq!(draw(42, "almere"), draw(42, "almere"));
        assert_ne!(draw(42, "almere"), draw(42, "den-haag"));
        assert_ne!(draw(42, "almere"), draw(43, "almere"));
    }
}
