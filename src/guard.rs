//! [`Guard`]: the preamble of every authenticated route, in the contract's order: credentials
//! (401), a place among the requests in flight (503), the user and the permissions (401), the rate
//! limit (429), and the user's visibility [`Scope`] (§3b). A route checks its parameters (400) and
//! its own permission rule (403) with what the guard hands it, then lists within the scope; no
//! route decides visibility itself.

use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpRequest;

use crate::api_settings::ApiSettings;
use crate::auth::{AuthUser, Credentials, Grants};
use crate::db::Admission;
use crate::error::ApiError;
use crate::rate_limit::{self, Verdict};
use crate::rooms::scope::Scope;
use crate::state::WorkerState;

/// What the preamble established: who asks, what their roles grant, the settings in force, the
/// rooms they may see, and their place among the requests working against the database.
pub struct Guard {
    pub user: AuthUser,
    pub grants: Grants,
    pub settings: Arc<ApiSettings>,
    pub scope: Scope,
    pub admission: Admission,
}

impl Guard {
    /// Runs the preamble for `route`. The rate limiter's verdict is left in `verdict` whatever the
    /// outcome, so every counted call carries its `X-RateLimit-*` headers.
    pub async fn check(
        req: &HttpRequest,
        state: &WorkerState,
        route: &'static str,
        verdict: &mut Option<Verdict>,
    ) -> Result<Guard, ApiError> {
        let credentials = Credentials::from_request(req)?;
        let admission = state.db.admit()?;
        let (user, permissions, settings, departments) = futures::try_join!(
            AuthUser::authenticate(&state.db, credentials),
            async { Ok(state.permissions().await?) },
            async { Ok(state.settings().await?) },
            async { Ok(state.departments().await?) },
        )?;
        let grants = permissions.grants(&user.roles);
        if settings.rate_limit.enabled && !grants.bypass_rate_limit {
            let limit = state.process.rate_limiter.check(
                route,
                &client_address(req, state.process.forwarded_count),
                &settings.rate_limit,
                Instant::now(),
            );
            *verdict = Some(limit);
            if !limit.allowed {
                state.metrics().request_rate_limited();
                return Err(ApiError::TooManyRequests {
                    wait_seconds: limit.wait_seconds(),
                });
            }
        }
        let tree = &departments.units;
        let scope = if state.process.unit_restrictions && tree.restricts(&user.roles) {
            Scope::Restricted {
                units: state.units_of_user(&user.id).await?,
                tree: tree.clone(),
            }
        } else {
            Scope::All
        };
        Ok(Guard {
            user,
            grants,
            settings,
            scope,
            admission,
        })
    }
}

/// The rate limiter's client address of this request (see [`rate_limit::client_address`]).
fn client_address(req: &HttpRequest, forwarded_count: usize) -> String {
    let joined = |name: &str| {
        let values: Vec<&str> = req
            .headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    rate_limit::client_address(
        joined("x-real-ip").as_deref(),
        req.peer_addr().map(|addr| addr.ip()),
        joined("x-forwarded-for").as_deref(),
        forwarded_count,
    )
}
