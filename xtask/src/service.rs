//! Child processes of the local stack: each in its own process group, so stopping it also stops
//! whatever it started (wrangler starts workerd), and nothing outlives `cargo xtask`.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Service {
    name: &'static str,
    child: Child,
}

/// Where a service's output goes.
#[derive(Clone, Copy)]
pub enum Output<'a> {
    /// To this terminal (the developer watches the worker's log lines in `dev`).
    Inherit,
    /// To a log file (tests read the worker's log lines from it).
    File(&'a Path),
}

impl Service {
    pub fn spawn(name: &'static str, command: &mut Command, output: Output<'_>) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        match output {
            Output::Inherit => command.stdout(Stdio::inherit()).stderr(Stdio::inherit()),
            Output::File(path) => {
                let log =
                    File::create(path).with_context(|| format!("creating {}", path.display()))?;
                command.stdout(log.try_clone()?).stderr(log)
            }
        };
        let child = command
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self { name, child })
    }

    /// Fails if the process already exited (e.g. a port was taken).
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early ({status})", self.name);
        }
        Ok(())
    }

    fn signal_group(&self, signal: libc::c_int) {
        let group = -(self.child.id() as libc::pid_t);
        unsafe { libc::kill(group, signal) };
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.signal_group(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                // Children of the group (workerd) may still be winding down.
                self.signal_group(libc::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Polls `url` until it answers with a status other than a connection failure or 5xx.
pub async fn wait_for_http(service: &mut Service, url: &str, timeout: Duration) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        service.check_running()?;
        if let Ok(response) = client.get(url).timeout(Duration::from_secs(2)).send().await {
            if !response.status().is_server_error() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not become ready at {url} within {timeout:?}",
                service.name
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
