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
use crate::db::{Admission, Departments};
use crate::error::ApiError;
use crate::rate_limit::{self, Verdict};
use crate::rooms::scope::Scope;
use crate::rooms::RoomsQuery;
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
        let scope = scope_of(state, &user, &departments).await?;
        Ok(Guard {
            user,
            grants,
            settings,
            scope,
            admission,
        })
    }
}

/// The rooms `user` may see (§3b).
pub async fn scope_of(
    state: &WorkerState,
    user: &AuthUser,
    departments: &Departments,
) -> Result<Scope, ApiError> {
    let tree = &departments.units;
    Ok(
        if state.process.unit_restrictions && tree.restricts(&user.roles) {
            Scope::Restricted {
                units: state.units_of_user(&user.id).await?,
                tree: tree.clone(),
            }
        } else {
            Scope::All
        },
    )
}

/// The listing's permission rule (§3): everything with `view-livechat-rooms`; with `view-l-room`
/// only a query whose `agents` is the user alone.
pub fn may_list(user: &AuthUser, grants: &Grants, query: &RoomsQuery) -> Result<(), ApiError> {
    if grants.view_all_rooms || (grants.view_own_rooms && query.is_only_agent(&user.id)) {
        Ok(())
    } else {
        log::debug!("user {} may not list these rooms", user.id);
        Err(ApiError::Forbidden)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tests::grants;

    #[test]
    fn agents_may_list_only_their_own_rooms() {
        let agent = AuthUser {
            id: "u1".into(),
            roles: vec!["livechat-agent".into()],
        };
        let own = grants(&["livechat-agent"]);
        let query = |q: &str| RoomsQuery::from_query_string(q).unwrap();
        assert!(may_list(&agent, &own, &query("agents[]=u1")).is_ok());
        assert!(may_list(&agent, &own, &query("agents=u1")).is_ok());
        assert!(may_list(&agent, &own, &query("agents[]=u2")).is_err());
        assert!(may_list(&agent, &own, &RoomsQuery::default()).is_err());
        let manager = AuthUser {
            id: "m".into(),
            roles: vec!["admin".into()],
        };
        assert!(may_list(&manager, &grants(&["admin"]), &RoomsQuery::default()).is_ok());
    }
}
