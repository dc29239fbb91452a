//! Checking an application's status for its applicant: central's live answer while it can be
//! reached, otherwise this kiosk's own copy of the applications made here (labelled with its
//! age). Central counts wrong tries per number for every kiosk and phone; offline, the kiosk
//! counts them itself in [`OfflineTries`], so a number cannot be tried against the kiosk's own
//! copy faster than against central.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use balcao_backend_client::api::{
    ApplicationState, ApplicationStatus, Catalog, CitizenStatus, Delivery, HolderQuery, StatusChange, StatusQuery,
};
use balcao_backend_client::{CentralClient, ClientError};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Kiosk, SharedStore, with_store};
use crate::session::{DateOfBirth, DocumentNumber, Event, StatusAnswer, StatusFound};
use crate::store::KnownStatus;

/// Wrong offline tries of one number allowed within [`WINDOW`] (central's own limit).
const MAX_WRONG: u32 = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long central may take before the kiosk answers from its own copy.
const ASK_CENTRAL_FOR: Duration = Duration::from_secs(8);

/// Wrong offline tries, per number, kept in memory for the kiosk's life.
#[derive(Debug, Default)]
pub struct OfflineTries(Mutex<HashMap<String, (u32, Instant)>>);

impl OfflineTries {
    fn closed(&self, reference: &str, now: Instant) -> bool {
        let tries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tries.get(reference).is_some_and(|(wrong, since)| *wrong >= MAX_WRONG && now.duration_since(*since) < WINDOW)
    }

    fn wrong(&self, reference: &str, now: Instant) {
        let mut tries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what is past its window, so the map stays small.
        tries.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        let entry = tries.entry(reference.to_string()).or_insert((0, now));
        entry.0 += 1;
    }

    fn right(&self, reference: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(reference);
    }
}

/// Looks the application up: central first (if online), then this kiosk's copy.
pub async fn look_up(
    client: Option<CentralClient>,
    store: Option<SharedStore>,
    catalog: Option<Arc<Catalog>>,
    tries: Arc<OfflineTries>,
    reference: String,
    date_of_birth: DateOfBirth,
) -> StatusAnswer {
    let reference = crate::store::normalise_reference(&reference);
    let zone = TimeZone::system();
    if let Some(client) = client {
        let query = StatusQuery { reference: reference.clone(), date_of_birth: date_of_birth.0.clone() };
        match tokio::time::timeout(ASK_CENTRAL_FOR, client.check_status(&query)).await {
            Ok(Ok(Some(status))) => return StatusAnswer::Found(Box::new(live(status, &zone))),
            Ok(Ok(None)) => return StatusAnswer::NoMatch { offline: false },
            Ok(Err(ClientError::Throttled { status: 429, .. })) => return StatusAnswer::Slowed,
            Ok(Err(e)) => tracing::warn!(error = %e, "central cannot check a status now: the kiosk answers from its own copy"),
            Err(_) => tracing::warn!("central took too long to check a status: the kiosk answers from its own copy"),
        }
    }
    let now = Instant::now();
    if tries.closed(&reference, now) {
        return StatusAnswer::Slowed;
    }
    let Some(store) = store else { return StatusAnswer::NoMatch { offline: true } };
    let (lookup, born) = (reference.clone(), date_of_birth.0.clone());
    match with_store(&store, move |s| s.known_status(&lookup, &born)).await {
        Ok(Some(known)) => {
            tries.right(&reference);
            StatusAnswer::Found(Box::new(offline(known, catalog.as_deref(), &zone)))
        }
        Ok(None) => {
            tries.wrong(&reference, now);
            StatusAnswer::NoMatch { offline: true }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the applications made here");
            StatusAnswer::NoMatch { offline: true }
        }
    }
}

/// Every application of a citizen whose identity was checked: central only (the kiosk knows
/// only its own).
pub async fn look_up_holder(client: Option<CentralClient>, document_number: DocumentNumber, date_of_birth: DateOfBirth) -> StatusAnswer {
    let Some(client) = client else { return StatusAnswer::HolderUnreachable };
    let query = HolderQuery { document_number: document_number.0.clone(), date_of_birth: date_of_birth.0.clone() };
    let zone = TimeZone::system();
    match tokio::time::timeout(ASK_CENTRAL_FOR, client.check_holder(&query)).await {
        Ok(Ok(found)) => StatusAnswer::Holder(found.into_iter().map(|status| live(status, &zone)).collect()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "central cannot list a citizen's applications now");
            StatusAnswer::HolderUnreachable
        }
        Err(_) => {
            tracing::warn!("central took too long to list a citizen's applications");
            StatusAnswer::HolderUnreachable
        }
    }
}

fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// Central's answer, as shown.
fn live(status: CitizenStatus, zone: &TimeZone) -> StatusFound {
    StatusFound {
        reference: status.reference,
        service_id: status.service_id,
        state: Some(status.state),
        next_step: status.next_step,
        due: status.due.to_string(),
        on_time: status.on_time,
        history: status.history.iter().map(|change| (change.state, local(change.at, zone))).collect(),
        as_of: None,
    }
}

/// This kiosk's copy, as shown: the processing time counted from the day it was saved here,
/// with the service's terms from the catalog.
fn offline(known: KnownStatus, catalog: Option<&Catalog>, zone: &TimeZone) -> StatusFound {
    let service = catalog.and_then(|c| c.service(&known.service_id));
    let (days, delivery) = service.map_or((0, Delivery::CollectAtCounter), |s| (s.processing_days, s.delivery));
    let (state, at) = known.central.unwrap_or((ApplicationState::Received, known.saved_at));
    let status = ApplicationStatus {
        application_id: known.application_id,
        reference: known.reference.clone(),
        service_id: known.service_id.clone(),
        state,
        history: vec![StatusChange { state, at }],
    };
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    let seen = CitizenStatus::of(status, days, delivery, known.saved_at.to_zoned(zone.clone()).date(), today, zone);
    let sent = known.central.is_some();
    StatusFound {
        reference: known.reference,
        service_id: known.service_id,
        state: sent.then_some(seen.state),
        next_step: seen.next_step,
        due: seen.due.to_string(),
        on_time: seen.on_time,
        history: if sent { seen.history.iter().map(|change| (change.state, local(change.at, zone))).collect() } else { Vec::new() },
        as_of: Some(local(at, zone)),
    }
}

impl Kiosk {
    /// Looks an application up for its applicant.
    pub(super) fn check_status(&mut self, reference: String, date_of_birth: DateOfBirth) {
        let client = self.central.clone().filter(|_| self.session.online());
        let (store, catalog, tries) = (self.store.clone(), self.session.catalog(), self.status_tries.clone());
        self.send_later(async move { Event::StatusAnswered(look_up(client, store, catalog, tries, reference, date_of_birth).await) });
    }

    /// Lists every application of a citizen whose identity was checked.
    pub(super) fn check_holder_status(&mut self, document_number: DocumentNumber, date_of_birth: DateOfBirth) {
        let client = self.central.clone().filter(|_| self.session.online());
        self.send_later(async move { Event::StatusAnswered(look_up_holder(client, document_number, date_of_birth).await) });
    }
}
