//! The checks of the live streams' users (contract §7: at least every 60 s), for the whole process
//! at once: every `LIVE_RECHECK_MS` one read of the users with an open stream (by `_id`, a
//! thousand at a time) tells each stream whether its token is still its user's and what roles the
//! user has now. Each stream then decides with the held permissions and units whether it may go
//! on. A thousand streams cost MongoDB what one costs; a failed read leaves them as they were.

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt as _;
use mongodb::bson::{doc, RawDocument, RawDocumentBuf};
use mongodb::options::{ReadPreference, SelectionCriteria};

use super::hub::{Check, Session};
use crate::db::DbError;
use crate::state::WorkerState;

/// A user as the checks read it: their roles and their login tokens' hashes.
type Found = (Vec<String>, Vec<String>);

/// Users read at once.
const USERS_PER_READ: usize = 1_000;

/// Runs until the hub closes: a check of every stream's user every `every`.
pub async fn run(state: WorkerState, every: Duration) {
    let hub = state.process.live.clone();
    let mut closing = hub.closing();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = closing.wait_for(|closed| *closed) => return,
        }
        let sessions = hub.sessions();
        if sessions.is_empty() {
            continue;
        }
        if let Err(err) = check(&state, &sessions).await {
            log::warn!("live feed: checking the streams' users failed ({err}); trying again");
        }
    }
}

/// Reads the users of `sessions` and tells each session what was found.
async fn check(state: &WorkerState, sessions: &[std::sync::Arc<Session>]) -> Result<(), DbError> {
    let mut ids: Vec<&str> = sessions.iter().map(|s| s.user_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut users = HashMap::new();
    for chunk in ids.chunks(USERS_PER_READ) {
        for user in read_users(state, chunk).await? {
            if let Some((id, found)) = user_tokens(&user) {
                users.insert(id, found);
            }
        }
    }
    for session in sessions {
        session
            .check
            .send_replace(verdict(&users, &session.user_id, &session.hashed_token));
    }
    Ok(())
}

/// The users with these ids: their roles and login tokens (hashes and dates: nothing else of
/// `services`), from the primary when there is one (as the user lookup of a request).
async fn read_users(state: &WorkerState, ids: &[&str]) -> Result<Vec<RawDocumentBuf>, DbError> {
    let db = &state.db;
    let find = db
        .users()
        .find(doc! {"_id": {"$in": ids}})
        .projection(doc! {"roles": 1, "services.resume.loginTokens": 1})
        .max_time(db.query_timeout())
        .selection_criteria(SelectionCriteria::ReadPreference(
            ReadPreference::PrimaryPreferred {
                options: Default::default(),
            },
        ));
    let read = async { find.await?.try_collect::<Vec<RawDocumentBuf>>().await };
    Ok(db.call("live.users", read).await?)
}

/// A user's id, roles and hashed login tokens, from a reply with nested fields (as MongoDB
/// projects them) or a flattened `services.resume.loginTokens` (as one test server does).
fn user_tokens(user: &RawDocument) -> Option<(String, Found)> {
    let id = user.get_str("_id").ok()?.to_owned();
    let strings = |array: Option<&mongodb::bson::RawArray>| -> Vec<String> {
        array
            .into_iter()
            .flatten()
            .filter_map(|v| v.ok()?.as_str().map(str::to_owned))
            .collect()
    };
    let roles = strings(user.get_array("roles").ok());
    let tokens = user
        .get_document("services")
        .and_then(|s| s.get_document("resume"))
        .and_then(|r| r.get_array("loginTokens"))
        .or_else(|_| user.get_array("services.resume.loginTokens"))
        .ok();
    let hashes = tokens
        .into_iter()
        .flatten()
        .filter_map(|t| t.ok()?.as_document()?.get_str("hashedToken").ok())
        .map(str::to_owned)
        .collect();
    Some((id, (roles, hashes)))
}

/// What a session's check finds among the users read.
fn verdict(users: &HashMap<String, Found>, user_id: &str, hashed_token: &str) -> Check {
    match users.get(user_id) {
        Some((roles, hashes)) if hashes.iter().any(|h| h == hashed_token) => {
            Check::Valid(roles.clone())
        }
        _ => Check::Revoked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_still_the_users_keeps_the_stream_with_the_users_roles() {
        let user = RawDocumentBuf::from_document(&doc! {
            "_id": "u1", "roles": ["admin", 3],
            "services": {"resume": {"loginTokens": [{"hashedToken": "h1"}, {"hashedToken": "h2"}]}},
        })
        .unwrap();
        let (id, found) = user_tokens(&user).unwrap();
        let users = HashMap::from([(id, found)]);
        assert_eq!(
            verdict(&users, "u1", "h2"),
            Check::Valid(vec!["admin".into()])
        );
        assert_eq!(verdict(&users, "u1", "h3"), Check::Revoked);
        assert_eq!(verdict(&users, "u2", "h1"), Check::Revoked);
    }

    #[test]
    fn a_flattened_projection_is_read_too() {
        let user = RawDocumentBuf::from_document(&doc! {
            "_id": "u1", "services.resume.loginTokens": [{"hashedToken": "h1"}],
        })
        .unwrap();
        let (_, (roles, hashes)) = user_tokens(&user).unwrap();
        assert!(roles.is_empty());
        assert_eq!(hashes, ["h1"]);
    }
}
