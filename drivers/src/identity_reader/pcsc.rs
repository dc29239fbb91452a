//! Card readers through PC/SC (pcsc-lite's `pcscd`, with the `pcsc` crate): contact and
//! contactless readers alike, several at once.
//!
//! A [`PcscSlot`] watches every reader whose name contains its filter (all readers without
//! one) and uses the first that holds a card, so a reader unplugged is one reader less, not an
//! identity reader gone. Insertion and removal are followed with `SCardGetStatusChange`; the
//! card is used in exclusive mode; answers `61xx` are followed by GET RESPONSE and `6Cxx` by
//! the command again with the right Le, so the layers above see whole answers; extended-length
//! APDUs pass through.

use std::ffi::{CStr, CString};
use std::time::Duration;

use super::emrtd::{CardSlot, SlotStatus};
use super::icao::apdu::{CardChannel, Command, Response, TransportError, TransportErrorKind};

/// One PC/SC context for the kiosk's identity reader(s).
pub struct PcscSlot {
    /// Only readers whose name contains this (e.g. the model) are used; all if empty.
    filter: String,
    context: Option<pcsc::Context>,
    /// The reader that held the card last, for the technician's messages.
    last_reader: Option<CString>,
}

impl std::fmt::Debug for PcscSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscSlot").field("filter", &self.filter).finish_non_exhaustive()
    }
}

/// A PC/SC error as the transport error the reading layers understand.
fn transport(e: pcsc::Error, doing: &str) -> TransportError {
    use pcsc::Error as E;
    let kind = match e {
        E::RemovedCard | E::NoSmartcard | E::ResetCard | E::UnpoweredCard => TransportErrorKind::CardRemoved,
        E::ReaderUnavailable | E::UnknownReader | E::NoReadersAvailable | E::NoService | E::ServiceStopped | E::Shutdown => {
            TransportErrorKind::ReaderGone
        }
        E::Timeout | E::UnresponsiveCard => TransportErrorKind::NoAnswer,
        E::CommError | E::CommDataLost | E::ProtoMismatch | E::NotTransacted => TransportErrorKind::Malformed,
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, format!("{doing}: {e}"))
}

/// How long a status query may wait for pcscd.
const STATUS_WAIT: Duration = Duration::from_millis(200);
/// GET RESPONSE and `6Cxx` repeats allowed for one command, so a looping card cannot hang us.
const MAX_CHAINED: usize = 64;

impl PcscSlot {
    /// Readers whose name contains `filter` (all readers when empty). Nothing is opened until
    /// the first call.
    pub fn new(filter: impl Into<String>) -> Self {
        Self { filter: filter.into(), context: None, last_reader: None }
    }

    fn context(&mut self) -> Result<&pcsc::Context, TransportError> {
        let stale = self.context.as_ref().is_some_and(|c| c.is_valid().is_err());
        if stale || self.context.is_none() {
            self.context = None;
            let context = pcsc::Context::establish(pcsc::Scope::User)
                .map_err(|e| transport(e, "connecting to pcscd (is the pcscd service running?)"))?;
            self.context = Some(context);
        }
        Ok(self.context.as_ref().expect("set above"))
    }

    /// The readers this slot uses, with their current state.
    fn readers(&mut self) -> Result<Vec<pcsc::ReaderState>, TransportError> {
        let filter = self.filter.clone();
        let context = self.context()?;
        let names = match context.list_readers_owned() {
            Ok(names) => names,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => {
                let error = transport(e, "listing the card readers");
                // pcscd went away: connect again next time.
                self.context = None;
                return Err(error);
            }
        };
        let mut states: Vec<pcsc::ReaderState> = names
            .into_iter()
            .filter(|name| name.to_string_lossy().contains(&filter))
            .map(|name| pcsc::ReaderState::new(name, pcsc::State::UNAWARE))
            .collect();
        if !states.is_empty() {
            match context.get_status_change(STATUS_WAIT, &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(transport(e, "reading the card readers' state")),
            }
        }
        Ok(states)
    }

    /// Waits up to `timeout` for a card to be put on (or taken off) any of the readers, or a
    /// reader to come or go, and says what the slot holds then.
    pub fn wait_for_change(&mut self, timeout: Duration) -> Result<SlotStatus, TransportError> {
        let mut states = self.readers()?;
        if states.is_empty() {
            return Ok(SlotStatus::NoReader);
        }
        states.push(pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE));
        let context = self.context()?;
        // Learn the state of everything watched (the reader list's included), then wait for it
        // to differ: with an unknown state pcscd would answer at once.
        let wait = |timeout: Duration, states: &mut [pcsc::ReaderState]| match context.get_status_change(timeout, states) {
            Ok(()) | Err(pcsc::Error::Timeout) => Ok(()),
            Err(e) => Err(transport(e, "waiting for a card")),
        };
        wait(Duration::ZERO, &mut states)?;
        for state in &mut states {
            state.sync_current_state();
        }
        wait(timeout, &mut states)?;
        self.status()
    }
}

impl CardSlot for PcscSlot {
    fn describe(&self) -> String {
        let reader = self.last_reader.as_ref().map(|r| r.to_string_lossy().into_owned());
        match (reader, self.filter.is_empty()) {
            (Some(reader), _) => format!("PC/SC reader {reader:?}"),
            (None, true) => "PC/SC, any reader".into(),
            (None, false) => format!("PC/SC readers named like {:?}", self.filter),
        }
    }

    fn status(&mut self) -> Result<SlotStatus, TransportError> {
        let states = self.readers()?;
        if states.is_empty() {
            return Ok(SlotStatus::NoReader);
        }
        let present = |s: &pcsc::ReaderState| s.event_state().contains(pcsc::State::PRESENT);
        let mute = |s: &pcsc::ReaderState| s.event_state().contains(pcsc::State::MUTE);
        Ok(match states.iter().find(|s| present(s)) {
            Some(s) if mute(s) => SlotStatus::CardMute,
            Some(_) => SlotStatus::CardPresent,
            None => SlotStatus::Empty,
        })
    }

    fn connect(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        let states = self.readers()?;
        let reader = states
            .iter()
            .find(|s| s.event_state().contains(pcsc::State::PRESENT) && !s.event_state().contains(pcsc::State::MUTE))
            .map(|s| s.name().to_owned())
            .ok_or_else(|| TransportError::new(TransportErrorKind::CardRemoved, "no card on any identity reader"))?;
        let context = self.context()?;
        let card = context
            .connect(&reader, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY)
            .map_err(|e| transport(e, &format!("connecting to the card on {:?}", reader.to_string_lossy())))?;
        self.last_reader = Some(reader);
        Ok(Box::new(PcscCard { card: Some(card) }))
    }
}

/// A card in exclusive use; it is reset when let go, so the next session starts clean.
struct PcscCard {
    card: Option<pcsc::Card>,
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(pcsc::Disposition::ResetCard);
        }
    }
}

impl PcscCard {
    fn exchange(&self, apdu: &[u8]) -> Result<Response, TransportError> {
        let card = self.card.as_ref().ok_or_else(|| TransportError::new(TransportErrorKind::CardRemoved, "the card was let go"))?;
        let mut buffer = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let answer = card.transmit(apdu, &mut buffer).map_err(|e| {
            let mut error = transport(e, "exchanging an APDU with the card");
            // A card that leaves mid-APDU is reported as "removed" by some readers but as a
            // failed exchange by most (pcsc-lite's "not transacted" for a reader's
            // communication error), and pcscd notices the card is gone a moment later: watch
            // for that moment before calling it a protocol failure.
            if matches!(error.kind, TransportErrorKind::Malformed | TransportErrorKind::Other | TransportErrorKind::NoAnswer)
                && card_left(card)
            {
                error.kind = TransportErrorKind::CardRemoved;
            }
            error
        })?;
        // pcsc-lite answers an exchange with a card pulled away mid-APDU with success and an
        // empty answer: a document taken away, not a broken chip, once pcscd says it left.
        Response::parse(answer).ok_or_else(|| {
            let kind = if card_left(card) { TransportErrorKind::CardRemoved } else { TransportErrorKind::Malformed };
            TransportError::new(kind, format!("the card answered with {} byte(s), fewer than a status word", answer.len()))
        })
    }
}

/// How long pcscd may take to notice a card has left, after an exchange with it failed.
const REMOVAL_NOTICE: Duration = Duration::from_millis(1500);

/// Whether the card left the reader, waiting up to [`REMOVAL_NOTICE`] for pcscd to tell.
fn card_left(card: &pcsc::Card) -> bool {
    let deadline = std::time::Instant::now() + REMOVAL_NOTICE;
    loop {
        match card.status2_owned() {
            Ok(status) if !status.status().contains(pcsc::Status::PRESENT) => return true,
            Err(pcsc::Error::RemovedCard | pcsc::Error::ResetCard | pcsc::Error::NoSmartcard) => return true,
            Err(pcsc::Error::ReaderUnavailable | pcsc::Error::UnknownReader) => return false,
            Ok(_) | Err(_) => {}
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl CardChannel for PcscCard {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let mut response = self.exchange(&command.encode())?;
        let mut data = Vec::new();
        for _ in 0..MAX_CHAINED {
            match response.sw >> 8 {
                // More data waits: GET RESPONSE for it (T=0 cards).
                0x61 => {
                    data.extend_from_slice(&response.data);
                    let le = match response.sw & 0xFF {
                        0 => 256,
                        n => usize::from(n),
                    };
                    response = self.exchange(&Command::new(0x00, 0xC0, 0x00, 0x00).le(le).encode())?;
                }
                // Wrong Le: the card says which; ask again with it.
                0x6C => {
                    let le = match response.sw & 0xFF {
                        0 => 256,
                        n => usize::from(n),
                    };
                    response = self.exchange(&Command { le: Some(le), ..command.clone() }.encode())?;
                }
                _ => {
                    data.extend_from_slice(&response.data);
                    return Ok(Response { data, sw: response.sw });
                }
            }
        }
        Err(TransportError::new(TransportErrorKind::Malformed, format!("the card kept chaining answers past {MAX_CHAINED} GET RESPONSE")))
    }
}

/// The names of the readers pcscd sees, for the technician (`kiosk-provision`).
pub fn reader_names() -> Result<Vec<String>, TransportError> {
    let context = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| transport(e, "connecting to pcscd"))?;
    match context.list_readers_owned() {
        Ok(names) => Ok(names.iter().map(|n: &CString| CStr::to_string_lossy(n).into_owned()).collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(transport(e, "listing the card readers")),
    }
}
