//! ICAO 9303 eMRTDs (passports and identity cards with a chip), in layers that do no I/O of
//! their own:
//!
//! - `mrz.rs` — the machine-readable zone: the key that opens the chip, the holder's data;
//! - `crypto.rs` — the key derivation, 3DES-CBC, retail MAC and padding BAC needs;
//! - `bac.rs` — Basic Access Control, both the terminal's side and the chip's;
//! - `sm.rs` — secure messaging, both sides, strict or lenient about `DO'99'`;
//! - `tlv.rs` — BER-TLV, with typed errors for whatever a chip sends;
//! - `apdu.rs` — command and response APDUs, and [`apdu::CardChannel`], the link to a card;
//! - `lds.rs` — the files: EF.COM, DG1 (the zone), the others' identifiers;
//! - `chip.rs` — the terminal's reading of a chip over any card channel;
//! - `card.rs` — a virtual chip answering as one does, with knobs for broken ones (with the
//!   simulators);
//! - `pa.rs` — passive authentication: EF.SOD's hashes and signature, the DS certificate
//!   against the CSCA trust list;
//! - `signer.rs` — a test country's CSCA and DS, signing EF.SOD for the virtual chip (with the
//!   simulators);
//! - `fuzz.rs` — entry points for fuzzing everything a chip's answers reach (`drivers/fuzz`).
//!
//! PACE is a later step: it replaces BAC's key agreement and ends in the same [`sm::SessionKeys`]
//! (with AES, a second cipher for `sm.rs`), so the layers above it do not change.

pub mod apdu;
pub mod bac;
#[cfg(feature = "simulators")]
pub mod card;
pub mod chip;
pub mod crypto;
#[doc(hidden)]
pub mod fuzz;
pub mod lds;
pub mod mrz;
pub mod pa;
#[cfg(feature = "simulators")]
pub mod signer;
pub mod sm;
pub mod tlv;
