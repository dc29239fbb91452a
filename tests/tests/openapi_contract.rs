//! Central against an OpenAPI fuzzer nobody on the team wrote: schemathesis (installed by
//! `tools/setup test` from PyPI into a virtual environment) reads central's published document
//! and throws generated requests at every operation, over mutual TLS with a kiosk's
//! certificate, checking that no answer is a server error, has a status the document does not
//! list, or breaks its documented schema, content type or headers. `BALCAO_OPENAPI_SECONDS`
//! sets the time budget (30 s by default).
//!
//! Left out: schemathesis's checks that every schema-valid request is accepted and every
//! invalid one refused. The document describes shapes; central also checks its catalog (a
//! service id, a fee) and, in a batch, answers each item by itself (200 with per-item
//! refusals), which those two checks cannot know.

use std::path::PathBuf;
use std::process::Command;

use balcao_tests::loopback_central;

fn schemathesis() -> PathBuf {
    let tools = std::env::var_os("BALCAO_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/balcao/tools")))
        .expect("BALCAO_TOOLS or HOME");
    let st = tools.join("schemathesis/bin/st");
    assert!(st.exists(), "{} is missing: tools/setup test installs schemathesis", st.display());
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_keeps_its_openapi_contract_under_generated_requests() {
    let st = schemathesis();
    let dir = tempfile::tempdir().expect("tempdir");
    let central = loopback_central(dir.path()).await;
    let (ca, kiosk) = (dir.path().join("ca.pem"), dir.path().join("k01.pem"));
    std::fs::write(&ca, &central.ca_pem).expect("ca");
    std::fs::write(&kiosk, central.kiosk_identity("K01", "GSC-01").expect("identity")).expect("identity");
    let seconds = std::env::var("BALCAO_OPENAPI_SECONDS").unwrap_or_else(|_| "30".into());
    let url = format!("{}/openapi.json", central.url);
    // schemathesis keeps a cache where it runs: in the test's own folder.
    let work = dir.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .current_dir(work)
            .args(["run", &url, "--tls-verify"])
            .arg(&ca)
            .arg("--request-cert")
            .arg(&kiosk)
            .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance,negative_data_rejection"])
            .args(["--max-time", &seconds, "--workers", "2", "--seed", "20261206"])
            // A request that meets a broken connection is sent once more: urllib3 reuses a
            // kept-alive connection that central may be closing at that instant (an idle one
            // is closed after `header_read_timeout`), and does not resend a POST by itself.
            // What central answers is what is checked; a failure that repeats still fails.
            .args(["--request-retries", "1"])
            .env("SCHEMATHESIS_HOOKS", "")
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let summary: Vec<&str> = stdout.lines().filter(|l| l.contains("generated") || l.contains("passed") || l.contains("failures")).collect();
    eprintln!("schemathesis: {}", summary.join(" | "));
    assert!(run.status.success(), "schemathesis found answers outside the contract:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("generated"), "schemathesis ran no test cases:\n{stdout}");
    central.stop().await.expect("stop");
}
