//! What goes on the citizen's paper, laid out in their language: the application receipt, the
//! queue ticket, the appointment confirmation and the "you were not charged" slip.
//!
//! The receipt is paper, not screen, so its words live here rather than in the UI's
//! translation catalogues; [`Words`] holds each language's set, so none can be missing.

use balcao_backend_client::api::Delivery;
use balcao_drivers::receipt_printer::Receipt;
use balcao_ui::view::Language;

use crate::session::api_language;

/// How the fee was paid, as the terminal reported it (masked, never a card number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidBy {
    /// e.g. `VISA **** 4242`.
    pub card: Option<String>,
    pub approval_code: Option<String>,
    /// Lines the terminal asked to print.
    pub terminal_lines: Vec<String>,
}

/// An application receipt's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptContent {
    pub language: Language,
    pub reference: String,
    pub service_name: String,
    pub agency_name: String,
    pub fee_avos: u64,
    pub paid_by: Option<PaidBy>,
    pub processing_days: u16,
    pub delivery: Delivery,
    /// Saved while central could not be reached: the receipt says it will be transmitted.
    pub offline: bool,
}

/// A queue ticket's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketContent {
    pub language: Language,
    pub queue_id: String,
    pub letter: char,
    pub queue_name: String,
    /// Issued while central could not be reached (the ticket looks the same: tickets work
    /// offline).
    pub offline: bool,
}

/// A "you were not charged" slip: printed after the kiosk cancelled a card reservation because
/// the service could not be delivered, so the citizen has proof in hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotChargedContent {
    pub language: Language,
    pub service_name: String,
    pub amount_avos: u64,
    /// Masked as the terminal gave it, e.g. `VISA **** 4242`.
    pub card: Option<String>,
    /// The citizen cancelled (rather than the application failing to save).
    pub cancelled: bool,
}

/// An appointment confirmation's content: a counter appointment central booked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentContent {
    pub language: Language,
    /// Central's booking reference, which counter staff look the appointment up by.
    pub reference: String,
    pub service_name: String,
    pub agency_name: String,
    /// The appointment's local date and time, as printed (e.g. `2026-12-03 10:30`).
    pub slot: String,
    /// The counter or room, when central assigned one.
    pub counter: Option<String>,
}

/// The words of a receipt in one language.
struct Words {
    centre: &'static str,
    title: &'static str,
    number: &'static str,
    date: &'static str,
    kiosk: &'static str,
    paid: &'static str,
    free: &'static str,
    card: &'static str,
    approval: &'static str,
    terminal: &'static str,
    /// Above the terminal's own record, which says "pre-authorisation": what happened.
    reserved_then_charged: &'static str,
    processing: fn(u16) -> String,
    print_at_kiosk: &'static str,
    collect_at_counter: &'static str,
    electronic: &'static str,
    scan: &'static str,
    keep: &'static str,
    offline: &'static str,
    ticket: &'static str,
    issued: &'static str,
    wait: &'static str,
    not_charged: &'static str,
    service: &'static str,
    reserved: &'static str,
    released: &'static str,
    released_cancelled: &'static str,
    keep_slip: &'static str,
    appointment: &'static str,
    booking: &'static str,
    when: &'static str,
    counter: &'static str,
    arrive: &'static str,
    show_slip: &'static str,
    printed: &'static str,
}

fn words(language: Language) -> Words {
    match language {
        Language::ZhHant => Words {
            centre: "政府服務中心",
            title: "申請收據",
            number: "申請編號",
            date: "日期",
            kiosk: "自助服務機",
            paid: "已付費用",
            free: "免費",
            card: "付款卡",
            approval: "授權碼",
            terminal: "付款終端機記錄",
            reserved_then_charged: "款項先在付款卡上預留，申請保存後才正式扣取。",
            processing: |days| format!("預計 {days} 個工作天內完成。"),
            print_at_kiosk: "完成後可在本中心任何自助服務機列印。",
            collect_at_counter: "完成後請到櫃檯領取。",
            electronic: "完成後將以電子方式發出。",
            scan: "掃描二維碼查詢申請進度",
            keep: "請保留此收據。",
            offline: "申請已儲存在本機，網絡恢復後將自動傳送至部門。",
            ticket: "輪候籌號",
            issued: "取號時間",
            wait: "請在等候區留意顯示屏及廣播叫號。過號請到櫃檯查詢。",
            not_charged: "未有收費",
            service: "服務",
            reserved: "已取消的預授權",
            released: "申請未能完成，因此本機已取消付款卡上的預授權，並無扣取任何款項。預留金額將由發卡銀行解除。",
            released_cancelled: "您已取消付款，因此本機已取消付款卡上的預授權，並無扣取任何款項。預留金額將由發卡銀行解除。",
            keep_slip: "如有疑問，請保留此單據並到櫃檯查詢。",
            appointment: "預約確認",
            booking: "預約編號",
            when: "預約時間",
            counter: "櫃檯",
            arrive: "請於預約時間前十分鐘到達，並帶備身份證明文件。",
            show_slip: "到達後請向櫃檯出示此確認單。",
            printed: "列印時間",
        },
        Language::Pt => Words {
            centre: "Centro de Serviços do Governo",
            title: "Recibo do pedido",
            number: "N.º do pedido",
            date: "Data",
            kiosk: "Quiosque",
            paid: "Taxa paga",
            free: "Gratuito",
            card: "Cartão",
            approval: "Código de autorização",
            terminal: "Comprovativo do terminal",
            reserved_then_charged: "O valor foi reservado no cartão e cobrado só depois de o pedido ficar registado.",
            processing: |days| {
                if days == 1 { "Prazo previsto: 1 dia útil.".to_string() } else { format!("Prazo previsto: {days} dias úteis.") }
            },
            print_at_kiosk: "Quando estiver pronto, pode imprimi-lo em qualquer quiosque deste centro.",
            collect_at_counter: "Quando estiver pronto, levante-o no balcão.",
            electronic: "Quando estiver pronto, será enviado por via electrónica.",
            scan: "Leia o código QR para acompanhar o pedido",
            keep: "Guarde este recibo.",
            offline: "Pedido guardado neste quiosque; será transmitido ao serviço logo que a ligação volte.",
            ticket: "Senha de atendimento",
            issued: "Emitida",
            wait: "Aguarde na sala de espera até o seu número ser mostrado nos ecrãs e anunciado. Se perder a vez, dirija-se ao balcão.",
            not_charged: "Sem cobrança",
            service: "Serviço",
            reserved: "Reserva anulada",
            released: "Não foi possível concluir o pedido: o quiosque anulou a reserva no seu cartão e não foi cobrado nenhum valor. O banco emissor liberta o montante reservado.",
            released_cancelled: "Cancelou o pagamento: o quiosque anulou a reserva no seu cartão e não foi cobrado nenhum valor. O banco emissor liberta o montante reservado.",
            keep_slip: "Guarde este comprovativo e, em caso de dúvida, dirija-se ao balcão.",
            appointment: "Confirmação de marcação",
            booking: "N.º da marcação",
            when: "Data e hora",
            counter: "Balcão",
            arrive: "Chegue dez minutos antes da hora marcada, com o seu documento de identificação.",
            show_slip: "À chegada, apresente esta confirmação no balcão.",
            printed: "Impresso em",
        },
        Language::En => Words {
            centre: "Government Service Centre",
            title: "Application receipt",
            number: "Application number",
            date: "Date",
            kiosk: "Kiosk",
            paid: "Fee paid",
            free: "Free of charge",
            card: "Card",
            approval: "Approval code",
            terminal: "Card terminal record",
            reserved_then_charged: "The amount was reserved on your card and charged only once your application was saved.",
            processing: |days| {
                if days == 1 { "Expected within 1 working day.".to_string() } else { format!("Expected within {days} working days.") }
            },
            print_at_kiosk: "When it is ready, print it at any kiosk of this centre.",
            collect_at_counter: "When it is ready, collect it at the counter.",
            electronic: "When it is ready, it will be sent to you electronically.",
            scan: "Scan the QR code to follow your application",
            keep: "Please keep this receipt.",
            offline: "Saved at this kiosk; it will be transmitted to the agency as soon as the connection returns.",
            ticket: "Queue ticket",
            issued: "Issued",
            wait: "Please wait in the waiting area until your number is shown on the screens and called out. If you miss your turn, ask at the counter.",
            not_charged: "You were not charged",
            service: "Service",
            reserved: "Reservation cancelled",
            released: "Your application could not be completed, so the kiosk cancelled the reservation on your card and took no money. Your bank releases the reserved amount.",
            released_cancelled: "You cancelled the payment, so the kiosk cancelled the reservation on your card and took no money. Your bank releases the reserved amount.",
            keep_slip: "Keep this slip; if in doubt, ask at the counter.",
            appointment: "Appointment confirmation",
            booking: "Booking number",
            when: "Date and time",
            counter: "Counter",
            arrive: "Please arrive ten minutes before your appointment, with your identity document.",
            show_slip: "On arrival, show this slip at the counter.",
            printed: "Printed",
        },
    }
}

/// Lays the receipt out. `printed_at` is the local date and time as printed; `status_url`
/// is the base of the QR's address.
pub fn layout(content: &ReceiptContent, printed_at: &str, kiosk_id: &str, status_url: &str) -> Receipt {
    let w = words(content.language);
    let mut receipt = Receipt::new()
        .heading(w.centre)
        .centered(&content.agency_name)
        .rule()
        .title(w.title)
        .feed(1)
        .bold_row(w.number, &content.reference);
    // Counter staff's hand scanners read the number off a barcode. A number too long for one
    // (a kiosk id of many letters) is still on the QR below.
    if Receipt::barcode_fits(&content.reference) {
        receipt = receipt.barcode(&content.reference);
    }
    receipt = receipt.text(&content.service_name).row(w.date, printed_at).row(w.kiosk, kiosk_id).rule();
    match &content.paid_by {
        None => receipt = receipt.bold_row(w.paid, w.free),
        Some(paid) => {
            receipt = receipt.bold_row(w.paid, api_language(content.language).money(content.fee_avos));
            if let Some(card) = &paid.card {
                receipt = receipt.row(w.card, card);
            }
            if let Some(code) = &paid.approval_code {
                receipt = receipt.row(w.approval, code);
            }
            if !paid.terminal_lines.is_empty() {
                receipt = receipt.rule().text(w.reserved_then_charged).feed(1).centered(w.terminal);
                for line in &paid.terminal_lines {
                    receipt = receipt.centered(line);
                }
            }
        }
    }
    receipt = receipt.rule();
    if content.offline {
        receipt = receipt.text(w.offline).rule();
    }
    if content.processing_days > 0 {
        receipt = receipt.text((w.processing)(content.processing_days));
    }
    receipt
        .text(match content.delivery {
            Delivery::PrintAtKiosk => w.print_at_kiosk,
            Delivery::CollectAtCounter => w.collect_at_counter,
            Delivery::Electronic => w.electronic,
        })
        .qr(format!("{status_url}{}", content.reference))
        .centered(w.scan)
        .feed(1)
        .centered(w.keep)
}

/// Lays a queue ticket out: the number as large as the printer prints, the counter it is
/// for, and when it was taken.
pub fn ticket_layout(content: &TicketContent, number: &str, printed_at: &str, kiosk_id: &str) -> Receipt {
    let w = words(content.language);
    Receipt::new()
        .heading(w.centre)
        .rule()
        .centered(w.ticket)
        .display(number)
        .heading(&content.queue_name)
        .feed(1)
        .row(w.issued, printed_at)
        .row(w.kiosk, kiosk_id)
        .rule()
        .text(w.wait)
}

/// Lays an appointment confirmation out: when and where, the booking number (also as a QR
/// code, for the counter's scanner and for cancelling at a kiosk) and what to bring.
pub fn appointment_layout(content: &AppointmentContent, printed_at: &str, kiosk_id: &str) -> Receipt {
    let w = words(content.language);
    let mut slip = Receipt::new()
        .heading(w.centre)
        .centered(&content.agency_name)
        .rule()
        .title(w.appointment)
        .feed(1)
        .text(&content.service_name)
        .bold_row(w.when, &content.slot);
    if let Some(counter) = &content.counter {
        slip = slip.bold_row(w.counter, counter);
    }
    slip = slip.row(w.booking, &content.reference).qr(&content.reference);
    // "Printed", not "Date": the only date that matters on this slip is the appointment's.
    slip.row(w.printed, printed_at).row(w.kiosk, kiosk_id).rule().text(w.arrive).feed(1).centered(w.show_slip)
}

/// Lays the "you were not charged" slip out.
pub fn not_charged_layout(content: &NotChargedContent, printed_at: &str, kiosk_id: &str) -> Receipt {
    let w = words(content.language);
    let mut slip = Receipt::new()
        .heading(w.centre)
        .rule()
        .title(w.not_charged)
        .feed(1)
        .row(w.service, &content.service_name)
        .bold_row(w.reserved, api_language(content.language).money(content.amount_avos));
    if let Some(card) = &content.card {
        slip = slip.row(w.card, card);
    }
    let released = if content.cancelled { w.released_cancelled } else { w.released };
    slip.row(w.date, printed_at).row(w.kiosk, kiosk_id).rule().text(released).feed(1).centered(w.keep_slip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_ticket_carries_its_number_queue_and_time_in_the_citizens_language() {
        let content = |language| TicketContent {
            language,
            queue_id: "civil-registry".into(),
            letter: 'B',
            queue_name: "民事登記".into(),
            offline: false,
        };
        let ticket = ticket_layout(&content(Language::ZhHant), "B1-023", "2026-11-23 09:41", "K01");
        let text = ticket.plain_text();
        for expected in ["輪候籌號", "B1-023", "民事登記", "取號時間: 2026-11-23 09:41", "自助服務機: K01", "請在等候區"]
        {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(
            ticket.blocks.iter().any(|b| matches!(b, balcao_drivers::receipt_printer::Block::Text { text, size: balcao_drivers::receipt_printer::TextSize::Display, .. } if text == "B1-023")),
            "the number is printed at the largest size"
        );
        let pt = ticket_layout(&content(Language::Pt), "B1-023", "t", "K01").plain_text();
        assert!(pt.contains("Senha de atendimento") && pt.contains("Emitida: t"), "{pt}");
        let en = ticket_layout(&content(Language::En), "B1-023", "t", "K01").plain_text();
        assert!(en.contains("Queue ticket") && en.contains("If you miss your turn"), "{en}");
    }

    #[test]
    fn the_not_charged_slip_names_the_amount_and_card_in_the_citizens_language() {
        let slip = |language| {
            let content = NotChargedContent {
                language,
                service_name: "Serviço X".into(),
                amount_avos: 3000,
                card: Some("VISA **** 4242".into()),
                cancelled: false,
            };
            not_charged_layout(&content, "2026-11-23 09:41", "K01").plain_text()
        };
        let en = slip(Language::En);
        for expected in ["You were not charged", "Reservation cancelled: MOP 30.00", "Card: VISA **** 4242", "took no money", "Kiosk: K01"]
        {
            assert!(en.contains(expected), "missing {expected:?} in\n{en}");
        }
        let pt = slip(Language::Pt);
        assert!(pt.contains("Sem cobrança") && pt.contains("Reserva anulada: MOP 30,00") && !pt.contains("charged"), "{pt}");
        let zh = slip(Language::ZhHant);
        assert!(zh.contains("未有收費") && zh.contains("MOP 30.00") && zh.contains("並無扣取任何款項") && !zh.contains("charged"), "{zh}");
        assert!(!en.contains("4111") && !zh.contains("****4242"), "only the masked card as given");
    }

    fn content(language: Language, paid: bool) -> ReceiptContent {
        ReceiptContent {
            language,
            reference: "K01-261122-0007".into(),
            service_name: "刑事紀錄證明書".into(),
            agency_name: "身份證明局".into(),
            fee_avos: 3000,
            paid_by: paid.then(|| PaidBy {
                card: Some("VISA **** 4242".into()),
                approval_code: Some("314160".into()),
                terminal_lines: vec!["PRE-AUTHORISATION".into()],
            }),
            processing_days: 3,
            delivery: Delivery::PrintAtKiosk,
            offline: false,
        }
    }

    #[test]
    fn a_receipt_printed_offline_says_the_application_will_be_transmitted() {
        for (language, words) in [
            (Language::ZhHant, "網絡恢復後將自動傳送"),
            (Language::Pt, "será transmitido ao serviço"),
            (Language::En, "it will be transmitted to the agency"),
        ] {
            let online = layout(&content(language, true), "2026-11-22 14:05", "K01", "https://s.example/").plain_text();
            assert!(!online.contains(words), "online receipts say nothing of it:\n{online}");
            let offline = ReceiptContent { offline: true, ..content(language, true) };
            let text = layout(&offline, "2026-11-22 14:05", "K01", "https://s.example/").plain_text();
            assert!(text.contains(words), "missing {words:?} in\n{text}");
        }
    }

    #[test]
    fn a_paid_receipt_carries_number_fee_card_and_status_qr() {
        let text = layout(&content(Language::ZhHant, true), "2026-11-22 14:05", "K01", "https://s.example/").plain_text();
        for expected in [
            "申請收據",
            "申請編號: K01-261122-0007",
            "已付費用: MOP 30.00",
            "付款卡: VISA **** 4242",
            "[BARCODE K01-261122-0007]",
            "[QR https://s.example/K01-261122-0007]",
            "預計 3 個工作天內完成。",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn an_appointment_confirmation_says_when_and_where_with_the_booking_as_a_qr_code_in_the_citizens_language() {
        let content = |language| AppointmentContent {
            language,
            reference: "AP-7K2M-Q9XD".into(),
            service_name: "Renovação do BIR".into(),
            agency_name: "DSI".into(),
            slot: "2026-12-03 10:30".into(),
            counter: Some("B4".into()),
        };
        let zh = appointment_layout(&content(Language::ZhHant), "2026-12-01 09:12", "K01").plain_text();
        for expected in
            ["預約確認", "預約時間: 2026-12-03 10:30", "櫃檯: B4", "預約編號: AP-7K2M-Q9XD", "[QR AP-7K2M-Q9XD]", "自助服務機: K01"]
        {
            assert!(zh.contains(expected), "missing {expected:?} in\n{zh}");
        }
        let pt = appointment_layout(&content(Language::Pt), "t", "K01").plain_text();
        assert!(pt.contains("Confirmação de marcação") && pt.contains("Data e hora: 2026-12-03 10:30"), "{pt}");
        let mut no_counter = content(Language::En);
        no_counter.counter = None;
        let en = appointment_layout(&no_counter, "t", "K01").plain_text();
        assert!(en.contains("Appointment confirmation") && en.contains("show this slip at the counter"), "{en}");
        assert!(!en.contains("Counter:"), "{en}");
    }

    #[test]
    fn a_number_too_long_for_a_barcode_is_left_to_the_qr() {
        let mut long = content(Language::En, true);
        long.reference = "KIOSK-NORTH1-261122-0007".into();
        let text = layout(&long, "t", "KIOSK-NORTH1", "u/").plain_text();
        assert!(!text.contains("[BARCODE"), "{text}");
        assert!(text.contains("[QR u/KIOSK-NORTH1-261122-0007]"), "{text}");
    }

    #[test]
    fn every_language_has_its_own_words() {
        let texts: Vec<String> = Language::ALL.iter().map(|&l| layout(&content(l, true), "t", "K01", "u/").plain_text()).collect();
        assert!(texts[1].contains("Recibo do pedido") && texts[1].contains("Prazo previsto: 3 dias úteis."), "{}", texts[1]);
        assert!(texts[2].contains("Application receipt") && texts[2].contains("Fee paid: MOP 30.00"), "{}", texts[2]);
        assert_ne!(texts[0], texts[1]);
        assert_ne!(texts[1], texts[2]);
    }

    #[test]
    fn a_free_service_says_so() {
        let mut free = content(Language::En, false);
        free.fee_avos = 0;
        let text = layout(&free, "t", "K01", "u/").plain_text();
        assert!(text.contains("Fee paid: Free of charge"), "{text}");
        assert!(!text.contains("Card"), "{text}");
    }
}
