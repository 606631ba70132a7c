//! The one integration binary: the real service on port 0, a fresh database per test, exact
//! statuses and bodies. Needs a MongoDB wire-protocol server at `MONGO_URL` (see README).

mod auth;
mod browser;
mod cli;
mod cors;
mod dashboard;
mod deploy;
mod enterprise;
mod errors;
mod faults;
mod health;
mod helpers;
mod limits;
mod live;
mod mongodb_work;
mod operations;
mod privileges;
mod programs;
mod proxy;
mod rendering;
mod rocketchat_e2e;
mod rooms_filters;
mod rooms_pagination;
mod sse;
mod tls;
mod walks;
