//! One deadline queue for both clocks. Protocol timers and ring times are monotonic
//! (a clock step must not fire them early or late); calendar deadlines (a callback due
//! next working day 17:00) are wall-clock, because they must keep their meaning across a
//! restart, a summer-time change or an NTP step.
//!
//! Cancellation is lazy: the owner of a key ignores a deadline whose subject is gone or
//! changed state when it fires, which keeps scheduling O(log n) without a remove.
//! Entries due at the same time come out in the order they were scheduled, so a replay
//! with the same inputs fires them in the same order.

use super::time::{Instant, Now, WallTime};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

/// When a wall-clock deadline is pending, the driver is woken at least this often, so a
/// step of the wall clock (NTP, a suspended VM) is noticed within this time.
pub const WALL_CLOCK_RECHECK: Duration = Duration::from_secs(60);

/// When something is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// On the monotonic clock.
    Mono(Instant),
    /// On the wall clock (UTC milliseconds).
    Wall(WallTime),
}

struct Entry<T, K> {
    at: T,
    sequence: u64,
    key: K,
}

impl<T: Ord, K> PartialEq for Entry<T, K> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.sequence == other.sequence
    }
}
impl<T: Ord, K> Eq for Entry<T, K> {}
impl<T: Ord, K> PartialOrd for Entry<T, K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord, K> Ord for Entry<T, K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.at, self.sequence).cmp(&(&other.at, other.sequence))
    }
}

/// Pending deadlines of keys `K`, on either clock.
pub struct DeadlineQueue<K> {
    mono: BinaryHeap<Reverse<Entry<Instant, K>>>,
    wall: BinaryHeap<Reverse<Entry<WallTime, K>>>,
    sequence: u64,
}

impl<K> Default for DeadlineQueue<K> {
    fn default() -> Self {
        DeadlineQueue { mono: BinaryHeap::new(), wall: BinaryHeap::new(), sequence: 0 }
    }
}

impl<K> std::fmt::Debug for DeadlineQueue<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineQueue").field("mono", &self.mono.len()).field("wall", &self.wall.len()).finish()
    }
}

impl<K> DeadlineQueue<K> {
    /// Schedules `key` at `deadline`.
    pub fn schedule(&mut self, deadline: Deadline, key: K) {
        match deadline {
            Deadline::Mono(at) => self.schedule_mono(at, key),
            Deadline::Wall(at) => self.schedule_wall(at, key),
        }
    }

    /// Schedules `key` at monotonic `at`.
    pub fn schedule_mono(&mut self, at: Instant, key: K) {
        self.sequence += 1;
        self.mono.push(Reverse(Entry { at, sequence: self.sequence, key }));
    }

    /// Schedules `key` at wall-clock `at`.
    pub fn schedule_wall(&mut self, at: WallTime, key: K) {
        self.sequence += 1;
        self.wall.push(Reverse(Entry { at, sequence: self.sequence, key }));
    }

    /// The earliest monotonic deadline.
    pub fn next_mono(&self) -> Option<Instant> {
        self.mono.peek().map(|Reverse(entry)| entry.at)
    }

    /// The earliest wall-clock deadline.
    pub fn next_wall(&self) -> Option<WallTime> {
        self.wall.peek().map(|Reverse(entry)| entry.at)
    }

    /// When the driver should next wake, on the monotonic clock, as seen at `now`: the
    /// earliest monotonic deadline, or the wall deadline mapped onto the monotonic clock
    /// (but no later than [`WALL_CLOCK_RECHECK`] from `now`, so a clock step is noticed).
    pub fn poll_timeout(&self, now: Now) -> Option<Instant> {
        let wall = self.next_wall().map(|at| {
            let until_ms = u64::try_from(at.unix_ms().saturating_sub(now.wall.unix_ms())).unwrap_or(0);
            now.mono + Duration::from_millis(until_ms).min(WALL_CLOCK_RECHECK)
        });
        [self.next_mono(), wall].into_iter().flatten().min()
    }

    /// Removes and returns one key due at `now` (monotonic ones first, each clock in
    /// deadline then scheduling order); `None` when nothing is due.
    pub fn pop_due(&mut self, now: Now) -> Option<K> {
        if self.mono.peek().is_some_and(|Reverse(entry)| entry.at <= now.mono) {
            return self.mono.pop().map(|Reverse(entry)| entry.key);
        }
        if self.wall.peek().is_some_and(|Reverse(entry)| entry.at <= now.wall) {
            return self.wall.pop().map(|Reverse(entry)| entry.key);
        }
        None
    }

    /// Deadlines pending on both clocks.
    pub fn len(&self) -> usize {
        self.mono.len() + self.wall.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mono_us: u64, wall_ms: i64) -> Now {
        Now::new(Instant::from_micros(mono_us), WallTime(wall_ms))
    }

    #[test]
    fn fires_in_deadline_then_schedule_order() {
        let mut queue = DeadlineQueue::default();
        queue.schedule_mono(Instant::from_micros(20), "drain");
        queue.schedule_mono(Instant::from_micros(10), "b");
        queue.schedule_mono(Instant::from_micros(10), "a");
        assert_eq!(queue.next_mono(), Some(Instant::from_micros(10)));
        assert_eq!(queue.pop_due(at(5, 0)), None);
        assert_eq!(queue.pop_due(at(15, 0)), Some("b"));
        assert_eq!(queue.pop_due(at(15, 0)), Some("a"));
        assert_eq!(queue.pop_due(at(15, 0)), None);
        assert_eq!(queue.pop_due(at(20, 0)), Some("drain"));
        assert!(queue.is_empty());
    }

    #[test]
    fn a_wall_deadline_follows_the_wall_clock_not_the_monotonic_one() {
        let mut queue = DeadlineQueue::default();
        queue.schedule(Deadline::Wall(WallTime(10_000)), "callback");
        // Monotonic time runs far past the nominal distance, the wall clock was set back:
        // not due.
        assert_eq!(queue.pop_due(at(60_000_000, 5_000)), None);
        // The wall clock steps forward past the deadline while monotonic time barely moves.
        assert_eq!(queue.pop_due(at(60_000_001, 10_000)), Some("callback"));
    }

    #[test]
    fn poll_timeout_maps_a_wall_deadline_and_rechecks_a_far_one() {
        let mut queue: DeadlineQueue<&str> = DeadlineQueue::default();
        queue.schedule_wall(WallTime(1_000 + 2_000), "soon");
        assert_eq!(queue.poll_timeout(at(0, 1_000)), Some(Instant::from_micros(2_000_000)));
        let mut far: DeadlineQueue<&str> = DeadlineQueue::default();
        far.schedule_wall(WallTime(86_400_000), "tomorrow");
        assert_eq!(far.poll_timeout(at(0, 0)), Some(Instant::ZERO + WALL_CLOCK_RECHECK));
        far.schedule_mono(Instant::from_micros(5), "timer");
        assert_eq!(far.poll_timeout(at(0, 0)), Some(Instant::from_micros(5)));
    }
}
