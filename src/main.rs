use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use livechat_rooms::config::Config;
use livechat_rooms::db::{collection::ROOMS, Db, DbShared};
use livechat_rooms::fixtures::{self, Existing};
use livechat_rooms::index_advice;
use livechat_rooms::metrics::Metrics;
use livechat_rooms::startup::Application;
use mongodb::bson::doc;

const USAGE: &str = "\
usage: livechat-rooms                      serve (configured by environment variables)
       livechat-rooms health-check         exit 0 if the service on BIND_IP/PORT answers /health
       livechat-rooms indexes [--create]   say how rocketchat_room's indexes serve the listings
                                           clients send, and which recommended ones are missing;
                                           with --create, create those (the only index it writes)
       livechat-rooms load-fixtures [DIR] [--replace | --if-empty | --add | --merge]
                                           load DIR (default: fixtures) into MONGO_URL's database;
                                           collections that hold documents are refused, replaced,
                                           skipped, added to, or given only the documents whose
                                           _id they lack";

/// What `load-fixtures` does with a collection that already has documents.
const LOAD_FLAGS: [&str; 4] = ["--replace", "--if-empty", "--add", "--merge"];

#[actix_web::main]
async fn main() -> ExitCode {
    livechat_rooms::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--help` anywhere: the usage, and nothing else is done.
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match args.first().map(String::as_str) {
        None => serve().await,
        Some("load-fixtures") => load_fixtures(&args[1..]).await,
        Some("health-check") => health_check(),
        Some("indexes") => indexes(&args[1..]).await,
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            log::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    log::info!("listening on port {}", app.port());
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn load_fixtures(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args
        .iter()
        .find(|a| a.starts_with('-') && !LOAD_FLAGS.contains(&a.as_str()))
    {
        return Err(format!("load-fixtures: unknown option {unknown}\n{USAGE}"));
    }
    if args
        .iter()
        .filter(|a| LOAD_FLAGS.contains(&a.as_str()))
        .count()
        > 1
    {
        return Err(format!(
            "load-fixtures takes one of {}\n{USAGE}",
            LOAD_FLAGS.join(", ")
        ));
    }
    let existing = if args.iter().any(|a| a == "--replace") {
        Existing::Replace
    } else if args.iter().any(|a| a == "--if-empty") {
        Existing::Skip
    } else if args.iter().any(|a| a == "--add") {
        Existing::Add
    } else if args.iter().any(|a| a == "--merge") {
        Existing::Merge
    } else {
        Existing::Refuse
    };
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures"));
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let db = livechat_rooms::startup::connect(&config)
        .await
        .map_err(|e| e.to_string())?;
    let loaded = fixtures::load_dir(&db, &dir, existing)
        .await
        .map_err(|e| e.to_string())?;
    for (collection, n) in loaded {
        match n {
            Some(n) => log::info!("loaded {n} documents into {}.{collection}", db.name()),
            None => log::info!(
                "left {}.{collection} as it was (it has documents; --if-empty)",
                db.name()
            ),
        }
    }
    Ok(())
}

/// The index report of `rocketchat_room`; with `--create`, the missing recommended indexes are
/// created (the one write besides `load-fixtures`, and only when asked).
async fn indexes(args: &[String]) -> Result<(), String> {
    let create = match args {
        [] => false,
        [flag] if flag == "--create" => true,
        _ => return Err(format!("indexes takes only --create\n{USAGE}")),
    };
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let database = livechat_rooms::startup::connect(&config)
        .await
        .map_err(|e| e.to_string())?;
    let shared = DbShared::new(config.query_timeout, 1, Arc::new(Metrics::new()));
    let found = Db::new(&database, shared)
        .room_indexes()
        .await
        .map_err(|e| format!("cannot read the indexes of {ROOMS}: {e}"))?;
    let (report, missing) = index_advice::report(&found);
    print!("{report}");
    let mut refused = 0;
    for index in missing.iter().filter(|_| create) {
        let entry = index.to_create_entry();
        match database
            .run_command(doc! { "createIndexes": ROOMS, "indexes": [entry.clone()] })
            .await
        {
            Ok(_) => println!("created {}", index.name),
            Err(e) => {
                refused += 1;
                eprintln!(
                    "could not create {} {} on {ROOMS}: {}",
                    index.name,
                    entry
                        .get_document("key")
                        .map(|k| k.to_string())
                        .unwrap_or_default(),
                    server_said(&e)
                );
            }
        }
    }
    match refused {
        0 => Ok(()),
        n => Err(format!(
            "{n} of the recommended indexes could not be created"
        )),
    }
}

/// For container health checks (the image has no curl): `GET /health` on the configured port.
fn health_check() -> Result<(), String> {
    use std::io::{Read as _, Write as _};
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let mut addr = config.bind_addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(2);
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    match response.lines().next() {
        Some(status) if status.split(' ').nth(1) == Some("200") => Ok(()),
        other => Err(format!("unhealthy: {}", other.unwrap_or("no answer"))),
    }
}

/// What the server said, in one line: its message and code name for a command error, else the
/// driver's own first line (never a dump of the reply).
fn server_said(e: &mongodb::error::Error) -> String {
    let text = match e.kind.as_ref() {
        mongodb::error::ErrorKind::Command(cmd) => format!("{} ({})", cmd.message, cmd.code_name),
        // An error reply without the fields of one (nx-27017 answers so).
        mongodb::error::ErrorKind::InvalidResponse { message, .. }
            if message.contains("error deserializing command error") =>
        {
            "the server refused it without saying why (its error reply has no code)".to_owned()
        }
        other => other.to_string(),
    };
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}
