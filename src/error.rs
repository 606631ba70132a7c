//! [`ApiError`]: every failure a request can end in, and the one place that picks its status and
//! body.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mongodb::error::ErrorKind;
use serde::Serialize;

use crate::db::{DbError, Misconfiguration};
use crate::response::json;
use crate::rooms::ParamError;

/// Server error codes that mean "the database cannot answer now" rather than "the request is
/// wrong": timeouts (MaxTimeMSExpired, ExceededTimeLimit, NetworkTimeout), unreachable hosts and
/// sockets, shutdown and interruption, primary step-down and recovering states, stale routing on a
/// sharded cluster, lock and plan-killing contention, and the service's own account refused
/// (Unauthorized, AuthenticationFailed: the operator's grant, not the client's query).
const UNAVAILABLE_CODES: [i32; 27] = [
    6, 7, 89, 9001, 50, 262, 91, 11600, 11601, 11602, 189, 10107, 13435, 13436, 10058, 133, 63,
    150, 13388, 24, 46, 112, 175, 13, 18, 202, 279,
];

/// The driver's text for a reply that is an error (`ok: 0`) but lacks the fields of one (nx-27017
/// answers so for a query it refuses): a command error all the same, not an unreadable reply.
const ERROR_REPLY_WITHOUT_CODE: &str = "error deserializing command error";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`
    #[error("You must be logged in to do this.")]
    Unauthorized,
    /// 403 `{"success":false,"error":"unauthorized"}`
    #[error("unauthorized")]
    Forbidden,
    /// 400 `{"success":false,"error":<message>}`, or for `sort`/`fields` Rocket.Chat's
    /// `parseJsonQuery` body with `errorType` and `details`.
    #[error(transparent)]
    InvalidParams(#[from] ParamError),
    /// 429 `{"success":false,"error":"Error, too many requests. Please slow down. You must wait <N>
    /// seconds before trying this endpoint again. [error-too-many-requests]"}`
    #[error("Error, too many requests. Please slow down. You must wait {wait_seconds} seconds before trying this endpoint again. [error-too-many-requests]")]
    TooManyRequests { wait_seconds: u64 },
    /// 400 `{"success":false,"error":"The database refused the query"}`: MongoDB found the query
    /// built from the request unusable (its text is logged, never sent).
    #[error("The database refused the query")]
    RefusedByDatabase(#[source] mongodb::error::Error),
    /// 503 `{"success":false,"error":"The database is unavailable"}`: unreachable, timed out, or
    /// `MAX_IN_FLIGHT` requests already working against it.
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] DbError),
    /// 503 `{"success":false,"error":"Too many live streams are open"}`: `MAX_STREAMS` live
    /// streams are open.
    #[error("{0} live streams are open (MAX_STREAMS)")]
    TooManyStreams(usize),
    /// 500 `{"success":false,"error":"Internal server error"}`.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 404 `{"success":false,"error":"Not found"}`
    #[error("Not found")]
    NotFound,
    /// 405 `{"success":false,"error":"Method not allowed"}`
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 403 with an empty body, before authentication: CORS is on and the request's `Origin` is
    /// not in `API_CORS_Origin` (contract §2c).
    #[error("origin not allowed by API_CORS_Origin")]
    OriginNotAllowed,
    /// 405 `CORS not enabled. Go to "Admin > General > REST Api" to enable it.` (text): a
    /// preflight while `API_Enable_CORS` is off, as Rocket.Chat answers it.
    #[error("CORS preflight while API_Enable_CORS is off")]
    CorsDisabled,
}

impl From<DbError> for ApiError {
    /// By what the failure means: the server unreachable, busy, shutting down or answering
    /// unreadably is a 503; a command error for the listing's own find or count is the query built
    /// from the request (400); anything else is a 500.
    fn from(err: DbError) -> Self {
        let driver = match &err {
            DbError::Driver(driver) | DbError::Listing(driver) => driver,
            DbError::Deadline(_) | DbError::Busy(_) => return ApiError::DatabaseUnavailable(err),
        };
        let refused = match driver.kind.as_ref() {
            ErrorKind::Command(cmd) => !UNAVAILABLE_CODES.contains(&cmd.code),
            ErrorKind::InvalidResponse { message, .. } => {
                message.starts_with(ERROR_REPLY_WITHOUT_CODE)
            }
            ErrorKind::Io(_)
            | ErrorKind::ServerSelection { .. }
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Authentication { .. }
            | ErrorKind::Shutdown
            | ErrorKind::BsonDeserialization(_) => false,
            _ => return ApiError::Internal(Box::new(err)),
        };
        match err {
            DbError::Listing(driver) if refused => ApiError::RefusedByDatabase(driver),
            // A refusal of a call the request did not shape (the user lookup, the settings) is
            // the service's own fault.
            _ if refused => ApiError::Internal(Box::new(err)),
            _ => ApiError::DatabaseUnavailable(err),
        }
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        DbError::from(err).into()
    }
}

impl From<crate::render::Malformed> for ApiError {
    fn from(err: crate::render::Malformed) -> Self {
        ApiError::Internal(Box::new(err))
    }
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    error: &'a str,
}

#[derive(Serialize)]
struct LoginRequired {
    success: bool,
    error: &'static str,
    status: &'static str,
    message: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonQueryFailure<'a> {
    success: bool,
    error: &'a str,
    error_type: &'static str,
    details: JsonQueryDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonQueryDetails {
    helper_method: &'static str,
}

/// While the database is down every request fails alike: one ERROR line a second at most, saying
/// how many more there were; the rest at DEBUG.
fn log_unavailable(err: &ApiError) {
    crate::metrics::DATABASE_UNAVAILABLE.inc();
    if let ApiError::DatabaseUnavailable(db) = err {
        if let Some(wrong) = db.misconfiguration() {
            return log_misconfiguration(wrong, err);
        }
    }
    static LAST_SECOND: AtomicU64 = AtomicU64::new(0);
    static UNLOGGED: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_SECOND.load(Ordering::Relaxed);
    if now > last
        && LAST_SECOND
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        match UNLOGGED.swap(0, Ordering::Relaxed) {
            0 => log::error!("{}", chain(err)),
            n => log::error!("{} ({n} more since the last such line)", chain(err)),
        }
    } else {
        UNLOGGED.fetch_add(1, Ordering::Relaxed);
        log::debug!("{}", chain(err));
    }
}

/// A refused login or an untrusted certificate fails every request alike until the operator
/// mends it: one ERROR line that says what to check (once for each of the two, per process), the
/// rest at DEBUG. Driver errors never hold the password.
fn log_misconfiguration(wrong: Misconfiguration, err: &ApiError) {
    static CREDENTIALS: AtomicBool = AtomicBool::new(false);
    static CERTIFICATE: AtomicBool = AtomicBool::new(false);
    let (said, line) = match &wrong {
        // `Db::call` has said which collection and action, once.
        Misconfiguration::Privilege => return log::debug!("{}", chain(err)),
        Misconfiguration::Credentials(reason) => (
            &CREDENTIALS,
            format!(
                "MongoDB refused the credentials in MONGO_URL ({reason}): check the user, its \
                 password (percent-encoded in the URL), authSource and authMechanism; every \
                 request gets 503 until it accepts them"
            ),
        ),
        Misconfiguration::Certificate(reason) => (
            &CERTIFICATE,
            format!(
                "TLS to MongoDB failed: its certificate is not trusted ({reason}): check \
                 MONGO_URL's tlsCAFile (the CA that signed the server's certificate) and the host \
                 name the certificate names; every request gets 503 until it is"
            ),
        ),
    };
    if said.swap(true, Ordering::Relaxed) {
        log::debug!("{}", chain(err));
    } else {
        log::error!("{line}");
    }
}

/// Writes the full error chain, so the log says why (never reaches the client).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::InvalidParams(_) | ApiError::RefusedByDatabase(_) => StatusCode::BAD_REQUEST,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::DatabaseUnavailable(_) | ApiError::TooManyStreams(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed | ApiError::CorsDisabled => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::OriginNotAllowed => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            // A shed request is the service protecting itself, not a fault: one line per request
            // would flood the log exactly when it is busiest.
            ApiError::DatabaseUnavailable(DbError::Busy(_)) | ApiError::TooManyStreams(_) => {
                log::debug!("{}", chain(self))
            }
            ApiError::DatabaseUnavailable(_) => log_unavailable(self),
            _ if status.is_server_error() => log::error!("{}", chain(self)),
            ApiError::RefusedByDatabase(_) => log::info!("{}", chain(self)),
            _ => log::debug!("rejected: {self}"),
        }
        match self {
            ApiError::OriginNotAllowed => return HttpResponse::build(status).finish(),
            ApiError::CorsDisabled => {
                return crate::response::with_type(
                    status,
                    "text/plain; charset=utf-8",
                    crate::cors::DISABLED_PREFLIGHT_BODY,
                )
            }
            _ => {}
        }
        let body = match self {
            ApiError::Unauthorized => {
                let message = "You must be logged in to do this.";
                serde_json::to_vec(&LoginRequired {
                    success: false,
                    error: message,
                    status: "error",
                    message,
                })
            }
            ApiError::InvalidParams(err @ ParamError::InvalidJsonQuery { param, .. }) => {
                let error = err.to_string();
                serde_json::to_vec(&JsonQueryFailure {
                    success: false,
                    error: &error,
                    error_type: param.error_type(),
                    details: JsonQueryDetails {
                        helper_method: "parseJsonQuery",
                    },
                })
            }
            ApiError::DatabaseUnavailable(_) => serde_json::to_vec(&Failure {
                success: false,
                error: "The database is unavailable",
            }),
            ApiError::Internal(_) => serde_json::to_vec(&Failure {
                success: false,
                error: "Internal server error",
            }),
            ApiError::TooManyStreams(_) => serde_json::to_vec(&Failure {
                success: false,
                error: "Too many live streams are open",
            }),
            other => {
                let error = other.to_string();
                serde_json::to_vec(&Failure {
                    success: false,
                    error: &error,
                })
            }
        };
        json(status, body.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::JsonQueryParam;
    use actix_web::body::MessageBody as _;

    fn body(err: ApiError) -> (u16, String) {
        let resp = err.error_response();
        let status = resp.status().as_u16();
        let bytes = resp.into_body().try_into_bytes().unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[test]
    fn unauthorized_has_rocket_chat_login_body() {
        assert_eq!(
            body(ApiError::Unauthorized),
            (401, r#"{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}"#.into())
        );
    }

    #[test]
    fn forbidden_answers_with_rocket_chats_unauthorized_text() {
        assert_eq!(
            body(ApiError::Forbidden),
            (403, r#"{"success":false,"error":"unauthorized"}"#.into())
        );
    }

    #[test]
    fn invalid_sort_has_parse_json_query_body() {
        let err = ParamError::InvalidJsonQuery {
            param: JsonQueryParam::Sort,
            raw: "x\"y".into(),
        };
        assert_eq!(
            body(err.into()),
            (400, r#"{"success":false,"error":"Invalid sort parameter provided: \"x\"y\" [error-invalid-sort]","errorType":"error-invalid-sort","details":{"helperMethod":"parseJsonQuery"}}"#.into())
        );
    }

    #[test]
    fn too_many_requests_has_rocket_chats_text() {
        assert_eq!(
            body(ApiError::TooManyRequests { wait_seconds: 7 }),
            (429, r#"{"success":false,"error":"Error, too many requests. Please slow down. You must wait 7 seconds before trying this endpoint again. [error-too-many-requests]"}"#.into())
        );
    }

    fn command_error(code: i32) -> mongodb::error::Error {
        serde_json::from_value::<mongodb::error::CommandError>(
            serde_json::json!({"code": code, "codeName": "X", "errmsg": "secret detail"}),
        )
        .map(|cmd| mongodb::error::ErrorKind::Command(cmd).into())
        .unwrap()
    }

    const REFUSED: &str = r#"{"success":false,"error":"The database refused the query"}"#;
    const UNAVAILABLE: &str = r#"{"success":false,"error":"The database is unavailable"}"#;
    const INTERNAL: &str = r#"{"success":false,"error":"Internal server error"}"#;

    #[test]
    fn a_query_the_database_refuses_is_a_400_without_its_text() {
        // BadValue, InvalidBSON (a date MongoDB's test stand-ins cannot store), any code not known
        // to mean unavailability.
        for code in [2, 22, 31254, 99_999] {
            assert_eq!(
                body(DbError::Listing(command_error(code)).into()),
                (400, REFUSED.into()),
                "{code}"
            );
        }
        // An error reply without a code, and an unreadable reply: the driver's InvalidResponse,
        // which only the driver makes; tests/api/faults.rs sends both through the proxy.
    }

    #[test]
    fn a_server_that_cannot_serve_now_is_a_503_for_the_listing_too() {
        // MaxTimeMSExpired, ExceededTimeLimit, InterruptedAtShutdown, NotWritablePrimary,
        // PrimarySteppedDown, ShutdownInProgress.
        for code in [50, 262, 11600, 10107, 189, 91] {
            assert_eq!(
                body(DbError::Listing(command_error(code)).into()),
                (503, UNAVAILABLE.into()),
                "{code}"
            );
        }
    }

    #[test]
    fn a_refusal_of_a_call_the_request_did_not_shape_is_a_500() {
        assert_eq!(
            body(ApiError::from(command_error(2))),
            (500, INTERNAL.into())
        );
        assert_eq!(
            body(ApiError::from(command_error(50))),
            (503, UNAVAILABLE.into())
        );
    }

    #[test]
    fn deadlines_and_shedding_are_503s() {
        for err in [
            DbError::Deadline(std::time::Duration::from_secs(1)),
            DbError::Busy(3),
        ] {
            assert_eq!(
                body(ApiError::from(err)),
                (
                    503,
                    r#"{"success":false,"error":"The database is unavailable"}"#.into()
                )
            );
        }
    }

    #[test]
    fn database_errors_do_not_leak_driver_text() {
        let err = mongodb::error::Error::custom("secret host detail");
        let (status, text) = body(ApiError::from(err));
        assert_eq!(
            (status, text.as_str()),
            (500, r#"{"success":false,"error":"Internal server error"}"#)
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let (status, text) = body(ApiError::from(mongodb::error::Error::from(io)));
        assert_eq!(
            (status, text.as_str()),
            (
                503,
                r#"{"success":false,"error":"The database is unavailable"}"#
            )
        );
    }
}
