//! The HTTP side alone, for `scripts/bench floor`: `http_floor PORT FILE` serves FILE's bytes as
//! `application/json` to every GET on 127.0.0.1:PORT, with actix-web on one worker thread as the
//! service runs it (`HTTP_WORKERS=1`), and nothing else: no guard, no database, no rendering. What
//! it costs per request is what HTTP alone adds to the database calls of `examples/floor.rs`.

use actix_web::{web, App, HttpResponse, HttpServer};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(port), Some(file)) = (
        args.first().and_then(|p| p.parse::<u16>().ok()),
        args.get(1),
    ) else {
        eprintln!("usage: http_floor PORT FILE");
        std::process::exit(2);
    };
    let body = web::Bytes::from(std::fs::read(file)?);
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(1)
        .bind(("127.0.0.1", port))?
        .run(),
    )
}
