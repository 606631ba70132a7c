//! The rooms listing: query string → [`RoomsQuery`] → filter, sort and projection → MongoDB.
//!
//! Parameters (Rocket.Chat's names; all optional; unknown names are ignored):
//!
//! | name | type | meaning |
//! | --- | --- | --- |
//! | `agents` | array of strings | served by one of these agents (id or username) |
//! | `departmentId` | string or array | in this department / one of these; `""` and `undefined` mean all |
//! | `open` | `true` / `false` | open and served, or closed; other text is ignored |
//! | `createdAt`, `closedAt` | JSON `{"start","end"}` | date range on `ts` / `closedAt`, either bound optional |
//! | `tags` | array of strings | has one of these tags |
//! | `customFields` | JSON object | per key, case-insensitive literal substring of `livechatData.<key>` |
//! | `roomName` | string | case-insensitive substring of `fname`; `"quoted"`: exact name |
//! | `onhold`, `queued` | `t`/`true`/`1` | on hold; queued (open, unserved, not on hold). `queued` wins |
//! | `units` | array of strings | `departmentAncestors` holds one of these |
//! | `offset`, `count` | integer ≥ 0 | page; `count` is bounded by the `API_*` settings |
//! | `sort` | JSON `{path: 1 or -1}` | default `{"ts": -1}`; `_id: 1` added where it is free (§4b) |
//! | `fields` | JSON `{path: 0 or 1}` | projection |

pub mod cursor;
pub mod filter;
pub mod indexes;
pub mod params;
pub mod query;
pub mod repo;
pub mod scope;
pub mod sort_plan;
pub mod typing;
pub mod values;

pub use filter::Listing;
pub use params::RawRoomsParams;
pub use query::{JsonQueryParam, ParamError, RoomsQuery};
