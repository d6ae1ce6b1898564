//! Retry policy: exponential backoff with full jitter, honouring `Retry-After`, bounded by a
//! number of attempts and by total time.

use std::time::{Duration, Instant, SystemTime};

/// How often and how long to retry transient failures (connection errors, 5xx, 429).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first try included). At least 1.
    pub attempts: u32,
    /// First backoff delay; doubles each retry.
    pub base_delay: Duration,
    /// Upper bound of one delay (also caps `Retry-After`).
    pub max_delay: Duration,
    /// No new attempt starts after this much time since the first.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

/// The state of one retried operation.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    started: Instant,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy) -> Backoff {
        Backoff {
            policy,
            started: Instant::now(),
            attempt: 0,
        }
    }

    /// Counts an attempt about to start.
    pub(crate) fn start_attempt(&mut self) -> u32 {
        self.attempt += 1;
        self.attempt
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// How long the attempt about to start may wait for an answer: what is left of the time
    /// budget (never less than half a second, so a last attempt can still be answered).
    pub(crate) fn attempt_timeout(&self) -> Duration {
        self.policy
            .max_elapsed
            .saturating_sub(self.started.elapsed())
            .max(Duration::from_millis(500))
    }

    /// The delay before the next attempt, or `None` when the budget is spent. `retry_after`
    /// (from the server) replaces the computed delay, capped by `max_delay`.
    pub(crate) fn next_delay(&self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempt >= self.policy.attempts.max(1) {
            return None;
        }
        let delay = match retry_after {
            Some(d) => d.min(self.policy.max_delay),
            None => {
                // Full jitter: uniform in [0, min(max, base * 2^(n-1))], never below 10 ms.
                let exp = self
                    .policy
                    .base_delay
                    .saturating_mul(1u32 << (self.attempt.saturating_sub(1)).min(16));
                let cap = exp.min(self.policy.max_delay);
                let ms = cap.as_millis().max(10) as u64;
                Duration::from_millis(fastrand::u64(ms / 2..=ms))
            }
        };
        if self.started.elapsed() + delay > self.policy.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_attempts_and_time() {
        let p = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(60),
        };
        let mut b = Backoff::new(p);
        b.start_attempt();
        let d1 = b.next_delay(None).unwrap();
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        b.start_attempt();
        let d2 = b.next_delay(None).unwrap();
        assert!(d2 >= Duration::from_millis(100) && d2 <= Duration::from_millis(200));
        b.start_attempt();
        assert_eq!(b.next_delay(None), None, "3 attempts are the limit");

        let mut b = Backoff::new(RetryPolicy {
            max_elapsed: Duration::from_millis(500),
            ..p
        });
        b.start_attempt();
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(1))),
            None,
            "a delay past the time budget ends the retries"
        );
        assert_eq!(
            b.next_delay(Some(Duration::from_millis(300))),
            Some(Duration::from_millis(300)),
            "Retry-After is honoured"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
