//! The command line a newcomer meets: every subcommand answers `--help` with exit 0, and the
//! messages say what happened (the flags a refusal can take, a collection left as it was, an index
//! the server refused, in one readable line).

use mongodb::bson::doc;

use crate::helpers::*;
use crate::proxy::Answer;

async fn run(args: &[&str], mongo_url: Option<&str>) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-rooms"));
    // A test server busy with the rest of the suite may take longer than the 500 ms default to
    // answer the driver's first hello.
    command
        .args(args)
        .env_clear()
        .env("RUST_LOG", "info")
        .env("SERVER_SELECTION_TIMEOUT_MS", "15000");
    if let Some(url) = mongo_url {
        command.env("MONGO_URL", url);
    }
    let output = command.output().await.unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn every_subcommand_answers_help_with_exit_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["indexes", "--help"],
        &["indexes", "--create", "--help"],
        &["load-fixtures", "--help"],
        &["load-fixtures", "fixtures", "-h"],
        &["health-check", "--help"],
    ] {
        let (ok, stdout, stderr) = run(args, None).await;
        assert!(ok, "{args:?}: {stderr}");
        assert!(
            stdout.starts_with("usage: livechat-rooms"),
            "{args:?}: {stdout}"
        );
        assert!(!stderr.contains("ERROR"), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn load_fixtures_says_every_way_out_and_what_it_left_alone() {
    let app = spawn_app().await;
    // A URL that names this test's database (through a proxy that only forwards).
    let database = FlakyDatabase::start(Link::Up, app.db.name()).await;
    let url = database.url.clone();
    let (ok, _, stderr) = run(&["load-fixtures", "fixtures"], Some(&url)).await;
    assert!(!ok);
    for flag in ["--replace", "--if-empty", "--add", "--merge"] {
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
    let (ok, _, stderr) = run(&["load-fixtures", "fixtures", "--if-empty"], Some(&url)).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("left {}.rocketchat_room as it was", app.db.name())),
        "{stderr}"
    );
    assert!(!stderr.contains("loaded 0 documents"), "{stderr}");
    let (ok, _, stderr) = run(&["load-fixtures", "fixtures", "--replcae"], Some(&url)).await;
    assert!(!ok);
    assert!(stderr.contains("unknown option --replcae"), "{stderr}");
    let (ok, _, stderr) = run(&["load-fixtures", "--add", "--replace"], Some(&url)).await;
    assert!(!ok);
    assert!(stderr.contains("takes one of"), "{stderr}");
}

#[tokio::test]
async fn an_index_the_server_refuses_is_one_readable_line() {
    let (app, database) = spawn_app_behind_proxy(Link::Up, &[]).await;
    // Two recommended indexes are missing from the fixtures: the server refuses the first.
    database.answer_next(
        "createIndexes",
        "rocketchat_room",
        Answer::Document(doc! {
            "ok": 0.0,
            "code": 86,
            "codeName": "IndexKeySpecsConflict",
            "errmsg": "An existing index has the same name as the requested index",
        }),
    );
    let (ok, stdout, stderr) = run(&["indexes", "--create"], Some(&database.url)).await;
    let _ = app;
    assert!(!ok, "{stdout}");
    let refusal: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("could not create"))
        .collect();
    // nx-27017 refuses the other one too (it cannot make a partial index), in its own way.
    assert_eq!(
        refusal.len(),
        if server_is_exact() { 1 } else { 2 },
        "{stderr}"
    );
    for line in &refusal {
        assert!(
            !line.contains("Kind:") && !line.contains("labels"),
            "{line}"
        );
    }
    assert!(
        refusal[0].contains(
            "on rocketchat_room: An existing index has the same name as the requested index (IndexKeySpecsConflict)"
        ),
        "{stderr}"
    );
    assert!(
        refusal[0].contains("{ \"ts\": -1, \"_id\": 1 }") || refusal[0].contains("_updatedAt"),
        "{stderr}"
    );
    if server_is_exact() {
        assert!(
            stdout.contains("created "),
            "the other one is created: {stdout}"
        );
        assert!(
            stderr.contains("1 of the recommended indexes could not be created"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn the_demo_refuses_a_taken_port_before_it_starts_anything() {
    // Held by "another demo".
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mongo_port = free.local_addr().unwrap().port().to_string();
    drop(free);
    for (service, database) in [(&port, &mongo_port), (&mongo_port, &port)] {
        let output = tokio::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo"))
            .env("PORT", service)
            .env("DEMO_MONGO_PORT", database)
            .env("DEMO_DB", "nx")
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("port {port} (")), "{stderr}");
        assert!(stderr.contains("is taken"), "{stderr}");
        assert!(stderr.contains("nothing was started"), "{stderr}");
        // Nothing was built or started: the script stopped at its first check.
        assert!(!stderr.contains("building"), "{stderr}");
    }
    drop(taken);
}
