//! The identity reader against an ICAO ePass emulator nobody on the team wrote: `vicc -t ePass`
//! (vsmartcard) on the virtual reader `vpcd`, through the real `pcscd`.
//!
//! vpcd listens on every address, so each test re-runs itself inside a private network, mount
//! and PID namespace with its own loopback and its own `/run` (where pcscd puts its socket),
//! starts pcscd and vicc there, and reads through pcsc-lite as the kiosk does. vicc exits when
//! killed, which takes the card off the reader; starting it again puts it back.
//!
//! vicc's secure-messaging answers carry no `DO'99'` (real chips do): these reads are lenient.

use std::time::{Duration, Instant};

use balcao_drivers::identity_reader::emrtd::{CardSlot, EmrtdReader, SlotStatus};
use balcao_drivers::identity_reader::icao::apdu::{CardChannel, Command as Apdu, Response, TransportError, TransportErrorKind};
use balcao_drivers::identity_reader::icao::chip::{self, ChipError, ReadOptions};
use balcao_drivers::identity_reader::icao::mrz::MrzKey;
use balcao_drivers::identity_reader::icao::sm::{SmError, Strictness};
use balcao_drivers::identity_reader::pcsc::PcscSlot;
use balcao_drivers::identity_reader::{AccessKey, CalendarDate, ErrorKind, IdentityReader, IdentityReaderStatus};
use common::inside_private_namespace;
use common::vicc::Lab;

mod common;

fn key() -> MrzKey {
    MrzKey::new("L898902C3", CalendarDate { year: 1974, month: 8, day: 12 }, CalendarDate { year: 2012, month: 4, day: 15 })
        .expect("the specimen's key")
}

fn access_key() -> AccessKey {
    AccessKey::Mrz {
        document_number: "L898902C3".into(),
        date_of_birth: CalendarDate { year: 1974, month: 8, day: 12 },
        date_of_expiry: CalendarDate { year: 2012, month: 4, day: 15 },
    }
}

const LENIENT: ReadOptions = ReadOptions { strictness: Strictness::Lenient, face_image: false };

/// A channel that runs `then` once after `after` commands went through: to pull the card out
/// in the middle of a read.
struct AfterCommands<'a, C: CardChannel> {
    inner: C,
    after: usize,
    then: Option<Box<dyn FnOnce() + 'a>>,
}

impl<C: CardChannel> CardChannel for AfterCommands<'_, C> {
    fn transmit(&mut self, command: &Apdu) -> Result<Response, TransportError> {
        if self.after == 0
            && let Some(then) = self.then.take()
        {
            then();
        }
        self.after = self.after.saturating_sub(1);
        self.inner.transmit(command)
    }
}

fn random(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(29).wrapping_add(7);
    }
}

#[test]
fn dg1_is_read_from_vicc_five_times_once_with_the_card_pulled_out_mid_read() {
    if !inside_private_namespace("dg1_is_read_from_vicc_five_times_once_with_the_card_pulled_out_mid_read") {
        return;
    }
    let mut lab = Lab::start();
    let mut reader = EmrtdReader::new(PcscSlot::new(""), LENIENT);
    assert_eq!(reader.status().expect("status"), IdentityReaderStatus::DocumentPresent);
    for round in 1..=5 {
        if round == 3 {
            // Pulled out after BAC, while the files are being read.
            let pulled = {
                let slot = &mut PcscSlot::new("");
                let channel = slot.connect().expect("the card is there");
                let vicc = &mut lab.vicc;
                let mut channel = AfterCommands { inner: channel, after: 5, then: Some(Box::new(move || *vicc = None)) };
                let started = Instant::now();
                let result = chip::read(&mut channel, &key(), LENIENT, &mut random);
                (result, started.elapsed())
            };
            let (result, took) = pulled;
            let error = result.expect_err("the card left mid-read");
            assert!(matches!(&error, ChipError::Transport(e) if e.kind == TransportErrorKind::CardRemoved), "{error}{}", lab.logs());
            assert!(took < Duration::from_secs(10), "a pulled card must not hang the read: {took:?}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while reader.status().expect("status") != IdentityReaderStatus::NoDocument {
                assert!(Instant::now() < deadline, "pcscd did not see the card leave");
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(reader.read(&access_key()).expect_err("no card").kind(), ErrorKind::DocumentRemoved);
            lab.insert();
            continue;
        }
        let document = reader.read(&access_key()).unwrap_or_else(|e| panic!("round {round}: {e}{}", lab.logs()));
        let holder = &document.holder;
        assert_eq!((holder.surname.as_str(), holder.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"), "round {round}");
        assert_eq!(holder.document_number, "L898902C3");
        assert_eq!(holder.date_of_birth, CalendarDate { year: 1974, month: 8, day: 12 });
    }
    lab.remove();
    let _ = lab.pcscd.take();
}

#[test]
fn a_card_pulled_during_an_exchange_is_removed_and_the_next_card_reads() {
    if !inside_private_namespace("a_card_pulled_during_an_exchange_is_removed_and_the_next_card_reads") {
        return;
    }
    let mut lab = Lab::start();
    let mut reader = EmrtdReader::new(PcscSlot::new(""), LENIENT);
    for round in 1..=2 {
        // BAC done and a few files read; the next command's answer is held while the card is
        // pulled, so the card leaves in the middle of the exchange, not between two.
        let (result, took) = {
            let slot = &mut PcscSlot::new("");
            let channel = slot.connect().expect("the card is there");
            let hold = lab.hold_path();
            let vicc = &mut lab.vicc;
            let pull = move || {
                std::fs::write(&hold, b"").expect("hold file");
                let card = vicc.take();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(400));
                    drop(card);
                });
            };
            let mut channel = AfterCommands { inner: channel, after: 6, then: Some(Box::new(pull)) };
            let started = Instant::now();
            (chip::read(&mut channel, &key(), LENIENT, &mut random), started.elapsed())
        };
        lab.release();
        let error = result.expect_err("the card left mid-exchange");
        assert!(
            matches!(&error, ChipError::Transport(e) if e.kind == TransportErrorKind::CardRemoved),
            "round {round}: a document moved, not a broken chip: {error}{}",
            lab.logs()
        );
        assert!(took < Duration::from_secs(10), "a pulled card must not hang the read: {took:?}");
        // The next card is seen and read.
        lab.insert();
        let document = reader.read(&access_key()).unwrap_or_else(|e| panic!("round {round}: the next card: {e}{}", lab.logs()));
        assert_eq!(document.holder.document_number, "L898902C3");
    }
    lab.remove();
    let _ = lab.pcscd.take();
}

#[test]
fn vicc_is_refused_in_strict_mode_and_with_the_wrong_mrz() {
    if !inside_private_namespace("vicc_is_refused_in_strict_mode_and_with_the_wrong_mrz") {
        return;
    }
    let lab = Lab::start();
    let mut slot = PcscSlot::new("");
    // vicc leaves DO'99' out of its answers: a strict reader refuses them, as it must refuse a
    // chip whose status words could be forged.
    let strict = chip::read(&mut slot.connect().expect("card"), &key(), ReadOptions::default(), &mut random).expect_err("strict");
    assert!(matches!(strict, ChipError::SecureMessaging { error: SmError::MissingStatus, .. }), "{strict}{}", lab.logs());

    let mut reader = EmrtdReader::new(PcscSlot::new(""), LENIENT);
    let wrong = AccessKey::Mrz {
        document_number: "L898902C3".into(),
        date_of_birth: CalendarDate { year: 1974, month: 8, day: 13 },
        date_of_expiry: CalendarDate { year: 2012, month: 4, day: 15 },
    };
    assert_eq!(reader.read(&wrong).expect_err("wrong key").kind(), ErrorKind::AccessDenied, "{}", lab.logs());
    reader.read(&access_key()).unwrap_or_else(|e| panic!("the right key after a wrong one: {e}{}", lab.logs()));
}

#[test]
fn pcscd_stopping_is_no_reader_not_a_hang() {
    if !inside_private_namespace("pcscd_stopping_is_no_reader_not_a_hang") {
        return;
    }
    let mut lab = Lab::start();
    let mut reader = EmrtdReader::new(PcscSlot::new(""), LENIENT);
    reader.read(&access_key()).unwrap_or_else(|e| panic!("{e}{}", lab.logs()));
    // Waiting for a change waits while nothing changes, and sees the card leave at once.
    let quiet = Instant::now();
    assert_eq!(PcscSlot::new("").wait_for_change(Duration::from_millis(400)).expect("waits"), SlotStatus::CardPresent);
    assert!(quiet.elapsed() >= Duration::from_millis(350), "returned after {:?} with nothing changed", quiet.elapsed());
    let waiter = std::thread::spawn(|| {
        let started = Instant::now();
        let seen = PcscSlot::new("").wait_for_change(Duration::from_secs(5)).expect("waits");
        (seen, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    lab.remove();
    let (seen, took) = waiter.join().expect("the waiting thread");
    assert_eq!(seen, SlotStatus::Empty, "{}", lab.logs());
    assert!(took < Duration::from_secs(4), "the removal took {took:?} to be seen");
    let _ = lab.pcscd.take();
    let started = Instant::now();
    assert_eq!(reader.status().expect("status"), IdentityReaderStatus::NoReader);
    let error = reader.read(&access_key()).expect_err("no pcscd");
    assert_eq!(error.kind(), ErrorKind::NoReader, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
