//! Staff accounts, for administrators: who may log in, with which role, for which centres; a
//! new account, a reset password, an account disabled or enabled. Every change is audited. An
//! administrator cannot take their own role away or disable themselves (a console with no
//! administrator left could not be administered).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{Signed, Words, from_store, page, refused};
use crate::api::AppState;
use crate::store::staff::{Role, StaffRefused};

#[derive(Debug)]
struct Account {
    username: String,
    name: String,
    role: &'static str,
    centres: String,
    disabled: bool,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    w: &'static Words,
    me: Option<super::Me>,
    t: Labels,
    notice: Option<&'static str>,
    csrf: String,
    accounts: Vec<Account>,
    roles: Vec<(&'static str, &'static str)>,
}

#[derive(Debug)]
struct Labels {
    title: &'static str,
    username: &'static str,
    name: &'static str,
    role: &'static str,
    centres: &'static str,
    all_centres_hint: &'static str,
    account: &'static str,
    active: &'static str,
    disabled: &'static str,
    change: &'static str,
    disable: &'static str,
    enable: &'static str,
    new_password: &'static str,
    reset: &'static str,
    add: &'static str,
    password: &'static str,
    saved: &'static str,
}

impl Labels {
    fn of(w: &Words) -> Self {
        Self {
            title: w.pick("職員帳戶", "Contas do pessoal", "Staff accounts"),
            username: w.username,
            name: w.pick("姓名", "Nome", "Name"),
            role: w.pick("角色", "Função", "Role"),
            centres: w.pick("中心", "Centros", "Centres"),
            all_centres_hint: w.pick(
                "以逗號分隔；留空即所有中心",
                "separados por vírgulas; vazio: todos",
                "comma-separated; empty: every centre",
            ),
            account: w.pick("帳戶", "Conta", "Account"),
            active: w.pick("使用中", "ativa", "active"),
            disabled: w.pick("已停用", "desativada", "disabled"),
            change: w.pick("更改", "Alterar", "Change"),
            disable: w.pick("停用", "Desativar", "Disable"),
            enable: w.pick("啟用", "Ativar", "Enable"),
            new_password: w.pick(
                "新密碼（最少 12 個字元）",
                "Nova palavra-passe (12 caracteres ou mais)",
                "New password (12 characters or more)",
            ),
            reset: w.pick("重設密碼", "Repor a palavra-passe", "Reset the password"),
            add: w.pick("新增職員", "Acrescentar", "Add a staff member"),
            password: w.password,
            saved: w.pick("已儲存。", "Guardado.", "Saved."),
        }
    }
}

fn centres_of(field: &str) -> Vec<String> {
    field.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

/// Refuses anyone but an administrator (audited).
pub(super) async fn administrator(state: &Arc<AppState>, signed: &Signed, action: &str, target: &str) -> Result<(), Response> {
    if signed.session.staff.role == Role::Administrator {
        return Ok(());
    }
    signed.audit(state, action, target, "only administrators may do this", "refused").await;
    Err(refused(signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed))
}

pub(super) async fn staff_page(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = administrator(&state, &signed, "read-staff", "").await {
        return response;
    }
    let w = signed.visit.w;
    let accounts = match from_store(&state, |store| store.staff_accounts()).await {
        Ok(accounts) => accounts,
        Err(response) => return response,
    };
    let t = Labels::of(w);
    let html = StaffPage {
        w,
        me: signed.me(),
        notice: query.contains_key("saved").then_some(t.saved),
        t,
        csrf: signed.session.csrf.clone(),
        accounts: accounts
            .into_iter()
            .map(|(staff, disabled)| Account {
                is_me: staff.username == signed.session.staff.username,
                role: staff.role.name(),
                centres: staff.centres.join(", "),
                username: staff.username,
                name: staff.name,
                disabled,
            })
            .collect(),
        roles: [Role::Viewer, Role::Operator, Role::Administrator].map(|r| (r.name(), w.role(r))).to_vec(),
    }
    .render();
    page(&signed.visit, StatusCode::OK, html)
}

/// Adds an account (`POST /console/staff`).
pub(super) async fn add(State(state): State<Arc<AppState>>, signed: Signed, form: axum::Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default().to_owned();
    let username = field("username");
    if !signed.csrf_ok(&state, &form, "add-staff").await {
        return refused(&signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed);
    }
    if let Err(response) = administrator(&state, &signed, "add-staff", &username).await {
        return response;
    }
    let Some(role) = Role::from_name(&field("role")) else {
        return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, "role: viewer, operator or administrator");
    };
    let (name, centres, password, who) = (field("name"), centres_of(&field("centres")), field("password"), username.clone());
    let added = crate::api::blocking({
        let state = state.clone();
        move || state.store.add_staff(&who, &name, role, &centres, &password)
    })
    .await;
    finish(&state, &signed, "add-staff", &username, &format!("role {}", role.name()), added.map(|r| r.map(|_| true))).await
}

/// Changes an account (`POST /console/staff/{username}`): `do` is `change` (role and
/// centres), `disable`, `enable` or `reset` (a new password).
pub(super) async fn change(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(username): Path<String>,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default().to_owned();
    let what = field("do");
    let action = format!("staff-{what}");
    if !signed.csrf_ok(&state, &form, &action).await {
        return refused(&signed, StatusCode::FORBIDDEN, signed.visit.w.not_allowed);
    }
    if let Err(response) = administrator(&state, &signed, &action, &username).await {
        return response;
    }
    let me = username == signed.session.staff.username;
    let (store_state, who) = (state.clone(), username.clone());
    let (result, detail) = match what.as_str() {
        "change" => {
            let Some(role) = Role::from_name(&field("role")) else {
                return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, "role: viewer, operator or administrator");
            };
            if me && role != Role::Administrator {
                signed.audit(&state, &action, &username, "an administrator cannot take their own role away", "refused").await;
                return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, signed.visit.w.not_allowed);
            }
            let centres = centres_of(&field("centres"));
            let detail = format!("role {}, centres {}", role.name(), if centres.is_empty() { "all".into() } else { centres.join(",") });
            (crate::api::blocking(move || store_state.store.update_staff(&who, role, &centres)).await, detail)
        }
        "disable" | "enable" => {
            let enabled = what == "enable";
            if me && !enabled {
                signed.audit(&state, &action, &username, "an administrator cannot disable themselves", "refused").await;
                return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, signed.visit.w.not_allowed);
            }
            let done = crate::api::blocking(move || store_state.store.set_staff_enabled(&who, enabled).map_err(StaffRefused::from)).await;
            (done, String::new())
        }
        "reset" => {
            let password = field("password");
            (crate::api::blocking(move || store_state.store.reset_password(&who, &password)).await, "sessions ended".into())
        }
        _ => return refused(&signed, StatusCode::UNPROCESSABLE_ENTITY, "do: change, disable, enable or reset"),
    };
    finish(&state, &signed, &action, &username, &detail, result).await
}

/// Audits what came of a change and answers: back to the page, or why not.
async fn finish(
    state: &Arc<AppState>,
    signed: &Signed,
    action: &str,
    target: &str,
    detail: &str,
    result: Result<Result<bool, StaffRefused>, crate::api::ApiError>,
) -> Response {
    match result {
        Ok(Ok(true)) => {
            signed.audit(state, action, target, detail, "ok").await;
            Redirect::to("/console/staff?saved=1").into_response()
        }
        Ok(Ok(false)) => {
            signed.audit(state, action, target, "no such staff member", "refused").await;
            refused(signed, StatusCode::NOT_FOUND, signed.visit.w.not_allowed)
        }
        Ok(Err(StaffRefused::Invalid(problem))) => {
            signed.audit(state, action, target, &problem, "refused").await;
            refused(signed, StatusCode::UNPROCESSABLE_ENTITY, &problem)
        }
        Ok(Err(StaffRefused::Exists(name))) => {
            let problem = format!("a staff member named {name:?} exists already");
            signed.audit(state, action, target, &problem, "refused").await;
            refused(signed, StatusCode::CONFLICT, &problem)
        }
        Ok(Err(StaffRefused::Store(e))) => crate::api::ApiError::from(e).into_response(),
        Err(e) => e.into_response(),
    }
}
