//! Time is passed in: `SystemTime` and chrono's `Utc::now` panic on wasm32-unknown-unknown,
//! so the wasm glue supplies a clock backed by `Date.now()`.

pub trait Clock {
    fn unix_millis(&self) -> f64;

    fn unix_seconds(&self) -> i64 {
        (self.unix_millis() / 1000.0).floor() as i64
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn unix_millis(&self) -> f64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the system clock is after 1970");
        since_epoch.as_secs_f64() * 1000.0
    }
}
