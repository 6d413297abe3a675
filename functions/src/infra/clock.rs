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

/// The platform's clock: `Date.now()` in workerd (where it advances only across I/O, which is
/// what request timing measures), the system clock on the host. Owned, so work that outlives
/// the request (`Scope::defer`) can use it too.
pub struct WallClock;

impl Clock for WallClock {
    #[cfg(target_arch = "wasm32")]
    fn unix_millis(&self) -> f64 {
        js_sys::Date::now()
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn unix_millis(&self) -> f64 {
        SystemClock.unix_millis()
    }
}

/// Waits for `duration`. In workerd this is a timer the current request owns, so a request
/// that waits this way is never taken for hung (as one awaiting another request's I/O is).
#[cfg(target_arch = "wasm32")]
pub async fn sleep(duration: std::time::Duration) {
    worker::Delay::from(duration).await;
}

/// Waits for `duration` without tying the host build to an async runtime: a thread sleeps
/// and then wakes the task.
#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep(duration: std::time::Duration) {
    use std::sync::{Arc, Mutex};
    use std::task::{Poll, Waker};

    #[derive(Default)]
    struct Timer {
        elapsed: bool,
        waker: Option<Waker>,
    }

    let timer = Arc::new(Mutex::new(Timer::default()));
    let shared = Arc::clone(&timer);
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let mut timer = shared.lock().expect("timer lock");
        timer.elapsed = true;
        if let Some(waker) = timer.waker.take() {
            waker.wake();
        }
    });
    std::future::poll_fn(|context| {
        let mut timer = timer.lock().expect("timer lock");
        if timer.elapsed {
            Poll::Ready(())
        } else {
            timer.waker = Some(context.waker().clone());
            Poll::Pending
        }
    })
    .await;
}
