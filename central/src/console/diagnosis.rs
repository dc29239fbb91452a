//! A kiosk's last readiness report on its console page: what the technician's
//! `kiosk-provision diagnose` found, check by check, with what to do. The checks' details and
//! remedies stay in the technicians' working language (English), as the tool wrote them; the
//! page's own words follow the reader's.

use balcao_backend_client::api::{CheckVerdict, Diagnosis};

use super::{Words, when};

/// The report as the page shows it.
#[derive(Debug)]
pub(super) struct DiagnosisView {
    /// When it was made, and whether the kiosk was ready.
    pub at: String,
    pub ready: bool,
    pub verdict: &'static str,
    pub columns: [&'static str; 4],
    pub rows: Vec<CheckRow>,
}

#[derive(Debug)]
pub(super) struct CheckRow {
    pub name: String,
    /// The badge's class (`ok`, `warning`, `alarm`), its symbol and its word: never colour alone.
    pub class: &'static str,
    pub symbol: &'static str,
    pub verdict: &'static str,
    pub detail: String,
    pub remedy: String,
}

/// What the page says where no report came yet.
pub(super) fn none_yet(w: &Words) -> &'static str {
    w.pick(
        "尚未收到就緒報告：技術人員在自助機上執行 kiosk-provision diagnose 後便會送來。",
        "Ainda sem relatório de prontidão: o técnico envia-o ao correr kiosk-provision diagnose no quiosque.",
        "No readiness report yet: a technician's kiosk-provision diagnose on the kiosk sends one.",
    )
}

pub(super) fn heading(w: &Words) -> &'static str {
    w.pick("就緒報告", "Relatório de prontidão", "Readiness report")
}

pub(super) fn view(w: &Words, diagnosis: &Diagnosis) -> DiagnosisView {
    let rows = diagnosis
        .checks
        .iter()
        .map(|check| {
            let (class, symbol, verdict) = match check.verdict {
                CheckVerdict::Ok => ("ok", "✓", w.pick("正常", "OK", "OK")),
                CheckVerdict::Warning => ("warning", "!", w.pick("注意", "Aviso", "Warning")),
                CheckVerdict::Failed => ("alarm", "✗", w.pick("不通過", "Falhou", "Failed")),
            };
            CheckRow {
                name: check.name.clone(),
                class,
                symbol,
                verdict,
                detail: check.detail.clone(),
                remedy: check.remedy.clone().unwrap_or_default(),
            }
        })
        .collect();
    DiagnosisView {
        at: when(diagnosis.at),
        ready: diagnosis.ready,
        verdict: if diagnosis.ready {
            w.pick("可以服務", "Pronto a servir", "Ready to serve")
        } else {
            w.pick("未能服務", "Não pronto", "Not ready")
        },
        columns: [
            w.pick("檢查項目", "Verificação", "Check"),
            w.pick("結果", "Resultado", "Result"),
            w.pick("詳情", "Detalhe", "Detail"),
            w.pick("處理方法", "O que fazer", "What to do"),
        ],
        rows,
    }
}
