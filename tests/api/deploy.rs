//! The deployment files cannot be run here (no Docker engine), so their structure is checked:
//! docker-compose.yml parses and wires its services in order, and deploy/nginx.conf passes
//! `nginx -t` (nginx from Debian's packages; .ci/run installs it, and CI requires it).

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(repo_file("docker-compose.yml")).unwrap();
    YamlLoader::load_from_str(&text)
        .expect("docker-compose.yml is YAML")
        .remove(0)
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let service = &compose["services"][name];
    assert!(!service.is_badvalue(), "no service {name}");
    service
}

#[test]
fn compose_has_the_whole_demo_stack() {
    let compose = compose();
    let names: Vec<&str> = compose["services"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["mongo", "rocketchat", "fixtures", "livechat-rooms", "nginx"]
    );
    // Rocket.Chat 8 (the line the contract follows) on MongoDB 8.0 (which Rocket.Chat 9 needs).
    assert_eq!(
        service(&compose, "mongo")["image"].as_str(),
        Some("mongo:8.0")
    );
    let rocketchat = service(&compose, "rocketchat")["image"].as_str().unwrap();
    assert!(
        rocketchat.starts_with("registry.rocket.chat/rocketchat/rocket.chat:8."),
        "{rocketchat}"
    );
    // A person can log in: the first administrator comes from the environment.
    let env = &service(&compose, "rocketchat")["environment"];
    for var in ["ADMIN_USERNAME", "ADMIN_PASS", "ADMIN_EMAIL"] {
        assert!(env[var].as_str().is_some_and(|v| !v.is_empty()), "{var}");
    }
    assert_eq!(
        env["OVERWRITE_SETTING_Show_Setup_Wizard"].as_str(),
        Some("completed")
    );
    let mongo_command: Vec<&str> = service(&compose, "mongo")["command"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        mongo_command.windows(2).any(|w| w == ["--replSet", "rs0"]),
        "a replica set, as Rocket.Chat needs"
    );
}

#[test]
fn compose_dependencies_name_real_services_and_valid_conditions() {
    let compose = compose();
    for (name, service) in compose["services"].as_hash().unwrap() {
        let Some(depends) = service["depends_on"].as_hash() else {
            continue;
        };
        for (dependency, how) in depends {
            let dependency = dependency.as_str().unwrap();
            let target = &compose["services"][dependency];
            assert!(
                !target.is_badvalue(),
                "{name:?} depends on unknown {dependency}"
            );
            let condition = how["condition"].as_str().unwrap();
            assert!(
                [
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully"
                ]
                .contains(&condition),
                "{condition}"
            );
            if condition == "service_healthy" {
                assert!(
                    !target["healthcheck"]["test"].is_badvalue(),
                    "{dependency} needs a healthcheck"
                );
            }
        }
    }
}

#[test]
fn compose_starts_in_order() {
    let compose = compose();
    let condition = |service: &str, on: &str| {
        compose["services"][service]["depends_on"][on]["condition"]
            .as_str()
            .map(str::to_owned)
    };
    for (service, on, expected) in [
        // The fixtures are merged into the database Rocket.Chat has set up.
        ("fixtures", "rocketchat", "service_healthy"),
        (
            "livechat-rooms",
            "fixtures",
            "service_completed_successfully",
        ),
        ("rocketchat", "mongo", "service_healthy"),
        ("nginx", "rocketchat", "service_healthy"),
        ("nginx", "livechat-rooms", "service_healthy"),
    ] {
        assert_eq!(
            condition(service, on).as_deref(),
            Some(expected),
            "{service} on {on}"
        );
    }
}

#[test]
fn compose_services_share_one_database_and_use_real_commands() {
    let compose = compose();
    let url = |name: &str| {
        service(&compose, name)["environment"]["MONGO_URL"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(url("livechat-rooms"), url("rocketchat"));
    assert_eq!(url("fixtures"), url("rocketchat"));
    let fixtures: Vec<&str> = service(&compose, "fixtures")["command"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(fixtures, ["load-fixtures", "/fixtures", "--merge"]);
    let health: Vec<&str> = service(&compose, "livechat-rooms")["healthcheck"]["test"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(
        health,
        ["CMD", "/usr/local/bin/livechat-rooms", "health-check"]
    );
    let volume = service(&compose, "nginx")["volumes"][0].as_str().unwrap();
    let source = volume.split(':').next().unwrap();
    assert!(
        repo_file(source).is_file(),
        "{source} is mounted but missing"
    );
}

#[test]
fn nginx_routes_only_get_rooms_to_the_service() {
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    assert!(conf.contains("location = /api/v1/livechat/rooms {"));
    assert!(conf.contains("server livechat-rooms:3000 resolve;"));
    assert!(conf.contains("proxy_pass http://livechat_rooms;"));
    assert!(conf.contains("if ($request_method != GET) {"));
}

#[test]
fn nginx_keeps_its_connections_to_the_service() {
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    let upstream = conf
        .split("upstream livechat_rooms {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("an upstream for the service");
    assert!(upstream.contains("keepalive 32;"), "{upstream}");
    // Shorter than the service's own idle timeout, so nginx closes first.
    let timeout: u64 = upstream
        .split("keepalive_timeout ")
        .nth(1)
        .and_then(|t| t.split('s').next())
        .and_then(|t| t.parse().ok())
        .expect("keepalive_timeout in seconds");
    assert!(
        timeout < livechat_rooms::startup::KEEP_ALIVE.as_secs(),
        "{timeout}"
    );
    let rooms = rooms_location(&conf);
    assert!(rooms.contains("proxy_http_version 1.1;"), "{rooms}");
    assert!(
        rooms.contains("proxy_set_header Connection \"\";"),
        "{rooms}"
    );
}

/// The text of `location = /api/v1/livechat/rooms`.
fn rooms_location(conf: &str) -> &str {
    conf.split("location = /api/v1/livechat/rooms {")
        .nth(1)
        .and_then(|rest| rest.split("location /").next())
        .expect("the rooms location")
}

#[test]
fn nginx_tells_the_service_the_client_address_for_the_rate_limiter() {
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    let rooms = rooms_location(&conf);
    assert!(
        rooms.contains("proxy_set_header X-Real-IP $remote_addr;"),
        "{rooms}"
    );
}

#[test]
fn nginx_accepts_the_config() {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let Some(nginx) = nginx else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is not installed, and CI must check the config"
        );
        eprintln!(
            "nginx is not installed: `apt-get install nginx-light` to check deploy/nginx.conf"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("livechat-rooms-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // `nginx -t` resolves an upstream's names at once, and `resolve` needs nginx 1.27.3 (the
    // compose stack's 1.28); Debian 12's nginx is 1.22. The check runs on a copy with the
    // service's name as a loopback address and, on an older nginx, without `resolve`.
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    let version = std::process::Command::new(nginx)
        .arg("-v")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stderr).to_string();
    let has_resolve = version
        .split("nginx/")
        .nth(1)
        .and_then(|v| {
            let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            Some((parts.next()?, parts.next()?, parts.next().unwrap_or(0)))
        })
        .is_some_and(|v| v >= (1, 27, 3));
    let mut checked = conf.replace("server livechat-rooms:3000", "server 127.0.0.1:3000");
    if !has_resolve {
        checked = checked.replace(" resolve;", ";");
    }
    let copy = dir.join("site.conf");
    std::fs::write(&copy, checked).unwrap();
    let main = dir.join("nginx.conf");
    std::fs::write(
        &main,
        format!(
            "pid {dir}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {dir};\n  include {conf};\n}}\n",
            dir = dir.display(),
            conf = copy.display()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(nginx)
        .arg("-t")
        .arg("-c")
        .arg(&main)
        .arg("-p")
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn merging_fixtures_adds_what_is_missing_and_keeps_what_is_there() {
    use livechat_rooms::fixtures::{load_dir, Existing};
    use mongodb::bson::{doc, Document};
    let app = crate::helpers::spawn_app().await;
    let settings = app.db.collection::<Document>("rocketchat_settings");
    let rooms = app.db.collection::<Document>("rocketchat_room");
    // As Rocket.Chat would have it: its own value for a setting, a room the fixtures lack, and a
    // fixture room missing.
    settings
        .replace_one(
            doc! {"_id": "API_Default_Count"},
            doc! {"_id": "API_Default_Count", "value": 7},
        )
        .await
        .unwrap();
    rooms.delete_one(doc! {"_id": "lc-08"}).await.unwrap();
    rooms
        .insert_one(doc! {"_id": "GENERAL", "t": "c"})
        .await
        .unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let loaded = load_dir(&app.db, &dir, Existing::Merge).await.unwrap();
    let rooms_loaded = loaded
        .iter()
        .find(|(c, _)| c == "rocketchat_room")
        .unwrap()
        .1;
    assert_eq!(rooms_loaded, Some(1), "only the missing room is inserted");
    let kept = settings
        .find_one(doc! {"_id": "API_Default_Count"})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.get_i32("value"), Ok(7));
    assert!(rooms
        .find_one(doc! {"_id": "lc-08"})
        .await
        .unwrap()
        .is_some());
    assert!(rooms
        .find_one(doc! {"_id": "GENERAL"})
        .await
        .unwrap()
        .is_some());
}

#[test]
fn the_readmes_nginx_snippet_is_deploy_nginx_conf() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    let snippet = readme
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an nginx block in the README");
    assert_eq!(snippet, conf, "paste deploy/nginx.conf into the README");
    assert_eq!(readme.matches("```nginx").count(), 1, "one nginx snippet");
}

#[test]
fn the_readmes_live_feed_example_is_the_tested_pages() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let page = std::fs::read_to_string(repo_file("deploy/live-feed/index.html")).unwrap();
    let snippet = readme
        .split("```js\n")
        .find(|block| block.starts_with("async function follow"))
        .and_then(|rest| rest.split("```").next())
        .expect("follow() in a js block of the README");
    // The page's script is indented 4 spaces.
    let page: String = page
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert!(
        page.contains(snippet),
        "paste follow() from deploy/live-feed/index.html into the README"
    );
    assert!(snippet.contains("lastEventId") && snippet.contains("text/event-stream"));
}
