//! The catalog a fresh reference central starts with: services a Macao Government Service
//! Centre offers at its kiosks, with their agencies, fees (MOP) and forms, in Traditional
//! Chinese, Portuguese and English.

use balcao_backend_client::api::{
    Agency, Catalog, ChoiceOption, CounterQueue, DateRange, Delivery, DeviceNeed, FieldKind, FormField, IdentityAttribute, IdentityLevel,
    LocalizedText, Service, ServiceKind, TextFormat,
};

fn t(zh: &str, pt: &str, en: &str) -> LocalizedText {
    LocalizedText::new(zh, pt, en)
}

fn field(id: &str, label: LocalizedText, required: bool, kind: FieldKind) -> FormField {
    FormField { id: id.into(), label, help: None, required, kind, prefill: None, format: None }
}

fn prefilled(mut f: FormField, attribute: IdentityAttribute) -> FormField {
    f.prefill = Some(attribute);
    f
}

fn with_help(mut f: FormField, help: LocalizedText) -> FormField {
    f.help = Some(help);
    f
}

fn choice(options: &[(&str, LocalizedText)]) -> FieldKind {
    FieldKind::Choice { options: options.iter().map(|(v, l)| ChoiceOption { value: (*v).into(), label: l.clone() }).collect() }
}

fn full_name() -> FormField {
    prefilled(
        field("full_name", t("姓名", "Nome completo", "Full name"), true, FieldKind::Text { max_length: 100 }),
        IdentityAttribute::FullName,
    )
}

/// The holder's name in Chinese characters, for those who have one: printed beside the Latin
/// name on the certificate.
fn chinese_name() -> FormField {
    let mut f = with_help(
        field(
            "chinese_name",
            t("中文姓名", "Nome em caracteres chineses", "Name in Chinese characters"),
            false,
            FieldKind::Text { max_length: 20 },
        ),
        t("如有中文姓名，請填寫。", "Preencha se tiver nome em chinês.", "Fill in if you have a Chinese name."),
    );
    f.format = Some(TextFormat::Chinese);
    f
}

fn document_number() -> FormField {
    let mut f = prefilled(
        field(
            "document_number",
            t("身份證明文件編號", "Número do documento de identificação", "Identity document number"),
            true,
            FieldKind::Text { max_length: 20 },
        ),
        IdentityAttribute::DocumentNumber,
    );
    f.format = Some(TextFormat::IdentityDocumentNumber);
    f
}

fn date_of_birth() -> FormField {
    prefilled(
        field("date_of_birth", t("出生日期", "Data de nascimento", "Date of birth"), true, FieldKind::Date { range: DateRange::Past }),
        IdentityAttribute::DateOfBirth,
    )
}

/// For a service about someone else (a birth, a marriage) or a thing (a property, taxes): the
/// applicant's own date of birth, which, with the receipt's number, lets them follow the
/// application at a kiosk or on their phone.
fn applicant_date_of_birth() -> FormField {
    with_help(
        prefilled(
            field(
                "date_of_birth",
                t("申請人出生日期", "Data de nascimento do requerente", "Applicant's date of birth"),
                true,
                FieldKind::Date { range: DateRange::Past },
            ),
            IdentityAttribute::DateOfBirth,
        ),
        t("用作日後查詢申請進度。", "Serve para acompanhar o pedido mais tarde.", "Used to follow the application later."),
    )
}

fn copies() -> FormField {
    field("copies", t("份數", "Número de exemplares", "Number of copies"), true, FieldKind::Number { min: 1, max: 5 })
}

fn dsi() -> Agency {
    Agency { id: "dsi".into(), name: t("身份證明局", "Direcção dos Serviços de Identificação", "Identification Services Bureau") }
}

fn civil_registry() -> Agency {
    Agency { id: "crc".into(), name: t("民事登記局", "Conservatória do Registo Civil", "Civil Registry") }
}

const PAID_AT_KIOSK: [DeviceNeed; 2] = [DeviceNeed::PaymentTerminal, DeviceNeed::ReceiptPrinter];

/// The seed catalog.
pub fn catalog() -> Catalog {
    let services = vec![
        Service {
            id: "criminal-record-certificate".into(),
            kind: ServiceKind::Application,
            name: t("刑事紀錄證明書", "Certificado de Registo Criminal", "Certificate of Criminal Record"),
            description: t(
                "證明申請人在澳門有否刑事紀錄，供就業、移民、升學或簽證之用。",
                "Certifica se o requerente tem registo criminal em Macau, para fins de emprego, imigração, estudos ou visto.",
                "States whether the applicant has a criminal record in Macao, for employment, immigration, study or visa purposes.",
            ),
            agency: dsi(),
            fee_avos: 3_000,
            identity_level: IdentityLevel::Declared,
            form: vec![
                full_name(),
                document_number(),
                date_of_birth(),
                field(
                    "purpose",
                    t("申請用途", "Finalidade", "Purpose"),
                    true,
                    choice(&[
                        ("employment", t("就業", "Emprego", "Employment")),
                        ("immigration", t("移民", "Imigração", "Immigration")),
                        ("study", t("升學", "Estudos", "Study")),
                        ("visa", t("申請簽證", "Pedido de visto", "Visa application")),
                        ("other", t("其他", "Outra", "Other")),
                    ]),
                ),
                with_help(
                    field(
                        "destination",
                        t("使用地點（國家或地區）", "País ou região de destino", "Country or region where it will be used"),
                        false,
                        FieldKind::Text { max_length: 60 },
                    ),
                    t(
                        "如在澳門以外使用，請填寫。",
                        "Preencha se o certificado for usado fora de Macau.",
                        "Fill in if the certificate will be used outside Macao.",
                    ),
                ),
                copies(),
                chinese_name(),
            ],
            delivery: Delivery::PrintAtKiosk,
            processing_days: 3,
            devices: PAID_AT_KIOSK.to_vec(),
            offline_capable: true,
            copies_field: Some("copies".into()),
        },
        Service {
            id: "birth-record-certificate".into(),
            kind: ServiceKind::Application,
            name: t("出生登記證明", "Certidão de registo de nascimento", "Birth record certificate"),
            description: t(
                "由民事登記局發出的出生登記證明，可選擇全文或敘述式。",
                "Certidão do registo de nascimento emitida pela Conservatória do Registo Civil, de cópia integral ou narrativa.",
                "Certificate of a birth registration issued by the Civil Registry, as a full copy or a narrative extract.",
            ),
            agency: civil_registry(),
            fee_avos: 6_000,
            identity_level: IdentityLevel::Declared,
            form: vec![
                field(
                    "registrant_name",
                    t("被登記人姓名", "Nome do registado", "Name of the registered person"),
                    true,
                    FieldKind::Text { max_length: 100 },
                ),
                field(
                    "registrant_birth_date",
                    t("被登記人出生日期", "Data de nascimento do registado", "Date of birth of the registered person"),
                    true,
                    FieldKind::Date { range: DateRange::Past },
                ),
                field(
                    "registration_number",
                    t("登記編號（如知悉）", "Número do registo (se souber)", "Registration number (if known)"),
                    false,
                    FieldKind::Text { max_length: 20 },
                ),
                field(
                    "certificate_type",
                    t("證明類別", "Tipo de certidão", "Type of certificate"),
                    true,
                    choice(&[
                        ("full", t("全文證明", "Certidão de cópia integral", "Full copy")),
                        ("narrative", t("敘述證明", "Certidão narrativa", "Narrative extract")),
                    ]),
                ),
                applicant_date_of_birth(),
                copies(),
            ],
            delivery: Delivery::CollectAtCounter,
            processing_days: 2,
            devices: PAID_AT_KIOSK.to_vec(),
            offline_capable: true,
            copies_field: Some("copies".into()),
        },
        Service {
            id: "marriage-record-certificate".into(),
            kind: ServiceKind::Application,
            name: t("結婚登記證明", "Certidão de registo de casamento", "Marriage record certificate"),
            description: t(
                "由民事登記局發出的結婚登記證明。",
                "Certidão do registo de casamento emitida pela Conservatória do Registo Civil.",
                "Certificate of a marriage registration issued by the Civil Registry.",
            ),
            agency: civil_registry(),
            fee_avos: 6_000,
            identity_level: IdentityLevel::Declared,
            form: vec![
                full_name(),
                field("spouse_name", t("配偶姓名", "Nome do cônjuge", "Spouse's name"), true, FieldKind::Text { max_length: 100 }),
                field(
                    "marriage_date",
                    t("結婚日期", "Data do casamento", "Date of marriage"),
                    true,
                    FieldKind::Date { range: DateRange::Past },
                ),
                applicant_date_of_birth(),
                copies(),
            ],
            delivery: Delivery::CollectAtCounter,
            processing_days: 2,
            devices: PAID_AT_KIOSK.to_vec(),
            offline_capable: true,
            copies_field: Some("copies".into()),
        },
        Service {
            id: "tax-clearance-certificate".into(),
            kind: ServiceKind::Application,
            name: t("無欠稅證明書", "Certidão de inexistência de dívidas fiscais", "Tax clearance certificate"),
            description: t(
                "證明納稅人沒有拖欠稅款，常用於銀行貸款及公共工程投標。",
                "Certifica que o contribuinte não tem dívidas fiscais; usada em empréstimos bancários e concursos públicos.",
                "States that the taxpayer owes no taxes; used for bank loans and public tenders.",
            ),
            agency: Agency { id: "dsf".into(), name: t("財政局", "Direcção dos Serviços de Finanças", "Financial Services Bureau") },
            fee_avos: 5_000,
            identity_level: IdentityLevel::Declared,
            form: vec![
                field(
                    "taxpayer_number",
                    t("納稅人編號", "Número de contribuinte", "Taxpayer number"),
                    true,
                    FieldKind::Text { max_length: 12 },
                ),
                full_name(),
                field(
                    "purpose",
                    t("申請用途", "Finalidade", "Purpose"),
                    true,
                    choice(&[
                        ("bank_loan", t("銀行貸款", "Empréstimo bancário", "Bank loan")),
                        ("tender", t("公共工程投標", "Concurso público", "Public tender")),
                        ("other", t("其他", "Outra", "Other")),
                    ]),
                ),
                applicant_date_of_birth(),
                copies(),
            ],
            delivery: Delivery::PrintAtKiosk,
            processing_days: 1,
            devices: PAID_AT_KIOSK.to_vec(),
            offline_capable: false,
            copies_field: Some("copies".into()),
        },
        Service {
            id: "identification-data-certificate".into(),
            kind: ServiceKind::Application,
            name: t("身份資料證明書", "Certidão de dados de identificação", "Certificate of identification data"),
            description: t(
                "證明申請人在身份證明局登記的身份資料。",
                "Certifica os dados de identificação do requerente registados na Direcção dos Serviços de Identificação.",
                "States the applicant's identification data as registered with the Identification Services Bureau.",
            ),
            agency: dsi(),
            fee_avos: 4_000,
            // One's own registered data: only to the holder, identified by the app or the chip.
            identity_level: IdentityLevel::App,
            form: vec![
                full_name(),
                document_number(),
                date_of_birth(),
                field("include_address", t("包括住址", "Incluir a morada", "Include address"), true, FieldKind::YesNo),
                copies(),
            ],
            delivery: Delivery::PrintAtKiosk,
            processing_days: 1,
            devices: PAID_AT_KIOSK.to_vec(),
            offline_capable: true,
            copies_field: Some("copies".into()),
        },
        Service {
            id: "property-registration-information".into(),
            kind: ServiceKind::Application,
            name: t("物業登記書面報告", "Informação escrita do registo predial", "Written property registration report"),
            description: t(
                "列出物業的業權人及負擔等登記資料。",
                "Indica o titular e os encargos registados de um imóvel.",
                "Lists the registered owner and charges of a property.",
            ),
            agency: Agency { id: "crp".into(), name: t("物業登記局", "Conservatória do Registo Predial", "Property Registry") },
            fee_avos: 10_000,
            identity_level: IdentityLevel::Declared,
            form: vec![
                with_help(
                    field(
                        "description_number",
                        t("標示編號", "Número da descrição predial", "Property description number"),
                        true,
                        FieldKind::Text { max_length: 12 },
                    ),
                    t(
                        "載於物業登記證明或樓宇買賣文件。",
                        "Consta da certidão predial ou da escritura de compra e venda.",
                        "Shown on the property certificate or the deed of sale.",
                    ),
                ),
                field(
                    "property_address",
                    t("物業地址", "Endereço do imóvel", "Property address"),
                    false,
                    FieldKind::Text { max_length: 120 },
                ),
                full_name(),
                applicant_date_of_birth(),
            ],
            delivery: Delivery::CollectAtCounter,
            processing_days: 3,
            devices: PAID_AT_KIOSK.to_vec(),
            offline_capable: true,
            copies_field: None,
        },
        Service {
            id: "id-card-renewal-appointment".into(),
            kind: ServiceKind::Appointment,
            name: t("預約換領居民身份證", "Marcação para renovação do BIR", "Appointment to renew a resident identity card"),
            description: t(
                "預約到身份證明局櫃檯換領澳門居民身份證。",
                "Marcação de atendimento na Direcção dos Serviços de Identificação para renovar o Bilhete de Identidade de Residente.",
                "Book a counter appointment at the Identification Services Bureau to renew a Macao resident identity card.",
            ),
            agency: dsi(),
            fee_avos: 0,
            identity_level: IdentityLevel::Declared,
            // The kiosk's booking journey asks for the day, the time and the date of birth;
            // central's schedule says which days and times (store::appointments).
            form: Vec::new(),
            delivery: Delivery::CollectAtCounter,
            processing_days: 0,
            devices: vec![DeviceNeed::ReceiptPrinter],
            offline_capable: false,
            copies_field: None,
        },
    ];
    Catalog { version: "2026-11-22".into(), services, queues: queues() }
}

fn queue(id: &str, letter: char, name: LocalizedText, description: LocalizedText) -> CounterQueue {
    CounterQueue { id: id.into(), letter, name, description }
}

/// The counters of a service centre, each with its queue.
fn queues() -> Vec<CounterQueue> {
    vec![
        queue(
            "identity-documents",
            'A',
            t("身份證明文件", "Documentos de identificação", "Identity documents"),
            t(
                "身份證、旅行證件的申請、換領及補發。",
                "Pedidos, renovação e segundas vias de BIR e documentos de viagem.",
                "Identity cards and travel documents: applications, renewals, replacements.",
            ),
        ),
        queue(
            "civil-registry",
            'B',
            t("民事登記", "Registo civil", "Civil registry"),
            t(
                "出生、結婚及死亡登記及證明。",
                "Registos e certidões de nascimento, casamento e óbito.",
                "Birth, marriage and death records and certificates.",
            ),
        ),
        queue(
            "taxes-and-payments",
            'C',
            t("稅務及繳費", "Impostos e pagamentos", "Taxes and payments"),
            t(
                "稅務申報、繳納稅款及各項費用。",
                "Declarações fiscais, pagamento de impostos e taxas.",
                "Tax returns, paying taxes and fees.",
            ),
        ),
        queue(
            "general-enquiries",
            'D',
            t("一般查詢", "Informações gerais", "General enquiries"),
            t("其他事務及查詢。", "Outros assuntos e informações.", "Anything else, and questions."),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_text_exists_in_all_three_languages() {
        for service in catalog().services {
            assert!(service.name.is_complete() && service.description.is_complete() && service.agency.name.is_complete(), "{}", service.id);
            for f in &service.form {
                assert!(f.label.is_complete(), "{}.{}", service.id, f.id);
                assert!(f.help.as_ref().is_none_or(LocalizedText::is_complete), "{}.{}", service.id, f.id);
                if let FieldKind::Choice { options } = &f.kind {
                    assert!(options.iter().all(|o| o.label.is_complete()), "{}.{}", service.id, f.id);
                }
            }
        }
    }

    #[test]
    fn queues_are_valid_with_distinct_ids_and_letters() {
        let queues = catalog().queues;
        assert!(queues.len() >= 3);
        assert!(queues.iter().all(|q| q.is_valid() && q.description.is_complete()), "{queues:?}");
        assert_eq!(queues.iter().map(|q| q.letter).collect::<HashSet<_>>().len(), queues.len());
        assert_eq!(queues.iter().map(|q| &q.id).collect::<HashSet<_>>().len(), queues.len());
    }

    #[test]
    fn ids_are_unique_and_at_least_six_services_are_offered() {
        let catalog = catalog();
        assert!(catalog.services.len() >= 6);
        let ids: HashSet<_> = catalog.services.iter().map(|s| &s.id).collect();
        assert_eq!(ids.len(), catalog.services.len());
        for s in &catalog.services {
            let fields: HashSet<_> = s.form.iter().map(|f| &f.id).collect();
            assert_eq!(fields.len(), s.form.len(), "{}", s.id);
            assert_eq!(s.fee_avos > 0, s.devices.contains(&DeviceNeed::PaymentTerminal), "{}: a fee needs the terminal", s.id);
        }
    }
}
