//! Taking a queue ticket for a counter: the centre's queues, then the ticket printed (offline
//! too). The kiosk's side is `runtime/pickup.rs` (tickets and certificates share the printouts).

use balcao_ui::view::{Problem, UserAction};

use super::{Effect, Event, Next, Session, Stage, api_language};
use crate::receipt::TicketContent;

impl Session {
    pub(super) fn on_ticket_action(&mut self, stage: Stage, action: UserAction, effects: &mut Vec<Effect>) -> Next {
        Next::To(match (stage, action) {
            (Stage::Queues, UserAction::QueuesBack) => Stage::Home,
            (Stage::Queues, UserAction::ChooseQueue(id)) => match self.queues().into_iter().find(|q| q.id == id) {
                Some(queue) if self.readiness.receipt_printer => {
                    effects.push(Effect::IssueTicket(Box::new(TicketContent {
                        language: self.language,
                        queue_id: queue.id.clone(),
                        letter: queue.letter,
                        queue_name: queue.name.get(api_language(self.language)).to_string(),
                        offline: !self.readiness.online,
                    })));
                    Stage::Ticketing { queue_id: queue.id.clone() }
                }
                _ => Stage::Queues,
            },
            (stage, _) => return Next::Stay(stage),
        })
    }

    pub(super) fn on_ticket_result(stage: Stage, event: Event) -> Next {
        Next::To(match (stage, event) {
            (Stage::Ticketing { queue_id }, Event::TicketIssued { number }) => Stage::Ticket { queue_id, number },
            (Stage::Ticketing { .. }, Event::TicketNotPrinted { number }) => {
                let problem = if number.is_some() { Problem::TicketPrintUncertain } else { Problem::TicketNotPrinted };
                Stage::Error { problem, reference: number.unwrap_or_default(), retry: None }
            }
            (stage, _) => return Next::Stay(stage),
        })
    }
}
