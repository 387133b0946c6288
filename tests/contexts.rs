//! What sockets run as, from their cgroup: a real cgroup v2 directory
//! `/system.slice/NAME.service` the test makes (and removes, also when it fails) with a process
//! moved in before it opens its sockets; `ss --cgroup` is the oracle for each socket's path.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::holders::{Background, CgroupDir, Python};
use common::{json_of, rnetstat, stdout_of};
use serde_json::Value;

/// One test at a time makes cgroups: two that share a made `/system.slice` would race to
/// remove it.
static CGROUPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    CGROUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// (local, remote) of each TCP socket with `port` at either end, to its cgroup path, as
/// `ss -tanH --cgroup` says.
fn ss_cgroups(port: u16) -> BTreeMap<(String, String), String> {
    let output = Command::new("ss")
        .args(["-tanH", "--cgroup"])
        .output()
        .expect("run ss");
    assert!(output.status.success(), "ss --cgroup failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields.iter().find_map(|f| f.strip_prefix("cgroup:"))?;
            let (local, remote) = (fields[3].to_string(), fields[4].to_string());
            let involved = [&local, &remote]
                .iter()
                .any(|end| end.ends_with(&format!(":{port}")));
            involved.then(|| ((local, remote), path.to_string()))
        })
        .collect()
}

/// The same from rnetstat's JSON, in ss's spelling of the ends.
fn rnetstat_cgroups(doc: &Value, port: u16) -> BTreeMap<(String, String), String> {
    let end = |e: &Value| {
        if e.is_null() {
            "0.0.0.0:*".to_string()
        } else {
            format!("{}:{}", e["host"].as_str().unwrap(), e["port"])
        }
    };
    doc["sockets"]
        .as_array()
        .expect("sockets")
        .iter()
        .filter(|s| s["proto"] == "tcp")
        .filter(|s| s["local"]["port"] == port || s["remote"]["port"] == port)
        .map(|s| {
            let path = s["cgroup"].as_str().unwrap_or("(none)").to_string();
            ((end(&s["local"]), end(&s["remote"])), path)
        })
        .collect()
}

/// Poll until `ss` shows `count` TCP sockets with `port` at either end.
fn wait_for_sockets(port: u16, count: usize) {
    let start = Instant::now();
    while ss_cgroups(port).len() < count {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the holder's sockets did not appear: {:?}",
            ss_cgroups(port)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ss, has_python3)),
    ignore = "needs root, ss and python3 (apt-get install iproute2 python3)"
)]
fn a_process_started_in_a_service_cgroup_has_its_sockets_labelled_with_the_unit() {
    let _one = one_at_a_time();
    let unit = format!("rnetstat-test-{}.service", std::process::id());
    let cgroup = CgroupDir::create(&format!("/system.slice/{unit}"));
    let prefix = cgroup.prefix();
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let holder = Python::run(
        &prefix,
        "import os,socket,sys\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         c=socket.create_connection(s.getsockname()); a,_=s.accept()\n\
         print(os.getpid(), s.getsockname()[1], flush=True)\n\
         sys.stdin.read()\n",
    );
    let numbers = holder.numbers();
    let (pid, port) = (numbers[0], u16::try_from(numbers[1]).expect("a port"));

    // Each socket's path is what ss says: listener, client and accepted end alike.
    let doc = json_of(&["--json", "-tanp"]);
    let ours = rnetstat_cgroups(&doc, port);
    assert_eq!(ours, ss_cgroups(port), "rnetstat beside ss --cgroup");
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours.values().all(|path| *path == cgroup.path), "{ours:?}");

    // The path names the unit; the owner says the same from /proc/PID/cgroup.
    let socket = doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"]["port"] == port && s["state"] == "LISTEN")
        .expect("the listener");
    assert_eq!(socket["context"]["kind"], "unit");
    assert_eq!(socket["context"]["unit"], unit.as_str());
    assert_eq!(socket["context"]["label"], format!("unit:{unit}").as_str());
    assert!(socket["cgroup_id"].as_u64().is_some());
    let owner = &doc["processes"][pid.to_string()];
    assert_eq!(owner["cgroup"], cgroup.path.as_str(), "{owner}");
    assert_eq!(owner["context"]["unit"], unit.as_str());

    // The table's Container column (-e), one awk field.
    let table = stdout_of(&["-tlne", &format!("sport = :{port}")]);
    let mut lines = table.lines();
    let header = lines.next().expect("a header");
    assert!(header.contains("Container"), "{table}");
    let row = lines.next().expect("the listener's row");
    assert!(
        row.split_whitespace()
            .any(|field| field == format!("unit:{unit}")),
        "{table}"
    );

    // `unit NAME` (with or without .service) and `cgroup PATH` pick these three sockets
    // alone, as ss's `cgroup PATH` does.
    let bare = unit.trim_end_matches(".service");
    for filter in [
        format!("unit {bare}"),
        format!("unit {unit}"),
        format!("cgroup {}", cgroup.path),
    ] {
        let picked = rnetstat_cgroups(&json_of(&["--json", "-tan", &filter]), port);
        assert_eq!(picked, ours, "{filter}");
        let all = json_of(&["--json", "-tan", &filter]);
        assert_eq!(
            all["sockets"].as_array().unwrap().len(),
            3,
            "{filter}: {all}"
        );
    }
    // CSV: cgroup_id, cgroup and the context's label, then the two host names (empty).
    let csv = stdout_of(&["--csv", "-tan", &format!("unit {bare}")]);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    for row in rows {
        assert!(
            row.ends_with(&format!(",{},unit:{unit},,", cgroup.path)),
            "{row}"
        );
    }
    let ss = Command::new("ss")
        .args(["-tanH", "cgroup", &cgroup.path])
        .output()
        .expect("ss");
    assert_eq!(String::from_utf8_lossy(&ss.stdout).lines().count(), 3);
    drop(holder);
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ss, has_python3)),
    ignore = "needs root, ss and python3 (apt-get install iproute2 python3)"
)]
fn an_accepted_socket_keeps_its_listeners_cgroup_and_a_moved_process_its_old_sockets() {
    let _one = one_at_a_time();
    let id = std::process::id();
    let first = CgroupDir::create(&format!("/system.slice/rnetstat-first-{id}.service"));
    let second = CgroupDir::create(&format!("/system.slice/rnetstat-second-{id}.service"));
    let prefix = first.prefix();
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    // The listener is made in the first cgroup; once the test has moved the process to the
    // second, it connects to itself and accepts.
    let holder = Python::run(
        &prefix,
        &format!(
            "import os,socket,sys,time\n\
             s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
             print(os.getpid(), s.getsockname()[1], flush=True)\n\
             while 'rnetstat-second-{id}' not in open('/proc/self/cgroup').read(): time.sleep(0.01)\n\
             c=socket.create_connection(s.getsockname()); a,_=s.accept()\n\
             sys.stdin.read()\n"
        ),
    );
    let numbers = holder.numbers();
    let (pid, port) = (numbers[0], u16::try_from(numbers[1]).expect("a port"));
    second.enter(pid);
    wait_for_sockets(port, 3);

    let doc = json_of(&["--json", "-tanp"]);
    let ours = rnetstat_cgroups(&doc, port);
    assert_eq!(ours, ss_cgroups(port), "rnetstat beside ss --cgroup");
    let listener = format!("127.0.0.1:{port}");
    let path_of = |local: &str, remote: &str| {
        ours.iter()
            .find(|((l, r), _)| {
                (local.is_empty() || l == local) && (remote.is_empty() || r == remote)
            })
            .map(|(_, path)| path.clone())
            .unwrap_or_else(|| panic!("no socket {local} {remote}: {ours:?}"))
    };
    // The listener stays where it was made; the accepted end is a clone of the listener and
    // carries its cgroup; the client end was made after the move.
    assert_eq!(path_of(&listener, "0.0.0.0:*"), first.path);
    let client = ours
        .keys()
        .find(|(_, remote)| *remote == listener)
        .map(|(local, _)| local.clone())
        .expect("the client end");
    assert_eq!(path_of(&listener, &client), first.path, "accepted end");
    assert_eq!(path_of(&client, &listener), second.path, "client end");
    // The owner is where the process is now.
    assert_eq!(
        doc["processes"][pid.to_string()]["cgroup"],
        second.path.as_str()
    );
    drop(holder);
}

#[test]
fn an_unknown_cgroup_path_is_a_usage_error() {
    let output = rnetstat()
        .args(["-tan", "cgroup /rnetstat-no-such-cgroup"])
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no cgroup at '/rnetstat-no-such-cgroup'"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ss, has_python3)),
    ignore = "needs root, ss and python3 (apt-get install iproute2 python3)"
)]
fn watch_labels_opens_and_closes_with_the_unit_and_selects_by_it() {
    let _one = one_at_a_time();
    let unit = format!("rnetstat-watch-{}.service", std::process::id());
    let cgroup = CgroupDir::create(&format!("/system.slice/{unit}"));
    let watcher = Background::start(
        &["--watch", "--json", "-t", "--interval", "0.2"]
            .map(String::from)
            .into_iter()
            .chain([format!("unit {unit}")])
            .collect::<Vec<_>>(),
    );
    std::thread::sleep(Duration::from_millis(500));
    // A connection outside the unit, which the filter leaves out, and one inside it.
    let outside = Python::run(
        &[],
        "import socket,sys\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         c=socket.create_connection(s.getsockname()); a,_=s.accept()\n\
         print(s.getsockname()[1], flush=True)\n\
         sys.stdin.read()\n",
    );
    let outside_port = u64::from(outside.numbers()[0]);
    let prefix = cgroup.prefix();
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let holder = Python::run(
        &prefix,
        "import socket,sys,time\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         c=socket.create_connection(s.getsockname()); a,_=s.accept()\n\
         time.sleep(0.6)\n\
         print(s.getsockname()[1], flush=True)\n\
         c.close(); a.close()\n\
         sys.stdin.read()\n",
    );
    let port = u64::from(holder.numbers()[0]);
    let (mut opened, mut closed, mut others) = (false, false, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(opened && closed) && Instant::now() < deadline {
        let Ok(line) = watcher.lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let event: Value = serde_json::from_str(&line).expect("NDJSON");
        if event["event"] == "process" {
            continue;
        }
        let socket = &event["socket"];
        let at = |p: u64| socket["local"]["port"] == p || socket["remote"]["port"] == p;
        if at(outside_port) || socket["context"]["unit"] != unit.as_str() {
            others.push(line.clone());
        }
        if at(port) {
            assert_eq!(socket["cgroup"], cgroup.path.as_str(), "{line}");
            opened |= event["event"] == "open";
            closed |= event["event"] == "close" && socket["state"] != "ESTABLISHED";
        }
    }
    drop(watcher);
    assert!(opened && closed, "opened {opened}, closed {closed}");
    assert!(others.is_empty(), "events outside the unit: {others:?}");
    drop((holder, outside));
}
