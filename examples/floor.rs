//! The floor for `scripts/bench floor`: the database calls of one listing, made with the service's
//! own database handle and driver, and nothing else (no HTTP, no rendering, no guard).
//!
//! `floor MONGO_URL REQUESTS CONCURRENCY QUERY|@FILE` runs REQUESTS "listings" with CONCURRENCY
//! in flight, each what the service asks MongoDB for one request of a steady load: the user lookup
//! (by the fixture manager's id and hashed token), the page's `find` with its cursor read to the
//! end, and `countDocuments` where the page cannot tell the total. Permissions, settings,
//! departments, the index list and agents' ids are held by the service, so they cost no call in a
//! steady load and none here. QUERY is a query string (`count=25`), or `@FILE` one per line, taken
//! in turn. Prints the process's own CPU time per listing (from its threads' schedstat).

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use livechat_rooms::api_settings::Pagination;
use livechat_rooms::auth::hash_token;
use livechat_rooms::db::{Db, DbShared};
use livechat_rooms::metrics::Metrics;
use livechat_rooms::rooms::{filter::Listing, repo, RoomsQuery};
use mongodb::Client;

/// CPU time of this process so far, in nanoseconds: the sum of its threads' time on a CPU from
/// `/proc/self/task/*/schedstat` (nanoseconds, user and system), else utime + stime from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_ns() -> u64 {
    let threads: Option<u64> = std::fs::read_dir("/proc/self/task").ok().and_then(|tasks| {
        tasks
            .map(|task| {
                let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
                stat.split(' ').next()?.parse::<u64>().ok()
            })
            .sum()
    });
    threads.unwrap_or_else(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        // The command name may hold spaces: fields are counted after its closing parenthesis.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks * 10_000_000
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(requests), Some(concurrency), Some(queries)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
        args.get(3),
    ) else {
        eprintln!("usage: floor MONGO_URL REQUESTS CONCURRENCY QUERY|@FILE");
        std::process::exit(2);
    };
    let queries: Vec<String> = match queries.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .expect("the query file")
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split_once('?').map_or(l, |(_, q)| q).to_owned())
            .collect(),
        None => vec![queries.clone()],
    };
    let listings: Arc<Vec<Listing>> = Arc::new(
        queries
            .iter()
            .map(|q| {
                Listing::unrestricted(RoomsQuery::from_query_string(q).expect("a valid query"))
            })
            .collect(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = Client::with_uri_str(url).await.expect("MONGO_URL");
        let database = client
            .default_database()
            .expect("MONGO_URL names the database");
        let shared = DbShared::new(
            Duration::from_secs(10),
            concurrency,
            Arc::new(Metrics::new()),
        );
        let db = Arc::new(Db::new(&database, shared));
        let indexes = Arc::new(db.room_indexes().await.ok());
        let hashed = Arc::new(hash_token("manager-token"));
        let listing = move |db: Arc<Db>, i: usize| {
            let (listings, indexes, hashed) = (listings.clone(), indexes.clone(), hashed.clone());
            async move {
                let listing = &listings[i % listings.len()];
                let roles = db.user_roles("manager-id", &hashed).await.expect("user");
                assert!(roles.is_some(), "the fixture manager");
                let limit = Pagination::default().limit(listing.query.count);
                let page = repo::find_page(&db, listing, limit, indexes.as_deref())
                    .await
                    .expect("find");
                let rooms: Vec<_> = page.rooms.try_collect().await.expect("cursor");
                let sent = rooms.len() as u64;
                if repo::total_from_page(listing.query.offset, limit, sent).is_none() {
                    repo::count(&db, listing).await.expect("count");
                }
            }
        };
        // Warm-up: connections, as the service has them in a steady load.
        for i in 0..concurrency * 4 {
            listing(db.clone(), i).await;
        }
        let before = cpu_ns();
        let per_task = requests.div_ceil(concurrency);
        let tasks: Vec<_> = (0..concurrency)
            .map(|task| {
                let (db, listing) = (db.clone(), listing.clone());
                tokio::spawn(async move {
                    for i in 0..per_task {
                        listing(db.clone(), task + i * concurrency).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let ns = cpu_ns() - before;
        let done = per_task * concurrency;
        println!(
            "floor CPU {:.4} ms per request (requests={done})",
            ns as f64 / 1e6 / done as f64
        );
    });
}
