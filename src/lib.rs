//! livechat-rooms: Rocket.Chat's `GET /api/v1/livechat/rooms`, answered straight from its MongoDB.

/// Authentication by Rocket.Chat's headers and the listing's permission rule.
pub mod auth;
/// Settings from environment variables.
pub mod config;
/// `ApiError`: every failure and its HTTP status and body.
pub mod error;
/// Loads Extended JSON fixture files into a database (the demo and the tests).
pub mod fixtures;
/// JavaScript's `Date.parse` and `Date.prototype.toJSON`.
pub mod jsdate;
/// Prometheus metrics.
pub mod metrics;
/// The OpenAPI document of the service.
pub mod openapi;
/// BSON → JSON as Rocket.Chat's Node.js server prints it.
pub mod render;
/// Query parameters → validated query → MongoDB filter → rooms.
pub mod rooms;
/// The HTTP routes.
pub mod routes;
/// Rocket.Chat's pagination settings, cached.
pub mod settings;
/// Client, state and HTTP server wiring.
pub mod startup;
/// State shared by all requests.
pub mod state;
