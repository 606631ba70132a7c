//! [`Application`]: the MongoDB client (lazy: start-up does not need the database) and the HTTP
//! server bound to its port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Protocol};
use actix_service::{fn_service, map_config, IntoServiceFactory as _, ServiceFactoryExt as _};
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{
    AppConfig, Server, Service as _, ServiceFactory, ServiceRequest, ServiceResponse,
};
use actix_web::http::header;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

use crate::access_log;
use crate::config::{Config, ConfigError};
use crate::conn_limits::BoundedLines;
use crate::db::{Db, DbShared};
use crate::live;
use crate::metrics::rocketchat::{self, RestCall};
use crate::metrics::Metrics;
use crate::rooms::cursor::CursorKey;
use crate::routes;
use crate::state::{ProcessState, WorkerState};

/// How long an idle HTTP connection is kept: longer than the idle timeouts of the proxies in front
/// (nginx's upstream `keepalive_timeout` 60 s, Traefik's 90 s, cloud load balancers' 60 to 600 s),
/// so the proxy, not the service, closes an idle connection and never sends a request on one
/// the service has just closed. Google's load balancers ask backends for 620 s.
pub const KEEP_ALIVE: Duration = Duration::from_secs(620);

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
        let (options, name) = client_options(&config).await?;
        // The workers build their clients with `expect`: a client built (and dropped) here first
        // turns bad options into a start-up error instead.
        drop(Client::with_options(options.clone()).map_err(invalid_url)?);
        let metrics = Arc::new(Metrics::new());
        let shared = DbShared::new(config.query_timeout, config.max_in_flight, metrics.clone());
        let process = ProcessState::new(
            metrics.clone(),
            config.cache_max_age,
            config.forwarded_count,
            config.unit_restrictions,
            CursorKey::new(config.cursor_secret.as_deref(), &name),
            config.live,
        );
        let process_draining = process.draining.clone();
        let addr = config.bind_addr;
        let bind_error = |source| StartupError::Bind { addr, source };
        let listener = TcpListener::bind(addr).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let mut builder = actix_server::Server::build()
            // SIGTERM and SIGINT stop accepting and let requests in flight finish within this
            // bound.
            .shutdown_timeout(config.shutdown_timeout.as_secs())
            .workers(config.http_workers);
        if !config.shutdown_delay.is_zero() {
            // The signals are `drain_on_signal`'s: it stops the server after the delay.
            builder = builder.disable_signals();
        }
        let shutting_down = builder.graceful_shutdown_signal();
        // The live feed's poller and the check of its streams' users start with the first stream.
        process.live.on_first_stream(Box::new(live_thread(
            options.clone(),
            name.clone(),
            shared.clone(),
            process.clone(),
        )));
        let (hub, signal) = (process.live.clone(), shutting_down.clone());
        tokio::spawn(async move {
            signal.notified().await;
            hub.close();
        });
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let server = builder
            .listen("livechat-rooms", listener, move || {
                // Created here, on the worker's own thread (see `Db`).
                let client = Client::with_options(options.clone())
                    .expect("the options were checked at start-up");
                let state = WorkerState {
                    db: Db::new(&client.database(&name), shared.clone()),
                    process: process.clone(),
                };
                let app = app(state, metrics.clone())
                    .into_factory()
                    .map_err(|err| err.error_response());
                let shutting_down = shutting_down.clone();
                // As actix-web's `HttpServer` assembles it, with every connection's input read
                // through `BoundedLines` (see conn_limits.rs).
                let http = HttpService::build()
                    .graceful_shutdown_signal(move || {
                        let signal = shutting_down.clone();
                        async move { signal.notified().await }
                    })
                    .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .local_addr(local_addr)
                    .finish(map_config(app, |_| AppConfig::default()));
                fn_service(|io: TcpStream| async move {
                    let peer = io.peer_addr().ok();
                    Ok((BoundedLines::new(io), Protocol::Http1, peer))
                })
                .and_then(http)
            })
            .map_err(bind_error)?
            .run();
        if !config.shutdown_delay.is_zero() {
            actix_web::rt::spawn(drain_on_signal(
                server.handle(),
                config.shutdown_delay,
                process_draining,
            ));
        }
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

/// What starts the live feed's poller and the check of its streams' users: a thread of their
/// own, with a client of its own (as an HTTP worker has); they stop when the hub closes (a
/// shutdown ends every stream at once, so clients reconnect to another instance).
fn live_thread(
    options: ClientOptions,
    name: String,
    shared: DbShared,
    process: ProcessState,
) -> impl FnOnce() + Send + 'static {
    move || {
        let started = std::thread::Builder::new()
            .name("live-poller".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let client = Client::with_options(options)
                        .expect("the options were checked at start-up");
                    let config = process.live_config;
                    let state = || WorkerState {
                        db: Db::new(&client.database(&name), shared.clone()),
                        process: process.clone(),
                    };
                    futures::join!(
                        live::poller::run(state(), config.poll),
                        live::recheck::run(state(), config.recheck),
                    );
                });
            });
        if let Err(err) = started {
            log::error!(
                "cannot start the live feed's poller thread ({err}): streams get no events"
            );
        }
    }
}

/// `SHUTDOWN_DELAY_SECS`: on SIGTERM or SIGINT, `/ready` answers 503 at once while the service
/// keeps serving for `delay`, so load balancers and Kubernetes' endpoints stop sending it requests
/// before it stops accepting; then the usual graceful stop (`SHUTDOWN_TIMEOUT_SECS`).
async fn drain_on_signal(
    server: actix_server::ServerHandle,
    delay: Duration,
    draining: Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("cannot listen for SIGTERM/SIGINT: the service stops only when killed");
        return;
    };
    futures::future::select(Box::pin(term.recv()), Box::pin(int.recv())).await;
    draining.store(true, std::sync::atomic::Ordering::Relaxed);
    log::info!("stopping: /ready answers 503, still serving for {delay:?}");
    actix_web::rt::time::sleep(delay).await;
    server.stop(true).await;
}

/// The application of one HTTP worker: routes, metrics and the access log around them.
fn app(
    state: WorkerState,
    metrics: Arc<Metrics>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap_fn(move |req, srv| {
            let rest = routes::rocketchat_entrypoint(req.path()).map(|entrypoint| RestCall {
                method: rocketchat::method_label(req.method().as_str()),
                entrypoint,
                user_agent: metrics.rest.user_agent_label().then(|| {
                    let ua = req.headers().get(header::USER_AGENT);
                    String::from_utf8_lossy(ua.map_or(&[][..], |v| v.as_bytes())).into_owned()
                }),
            });
            let timer = metrics.start_request(routes::route_of(req.path()), rest);
            let response = srv.call(req);
            async move {
                let response = response.await?;
                let size = match response.response().body().size() {
                    BodySize::Sized(n) => Some(n),
                    BodySize::None | BodySize::Stream => None,
                };
                let started = timer.started();
                timer.finish(response.status().as_u16(), size);
                Ok(access_log::attach(response, started))
            }
        })
        .app_data(web::Data::new(state))
        .configure(routes::configure)
}

/// The database to read: `config.database`, else the one `MONGO_URL` names. No connection is made
/// yet. Unless the URL sets them, server selection gives up after `SERVER_SELECTION_TIMEOUT_MS`
/// (so with no server reachable the 503 comes at once) and connecting after the query timeout.
pub async fn connect(config: &Config) -> Result<Database, ConfigError> {
    let (options, name) = client_options(config).await?;
    let client = Client::with_options(options).map_err(invalid_url)?;
    Ok(client.database(&name))
}

/// The driver's message is kept, the URL itself is not: it may hold a password.
fn invalid_url(e: mongodb::error::Error) -> ConfigError {
    ConfigError {
        var: "MONGO_URL",
        reason: format!("not a usable MongoDB connection string ({})", e.kind),
    }
}

/// The client options from `MONGO_URL` with the service's defaults, and the database's name.
async fn client_options(config: &Config) -> Result<(ClientOptions, String), ConfigError> {
    let mut options = ClientOptions::parse(&config.mongo_url)
        .await
        .map_err(invalid_url)?;
    options
        .app_name
        .get_or_insert_with(|| "livechat-rooms".to_owned());
    options
        .server_selection_timeout
        .get_or_insert(config.server_selection_timeout);
    options.connect_timeout.get_or_insert(config.query_timeout);
    let name = config
        .database
        .clone()
        .or_else(|| options.default_database.clone())
        .ok_or_else(|| ConfigError {
            var: "MONGO_URL",
            reason: "must name the database, as in mongodb://host:27017/rocketchat".into(),
        })?;
    Ok((options, name))
}
