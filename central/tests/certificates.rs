//! Certificates worth trusting, on SQLite and on PostgreSQL: the PDF central issues draws a
//! Portuguese accent and a Chinese name (read back with poppler's pdftotext and rendered with
//! pdftoppm), its QR code (read with zbarimg from the rendered page) carries a code that
//! verifies offline against the agency's published keys, the file travels to kiosks with a
//! signature that holds, and the public verification page accepts the genuine certificate and
//! refuses a code or a file with one byte changed.

use std::process::Command;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use balcao_backend_client::api::{Answer, CertificateChanges, IssuerKeys, VERIFY_PATH, verify_document, verify_token};
use balcao_central::Central;
use balcao_central::tls::Peer;
use common::Db;
use rstest::rstest;
use tower::ServiceExt;

mod common;

async fn send(central: &Central, mut request: Request<Body>) -> (StatusCode, Vec<u8>) {
    request.extensions_mut().insert(ConnectInfo(Peer::kiosk("K01", "GSC-01")));
    let response = central.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    (status, axum::body::to_bytes(response.into_body(), 4 << 20).await.expect("body").to_vec())
}

/// A page of the public verification site, as a phone asks for it (no certificate).
async fn public(central: &Central, request: Request<Body>) -> (StatusCode, String) {
    let response = central.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    (status, String::from_utf8_lossy(&axum::body::to_bytes(response.into_body(), 4 << 20).await.expect("body")).into_owned())
}

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} (tools/setup installs it): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn upload(pdf: &[u8]) -> Request<Body> {
    let boundary = "balcao-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"certificate.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post("/verify/?lang=en")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .expect("request")
}

#[rstest]
#[case::sqlite(Db::Sqlite)]
#[case::postgres(Db::Postgres)]
#[tokio::test]
async fn a_certificate_draws_both_scripts_and_its_code_and_file_verify_while_a_changed_byte_does_not(#[case] db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let central = Central::open(&common::options(db, dir.path())).expect("central");
    central.learn_public_url("https://central.example");
    let mut application = common::submission();
    application.answers.insert("full_name".into(), Answer::Text("João Chan Tai Man".into()));
    application.answers.insert("chinese_name".into(), Answer::Text("陳大文".into()));
    application.answers.insert("copies".into(), Answer::Number(2));
    application.fee_avos = 6000;
    if let Some(payment) = application.payment.as_mut() {
        payment.amount_avos = 6000;
    }
    let request = Request::post("/v1/applications")
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", application.application_id.to_string())
        .body(Body::from(serde_json::to_vec(&application).expect("json")))
        .expect("request");
    let (status, body) = send(&central, request).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    central.issue_certificate(application.application_id).expect("issued");

    // The kiosk's copy: the file and its signature, checked against the keys kiosks fetch.
    let (_, feed) = send(&central, Request::get("/v1/certificates/ready?centre=GSC-01").body(Body::empty()).expect("req")).await;
    let feed: CertificateChanges = serde_json::from_slice(&feed).expect("feed");
    let ready = &feed.ready[0];
    let pdf = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &ready.document_pdf).expect("base64");
    let (_, keys) = send(&central, Request::get("/v1/document-keys").body(Body::empty()).expect("req")).await;
    let keys: IssuerKeys = serde_json::from_slice(&keys).expect("keys");
    let signature = ready.signature.as_ref().expect("signed");
    let now = jiff::Timestamp::now();
    assert_eq!(verify_document(&pdf, signature, &keys, now), Ok(()));
    let mut changed = pdf.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x20;
    assert!(verify_document(&changed, signature, &keys, now).is_err(), "a changed byte is refused");

    // What it says, as poppler reads it: the accent, the Chinese name, a page per copy.
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, &pdf).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let text = String::from_utf8(run("pdftotext", &["-layout", path, "-"])).expect("utf-8 text");
    for expected in
        ["João Chan Tai Man", "陳大文", "刑事紀錄證明書", "Certificado de Registo Criminal", "1234567(8)", &application.reference]
    {
        assert!(text.contains(expected), "{expected:?} missing from the certificate:\n{text}");
    }
    assert_eq!(text.matches("João Chan Tai Man").count(), 2, "two copies, two pages");
    let info = String::from_utf8(run("pdfinfo", &[path])).expect("utf-8");
    assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 2")), "{info}");

    // The QR code, read from the rendered page by a reader nobody here wrote.
    let png = dir.path().join("page");
    run("pdftoppm", &["-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile", path, png.to_str().expect("path")]);
    let read = String::from_utf8(run("zbarimg", &["--quiet", "--raw", &format!("{}.png", png.display())])).expect("utf-8");
    let url = read.trim();
    let token = url.strip_prefix(&format!("https://central.example{VERIFY_PATH}")).expect("the verification page's address");
    // Offline: against the keys anyone can fetch, no certificate needed.
    let (status, published) = public(&central, Request::get("/verify/keys").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    let published: IssuerKeys = serde_json::from_str(&published).expect("keys");
    let claims = verify_token(token, &published, now).expect("the code verifies offline");
    assert_eq!((claims.doc, claims.reference.as_str()), (application.application_id, application.reference.as_str()));

    // Online: the page says genuine, and refuses a code with a changed character.
    let (status, html) = public(&central, Request::get(format!("/verify/{token}?lang=en")).body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Genuine: this certificate") && html.contains("Certificate of Criminal Record"), "{html}");
    assert!(!html.contains("João") && !html.contains("1234567"), "the page tells nothing personal");
    let mut altered = token.to_string().into_bytes();
    let at = altered.len() - 5;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    let (status, html) = public(&central, Request::get(format!("/verify/{altered}?lang=pt")).body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Não verificada"), "{html}");

    // The file itself: the genuine one is recognised, one changed byte is not.
    let (status, html) = public(&central, upload(&pdf)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Genuine: this file"), "{html}");
    let (status, html) = public(&central, upload(&changed)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Not verified: this file"), "{html}");
    // The page in Chinese, with nothing to check yet.
    let (status, html) = public(&central, Request::get("/verify/?lang=zh-Hant").body(Body::empty()).expect("req")).await;
    assert_eq!((status, html.contains("證明書核實")), (StatusCode::OK, true));
}
