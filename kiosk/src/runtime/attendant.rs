//! A citizen's call for an attendant, on the wire: sent to central at once (it becomes an alert
//! on the console), then watched until staff acknowledge it, and ended when the citizen no
//! longer needs help or the session ends. Nothing of the citizen goes with it: the kiosk, its
//! centre, the screen's name and the language.

use std::time::Duration;

use balcao_backend_client::CentralClient;
use balcao_backend_client::api::AttendantCall;
use balcao_ui::view::Language;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::session::{AttendantUpdate, Event, api_language};

/// How often a call's status is asked for while the citizen waits.
const WATCH_EVERY: Duration = Duration::from_secs(3);

/// The kiosk's side of calls: at most one at a time (one citizen at the kiosk).
#[derive(Debug)]
pub struct Caller {
    client: Option<CentralClient>,
    kiosk_id: String,
    centre_id: String,
    events: mpsc::UnboundedSender<Event>,
    current: Option<(Uuid, JoinHandle<()>)>,
}

impl Caller {
    pub fn new(client: Option<CentralClient>, kiosk_id: String, centre_id: String, events: mpsc::UnboundedSender<Event>) -> Self {
        Self { client, kiosk_id, centre_id, events, current: None }
    }

    /// Calls an attendant to the citizen on `screen`; the session hears what came of it.
    pub fn call(&mut self, screen: &'static str, language: Language) {
        self.end();
        let Some(client) = self.client.clone() else {
            let _ = self.events.send(Event::Attendant(AttendantUpdate::Unreachable));
            return;
        };
        let call = AttendantCall {
            call_id: Uuid::now_v7(),
            kiosk_id: self.kiosk_id.clone(),
            centre_id: self.centre_id.clone(),
            screen: screen.to_string(),
            language: api_language(language),
            at: Timestamp::now(),
        };
        let (call_id, events) = (call.call_id, self.events.clone());
        let task = tokio::spawn(async move {
            let said = |update| events.send(Event::Attendant(update)).is_ok();
            match client.call_attendant(&call).await {
                Ok(status) if !status.ended => {
                    tracing::info!(call = %call_id, screen, "attendant called");
                    if !said(AttendantUpdate::Called) {
                        return;
                    }
                }
                Ok(_) => {
                    tracing::warn!(call = %call_id, "central takes no calls for an attendant now");
                    said(AttendantUpdate::Unreachable);
                    return;
                }
                Err(e) => {
                    tracing::warn!(call = %call_id, error = %e, "the call for an attendant did not reach central");
                    said(AttendantUpdate::Unreachable);
                    return;
                }
            }
            let mut acknowledged = false;
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                // A status that does not arrive is asked for again: the call is made.
                let Ok(status) = client.attendant_call(call_id).await else { continue };
                if status.ended {
                    said(AttendantUpdate::Ended);
                    return;
                }
                if let (Some(at), false) = (status.acknowledged_at, acknowledged) {
                    acknowledged = true;
                    let at = at.to_zoned(jiff::tz::TimeZone::system()).strftime("%H:%M").to_string();
                    if !said(AttendantUpdate::Acknowledged { at }) {
                        return;
                    }
                }
            }
        });
        self.current = Some((call_id, task));
    }

    /// Ends the call under way, if any: staff see it end (best effort; a call that cannot be
    /// ended lapses at central).
    pub fn end(&mut self) {
        let Some((call_id, task)) = self.current.take() else { return };
        task.abort();
        let Some(client) = self.client.clone() else { return };
        tokio::spawn(async move {
            for attempt in 0..3u32 {
                match client.end_attendant_call(call_id).await {
                    Ok(()) => return tracing::info!(call = %call_id, "attendant call ended"),
                    Err(e) => tracing::info!(call = %call_id, attempt, error = %e, "attendant call not ended yet"),
                }
                tokio::time::sleep(Duration::from_secs(2 << attempt)).await;
            }
        });
    }
}
