//! `GET /api/v1/livechat/rooms`: authenticate, validate, authorize, then find + count and render.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::render;
use crate::rooms::{filter, repo, RoomsQuery};
use crate::state::AppState;

/// The order of the checks is the contract's: 401 (the extractor), then 400, then 403. The query
/// is parsed here, not in a second extractor, because actix polls extractors side by side and a
/// ready 400 would overtake a pending 401.
pub async fn list_rooms(
    user: AuthUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = RoomsQuery::from_query_string(req.query_string())?;
    user.authorize(&query)?;
    let pagination = state.pagination.get(&state.metrics).await?;
    let options = repo::PageOptions {
        sort: filter::to_sort(&query),
        projection: filter::to_projection(&query),
        skip: query.offset,
        limit: pagination.limit(query.count),
        max_time: state.query_timeout,
    };
    let metrics = &state.metrics;
    let page = repo::find_page(&state.rooms, filter::to_filter(&query), options, metrics).await?;
    let departments = repo::departments_of(
        &state.departments,
        &page.rooms,
        state.query_timeout,
        metrics,
    )
    .await?;
    metrics.rooms_returned(page.rooms.len());
    let body = render::rooms_page(&page.rooms, &departments, query.offset, page.total)?;
    Ok(super::json(StatusCode::OK, body))
}
