//! Concurrency control: the number of parts allowed in flight, lowered when the server says
//! SlowDown and raised again slowly (additive increase, multiplicative decrease).

use std::sync::Mutex;

/// An AIMD limit between 1 and a maximum: halved on throttling, grown by one part per
/// "limit" successes (about one step per round of parts).
#[derive(Debug)]
pub struct Aimd {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: f64,
    max: u32,
}

impl Aimd {
    /// Starts at `max`.
    pub fn new(max: u32) -> Self {
        Self {
            state: Mutex::new(State {
                limit: max.max(1) as f64,
                max: max.max(1),
            }),
        }
    }

    /// Changes the maximum (and clamps the limit to it).
    pub fn set_max(&self, max: u32) {
        let mut s = self.state.lock().expect("aimd lock");
        s.max = max.max(1);
        s.limit = s.limit.min(s.max as f64);
    }

    /// Parts allowed in flight now.
    pub fn limit(&self) -> u32 {
        self.state.lock().expect("aimd lock").limit as u32
    }

    /// The server throttled: halve. Returns the new limit.
    pub fn on_throttle(&self) -> u32 {
        let mut s = self.state.lock().expect("aimd lock");
        s.limit = (s.limit / 2.0).max(1.0);
        s.limit as u32
    }

    /// A part succeeded: grow by 1/limit. Returns the new limit when it rose by a whole part.
    pub fn on_success(&self) -> Option<u32> {
        let mut s = self.state.lock().expect("aimd lock");
        let before = s.limit as u32;
        s.limit = (s.limit + 1.0 / s.limit).min(s.max as f64);
        (s.limit as u32 > before).then_some(s.limit as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_throttle_and_recovers_slowly() {
        let a = Aimd::new(16);
        assert_eq!(a.limit(), 16);
        assert_eq!(a.on_throttle(), 8);
        assert_eq!(a.on_throttle(), 4);
        // About one step up per round of `limit` successes.
        for _ in 0..4 {
            a.on_success();
        }
        assert_eq!(a.limit(), 4);
        assert_eq!(a.on_success(), Some(5));
        assert_eq!(a.on_success(), None);
        for _ in 0..1000 {
            a.on_success();
        }
        assert_eq!(a.limit(), 16);
        for _ in 0..10 {
            a.on_throttle();
        }
        assert_eq!(a.limit(), 1);
        a.set_max(3);
        assert!(a.limit() <= 3);
    }
}
