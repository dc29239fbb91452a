//! The console's words in its three languages: staff in Macao work in Chinese and Portuguese.
//! One struct per language, so a word missing in one language does not compile.

use balcao_backend_client::api::{CommandOutcome, DeviceClass, DeviceCondition, KioskEventKind, Language};

use crate::store::alerts::AlertRule;
use crate::store::fleet::{Finding, KioskState};
use crate::store::staff::Role;

#[derive(Debug)]
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    pub fleet: &'static str,
    pub applications: &'static str,
    pub audit: &'static str,
    pub log_in: &'static str,
    pub log_out: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub wrong_login: &'static str,
    pub locked: &'static str,
    pub signed_in_as: &'static str,
    pub centre: &'static str,
    pub all_centres: &'static str,
    pub state: &'static str,
    pub all_states: &'static str,
    pub search: &'static str,
    pub filter: &'static str,
    pub kiosk: &'static str,
    pub last_seen: &'static str,
    pub findings: &'static str,
    pub screen: &'static str,
    pub outbox: &'static str,
    pub dead_letters: &'static str,
    pub version: &'static str,
    pub no_kiosks: &'static str,
    pub live: &'static str,
    pub devices: &'static str,
    pub device: &'static str,
    pub condition: &'static str,
    pub sessions_today: &'static str,
    pub open_payments: &'static str,
    pub disk_free: &'static str,
    pub database_size: &'static str,
    pub uptime: &'static str,
    pub last_sync: &'static str,
    pub never: &'static str,
    pub commands: &'static str,
    pub send: &'static str,
    pub issued: &'static str,
    pub by: &'static str,
    pub outcome: &'static str,
    pub waiting: &'static str,
    pub detail: &'static str,
    pub message_zh: &'static str,
    pub message_pt: &'static str,
    pub message_en: &'static str,
    pub minutes: &'static str,
    pub terminal_booked: &'static str,
    pub kiosk_journal: &'static str,
    pub command_sent: &'static str,
    pub no_commands: &'static str,
    pub when: &'static str,
    pub who: &'static str,
    pub from: &'static str,
    pub action: &'static str,
    pub target: &'static str,
    pub export_csv: &'static str,
    pub not_allowed: &'static str,
    pub alerts: &'static str,
    pub no_alerts: &'static str,
    pub acknowledge: &'static str,
    pub acknowledged: &'static str,
    pub rules: &'static str,
    pub enabled: &'static str,
    pub save: &'static str,
    pub raised: &'static str,
    pub rules_saved: &'static str,
    pub alert_acknowledged: &'static str,
    pub citizen_language: &'static str,
    pub screenshot: &'static str,
    pub open_file: &'static str,
    pub staff: &'static str,
    pub enrollment: &'static str,
    pub events: &'static str,
    pub no_events: &'static str,
    pub skip_to_content: &'static str,
}

pub const ZH_HANT: Words = Words {
    lang: "zh-Hant",
    title: "Balcão 中央控制台",
    fleet: "自助機",
    applications: "申請",
    audit: "審計日誌",
    log_in: "登入",
    log_out: "登出",
    username: "用戶名稱",
    password: "密碼",
    wrong_login: "用戶名稱或密碼不正確。",
    locked: "密碼錯誤次數過多，帳戶已暫時鎖定。請稍後再試。",
    signed_in_as: "已登入：",
    centre: "服務中心",
    all_centres: "所有服務中心",
    state: "狀態",
    all_states: "所有狀態",
    search: "搜尋自助機",
    filter: "篩選",
    kiosk: "自助機",
    last_seen: "最後聯絡",
    findings: "需要處理",
    screen: "畫面",
    outbox: "待上傳",
    dead_letters: "被拒記錄",
    version: "版本",
    no_kiosks: "沒有符合條件的自助機。",
    live: "即時更新",
    devices: "設備",
    device: "設備",
    condition: "狀況",
    sessions_today: "今日服務人次",
    open_payments: "未完成付款",
    disk_free: "可用磁碟空間",
    database_size: "資料庫大小",
    uptime: "運行時間",
    last_sync: "最後同步",
    never: "從未",
    commands: "遙控指令",
    send: "發送",
    issued: "發出時間",
    by: "發出人",
    outcome: "結果",
    waiting: "等待自助機回應",
    detail: "說明",
    message_zh: "訊息（中文）",
    message_pt: "訊息（葡文）",
    message_en: "訊息（英文）",
    minutes: "分鐘",
    terminal_booked: "終端機入賬",
    kiosk_journal: "自助機記錄",
    command_sent: "指令已發出，將隨下一次心跳送達自助機。",
    no_commands: "未有指令。",
    when: "時間",
    who: "人員",
    from: "來源",
    action: "操作",
    target: "對象",
    export_csv: "匯出 CSV",
    not_allowed: "你的角色不能進行此操作。",
    alerts: "警報",
    no_alerts: "沒有未處理的警報。",
    acknowledge: "確認收到",
    acknowledged: "已確認",
    rules: "警報規則",
    enabled: "啟用",
    save: "儲存",
    raised: "發出時間",
    rules_saved: "警報規則已儲存。",
    alert_acknowledged: "已確認警報。",
    citizen_language: "市民使用的語言",
    screenshot: "最近的畫面截圖（個人資料已遮蓋）",
    open_file: "開啟",
    staff: "職員",
    enrollment: "登記自助機",
    events: "最近事件",
    no_events: "沒有事件。",
    skip_to_content: "跳到主要內容",
};

pub const PT: Words = Words {
    lang: "pt",
    title: "Balcão — consola central",
    fleet: "Quiosques",
    applications: "Pedidos",
    audit: "Registo de auditoria",
    log_in: "Entrar",
    log_out: "Sair",
    username: "Utilizador",
    password: "Palavra-passe",
    wrong_login: "O utilizador ou a palavra-passe estão errados.",
    locked: "Demasiadas palavras-passe erradas: a conta está bloqueada por algum tempo. Tente mais tarde.",
    signed_in_as: "Sessão de",
    centre: "Centro",
    all_centres: "Todos os centros",
    state: "Estado",
    all_states: "Todos os estados",
    search: "Procurar quiosque",
    filter: "Filtrar",
    kiosk: "Quiosque",
    last_seen: "Último contacto",
    findings: "A resolver",
    screen: "Ecrã",
    outbox: "Por enviar",
    dead_letters: "Registos recusados",
    version: "Versão",
    no_kiosks: "Nenhum quiosque corresponde ao filtro.",
    live: "Atualização em direto",
    devices: "Dispositivos",
    device: "Dispositivo",
    condition: "Estado",
    sessions_today: "Atendimentos hoje",
    open_payments: "Pagamentos em aberto",
    disk_free: "Disco livre",
    database_size: "Base de dados",
    uptime: "Em funcionamento há",
    last_sync: "Última sincronização",
    never: "nunca",
    commands: "Comandos",
    send: "Enviar",
    issued: "Emitido",
    by: "Por",
    outcome: "Resultado",
    waiting: "à espera do quiosque",
    detail: "Detalhe",
    message_zh: "Mensagem (chinês)",
    message_pt: "Mensagem (português)",
    message_en: "Mensagem (inglês)",
    minutes: "minutos",
    terminal_booked: "Lançado pelo terminal",
    kiosk_journal: "Registo do quiosque",
    command_sent: "Comando emitido: chega ao quiosque com o próximo sinal de vida.",
    no_commands: "Sem comandos.",
    when: "Quando",
    who: "Quem",
    from: "Origem",
    action: "Ação",
    target: "Alvo",
    export_csv: "Exportar CSV",
    not_allowed: "A sua função não permite esta ação.",
    alerts: "Alertas",
    no_alerts: "Nenhum alerta por tratar.",
    acknowledge: "Tomar conhecimento",
    acknowledged: "Visto",
    rules: "Regras de alerta",
    enabled: "Ativa",
    save: "Guardar",
    raised: "Levantado",
    rules_saved: "Regras de alerta guardadas.",
    alert_acknowledged: "Alerta visto.",
    citizen_language: "Língua do cidadão",
    screenshot: "Última captura de ecrã (dados ocultos)",
    open_file: "Abrir",
    staff: "Pessoal",
    enrollment: "Registo de quiosques",
    events: "Eventos recentes",
    no_events: "Nenhum evento.",
    skip_to_content: "Saltar para o conteúdo",
};

pub const EN: Words = Words {
    lang: "en",
    title: "Balcão central console",
    fleet: "Kiosks",
    applications: "Applications",
    audit: "Audit log",
    log_in: "Log in",
    log_out: "Log out",
    username: "User name",
    password: "Password",
    wrong_login: "The user name or the password is wrong.",
    locked: "Too many wrong passwords: the account is locked for a while. Try again later.",
    signed_in_as: "Signed in as",
    centre: "Centre",
    all_centres: "All centres",
    state: "State",
    all_states: "All states",
    search: "Find a kiosk",
    filter: "Filter",
    kiosk: "Kiosk",
    last_seen: "Last seen",
    findings: "To act on",
    screen: "Screen",
    outbox: "Waiting to send",
    dead_letters: "Refused records",
    version: "Version",
    no_kiosks: "No kiosk matches.",
    live: "Live",
    devices: "Devices",
    device: "Device",
    condition: "Condition",
    sessions_today: "Citizens served today",
    open_payments: "Open payments",
    disk_free: "Disk free",
    database_size: "Database",
    uptime: "Up for",
    last_sync: "Last sync",
    never: "never",
    commands: "Commands",
    send: "Send",
    issued: "Issued",
    by: "By",
    outcome: "Outcome",
    waiting: "waiting for the kiosk",
    detail: "Detail",
    message_zh: "Message (Chinese)",
    message_pt: "Message (Portuguese)",
    message_en: "Message (English)",
    minutes: "minutes",
    terminal_booked: "Terminal booked",
    kiosk_journal: "Kiosk journal",
    command_sent: "Command issued: it reaches the kiosk with its next heartbeat.",
    no_commands: "No commands yet.",
    when: "When",
    who: "Who",
    from: "From",
    action: "Action",
    target: "Target",
    export_csv: "Export CSV",
    not_allowed: "Your role does not allow this.",
    alerts: "Alerts",
    no_alerts: "No open alerts.",
    acknowledge: "Acknowledge",
    acknowledged: "Acknowledged",
    rules: "Alert rules",
    enabled: "On",
    save: "Save",
    raised: "Raised",
    rules_saved: "Alert rules saved.",
    alert_acknowledged: "Alert acknowledged.",
    citizen_language: "The citizen's language",
    screenshot: "Last screenshot (personal data masked)",
    open_file: "Open",
    staff: "Staff",
    enrollment: "Enrollment",
    events: "Recent events",
    no_events: "No events.",
    skip_to_content: "Skip to content",
};

impl Words {
    pub fn of(language: Language) -> &'static Words {
        match language {
            Language::ZhHant => &ZH_HANT,
            Language::Pt => &PT,
            Language::En => &EN,
        }
    }

    pub fn state(&self, state: KioskState) -> &'static str {
        let (zh, pt, en) = match state {
            KioskState::Offline => ("離線", "Sem contacto", "Offline"),
            KioskState::Alarm => ("警報", "Alarme", "Alarm"),
            KioskState::OutOfService => ("暫停服務", "Fora de serviço", "Out of service"),
            KioskState::Warning => ("注意", "Aviso", "Warning"),
            KioskState::Ok => ("正常", "Normal", "OK"),
        };
        self.pick(zh, pt, en)
    }

    pub fn role(&self, role: Role) -> &'static str {
        let (zh, pt, en) = match role {
            Role::Viewer => ("檢視者", "observador", "viewer"),
            Role::Operator => ("操作員", "operador", "operator"),
            Role::Administrator => ("管理員", "administrador", "administrator"),
        };
        self.pick(zh, pt, en)
    }

    pub fn device(&self, device: DeviceClass) -> &'static str {
        let (zh, pt, en) = match device {
            DeviceClass::ReceiptPrinter => ("收據列印機", "Impressora de talões", "Receipt printer"),
            DeviceClass::DocumentPrinter => ("A4 列印機", "Impressora A4", "A4 printer"),
            DeviceClass::IdentityReader => ("證件讀取器", "Leitor de documentos", "Document reader"),
            DeviceClass::CodeScanner => ("二維碼掃描器", "Leitor de códigos", "Code scanner"),
            DeviceClass::PaymentTerminal => ("付款終端機", "Terminal de pagamento", "Payment terminal"),
        };
        self.pick(zh, pt, en)
    }

    pub fn condition(&self, condition: DeviceCondition) -> &'static str {
        let (zh, pt, en) = match condition {
            DeviceCondition::Ok => ("正常", "Normal", "OK"),
            DeviceCondition::PaperNearEnd => ("紙張將用完", "Papel quase no fim", "Paper running low"),
            DeviceCondition::PaperOut => ("缺紙", "Sem papel", "Out of paper"),
            DeviceCondition::CoverOpen => ("機蓋打開", "Tampa aberta", "Cover open"),
            DeviceCondition::Offline => ("沒有回應", "Não responde", "Not answering"),
            DeviceCondition::Fault => ("故障", "Avaria", "Fault"),
            DeviceCondition::NotFitted => ("未安裝", "Não instalado", "Not fitted"),
        };
        self.pick(zh, pt, en)
    }

    pub fn outcome(&self, outcome: Option<CommandOutcome>) -> &'static str {
        let (zh, pt, en) = match outcome {
            None => return self.waiting,
            Some(CommandOutcome::Done) => ("已完成", "Feito", "Done"),
            Some(CommandOutcome::Failed) => ("失敗", "Falhou", "Failed"),
            Some(CommandOutcome::Expired) => ("已過期", "Expirou", "Expired"),
        };
        self.pick(zh, pt, en)
    }

    pub fn command(&self, kind: &str) -> &'static str {
        let (zh, pt, en) = match kind {
            "out-of-service" => ("暫停服務", "Pôr fora de serviço", "Put out of service"),
            "back-in-service" => ("恢復服務", "Repor em serviço", "Back in service"),
            "refresh-catalog" => ("立即更新服務目錄", "Atualizar o catálogo agora", "Refresh the catalog now"),
            "close-day" => ("立即日結", "Fechar o dia agora", "Close the payment day now"),
            "restart" => ("重新啟動程式", "Reiniciar o programa", "Restart the program"),
            "upload-logs" => ("上傳日誌", "Enviar os registos", "Upload the logs"),
            "screenshot" => ("截取畫面（個人資料已遮蓋）", "Captura de ecrã (dados ocultos)", "Screenshot (personal data masked)"),
            _ => ("未知指令", "Comando desconhecido", "Unknown command"),
        };
        self.pick(zh, pt, en)
    }

    /// The kiosk's screen, by the name its heartbeat gives, in the reader's words; a name this
    /// central does not know (a newer kiosk's screen) as the kiosk gave it.
    pub fn screen(&self, name: &str) -> String {
        let (zh, pt, en) = match name {
            "attract" => ("歡迎畫面", "Ecrã de boas-vindas", "Welcome screen"),
            "language" => ("選擇語言", "Escolha da língua", "Choosing a language"),
            "home" => ("主頁", "Início", "Home"),
            "services" => ("選擇服務", "Escolha do serviço", "Choosing a service"),
            "identify" => ("身份識別", "Identificação", "Identification"),
            "form" => ("填寫表格", "Preenchimento do formulário", "Filling in the form"),
            "review" => ("核對資料", "Revisão dos dados", "Reviewing the details"),
            "payment" => ("付款", "Pagamento", "Paying"),
            "printing" => ("列印收據", "A imprimir o recibo", "Printing the receipt"),
            "done" => ("申請已提交", "Pedido entregue", "Application submitted"),
            "pickup" => ("領取證明書", "Levantar uma certidão", "Collecting a certificate"),
            "collecting" => ("列印證明書", "A imprimir a certidão", "Printing the certificate"),
            "collected" => ("證明書已領取", "Certidão levantada", "Certificate collected"),
            "queues" => ("選擇排隊服務", "Escolha da senha", "Choosing a queue"),
            "ticketing" => ("列印籌號", "A imprimir a senha", "Printing a ticket"),
            "ticket" => ("已取籌號", "Senha tirada", "Ticket taken"),
            "status" => ("查詢申請進度", "Consulta do estado de um pedido", "Checking an application"),
            "error" => ("錯誤畫面", "Ecrã de erro", "Error screen"),
            "out-of-service" => ("暫停服務", "Fora de serviço", "Out of service"),
            other => return other.to_owned(),
        };
        self.pick(zh, pt, en).to_owned()
    }

    pub fn rule(&self, rule: AlertRule) -> &'static str {
        let (zh, pt, en) = match rule {
            AlertRule::AttendantCalled => ("市民請求協助", "Cidadão pede ajuda", "Citizen asks for help"),
            AlertRule::Offline => ("自助機離線", "Quiosque sem contacto", "Kiosk offline"),
            AlertRule::StorageFailure => ("資料庫故障", "Falha da base de dados", "Storage failure"),
            AlertRule::PaymentDay => {
                ("付款日結不符或未完成", "Dia de pagamentos não confere ou não fechou", "Payment day differs or not closed")
            }
            AlertRule::PaperOut => ("缺紙", "Sem papel", "Out of paper"),
            AlertRule::DeviceLost => ("設備失去聯絡或故障", "Dispositivo perdido ou avariado", "Device lost or in fault"),
            AlertRule::DeadLetters => ("被拒絕的記錄", "Registos recusados", "Refused records"),
            AlertRule::OutboxOld => ("待發送記錄過久", "Registos à espera há muito", "Records waiting too long"),
            AlertRule::PaperNearEnd => ("紙張將用完", "Papel quase no fim", "Paper running low"),
        };
        self.pick(zh, pt, en)
    }

    pub fn event_kind(&self, kind: KioskEventKind) -> &'static str {
        match kind {
            KioskEventKind::StorageIntegrityFailed => {
                self.pick("資料庫檢查失敗", "Base de dados falhou a verificação", "Database check failed")
            }
            KioskEventKind::StorageFailed => self.pick("資料庫寫入失敗", "Escrita na base de dados falhou", "Database write failed"),
            KioskEventKind::DeadLetter => self.pick("記錄被拒絕", "Registo recusado", "Record refused"),
            KioskEventKind::DayClosed => self.pick("付款日結", "Dia de pagamentos fechado", "Payment day closed"),
            KioskEventKind::DayCloseFailed => self.pick("日結失敗", "Fecho do dia falhou", "Day close failed"),
            KioskEventKind::PaymentLapsed => self.pick("付款預留已失效", "Reserva de pagamento caducou", "Payment reservation lapsed"),
            KioskEventKind::DeviceFault => self.pick("設備故障", "Avaria de dispositivo", "Device fault"),
            KioskEventKind::CertificateRejected => self.pick("證明書核實失敗", "Certidão não verificada", "Certificate failed its check"),
        }
    }

    /// What a finding says to an operator.
    pub fn finding(&self, finding: &Finding) -> String {
        match finding {
            Finding::Silent { since } => {
                format!("{} {}", self.pick("最後聯絡", "Último contacto", "Silent since"), since.strftime("%Y-%m-%d %H:%M UTC"))
            }
            Finding::Device { device, condition } => format!("{}: {}", self.device(*device), self.condition(*condition)),
            Finding::DeadLetters(n) => format!("{}: {n}", self.dead_letters),
            Finding::OutboxWaiting { oldest_seconds } => {
                format!("{}: {} {}", self.outbox, oldest_seconds / 60, self.minutes)
            }
            Finding::LowDisk { free_bytes } => format!("{}: {} MiB", self.disk_free, free_bytes >> 20),
            Finding::OutOfService => self.state(KioskState::OutOfService).to_string(),
        }
    }

    /// An amount in avos as the reader's language writes it (`MOP 30,00` in Portuguese).
    pub fn money(&self, avos: u64) -> String {
        Language::from_tag(self.lang).unwrap_or(Language::En).money(avos)
    }

    /// A catalog's text (a service's name) in the reader's language.
    pub fn localized(&self, text: &balcao_backend_client::api::LocalizedText) -> String {
        match self.lang {
            "zh-Hant" => text.zh_hant.clone(),
            "pt" => text.pt.clone(),
            _ => text.en.clone(),
        }
    }

    /// The word of the reader's language, of the three given (so none can be missing).
    pub fn pick(&self, zh: &'static str, pt: &'static str, en: &'static str) -> &'static str {
        match self.lang {
            "zh-Hant" => zh,
            "pt" => pt,
            _ => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every screen the kiosk names in its heartbeat (`balcao_ui::view::Screen::name`).
    const SCREENS: [&str; 18] = [
        "attract",
        "language",
        "home",
        "services",
        "identify",
        "form",
        "review",
        "payment",
        "printing",
        "done",
        "pickup",
        "collecting",
        "collected",
        "queues",
        "ticketing",
        "ticket",
        "error",
        "out-of-service",
    ];

    #[test]
    fn every_screen_is_worded_in_each_language_and_an_unknown_one_shown_as_given() {
        for language in Language::ALL {
            let w = Words::of(language);
            let worded: std::collections::HashSet<String> = SCREENS.iter().map(|name| w.screen(name)).collect();
            assert_eq!(worded.len(), SCREENS.len(), "each screen its own words in {language:?}");
            for name in SCREENS {
                assert_ne!(w.screen(name), name, "{name} worded in {language:?}");
            }
            assert_eq!(w.screen("appointments"), "appointments", "a newer kiosk's screen");
        }
        assert_eq!(Words::of(Language::Pt).screen("payment"), "Pagamento");
    }
}
