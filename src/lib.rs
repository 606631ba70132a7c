//! livechat-rooms: Rocket.Chat's `GET /api/v1/livechat/rooms`, answered straight from its MongoDB.
//!
//! Floors, each module importing only from floors below its own (no cycle):
//!
//! 8. `startup`
//! 7. `routes`
//! 6. `live::poller`, `live::stream`
//! 5. `guard`, `index_advice`, `live` (its `mod.rs`), `live::reads`, `live::recheck`,
//!    `rooms::repo`
//! 4. `rooms::filter`, `state`
//! 3. `auth`, `rooms::query`
//! 2. `cache`, `error`, `live::hub`, `rooms::values`
//! 1. `api_settings`, `db`, `live::event`, `logging`, `rate_limit`, `render`, `rooms::sort_plan`,
//!    `rooms::typing`
//! 0. `access_log`, `config`, `conn_limits`, `cors`, `fixtures`, `js`, `jsdate`, `metrics`, `openapi`,
//!    `response`, `rooms::indexes`, `rooms::params`, `rooms::scope`

/// The access log: a line per answer, as actix-web's `Logger` wrote it.
pub mod access_log;
/// Rocket.Chat's `API_*` settings this route obeys (pagination, rate limiter).
pub mod api_settings;
/// Authentication by Rocket.Chat's headers and the listing's permission rule.
pub mod auth;
/// Values read from the database and held in memory for a bounded time.
pub mod cache;
/// The service's own configuration, from environment variables.
pub mod config;
/// Connection-level limits: request and header lines bounded on their way to the HTTP parser.
pub mod conn_limits;
/// Rocket.Chat's REST CORS rules.
pub mod cors;
/// The one handle on Rocket.Chat's database: collections, timeouts, metrics, admission.
pub mod db;
/// `ApiError`: every failure and its HTTP status and body.
pub mod error;
/// Loads Extended JSON fixture files into a database (the demo and the tests).
pub mod fixtures;
/// The preamble of every authenticated route: credentials, admission, user, permissions, rate
/// limit, visibility scope.
pub mod guard;
/// `livechat-rooms indexes`: how the indexes serve the listings clients send.
pub mod index_advice;
/// JavaScript's rules for JSON text and numbers.
pub mod js;
/// JavaScript's `Date.parse` and `Date.prototype.toJSON`.
pub mod jsdate;
/// The live feed: room changes as Server-Sent Events, one shared poller.
pub mod live;
/// The log, with actix's per-connection client errors demoted and counted.
pub mod logging;
/// Prometheus metrics.
pub mod metrics;
/// The OpenAPI document of the service.
pub mod openapi;
/// Rocket.Chat's REST rate limiter.
pub mod rate_limit;
/// BSON → JSON as Rocket.Chat's Node.js server prints it.
pub mod render;
/// `json()`: every JSON answer.
pub mod response;
/// Query parameters → validated query → MongoDB filter → rooms.
pub mod rooms;
/// The HTTP routes.
pub mod routes;
/// Client, state and HTTP server wiring.
pub mod startup;
/// State shared by all requests.
pub mod state;
