//! The time a request or a run may take: the Lambda deadline less a margin for answering.
//!
//! Lambda ends an invocation at its deadline, and API Gateway then answers its own bare 5xx.
//! Work runs against this deadline instead, so that a slow dependency becomes a 503 of ours,
//! with `Retry-After`, while there is still time to send it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Kept back from the Lambda deadline to write the answer and the log line.
pub const MARGIN: Duration = Duration::from_millis(300);
/// The budget when no Lambda deadline came with the work (in-process tests): the
/// `Timeout` of `template.yaml`'s HTTP functions.
pub const WITHOUT_LAMBDA: Duration = Duration::from_secs(10);

/// 2001-09-09: anything earlier is not a Lambda deadline.
const EARLIEST_EPOCH_MILLIS: u64 = 1_000_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// From a Lambda context's deadline (milliseconds since the epoch), less `MARGIN`. A
    /// value that is no such time gives `WITHOUT_LAMBDA`: 0, as a context built without a
    /// runtime has, and the time left that `cargo lambda watch` sends instead (600000).
    pub fn from_lambda(deadline_epoch_millis: u64) -> Self {
        if deadline_epoch_millis < EARLIEST_EPOCH_MILLIS {
            return Self::after(WITHOUT_LAMBDA);
        }
        let now_millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let left = Duration::from_millis(deadline_epoch_millis.saturating_sub(now_millis));
        Self::after(left.saturating_sub(MARGIN))
    }

    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// True when less than `needed` is left: no new attempt should start.
    pub fn too_close_for(self, needed: Duration) -> bool {
        self.remaining() < needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_leaves_nothing() {
        let passed = Deadline::from_lambda(EARLIEST_EPOCH_MILLIS + 1);
        assert_eq!(passed.remaining(), Duration::ZERO);
        assert!(passed.too_close_for(Duration::from_millis(1)));
    }

    #[test]
    fn the_margin_is_kept_back() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64;
        let left = Deadline::from_lambda(now + 2_000).remaining();
        assert!(left <= Duration::from_millis(1_700) && left > Duration::from_millis(1_500));
    }

    #[test]
    fn without_a_lambda_deadline_the_template_timeout_applies() {
        for not_a_deadline in [0, 600_000] {
            assert!(Deadline::from_lambda(not_a_deadline).remaining() > Duration::from_secs(9));
        }
    }
}
