//! A kiosk that served citizens decommissioned with `kiosk-provision decommission`: refused
//! while it runs or holds records central has not acknowledged (unless they are exported to a
//! file to hand in); afterwards central has retired it and refuses its certificate, nothing on
//! the kiosk holds a citizen's data, and a copy of its database taken before can no longer be
//! opened.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use balcao_backend_client::ClientError;
use balcao_central::{CentralOptions, LoopbackCentral};
use balcao_tests::{TestKiosk, citizen, client, eventually, kiosk_store, test_settings};

/// Values a citizen typed (the scripted application's).
const TYPED: [&str; 2] = ["CHAN TAI MAN", "1234567(8)"];

struct Kiosk {
    root: PathBuf,
    identity: String,
}

impl Kiosk {
    /// A kiosk's files under `root`: its configuration and identity in `etc/`, its data in
    /// `data/`, enrolled at `central_url` as `kiosk_id`.
    fn new(root: &Path, central: &LoopbackCentral, central_url: &str, kiosk_id: &str) -> Self {
        let etc = root.join("etc");
        std::fs::create_dir_all(&etc).expect("etc");
        let identity = central.kiosk_identity(kiosk_id, "GSC-01").expect("identity");
        std::fs::write(etc.join("central-ca.pem"), &central.ca_pem).expect("ca");
        std::fs::write(etc.join("identity.pem"), &identity).expect("identity");
        std::fs::set_permissions(etc.join("identity.pem"), std::fs::Permissions::from_mode(0o600)).expect("mode");
        let config = format!(
            "[kiosk]\nid = \"{kiosk_id}\"\ncentre_id = \"GSC-01\"\n[store]\ndata_dir = {:?}\n[central]\nurl = {central_url:?}\nca_file = {:?}\nidentity_file = {:?}\n",
            root.join("data"),
            etc.join("central-ca.pem"),
            etc.join("identity.pem")
        );
        std::fs::write(etc.join("kiosk.toml"), config).expect("config");
        Self { root: root.to_path_buf(), identity }
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn decommission(&self, args: &[&str]) -> (i32, serde_json::Value) {
        common::json_answer(
            Command::new(env!("CARGO_BIN_EXE_kiosk-provision"))
                .args(["decommission", "--json", "--config"])
                .arg(self.root.join("etc/kiosk.toml"))
                .args(args),
        )
    }

    /// Every file under the kiosk's root that holds one of the typed values.
    fn files_holding_typed_values(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut folders = vec![self.root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    let text = String::from_utf8_lossy(&bytes);
                    if TYPED.iter().any(|value| text.contains(value)) {
                        found.push(path);
                    }
                }
            }
        }
        found
    }
}

fn error_of(json: &serde_json::Value) -> String {
    json["error"].as_str().unwrap_or_else(|| panic!("an error: {json}")).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_that_served_citizens_leaves_nothing_of_them_and_central_retires_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = LoopbackCentral::start(&CentralOptions::new(dir.path().join("central.db"))).await.expect("central");
    let kiosk = Kiosk::new(&dir.path().join("k01"), &central, &central.url, "K01");
    {
        let mut store = kiosk_store(&kiosk.data());
        for _ in 0..2 {
            store.save_application(&citizen::paid_criminal_record_application("K01")).expect("served");
        }
    }

    // Running (another process holds its database): refused.
    let held = std::fs::File::open(kiosk.data().join("kiosk.db")).expect("open");
    let (code, json) = kiosk.decommission(&[]);
    assert_eq!(code, 8, "{json}");
    assert!(error_of(&json).contains("stop it first"), "{json}");
    drop(held);
    // Records central has not acknowledged: refused, nothing removed.
    let (code, json) = kiosk.decommission(&[]);
    assert_eq!(code, 7, "{json}");
    assert!(error_of(&json).contains("2 records central has not acknowledged"), "{json}");
    assert!(kiosk.data().join("kiosk.db").exists() && kiosk.data().join("keys/data.key").exists(), "nothing removed");

    // The kiosk sends them, then is stopped.
    let running =
        TestKiosk::start_with(test_settings(&kiosk.data()), &kiosk.data(), Some(client(&central.url, &central.ca_pem, &kiosk.identity)))
            .await;
    eventually("both applications at central", Duration::from_secs(10), || {
        central.central.store().count_applications().expect("count") == 2
    })
    .await;
    eventually("both acknowledged", Duration::from_secs(10), || {
        kiosk_store(&kiosk.data()).outbox_counts().is_ok_and(|c| c.pending == 0 && c.dead == 0)
    })
    .await;
    running.stop().await;
    // A copy of the sealed database taken before the wipe.
    let aside = dir.path().join("aside");
    std::fs::create_dir_all(&aside).expect("aside");
    for name in ["kiosk.db", "kiosk.db-wal"] {
        if kiosk.data().join(name).exists() {
            std::fs::copy(kiosk.data().join(name), aside.join(name)).expect("copied");
        }
    }

    let (code, json) = kiosk.decommission(&[]);
    assert_eq!(code, 0, "{json}");
    let done = &json["decommissioned"];
    assert_eq!(done["central_told"], true, "{json}");
    let removed: Vec<String> = serde_json::from_value(done["removed"].clone()).expect("removed");
    assert!(removed[0].ends_with("keys/data.key"), "the sealing key first: {removed:?}");
    assert!(!kiosk.data().exists() && !kiosk.root.join("etc/identity.pem").exists(), "data and the kiosk's key gone: {removed:?}");
    assert!(kiosk.files_holding_typed_values().is_empty(), "{:?}", kiosk.files_holding_typed_values());
    let reopened = balcao_kiosk::store::Store::open(&aside.join("kiosk.db"), &kiosk.data().join("keys/data.key"));
    assert!(reopened.is_err(), "the copy taken aside no longer opens");

    // Central retired it: gone from the fleet, audited, its certificate refused.
    let retired = central.central.store().retired_kiosks().expect("retired");
    assert_eq!((retired[0].0.as_str(), retired[0].3), ("K01", 0));
    assert!(central.central.store().fleet(None).expect("fleet").iter().all(|k| k.kiosk_id != "K01"));
    let audit = central.central.store().audit_log(50).expect("audit");
    assert!(audit.iter().any(|e| e.action == "retire-kiosk" && e.target == "K01" && e.outcome == "ok"));
    let old = client(&central.url, &central.ca_pem, &kiosk.identity);
    assert!(matches!(old.catalog(None).await, Err(ClientError::NotEnrolled { .. })), "its certificate is refused");
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_central_never_got_are_exported_to_hand_in_and_central_away_stops_it_unless_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = LoopbackCentral::start(&CentralOptions::new(dir.path().join("central.db"))).await.expect("central");
    let kiosk = Kiosk::new(&dir.path().join("k02"), &central, &central.url, "K02");
    kiosk_store(&kiosk.data()).save_application(&citizen::paid_criminal_record_application("K02")).expect("served");
    let export = dir.path().join("handed-in/K02-records.jsonl");
    let (code, json) = kiosk.decommission(&["--force", "--export", export.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{json}");
    let exported = std::fs::read_to_string(&export).expect("exported");
    assert_eq!(exported.lines().count(), 1);
    assert!(exported.contains("CHAN TAI MAN"), "the record itself, to be filed by hand");
    assert_eq!(std::fs::metadata(&export).expect("meta").permissions().mode() & 0o777, 0o600);
    assert_eq!(central.central.store().retired_kiosks().expect("retired")[0].3, 1, "central knows one record was handed in");
    assert!(kiosk.files_holding_typed_values().is_empty());

    // Central unreachable: nothing removed, unless the technician goes on offline.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("https://127.0.0.1:{}", listener.local_addr().expect("addr").port())
    };
    let lost = Kiosk::new(&dir.path().join("k03"), &central, &gone, "K03");
    std::fs::create_dir_all(lost.data().join("keys")).expect("data");
    drop(kiosk_store(&lost.data()));
    let (code, json) = lost.decommission(&[]);
    assert_eq!(code, 3, "{json}");
    assert!(lost.data().join("keys/data.key").exists(), "nothing removed");
    let (code, json) = lost.decommission(&["--offline"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["decommissioned"]["central_told"], false);
    assert!(!lost.data().exists());
    tokio::time::timeout(Duration::from_secs(10), central.stop()).await.expect("stops").expect("stop");
}
