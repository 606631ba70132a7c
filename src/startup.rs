//! [`Application`]: the MongoDB client (lazy: start-up does not need the database) and the HTTP
//! server bound to its port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, Service as _};
use actix_web::{middleware, web, App, HttpServer};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use crate::config::{Config, ConfigError};
use crate::db::Db;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let database = connect(&config).await?;
        let metrics = Arc::new(Metrics::new());
        let db = Db::new(
            &database,
            config.query_timeout,
            config.max_in_flight,
            metrics.clone(),
        );
        let state = web::Data::new(AppState::new(
            db,
            config.cache_max_age,
            config.forwarded_count,
        ));
        let addr = config.bind_addr;
        let bind_error = |source| StartupError::Bind { addr, source };
        let listener = TcpListener::bind(addr).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let server = HttpServer::new(move || {
            let metrics = metrics.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    let timer = metrics.start_request(routes::route_of(req.path()));
                    let response = srv.call(req);
                    async move {
                        let response = response.await?;
                        timer.finish(response.status().as_u16());
                        Ok(response)
                    }
                })
                // Method, path without the query string (long, personal), status, duration; the
                // headers, and so the token, are never logged.
                .wrap(
                    middleware::Logger::new(r#"%a "%{r}xi" %s %b %Dms"#)
                        .custom_request_replace("r", |req| {
                            format!("{} {}", req.method(), req.path())
                        }),
                )
                .app_data(state.clone())
                .configure(routes::configure)
        })
        // SIGTERM and SIGINT stop accepting and let requests in flight finish within this bound.
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .listen(listener)
        .map_err(bind_error)?
        .run();
        Ok(Application { port, server })
    }

    /// The port actually bound (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The database to read: `config.database`, else the one `MONGO_URL` names. No connection is made
/// yet. Unless the URL sets them, server selection gives up after `SERVER_SELECTION_TIMEOUT_MS`
/// (so with no server reachable the 503 comes at once) and connecting after the query timeout.
pub async fn connect(config: &Config) -> Result<Database, ConfigError> {
    // The driver's message is kept, the URL itself is not: it may hold a password.
    let invalid = |e: mongodb::error::Error| ConfigError {
        var: "MONGO_URL",
        reason: format!("not a usable MongoDB connection string ({})", e.kind),
    };
    let mut options = ClientOptions::parse(&config.mongo_url)
        .await
        .map_err(invalid)?;
    options
        .app_name
        .get_or_insert_with(|| "livechat-rooms".to_owned());
    options
        .server_selection_timeout
        .get_or_insert(config.server_selection_timeout);
    options.connect_timeout.get_or_insert(config.query_timeout);
    let client = Client::with_options(options).map_err(invalid)?;
    let name = config
        .database
        .clone()
        .or_else(|| client.default_database().map(|db| db.name().to_owned()))
        .ok_or_else(|| ConfigError {
            var: "MONGO_URL",
            reason: "must name the database, as in mongodb://host:27017/rocketchat".into(),
        })?;
    Ok(client.database(&name))
}
