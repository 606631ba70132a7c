use std::path::PathBuf;
use std::process::ExitCode;

use env_logger::Env;
use livechat_rooms::config::Settings;
use livechat_rooms::fixtures;
use livechat_rooms::startup::Application;

const USAGE: &str = "usage: livechat-rooms                                serve (configured by environment variables)
       livechat-rooms load-fixtures [DIR] [--replace]  load DIR (default: fixtures) into MONGO_URL's database";

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::init_from_env(Env::new().default_filter_or("info"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => serve().await,
        Some("load-fixtures") => load_fixtures(&args[1..]).await,
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
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
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    log::info!("listening on port {}", app.port());
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn load_fixtures(args: &[String]) -> Result<(), String> {
    let replace = args.iter().any(|a| a == "--replace");
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures"));
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let db = fixtures::connect(&settings)
        .await
        .map_err(|e| e.to_string())?;
    let loaded = fixtures::load_dir(&db, &dir, replace)
        .await
        .map_err(|e| e.to_string())?;
    for (collection, n) in loaded {
        log::info!("loaded {n} documents into {}.{collection}", db.name());
    }
    Ok(())
}
