//! A real browser for the staff console's tests: Debian's Chromium, headless, driven over
//! WebDriver (Debian's `chromedriver`, which `tools/setup` installs) with fantoccini.
//! The driver runs as a process that cannot outlive the test, on a free loopback port.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use balcao_central::testing::Kept;
use fantoccini::{Client, ClientBuilder};

/// A headless Chromium session and the driver behind it.
pub struct Browser {
    pub client: Client,
    _driver: Kept,
    /// Chromium's profile folder, which names its processes.
    profile: std::path::PathBuf,
}

/// A test that fails before closing its session leaves Chromium running (the driver's end
/// does not end the browser): whatever runs on this session's profile is ended with it.
impl Drop for Browser {
    fn drop(&mut self) {
        let pattern = format!("--user-data-dir={}", self.profile.display());
        let _ = Command::new("pkill").args(["-KILL", "-f", "--"]).arg(pattern).status();
    }
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Browser(chromium over WebDriver)")
    }
}

impl Browser {
    /// Starts `chromedriver` and a Chromium session with a profile of its own in `dir`, a
    /// 1280×900 window, and the development CA's certificates accepted (central's is made per
    /// test). Its log goes to `dir/chromedriver.log`.
    pub async fn start(dir: &Path) -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free port").port();
        let mut command = Command::new("chromedriver");
        command.arg(format!("--port={port}")).arg("--allowed-ips=127.0.0.1");
        let driver =
            Kept::start(&command, "TERM", &dir.join("chromedriver.log")).expect("chromedriver runs (tools/setup installs chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = dir.join("chromium-profile");
        let capabilities = serde_json::json!({
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", "--hide-scrollbars", format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!("an object") };
        // The driver speaks plain HTTP on loopback: no TLS between the test and it.
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Self { client, _driver: driver, profile }
    }

    /// Saves a screenshot of the page as `dir/name.png` (a test's `CARGO_TARGET_TMPDIR`), to be
    /// looked at; returns its path.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "a real screenshot, {} bytes", png.len());
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Waits until the page's source passes `test`, for at most `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let source = self.client.source().await.expect("page source");
            if test(&source) {
                return source;
            }
            assert!(Instant::now() < deadline, "{what}: not within {timeout:?}; the page is:\n{source}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What axe-core (installed by `tools/setup test`) finds wrong on the page as shown, by the
    /// WCAG 2.0–2.2 A and AA rules: one line per rule broken, with the elements it names.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let tools = std::env::var_os("BALCAO_TOOLS")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/balcao/tools")))
            .expect("BALCAO_TOOLS or HOME");
        let file = tools.join("axe-core/4.10.3/axe.min.js");
        let axe = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e} (tools/setup test fetches axe-core)", file.display()));
        self.client.execute(&format!("{axe}\nreturn true;"), vec![]).await.expect("axe-core loads");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
                   .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — '
                       + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        serde_json::from_value(found).expect("a list of problems")
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
