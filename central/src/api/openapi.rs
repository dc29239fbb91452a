use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::SecurityScheme;
use utoipa::{Modify, OpenApi};

/// The security scheme every API operation requires: the kiosk's client certificate.
#[derive(Debug)]
struct KioskCertificate;

impl Modify for KioskCertificate {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        // Any request may run out of time or find the database away: 503 with Retry-After, on
        // every operation.
        let unavailable = ResponseBuilder::new()
            .description(
                "Central could not answer in time, or its database is not answering; repeat the request after Retry-After \
                 (nothing was lost, nothing stored twice)",
            )
            .content("application/problem+json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                operation.responses.responses.entry("503".into()).or_insert_with(|| unavailable.clone().into());
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "kioskCertificate",
            SecurityScheme::MutualTls {
                description: Some(
                    "Mutual TLS with a client certificate from the kiosk CA: its subject's common name is the kiosk id, its \
                     organisational unit the kiosk's service centre. Without one every operation answers 401."
                        .into(),
                ),
                extensions: None,
            },
        );
    }
}

/// The committed OpenAPI document, served as is. A test checks it matches the code.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Balcão central platform",
        description = "The API Balcão kiosks sync with: service catalog, identity-issuer keys, applications, certificates ready for pickup and pickups, queue tickets, counter appointments, kiosk events, heartbeats and the commands central answers them with, citizens' calls for an attendant. Kiosks connect with mutual TLS: a client certificate from the kiosk CA whose subject common name is the kiosk id and organisational unit its service centre (enrollment, the only way to one, needs no certificate); a record must name the kiosk and centre that send it, and a kiosk reads only its own centre's certificates. Every write carries an Idempotency-Key; errors are application/problem+json. Limits: a request body of at most 1 MiB (413 beyond), a batch of 1 to 100 applications, each answered by itself in the batch's results.",
        license(name = "GPL-3.0-or-later", identifier = "GPL-3.0-or-later"),
        version = "1"
    ),
    paths(
        super::catalog::get_catalog,
        super::applications::submit,
        super::applications::submit_batch,
        super::applications::status,
        super::status::check,
        super::status::check_holder,
        super::events::submit,
        super::fleet::heartbeat,
        super::fleet::report,
        super::fleet::diagnosis,
        super::fleet::upload,
        super::fleet::call_attendant,
        super::fleet::attendant_call,
        super::fleet::end_attendant_call,
        super::issuers::get_keys,
        super::pickups::ready,
        super::pickups::record,
        super::queue::record,
        super::issuers::document_keys,
        super::appointments::slots,
        super::appointments::hold,
        super::appointments::confirm,
        super::appointments::release,
        super::appointments::cancel,
        super::enrollment::central_ca,
        super::enrollment::enroll,
        super::enrollment::renew,
        super::enrollment::retire,
        super::ready
    ),
    modifiers(&KioskCertificate),
    security(("kioskCertificate" = [])),
    tags((name = "catalog", description = "Reference data"), (name = "applications", description = "Citizens' applications"), (name = "pickups", description = "Certificates ready for pickup and their collection"), (name = "queue", description = "Queue tickets for the centre's counters"), (name = "appointments", description = "Counter appointments: free places, holds, bookings and cancellations"), (name = "monitoring", description = "What kiosks report to the fleet's monitoring"), (name = "enrollment", description = "A kiosk's first certificate for a one-time token, and its renewals"), (name = "operations", description = "For the load balancer in front of central's instances"))
)]
pub struct ApiDoc;

pub async fn document() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI_JSON).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document is what the code describes. After changing the API, regenerate
    /// it with `cargo run -p balcao-central -- openapi > central/openapi.json`.
    #[test]
    fn committed_document_matches_the_code() {
        let generated = ApiDoc::openapi().to_pretty_json().expect("serializable");
        assert_eq!(OPENAPI_JSON.trim_end(), generated.trim_end(), "central/openapi.json is stale: regenerate it");
    }
}
