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
        ["mongo", "fixtures", "rocketchat", "livechat-rooms", "nginx"]
    );
    assert_eq!(
        service(&compose, "mongo")["image"].as_str(),
        Some("mongo:7")
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
        ("fixtures", "mongo", "service_healthy"),
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
    assert_eq!(fixtures[0], "load-fixtures");
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
    assert!(conf.contains("set $livechat_rooms http://livechat-rooms:3000;"));
    assert!(conf.contains("if ($request_method != GET) {"));
}

#[test]
fn nginx_tells_the_service_the_client_address_for_the_rate_limiter() {
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).unwrap();
    let rooms = conf
        .split("location = /api/v1/livechat/rooms {")
        .nth(1)
        .and_then(|rest| rest.split("location /").next())
        .expect("the rooms location");
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
    let main = dir.join("nginx.conf");
    std::fs::write(
        &main,
        format!(
            "pid {dir}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {dir};\n  include {conf};\n}}\n",
            dir = dir.display(),
            conf = repo_file("deploy/nginx.conf").display()
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
