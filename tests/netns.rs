//! `-N NAME|PID|PATH`: another network namespace's sockets, as `ss -N` lists them, in a
//! namespace the test makes (and deletes, also when it fails).
#![cfg(target_os = "linux")]

mod common;

use common::holders::{Background, Netns, Python};
use common::{json_tuples, rnetstat, ss_tuples, ss_tuples_through};
use serde_json::Value;

/// A namespace with loopback up and a python3 holding, inside it, a TCP listener with one
/// connection to it and an IPv6 UDP socket; it prints its pid and the listener's port.
fn namespace_with_sockets(tag: &str) -> (Netns, Python, u32, u16) {
    let netns = Netns::create(format!("rnetstat-{tag}-{}", std::process::id()));
    netns.ip_in(&["link", "set", "lo", "up"]);
    let holder = Python::run(
        &netns.exec(),
        "import os,socket,sys\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         c=socket.create_connection(s.getsockname()); a,_=s.accept()\n\
         u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); u.bind(('::1',0))\n\
         print(os.getpid(), s.getsockname()[1], flush=True)\n\
         sys.stdin.read()\n",
    );
    let numbers = holder.numbers();
    let (pid, port) = (numbers[0], u16::try_from(numbers[1]).expect("a port"));
    (netns, holder, pid, port)
}

fn json(args: &[&str], procfs: bool) -> Value {
    let mut command = rnetstat();
    command.env_remove("RNETSTAT_COLLECTOR");
    if procfs {
        command.env("RNETSTAT_COLLECTOR", "procfs");
    }
    let output = command.args(args).output().expect("run rnetstat");
    assert!(
        output.status.success(),
        "rnetstat {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3, has_ss)),
    ignore = "needs root, ip, python3 and ss (apt-get install iproute2 python3)"
)]
fn one_namespace_by_name_pid_or_path_is_what_ss_sees_inside_it() {
    let (netns, _holder, pid, port) = namespace_with_sockets("N");
    let inside = ss_tuples_through(&netns.exec());
    assert_eq!(inside.len(), 4, "ss in the namespace: {inside:?}");
    let path = format!("/run/netns/{}", netns.name);
    let pid_text = pid.to_string();
    for given in [netns.name.as_str(), pid_text.as_str(), path.as_str()] {
        for procfs in [false, true] {
            let doc = json(&["--json", "-tuan", "-N", given], procfs);
            assert_eq!(
                json_tuples(&doc),
                inside,
                "-N {given} (procfs collector: {procfs})"
            );
        }
    }
    // Owners come from the one fd scan of the machine: the holder owns its sockets.
    let doc = json(&["--json", "-tlnp", "-N", &netns.name], false);
    let listener = doc["sockets"]
        .as_array()
        .expect("sockets")
        .iter()
        .find(|s| s["local"]["port"] == port)
        .expect("the listener");
    assert_eq!(
        listener["processes"],
        serde_json::json!([pid]),
        "{listener}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3, has_ss)),
    ignore = "needs root, ip, python3 and ss (apt-get install iproute2 python3)"
)]
fn without_n_the_namespace_rnetstat_runs_in_is_listed_alone() {
    let (_netns, _holder, _pid, port) = namespace_with_sockets("host");
    let listener = (
        "tcp".to_string(),
        format!("127.0.0.1 {port}"),
        "*".to_string(),
        "LISTEN".to_string(),
    );
    let filter = format!("sport = :{port}");
    let host = json_tuples(&json(&["--json", "-tln", &filter], false));
    // The namespace's listener is not here, unless this namespace has one on that port too.
    assert_eq!(
        host.contains(&listener),
        ss_tuples().contains(&listener),
        "{host:?}"
    );
}

#[test]
fn an_unknown_or_wrong_namespace_is_one_line_and_exit_1() {
    let output = rnetstat()
        .args(["-tan", "-N", "rnetstat-no-such-namespace"])
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "rnetstat: -N rnetstat-no-such-namespace: no such network namespace \
         (/run/netns/rnetstat-no-such-namespace)"
    );
    // A file that is not a namespace is refused by the kernel, and said so.
    let scratch = tempfile::NamedTempFile::new().expect("a scratch file");
    let path = scratch.path().to_str().expect("a UTF-8 path");
    let output = rnetstat()
        .args(["-tan", "-N", path])
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.ends_with(&format!(
            "rnetstat: -N {path}: entering {path}: not a network namespace\n"
        )),
        "{stderr}"
    );
}

/// `rnetstat --watch --json -t --interval 0.2 FLAGS`; once it has run `settle`, one connection
/// made and closed inside `netns`. Whether, within 10 s, an event `ours` (given the event and the
/// connection's listening port) opened it, and one closed it with the kernel's final state (a
/// close found by comparing refreshes is as last seen, ESTABLISHED); and the watch's stderr.
fn watch_one_connection(
    flags: &[&str],
    netns: &Netns,
    settle: std::time::Duration,
    ours: impl Fn(&Value, u64) -> bool,
) -> (bool, bool, String) {
    use std::time::{Duration, Instant};

    let mut args: Vec<String> = ["--watch", "--json", "-t", "--interval", "0.2"]
        .map(String::from)
        .to_vec();
    args.extend(flags.iter().map(|f| f.to_string()));
    let watcher = Background::start(&args);
    std::thread::sleep(settle);
    let holder = Python::run(
        &netns.exec(),
        "import socket,sys,time\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         c=socket.create_connection(s.getsockname()); a,_=s.accept()\n\
         time.sleep(0.6)\n\
         print(s.getsockname()[1], flush=True)\n\
         c.close(); a.close()\n\
         sys.stdin.read()\n",
    );
    let port = u64::from(holder.numbers()[0]);
    let (mut opened, mut closed) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(opened && closed) && Instant::now() < deadline {
        let Ok(line) = watcher.lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let event: Value = serde_json::from_str(&line).expect("NDJSON");
        let ours = ours(&event, port);
        opened |= ours && event["event"] == "open";
        closed |= ours && event["event"] == "close" && event["socket"]["state"] != "ESTABLISHED";
    }
    (opened, closed, watcher.stop())
}

/// Whether `event` is about a socket with `port` at either end.
fn at_port(event: &Value, port: u64) -> bool {
    event["socket"]["local"]["port"] == port || event["socket"]["remote"]["port"] == port
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3)),
    ignore = "needs root, ip and python3 (apt-get install iproute2 python3)"
)]
fn watch_hears_the_namespace_s_connections_and_its_kernel_close_notices() {
    let netns = Netns::create(format!("rnetstat-watch-{}", std::process::id()));
    netns.ip_in(&["link", "set", "lo", "up"]);
    let (opened, closed, stderr) = watch_one_connection(
        &["-N", &netns.name],
        &netns,
        std::time::Duration::from_millis(500),
        at_port,
    );
    assert!(
        opened && closed,
        "open {opened}, close told by the kernel {closed}; {stderr}"
    );
    // The close notices were heard in the namespace: no fallback to comparing refreshes.
    assert!(!stderr.contains("comparing refreshes"), "{stderr}");
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3, has_ss)),
    ignore = "needs root, ip, python3 and ss (apt-get install iproute2 python3)"
)]
fn all_namespaces_hold_each_namespace_s_sockets_labelled_with_it() {
    use std::os::unix::fs::MetadataExt;

    let (one, _one_holder, _, one_port) = namespace_with_sockets("all1");
    let (two, _two_holder, two_pid, _) = namespace_with_sockets("all2");
    let own_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let own_port = own_listener.local_addr().expect("address").port();
    let inode_of = |path: &str| std::fs::metadata(path).expect("a namespace file").ino();
    let own = inode_of("/proc/self/ns/net");
    let doc = json(&["--json", "--all-netns", "-tuanp"], false);
    let namespaces = doc["namespaces"].as_array().expect("namespaces");
    for netns in [&one, &two] {
        let inode = inode_of(&format!("/run/netns/{}", netns.name));
        assert!(
            namespaces
                .iter()
                .any(|n| n["inode"] == inode && n["name"] == netns.name.as_str()),
            "{} ({inode}) in {namespaces:?}",
            netns.name
        );
        // Each namespace's sockets, as ss inside it lists them, each labelled with it.
        let labelled: Vec<Value> = doc["sockets"]
            .as_array()
            .expect("sockets")
            .iter()
            .filter(|s| s["netns"] == inode)
            .cloned()
            .collect();
        let only = serde_json::json!({ "sockets": labelled });
        assert_eq!(
            json_tuples(&only),
            ss_tuples_through(&netns.exec()),
            "{}",
            netns.name
        );
    }
    // rnetstat's own namespace is listed too, its sockets labelled with it.
    let ours = doc["sockets"]
        .as_array()
        .expect("sockets")
        .iter()
        .find(|s| s["local"]["port"] == own_port && s["state"] == "LISTEN")
        .expect("the test's own listener");
    assert_eq!(ours["netns"], own, "{ours}");
    // Owners across namespaces come from the one fd scan.
    let two_inode = inode_of(&format!("/run/netns/{}", two.name));
    assert!(
        doc["sockets"]
            .as_array()
            .expect("sockets")
            .iter()
            .filter(|s| s["netns"] == two_inode)
            .all(|s| s["processes"] == serde_json::json!([two_pid])),
        "{doc}"
    );
    // The table names the namespace in its own column, one awk field.
    let output = rnetstat()
        .args(["--all-netns", "-tln", &format!("sport = :{one_port}")])
        .output()
        .expect("run rnetstat");
    let table = String::from_utf8_lossy(&output.stdout);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(header.contains(&"Netns"), "{table}");
    assert!(
        table
            .lines()
            .any(|row| row.contains(&format!("127.0.0.1:{one_port} "))
                && row.split_whitespace().any(|cell| cell == one.name)),
        "{table}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3)),
    ignore = "needs root, ip and python3 (apt-get install iproute2 python3)"
)]
fn watch_over_all_namespaces_labels_opens_and_the_kernel_s_closes() {
    use std::os::unix::fs::MetadataExt;

    let netns = Netns::create(format!("rnetstat-watchall-{}", std::process::id()));
    netns.ip_in(&["link", "set", "lo", "up"]);
    let inode = std::fs::metadata(format!("/run/netns/{}", netns.name))
        .expect("the namespace's file")
        .ino();
    let (opened, closed, stderr) = watch_one_connection(
        &["--all-netns"],
        &netns,
        std::time::Duration::from_millis(800),
        |event, port| at_port(event, port) && event["socket"]["netns"] == inode,
    );
    assert!(
        opened && closed,
        "open {opened}, close told by the kernel {closed}, in namespace {inode}; {stderr}"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3)),
    ignore = "needs root, ip and python3 (apt-get install iproute2 python3)"
)]
fn unix_sockets_of_every_namespace_are_labelled_with_it() {
    use std::os::unix::fs::MetadataExt;

    let netns = Netns::create(format!("rnetstat-unix-{}", std::process::id()));
    let inode = std::fs::metadata(format!("/run/netns/{}", netns.name))
        .expect("the namespace's file")
        .ino();
    // An abstract name belongs to the network namespace it is bound in.
    let name = format!("rnetstat-netns-test-{}", std::process::id());
    let _holder = Python::run(
        &netns.exec(),
        &format!(
            "import socket,sys\n\
             s=socket.socket(socket.AF_UNIX); s.bind('\\0{name}'); s.listen()\n\
             print(1, flush=True)\n\
             sys.stdin.read()\n"
        ),
    );
    let path = format!("@{name}");
    let named = |doc: &Value| -> Vec<Value> {
        doc["sockets"]
            .as_array()
            .expect("sockets")
            .iter()
            .filter(|s| s["local"]["path"] == path.as_str())
            .cloned()
            .collect()
    };
    let all = named(&json(&["--json", "-xl", "--all-netns"], false));
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["netns"], inode, "{all:?}");
    assert!(named(&json(&["--json", "-xl"], false)).is_empty());
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3, has_ss)),
    ignore = "needs root, ip, python3 and ss (apt-get install iproute2 python3)"
)]
fn the_netns_word_picks_namespaces_by_name_or_inode() {
    use std::os::unix::fs::MetadataExt;

    let (blue, _blue_holder, _, _) = namespace_with_sockets("blue");
    let (red, _red_holder, _, _) = namespace_with_sockets("red");
    let inode_of = |netns: &Netns| {
        std::fs::metadata(format!("/run/netns/{}", netns.name))
            .expect("the namespace's file")
            .ino()
    };
    // The word lists every namespace, then keeps the one named: blue's sockets, all of them.
    let doc = json(&["--json", "-tuan", "netns", &blue.name], false);
    let sockets = doc["sockets"].as_array().expect("sockets");
    assert!(
        sockets.iter().all(|s| s["netns"] == inode_of(&blue)),
        "{doc}"
    );
    assert_eq!(json_tuples(&doc), ss_tuples_through(&blue.exec()));
    // By inode, and two at once.
    let red_inode = inode_of(&red).to_string();
    let either = format!("netns {} or netns {red_inode}", blue.name);
    let doc = json(&["--json", "-tuan", &either], false);
    let mut both = ss_tuples_through(&blue.exec());
    both.extend(ss_tuples_through(&red.exec()));
    assert_eq!(json_tuples(&doc), both);
    // A name with no namespace is a usage error, as a user with no account is.
    let output = rnetstat()
        .args(["-tan", "netns", "rnetstat-no-such-namespace"])
        .output()
        .expect("run rnetstat");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "rnetstat: filter: no network namespace named 'rnetstat-no-such-namespace' \
         (a name under /run/netns, or host)\n"
    );
}

#[test]
#[cfg_attr(
    not(all(is_root, has_ip, has_python3, has_promtool)),
    ignore = "needs root, ip, python3 and promtool (apt-get install iproute2 python3 prometheus)"
)]
fn metrics_over_all_namespaces_name_each_listener_s_namespace() {
    use std::io::Write;
    use std::process::Stdio;

    let (netns, _holder, _, port) = namespace_with_sockets("metrics");
    let output = rnetstat()
        .args(["--metrics", "--all-netns"])
        .output()
        .expect("run rnetstat --metrics");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let label = format!("netns=\"{}\"", netns.name);
    let port_label = format!("port=\"{port}\"");
    for family in [
        "rnetstat_listener_info{",
        "rnetstat_listener_queue_length{",
        "rnetstat_listener_queue_max{",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(family) && l.contains(&port_label) && l.contains(&label)),
            "{family} {port_label} {label} in\n{text}"
        );
    }
    // Still a valid exposition.
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(&output.stdout)
        .expect("write");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}
