//! The staff console: server-rendered pages (askama templates, which escape every value), in
//! zh-Hant, pt and en. Every page but the citizen's status page (status_page.rs) needs a staff session; every form carries the session's CSRF
//! token; every staff action, allowed or refused, goes to the audit log.

mod alerts;
mod applications;
mod centre;
mod diagnosis;
mod enrollment;
mod staff;
mod status_page;
mod verify_page;
mod words;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use balcao_backend_client::api::{CommandAction, Language, LocalizedText};
use jiff::{SignedDuration, Timestamp};

use crate::api::AppState;
use crate::store::fleet::{CommandRefused, FleetKiosk, KioskState};
use crate::store::staff::{LoginRefused, Role, StaffSession};
use crate::tls::Peer;
pub use words::Words;

/// The session cookie: only over HTTPS, never to scripts, never on another site's request.
const SESSION_COOKIE: &str = "__Host-balcao-session";
/// The login form's CSRF token (double submit: the cookie and the form must agree).
const LOGIN_COOKIE: &str = "__Host-balcao-login";
const LANGUAGE_COOKIE: &str = "balcao-lang";
/// How long a command waits for its kiosk before it expires.
const COMMAND_LIFETIME: SignedDuration = SignedDuration::from_hours(1);
/// How often the live fleet page is brought up to date.
const LIVE_EVERY: Duration = Duration::from_secs(2);

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(fleet_page))
        .route("/console/fleet/events", get(fleet_events))
        .route("/console/kiosks/{id}", get(kiosk_page))
        .route("/console/centres/{id}", get(centre::centre_page))
        .route("/console/kiosks/{id}/commands", post(send_command))
        .route("/console/kiosks/{id}/screenshot.png", get(last_screenshot))
        .route("/console/uploads/{command}", get(uploaded))
        .route("/console/login", get(login_page).post(log_in))
        .route("/status/{reference}", get(status_page::status_form).post(status_page::status_answer))
        .route("/verify/", get(verify_page::verify_form).post(verify_page::verify_file))
        .route("/verify/keys", get(verify_page::verify_keys))
        .route("/verify/{token}", get(verify_page::verify_code))
        .route("/console/logout", post(log_out))
        .route("/console/alerts", get(alerts::alerts_page))
        .route("/console/alerts/events", get(alerts::alert_events))
        .route("/console/alerts/rules", post(alerts::save_rules))
        .route("/console/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/console/staff", get(staff::staff_page).post(staff::add))
        .route("/console/staff/{username}", post(staff::change))
        .route("/console/enrollment", get(enrollment::enrollment_page).post(enrollment::make_token))
        .route("/console/kiosks/{id}/revoke", post(enrollment::revoke))
        .route("/console/audit", get(audit_page))
        .route("/console/audit.csv", get(audit_csv))
        .route("/console/applications", get(applications::applications_page))
        .route("/console/style.css", get(|| async { asset("text/css", include_str!("../../templates/style.css")) }))
        .route("/console/live.js", get(|| async { asset("text/javascript", include_str!("../../templates/live.js")) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// What every console request knows before a session: the language, who is asking from where.
#[derive(Clone, Debug)]
pub struct Visit {
    pub w: &'static Words,
    /// The language `w` speaks.
    pub language: Language,
    /// A language chosen with `?lang=`, to be remembered in a cookie.
    chosen: Option<Language>,
    address: String,
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let query: HashMap<String, String> = parts.uri.query().map(query_pairs).unwrap_or_default();
        let chosen = query.get("lang").and_then(|tag| Language::from_tag(tag));
        let remembered = cookie(&parts.headers, LANGUAGE_COOKIE).and_then(Language::from_tag);
        let accepted = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(|v| {
            v.split(',').map(|part| part.split(';').next().unwrap_or("").trim()).find_map(|tag| {
                Language::from_tag(tag).or_else(|| match tag.split('-').next() {
                    Some(t) if t.eq_ignore_ascii_case("zh") => Some(Language::ZhHant),
                    Some(t) if t.eq_ignore_ascii_case("pt") => Some(Language::Pt),
                    Some(t) if t.eq_ignore_ascii_case("en") => Some(Language::En),
                    _ => None,
                })
            })
        });
        let language = chosen.or(remembered).or(accepted).unwrap_or(Language::ZhHant);
        let address = parts.extensions.get::<ConnectInfo<Peer>>().map_or_else(|| "unknown".to_string(), |c| c.0.addr.ip().to_string());
        Ok(Self { w: Words::of(language), language, chosen, address })
    }
}

/// `a=1&b=2` as pairs, `+` and `%XX` decoded.
fn query_pairs(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Runs `work` on the store off the async threads; a failure of the store is the answer.
pub(crate) async fn from_store<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    let state = state.clone();
    match crate::api::blocking(move || work(&state.store)).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(crate::api::ApiError::from(e).into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// A signed-in staff member.
#[derive(Clone, Debug)]
pub struct Signed {
    pub session: StaffSession,
    pub visit: Visit,
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Response> {
        let Ok(visit) = Visit::from_request_parts(parts, state).await;
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else { return Err(to_login()) };
        match from_store(state, move |store| store.staff_session(&token)).await? {
            Some(session) => Ok(Self { session, visit }),
            None => Err(to_login()),
        }
    }
}

/// The staff member as the page header shows them.
#[derive(Debug)]
pub(super) struct Me {
    name: String,
    role: &'static str,
    admin: bool,
    csrf: String,
}

impl Signed {
    fn me(&self) -> Option<Me> {
        let staff = &self.session.staff;
        Some(Me {
            name: staff.name.clone(),
            role: self.visit.w.role(staff.role),
            admin: staff.role == Role::Administrator,
            csrf: self.session.csrf.clone(),
        })
    }

    /// Writes to the audit log; a failure to write is logged, and the action's answer stands.
    async fn audit(&self, state: &Arc<AppState>, action: &str, target: &str, detail: &str, outcome: &str) {
        audit(state, &self.session.staff.username, &self.visit.address, action, target, detail, outcome).await;
    }

    /// Whether the form carries this session's CSRF token. A refusal is audited.
    async fn csrf_ok(&self, state: &Arc<AppState>, form: &HashMap<String, String>, action: &str) -> bool {
        let ok = form.get("csrf").is_some_and(|token| same(token, &self.session.csrf));
        if !ok {
            self.audit(state, action, "", "the form's CSRF token is missing or wrong", "refused").await;
        }
        ok
    }
}

async fn audit(state: &Arc<AppState>, username: &str, address: &str, action: &str, target: &str, detail: &str, outcome: &str) {
    let (state, entry) = (state.clone(), [username, address, action, target, detail, outcome].map(str::to_owned));
    let written = crate::api::blocking(move || {
        let [username, address, action, target, detail, outcome] = &entry;
        state.store.audit(username, address, action, target, detail, outcome)
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!(action, "the audit log could not be written");
    }
}

/// Compares two tokens in time that does not depend on where they differ. (Three lines; a
/// crate for it would be most of a dependency for nothing more.)
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A rendered page with the console's headers: no caching, no framing, scripts and styles
/// from the console only.
pub(super) fn page(visit: &Visit, status: StatusCode, html: Result<String, askama::Error>) -> Response {
    let Ok(html) = html else {
        tracing::error!("a console template failed to render");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Some(language) = visit.chosen
        && let Ok(value) =
            HeaderValue::from_str(&format!("{LANGUAGE_COOKIE}={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000", language.tag()))
    {
        headers.append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage {
    w: &'static Words,
    me: Option<Me>,
    heading: String,
    text: String,
}

pub(super) fn refused(signed: &Signed, status: StatusCode, text: &str) -> Response {
    let w = signed.visit.w;
    let heading = status.canonical_reason().unwrap_or("Refused").to_string();
    page(&signed.visit, status, ProblemPage { w, me: signed.me(), heading, text: text.to_string() }.render())
}

// ----- logging in and out -----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    w: &'static Words,
    me: Option<Me>,
    csrf: String,
    problem: Option<&'static str>,
}

fn login_form(visit: &Visit, status: StatusCode, problem: Option<&'static str>) -> Response {
    let csrf = crate::store::staff::random_token();
    let mut response = page(visit, status, LoginPage { w: visit.w, me: None, csrf: csrf.clone(), problem }.render());
    if let Ok(value) = HeaderValue::from_str(&format!("{LOGIN_COOKIE}={csrf}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn login_page(visit: Visit) -> Response {
    login_form(&visit, StatusCode::OK, None)
}

async fn log_in(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    headers: HeaderMap,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    // Whatever was typed as the name is kept as typed, cut short and printable, in the log.
    let typed: String = field("username").chars().filter(|c| !c.is_control()).take(64).collect();
    let csrf_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|cookie| same(cookie, field("csrf")));
    if !csrf_ok {
        audit(&state, &typed, &visit.address, "log-in", &typed, "the login form's CSRF token is missing or wrong", "refused").await;
        return login_form(&visit, StatusCode::FORBIDDEN, Some(visit.w.wrong_login));
    }
    // Too many refused log-ins from this address lately: refused before any password is tried.
    let (store_state, address) = (state.clone(), visit.address.clone());
    let since = Timestamp::now() - crate::store::staff::ADDRESS_WINDOW;
    let refused_lately = crate::api::blocking(move || store_state.store.refused_from(&address, "log-in", since)).await;
    if matches!(refused_lately, Ok(Ok(n)) if n >= crate::store::staff::ADDRESS_LIMIT) {
        audit(&state, &typed, &visit.address, "log-in", &typed, "too many refused log-ins from this address", "refused").await;
        return login_form(&visit, StatusCode::TOO_MANY_REQUESTS, Some(visit.w.locked));
    }
    let (store_state, username, password) = (state.clone(), field("username").to_owned(), field("password").to_owned());
    let result = crate::api::blocking(move || store_state.store.log_in(&username, &password)).await;
    match result {
        Ok(Ok((token, session))) => {
            audit(&state, &session.staff.username, &visit.address, "log-in", &session.staff.username, "", "ok").await;
            let mut response = Redirect::to("/console/").into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict")) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Ok(Err(LoginRefused::Wrong)) => {
            audit(&state, &typed, &visit.address, "log-in", &typed, "wrong name or password", "refused").await;
            login_form(&visit, StatusCode::UNAUTHORIZED, Some(visit.w.wrong_login))
        }
        Ok(Err(LoginRefused::Locked { until })) => {
            audit(&state, &typed, &visit.address, "log-in", &typed, &format!("locked until {until}"), "refused").await;
            login_form(&visit, StatusCode::TOO_MANY_REQUESTS, Some(visit.w.locked))
        }
        Ok(Err(LoginRefused::Store(e))) => crate::api::ApiError::from(e).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn log_out(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    headers: HeaderMap,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    if !signed.csrf_ok(&state, &form, "log-out").await {
        return refused(&signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed);
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE).map(str::to_owned) {
        let store_state = state.clone();
        let _ = crate::api::blocking(move || store_state.store.log_out(&token)).await;
    }
    signed.audit(&state, "log-out", &signed.session.staff.username, "", "ok").await;
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-balcao-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

// ----- the fleet -----

/// A kiosk as a row of the fleet table.
#[derive(Debug, PartialEq)]
struct Row {
    kiosk_id: String,
    centre_id: String,
    state: &'static str,
    state_text: &'static str,
    symbol: &'static str,
    last_seen: String,
    findings: Vec<String>,
    screen: String,
    outbox: u32,
    version: String,
}

fn symbol(state: KioskState) -> &'static str {
    match state {
        KioskState::Offline => "⨯",
        KioskState::Alarm => "▲",
        KioskState::OutOfService => "■",
        KioskState::Warning => "!",
        KioskState::Ok => "✓",
    }
}

pub(super) fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn row(w: &Words, kiosk: &FleetKiosk) -> Row {
    Row {
        kiosk_id: kiosk.kiosk_id.clone(),
        centre_id: kiosk.centre_id.clone(),
        state: kiosk.state.name(),
        state_text: w.state(kiosk.state),
        symbol: symbol(kiosk.state),
        last_seen: when(kiosk.last_seen),
        findings: kiosk.findings.iter().map(|f| w.finding(f)).collect(),
        screen: w.screen(&kiosk.heartbeat.screen),
        outbox: kiosk.heartbeat.outbox.pending,
        version: kiosk.heartbeat.software_version.clone(),
    }
}

#[derive(Template)]
#[template(path = "fleet_rows.html")]
struct FleetRows<'a> {
    w: &'static Words,
    kiosks: &'a [Row],
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    w: &'static Words,
    me: Option<Me>,
    centres: Vec<(String, bool)>,
    states: Vec<(&'static str, &'static str, bool)>,
    filter_q: String,
    events_url: String,
    rows: String,
}

/// The fleet as this staff member may see it, narrowed by the page's filter.
async fn fleet_for(state: &Arc<AppState>, signed: &Signed, filter: &HashMap<String, String>) -> Result<(Vec<String>, Vec<Row>), Response> {
    let all = state.fleet_now().await.map_err(IntoResponse::into_response)?;
    let fleet: Vec<&FleetKiosk> = all.iter().filter(|k| signed.session.staff.sees(&k.centre_id)).collect();
    let mut centres: Vec<String> = fleet.iter().map(|k| k.centre_id.clone()).collect();
    centres.sort();
    centres.dedup();
    let wanted = |key: &str| filter.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let q = wanted("q").map(str::to_lowercase);
    let rows = fleet
        .iter()
        .filter(|k| wanted("centre").is_none_or(|c| k.centre_id == c))
        .filter(|k| wanted("state").is_none_or(|s| k.state.name() == s))
        .filter(|k| q.as_deref().is_none_or(|q| k.kiosk_id.to_lowercase().contains(q) || k.centre_id.to_lowercase().contains(q)))
        .map(|k| row(signed.visit.w, k))
        .collect();
    Ok((centres, rows))
}

async fn fleet_page(State(state): State<Arc<AppState>>, signed: Signed, Query(filter): Query<HashMap<String, String>>) -> Response {
    let (centres, rows) = match fleet_for(&state, &signed, &filter).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let w = signed.visit.w;
    let get = |key: &str| filter.get(key).cloned().unwrap_or_default();
    let states = [KioskState::Offline, KioskState::Alarm, KioskState::OutOfService, KioskState::Warning, KioskState::Ok]
        .map(|s| (s.name(), w.state(s), get("state") == s.name()))
        .to_vec();
    let centres = centres.into_iter().map(|c| (c.clone(), get("centre") == c)).collect();
    let query: String =
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(["centre", "state", "q"].iter().map(|k| (*k, get(k)))).finish();
    let rows_html = match (FleetRows { w, kiosks: &rows }).render() {
        Ok(html) => html,
        Err(e) => return page(&signed.visit, StatusCode::INTERNAL_SERVER_ERROR, Err(e)),
    };
    let html = FleetPage {
        w,
        me: signed.me(),
        centres,
        states,
        filter_q: get("q"),
        events_url: format!("/console/fleet/events?{query}"),
        rows: rows_html,
    }
    .render();
    page(&signed.visit, StatusCode::OK, html)
}

/// The fleet table's rows as server-sent events: sent at once, then whenever they change. The
/// stream ends when the session does.
async fn fleet_events(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    headers: HeaderMap,
    Query(filter): Query<HashMap<String, String>>,
) -> Response {
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default().to_owned();
    live(state, signed, token, move |state, signed| {
        let filter = filter.clone();
        async move {
            let rows = fleet_for(&state, &signed, &filter).await.ok()?.1;
            FleetRows { w: signed.visit.w, kiosks: &rows }.render().ok()
        }
    })
}

/// A table body kept up to date as server-sent events (`rows`): `render` makes it, sent at
/// once and again whenever it changes, checked every [`LIVE_EVERY`]. The stream ends when the
/// session does (or `render` fails).
fn live<F, Fut>(state: Arc<AppState>, signed: Signed, token: String, render: F) -> Response
where
    F: Fn(Arc<AppState>, Signed) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<String>> + Send,
{
    let stream = futures::stream::unfold((String::new(), true), move |(last, first)| {
        let (state, token, signed, render) = (state.clone(), token.clone(), signed.clone(), render.clone());
        async move {
            if !first {
                tokio::time::sleep(LIVE_EVERY).await;
            }
            loop {
                let token_now = token.clone();
                from_store(&state, move |store| store.staff_session(&token_now)).await.ok().flatten()?;
                let html = render(state.clone(), signed.clone()).await?;
                if html != last {
                    return Some((Ok::<_, Infallible>(Event::default().event("rows").data(html.clone())), (html, false)));
                }
                tokio::time::sleep(LIVE_EVERY).await;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

// ----- a kiosk -----

#[derive(Debug)]
struct CommandRow {
    issued: String,
    kind: &'static str,
    by: String,
    outcome: &'static str,
    detail: String,
    /// Where the file the command asked for is, once the kiosk sent it.
    upload: Option<String>,
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    w: &'static Words,
    me: Option<Me>,
    notice: Option<&'static str>,
    kiosk_id: String,
    centre_id: String,
    state: &'static str,
    state_text: &'static str,
    symbol: &'static str,
    last_seen: String,
    version: String,
    uptime: String,
    screen: String,
    sessions_today: u32,
    outbox: String,
    dead_letters: u32,
    open_payments: u32,
    last_sync: String,
    database_size: String,
    disk_free: String,
    findings: Vec<String>,
    devices: Vec<(&'static str, &'static str, String)>,
    can_command: bool,
    csrf: String,
    simple_commands: Vec<&'static str>,
    commands: Vec<CommandRow>,
    /// When the last masked screenshot was taken, if there is one.
    screenshot: Option<String>,
    /// What the kiosk reported lately (its outbox's events), newest first.
    events: Vec<EventRow>,
    /// Its certificates, what they say, and whether this reader may revoke them.
    c: enrollment::Labels,
    certificates: Vec<enrollment::CertificateRow>,
    revoked_since: Option<String>,
    can_revoke: bool,
    /// The technician's last readiness report, or what the page says without one.
    diagnosis: Option<diagnosis::DiagnosisView>,
    diagnosis_heading: &'static str,
    no_diagnosis: &'static str,
}

#[derive(Debug)]
struct EventRow {
    at: String,
    kind: &'static str,
    severity: balcao_backend_client::api::Severity,
    detail: String,
}

impl EventRow {
    /// The severity's class (styled, and worded beside the kind: not by colour alone).
    fn level(&self) -> &'static str {
        match self.severity {
            balcao_backend_client::api::Severity::Info => "ok",
            balcao_backend_client::api::Severity::Warning => "warning",
            balcao_backend_client::api::Severity::Critical => "alarm",
        }
    }
}

/// The kiosk `id` if this staff member may see it.
async fn visible_kiosk(state: &Arc<AppState>, signed: &Signed, id: &str) -> Result<Option<FleetKiosk>, Response> {
    let id = id.to_owned();
    let kiosk = from_store(state, move |store| store.fleet_kiosk(&id)).await?;
    Ok(kiosk.filter(|k| signed.session.staff.sees(&k.centre_id)))
}

async fn kiosk_page(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let w = signed.visit.w;
    let kiosk = match visible_kiosk(&state, &signed, &id).await {
        Ok(Some(kiosk)) => kiosk,
        Ok(None) => return refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks),
        Err(response) => return response,
    };
    let kiosk_id = kiosk.kiosk_id.clone();
    let found = from_store(&state, move |store| {
        let history = store.commands_of(&kiosk_id, 50)?;
        let uploads: Vec<bool> = history
            .iter()
            .map(|c| match c.command.action.name() {
                "screenshot" | "upload-logs" => store.upload(c.command.command_id).map(|u| u.is_some()),
                _ => Ok(false),
            })
            .collect::<Result<_, _>>()?;
        let screenshot = store.last_screenshot(&kiosk_id)?.map(|u| u.received_at);
        let events = store.events_of(&kiosk_id, 20)?;
        let certificates = store.kiosk_certificates(&kiosk_id)?;
        let revoked = store.revocations()?.remove(&kiosk_id);
        let diagnosis = store.last_diagnosis(&kiosk_id)?;
        Ok((history, uploads, screenshot, events, certificates, revoked, diagnosis))
    })
    .await;
    let (history, uploads, screenshot, events, certificates, revoked, last_diagnosis) = match found {
        Ok(found) => found,
        Err(response) => return response,
    };
    let h = &kiosk.heartbeat;
    let mib = |bytes: u64| format!("{} MiB", bytes >> 20);
    let certificate_labels = enrollment::Labels::of(w);
    let html = KioskPage {
        w,
        me: signed.me(),
        notice: match (query.contains_key("sent"), query.contains_key("revoked")) {
            (true, _) => Some(w.command_sent),
            (_, true) => Some(w.pick("憑證已撤銷。", "Certificados revogados.", "Certificates revoked.")),
            _ => None,
        },
        kiosk_id: kiosk.kiosk_id.clone(),
        centre_id: kiosk.centre_id.clone(),
        state: kiosk.state.name(),
        state_text: w.state(kiosk.state),
        symbol: symbol(kiosk.state),
        last_seen: when(kiosk.last_seen),
        version: h.software_version.clone(),
        uptime: format!("{} h {} min", h.uptime_seconds / 3600, h.uptime_seconds % 3600 / 60),
        screen: w.screen(&h.screen),
        sessions_today: h.sessions_today,
        outbox: match h.outbox.oldest_age_seconds {
            Some(age) => format!("{} ({} {})", h.outbox.pending, age / 60, w.minutes),
            None => h.outbox.pending.to_string(),
        },
        dead_letters: h.outbox.dead_letters,
        open_payments: h.open_payments,
        last_sync: h.last_sync_at.map_or_else(|| w.never.to_string(), when),
        database_size: mib(h.database_bytes),
        disk_free: mib(h.disk_free_bytes),
        findings: kiosk.findings.iter().map(|f| w.finding(f)).collect(),
        devices: h.devices.iter().map(|d| (w.device(d.device), w.condition(d.condition), d.detail.clone())).collect(),
        can_command: signed.session.staff.role >= Role::Operator,
        csrf: signed.session.csrf.clone(),
        simple_commands: vec!["back-in-service", "refresh-catalog", "close-day", "restart", "screenshot"],
        commands: history
            .iter()
            .zip(&uploads)
            .map(|(c, uploaded)| CommandRow {
                issued: when(c.command.issued_at),
                kind: w.command(c.command.action.name()),
                by: c.issued_by.clone(),
                outcome: w.outcome(c.outcome),
                detail: c.detail.clone().unwrap_or_default(),
                upload: uploaded.then(|| format!("/console/uploads/{}", c.command.command_id)),
            })
            .collect(),
        screenshot: screenshot.map(when),
        events: events
            .iter()
            .map(|e| EventRow { at: when(e.at), kind: w.event_kind(e.kind), severity: e.severity, detail: e.detail.clone() })
            .collect(),
        certificates: enrollment::certificate_rows(&certificate_labels, &certificates),
        c: certificate_labels,
        revoked_since: revoked.map(when),
        can_revoke: signed.session.staff.role == Role::Administrator,
        diagnosis: last_diagnosis.as_ref().map(|d| diagnosis::view(w, d)),
        diagnosis_heading: diagnosis::heading(w),
        no_diagnosis: diagnosis::none_yet(w),
    }
    .render();
    page(&signed.visit, StatusCode::OK, html)
}

/// A file a kiosk sent, as the browser gets it: never cached, never sniffed, a download for
/// logs.
fn file(upload: &crate::store::fleet::Upload) -> Response {
    let mut response = (StatusCode::OK, upload.body.clone()).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&upload.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    if upload.kind == "upload-logs"
        && let Ok(value) = HeaderValue::from_str(&format!(
            "attachment; filename=\"{}-{}.log\"",
            upload.kiosk_id,
            upload.received_at.strftime("%Y%m%d-%H%M%S")
        ))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The kiosk's last masked screenshot.
async fn last_screenshot(State(state): State<Arc<AppState>>, signed: Signed, Path(id): Path<String>) -> Response {
    match visible_kiosk(&state, &signed, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return refused(&signed, StatusCode::NOT_FOUND, signed.visit.w.no_kiosks),
        Err(response) => return response,
    }
    match from_store(&state, move |store| store.last_screenshot(&id)).await {
        Ok(Some(upload)) => file(&upload),
        Ok(None) => refused(&signed, StatusCode::NOT_FOUND, signed.visit.w.no_kiosks),
        Err(response) => response,
    }
}

/// A file a kiosk sent for a command: a screenshot, or logs (their download is audited).
async fn uploaded(State(state): State<Arc<AppState>>, signed: Signed, Path(command): Path<String>) -> Response {
    let w = signed.visit.w;
    let Ok(command_id) = uuid::Uuid::parse_str(&command) else { return refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks) };
    let upload = match from_store(&state, move |store| store.upload(command_id)).await {
        Ok(upload) => upload,
        Err(response) => return response,
    };
    let Some(upload) = upload else { return refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks) };
    // Another centre's kiosk's file is no file of theirs.
    match visible_kiosk(&state, &signed, &upload.kiosk_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks),
        Err(response) => return response,
    }
    if upload.kind == "upload-logs" {
        signed.audit(&state, "download-logs", &upload.kiosk_id, &command, "ok").await;
    }
    file(&upload)
}

/// The command a console form asks for.
fn command_of(form: &HashMap<String, String>) -> Result<CommandAction, String> {
    let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    Ok(match field("kind").as_str() {
        "out-of-service" => {
            CommandAction::OutOfService { message: LocalizedText::new(field("message_zh_hant"), field("message_pt"), field("message_en")) }
        }
        "back-in-service" => CommandAction::BackInService,
        "refresh-catalog" => CommandAction::RefreshCatalog,
        "close-day" => CommandAction::CloseDay,
        "restart" => CommandAction::Restart,
        "screenshot" => CommandAction::Screenshot,
        "upload-logs" => {
            CommandAction::UploadLogs { minutes: field("minutes").parse().map_err(|_| "minutes must be a number".to_string())? }
        }
        other => return Err(format!("{other:?} is not a command")),
    })
}

async fn send_command(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    let w = signed.visit.w;
    let kind = form.get("kind").cloned().unwrap_or_default();
    if !signed.csrf_ok(&state, &form, "command").await {
        return refused(&signed, StatusCode::FORBIDDEN, w.not_allowed);
    }
    if signed.session.staff.role < Role::Operator {
        signed
            .audit(
                &state,
                "command",
                &id,
                &format!("{kind}: the role {} may not send commands", signed.session.staff.role.name()),
                "refused",
            )
            .await;
        return refused(&signed, StatusCode::FORBIDDEN, w.not_allowed);
    }
    match visible_kiosk(&state, &signed, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            signed.audit(&state, "command", &id, &format!("{kind}: no such kiosk in the staff member's centres"), "refused").await;
            return refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks);
        }
        Err(response) => return response,
    }
    let action = match command_of(&form) {
        Ok(action) => action,
        Err(problem) => {
            signed.audit(&state, "command", &id, &problem, "refused").await;
            return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, &problem);
        }
    };
    let (store_state, kiosk, by, name) = (state.clone(), id.clone(), signed.session.staff.username.clone(), action.name());
    match crate::api::blocking(move || store_state.store.issue_command(&kiosk, action, &by, COMMAND_LIFETIME)).await {
        Ok(Ok(command)) => {
            signed.audit(&state, "command", &id, &format!("{name} {}", command.command_id), "ok").await;
            Redirect::to(&format!("/console/kiosks/{id}?sent=1")).into_response()
        }
        Ok(Err(CommandRefused::Invalid(problem))) => {
            signed.audit(&state, "command", &id, &format!("{name}: {problem}"), "refused").await;
            refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, &problem)
        }
        Ok(Err(CommandRefused::UnknownKiosk(_))) => refused(&signed, StatusCode::NOT_FOUND, w.no_kiosks),
        Ok(Err(CommandRefused::Store(e))) => crate::api::ApiError::from(e).into_response(),
        Err(e) => e.into_response(),
    }
}

// ----- the audit log -----

#[derive(Debug)]
struct AuditRow {
    at: String,
    username: String,
    address: String,
    action: String,
    target: String,
    detail: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    w: &'static Words,
    me: Option<Me>,
    entries: Vec<AuditRow>,
}

async fn audit_entries(state: &Arc<AppState>, signed: &Signed, what: &str) -> Result<Vec<crate::store::staff::AuditEntry>, Response> {
    if signed.session.staff.role != Role::Administrator {
        signed.audit(state, what, "", "only administrators read the audit log", "refused").await;
        return Err(refused(signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed));
    }
    from_store(state, |store| store.audit_log(10_000)).await
}

async fn audit_page(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let entries = match audit_entries(&state, &signed, "read-audit-log").await {
        Ok(entries) => entries,
        Err(response) => return response,
    };
    let entries = entries
        .into_iter()
        .take(500)
        .map(|e| AuditRow {
            at: when(e.at),
            username: e.username,
            address: e.address,
            action: e.action,
            target: e.target,
            detail: e.detail,
            outcome: e.outcome,
        })
        .collect();
    page(&signed.visit, StatusCode::OK, AuditPage { w: signed.visit.w, me: signed.me(), entries }.render())
}

/// One CSV field (RFC 4180): quoted, quotes doubled; a field a spreadsheet would read as a
/// formula (`=`, `+`, `-`, `@`) is prefixed with `'`. Written here: it is these four lines.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
    format!("\"{}\"", value.replace('"', "\"\""))
}

async fn audit_csv(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let entries = match audit_entries(&state, &signed, "export-audit-log").await {
        Ok(entries) => entries,
        Err(response) => return response,
    };
    signed.audit(&state, "export-audit-log", "", &format!("{} lines", entries.len()), "ok").await;
    let mut csv = String::from("seq,at,username,address,action,target,detail,outcome\r\n");
    for e in entries {
        let fields = [e.seq.to_string(), e.at.to_string(), e.username, e.address, e.action, e.target, e.detail, e.outcome];
        csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        csv.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"balcao-audit-log.csv\""),
            (header::CACHE_CONTROL, "no-store"),
        ],
        csv,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "\"plain\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
