//! A real podman container (runc, no network but its own loopback, an image made offline from
//! busybox-static) with a listener inside, found from the host: `--all-netns` lists it with its
//! owner, the container's id and name; `container NAME|ID` picks it alone. The container is
//! removed when the test ends, also when it fails.
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;

use common::container::Container;
use common::{json_of, json_tuples, ss_tuples_through, stdout_of};
use serde_json::Value;

/// The sockets of `doc` whose context is the container `name`.
fn in_container<'a>(doc: &'a Value, name: &str) -> Vec<&'a Value> {
    doc["sockets"]
        .as_array()
        .expect("sockets")
        .iter()
        .filter(|s| s["context"]["name"] == name)
        .collect()
}

#[test]
#[cfg_attr(
    not(all(is_root, has_podman, has_runc, has_nsenter, has_ss)),
    ignore = "needs root, podman, runc and nsenter (apt-get install podman runc busybox-static util-linux)"
)]
fn a_podman_containers_listener_is_found_from_the_host_with_its_owner_id_and_name() {
    let name = format!("rnetstat-test-{}", std::process::id());
    let container = Container::start(&name, 8080);

    let doc = json_of(&["--json", "--all-netns", "-tlnp"]);
    let sockets = in_container(&doc, &name);
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let socket = sockets[0];
    assert_eq!(socket["local"]["port"], 8080);
    assert_eq!(socket["context"]["kind"], "container");
    assert_eq!(socket["context"]["runtime"], "podman");
    assert_eq!(socket["context"]["id"], container.id.as_str());
    assert_eq!(
        socket["context"]["label"],
        format!("podman:{name}").as_str()
    );
    // The owner is the listener's host pid, as ss sees it from inside the namespace.
    assert_eq!(
        socket["processes"],
        serde_json::json!([container.listener_pid])
    );
    let owner = &doc["processes"][container.listener_pid.to_string()];
    assert_eq!(owner["name"], "httpd");
    assert_eq!(owner["context"]["id"], container.id.as_str());
    // Its namespace is named after the container.
    let netns = socket["netns"].as_u64().expect("a namespace");
    let namespace = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["inode"] == netns)
        .expect("the socket's namespace is listed");
    assert_eq!(namespace["name"], format!("podman:{name}").as_str());

    // The host-only default does not list it: it is in the container's namespace.
    let host = json_of(&["--json", "-tlnp"]);
    assert!(in_container(&host, &name).is_empty());

    // -N with the container's pid lists what ss lists in that namespace, row for row.
    let prefix = container.netns_prefix();
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let pid = container.init_pid.to_string();
    assert_eq!(
        json_tuples(&json_of(&["--json", "-tuan", "-N", &pid])),
        ss_tuples_through(&prefix)
    );
    drop(container);
}

#[test]
#[cfg_attr(
    not(all(is_root, has_podman, has_runc, has_nsenter, has_ss)),
    ignore = "needs root, podman, runc and nsenter (apt-get install podman runc busybox-static util-linux)"
)]
fn the_container_word_picks_the_containers_sockets_alone_by_name_or_id() {
    let name = format!("rnetstat-pick-{}", std::process::id());
    let container = Container::start(&name, 8081);
    let short = &container.id[..12];
    for filter in [format!("container {name}"), format!("container {short}")] {
        // Without --all-netns: the word looks in every namespace.
        let doc = json_of(&["--json", "-tan", &filter]);
        let sockets = doc["sockets"].as_array().expect("sockets");
        assert_eq!(sockets.len(), 1, "{filter}: {doc}");
        assert_eq!(sockets[0]["local"]["port"], 8081);
        assert_eq!(sockets[0]["context"]["name"], name.as_str());

        // The table: one row, the Netns and Container cells naming the container.
        let table = stdout_of(&["-tlnp", &filter]);
        let rows: Vec<&str> = table.lines().skip(1).collect();
        assert_eq!(rows.len(), 1, "{table}");
        let label = format!("podman:{name}");
        let cells: Vec<&str> = rows[0].split_whitespace().collect();
        assert_eq!(
            cells.iter().filter(|c| **c == label).count(),
            2,
            "Netns and Container: {table}"
        );
        assert!(
            cells.contains(&format!("{}/httpd", container.listener_pid).as_str()),
            "{table}"
        );
    }
    let other = json_of(&["--json", "-tan", "container rnetstat-no-such-container"]);
    assert!(other["sockets"].as_array().unwrap().is_empty());
    drop(container);
    let left = Command::new("podman")
        .args(["ps", "-a", "-q", "--filter", &format!("name=^{name}$")])
        .output()
        .expect("podman ps");
    assert!(left.stdout.is_empty(), "the container was not removed");
}
