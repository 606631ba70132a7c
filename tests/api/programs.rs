//! The programs tests run: the service's own binary (logged, stopped by signal), and the check
//! that a program a test needs (prometheus, chromium) is installed, or required under CI.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};

/// The service binary with only these environment variables (besides `BIND_IP`, `PORT=0` and
/// `RUST_LOG=info`, which `env` may override), its port, and every line it logs from then on.
pub async fn start_binary_logged(
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-rooms"))
        .env_clear()
        .env("BIND_IP", "127.0.0.1")
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the binary logs its port before exiting");
            if let Some(port) = line.split("listening on port ").nth(1) {
                break port.trim().parse::<u16>().unwrap();
            }
        }
    };
    let port = tokio::time::timeout(std::time::Duration::from_secs(30), listening)
        .await
        .expect("the binary listens within 30 s");
    // Keep draining the log so the child never blocks on a full pipe.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    (child, port, log)
}

/// Waits (at most 10 s) until a line of `log` (from [`start_binary_logged`]) contains `needle`:
/// lines are read in the background, after the answers they follow.
pub async fn wait_for_line(log: &std::sync::Mutex<Vec<String>>, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !log.lock().unwrap().iter().any(|l| l.contains(needle)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no log line with {needle:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Sends SIGTERM to a child process.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Whether `binary --version` runs. Outside CI a missing one is said and its test passes; under
/// CI (`CI` set) the test fails: CI must run it.
pub fn installed_or_required(binary: &str, to: &str, install: &str) -> bool {
    let installed = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "{binary} is not installed, and CI must {to}"
        );
        eprintln!("{binary} is not installed: `{install}` (scripts/test does, as root) to {to}");
    }
    installed
}

/// A folder of a program's own (its data, its profile), removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
