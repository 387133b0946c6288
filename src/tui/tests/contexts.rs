//! What sockets run as: the Container column, grouping by container and unit (`g`), the
//! search, and the cgroup paths in the details.

use super::*;
use crate::model::{Cgroup, Context};

const ID: &str = "2f1e6b6a1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";

/// The three sockets, the nginx listener made in a podman container (cgroup 7) and the python3
/// one in a unit (cgroup 8); python3's connection has no cgroup known, so it takes its owner's:
/// python3 (pid 200) runs in another unit now.
fn snapshot_with_contexts() -> Snapshot {
    let mut sockets = three_sockets();
    sockets[0].cgroup = Some(7);
    sockets[1].cgroup = Some(8);
    let mut snapshot = snapshot(sockets);
    let mut container = Context::of_path(&format!("/machine.slice/libpod-{ID}.scope"));
    if let Some(Context::Container(c)) = &mut container {
        c.name = Some("web".into());
    }
    snapshot.cgroups = HashMap::from([
        (
            7,
            Cgroup {
                path: format!("/machine.slice/libpod-{ID}.scope"),
                context: container,
            },
        ),
        (
            8,
            Cgroup {
                path: "/system.slice/demo.service".into(),
                context: Context::of_path("/system.slice/demo.service"),
            },
        ),
    ]);
    if let Some(python) = snapshot.processes.get_mut(&200) {
        python.cgroup = Some(Box::new(Cgroup {
            path: "/system.slice/other.service".into(),
            context: Context::of_path("/system.slice/other.service"),
        }));
    }
    snapshot
}

fn feed_contexts(app: &mut App) {
    let snapshot = snapshot_with_contexts();
    assert_eq!(app.update(Msg::Snapshot(Box::new(snapshot))), None);
}

#[test]
fn the_container_column_says_what_each_socket_runs_as_and_takes_no_room_when_none_does() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert!(!screen(&app).join("\n").contains("Container"));

    let mut app = new_app();
    feed_contexts(&mut app);
    let screen = screen(&app).join("\n");
    assert!(screen.contains("Container"), "{screen}");
    let row = |port: &str| {
        screen
            .lines()
            .find(|line| line.contains(port))
            .unwrap_or_else(|| panic!("no row for {port}: {screen}"))
            .to_string()
    };
    assert!(row("0.0.0.0:80").contains("podman:web"), "{screen}");
    assert!(
        row("8080(http-alt) *:*").contains("unit:demo.service"),
        "{screen}"
    );
    assert!(
        row("127.0.0.1:50000").contains("unit:other.service"),
        "{screen}"
    );
}

#[test]
fn g_groups_by_process_then_container_then_unit() {
    let mut app = new_app();
    feed_contexts(&mut app);
    let groups = |app: &App| -> Vec<(String, usize)> {
        let mut groups: Vec<_> = app
            .table
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.sockets))
            .collect();
        groups.sort();
        groups
    };
    press(&mut app, Key::Char('g'));
    assert_eq!(app.table.grouping, Grouping::Process);
    assert_eq!(groups(&app).len(), 2);
    press(&mut app, Key::Char('g'));
    assert_eq!(app.table.grouping, Grouping::Container);
    assert_eq!(
        groups(&app),
        [(String::new(), 2), ("podman:web".to_string(), 1)]
    );
    let text = screen(&app).join("\n");
    assert!(
        text.contains("by container") && text.contains("(no container)"),
        "{text}"
    );
    press(&mut app, Key::Char('g'));
    assert_eq!(app.table.grouping, Grouping::Unit);
    assert_eq!(
        groups(&app),
        [
            (String::new(), 1),
            ("unit:demo.service".to_string(), 1),
            ("unit:other.service".to_string(), 1)
        ]
    );
    let text = screen(&app).join("\n");
    assert!(
        text.contains("by unit") && text.contains("(no unit)"),
        "{text}"
    );
    // Expanding a container group shows its socket.
    let at = app
        .table
        .groups
        .iter()
        .position(|g| g.name == "unit:demo.service")
        .unwrap();
    while app.selected != at {
        press(&mut app, Key::Down);
    }
    press(&mut app, Key::Enter);
    assert_eq!(app.table.lines.len(), 4);
    press(&mut app, Key::Char('g'));
    assert_eq!(app.table.grouping, Grouping::None);
    assert_eq!(app.table.lines.len(), 3);
}

#[test]
fn the_search_finds_a_socket_by_what_it_runs_as() {
    let mut app = new_app();
    feed_contexts(&mut app);
    assert_eq!(shown_by(&mut app, "podman:web"), ["0.0.0.0:80(http)"]);
}

#[test]
fn details_show_the_cgroup_and_where_the_owner_is_now() {
    let mut app = new_app();
    feed_contexts(&mut app);
    let at = app
        .table
        .lines
        .iter()
        .position(|line| match line {
            Line::Socket(row) => app.table.rows[*row as usize].socket.cgroup == Some(8),
            Line::Group(_) => false,
        })
        .expect("the unit's socket");
    while app.selected != at {
        press(&mut app, Key::Down);
    }
    press(&mut app, Key::Enter);
    let text = screen_lines(&draw(&app, WIDTH, 30)).join("\n");
    for needle in [
        "unit:demo.service",
        "/system.slice/demo.service",
        "owner pid 200 is now in /system.slice/other.service",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn with_all_netns_a_netns_column_names_each_sockets_namespace() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert!(!screen(&app).join("\n").contains("Netns"));

    let mut app = new_app();
    let mut sockets = three_sockets();
    sockets[0].netns = Some(4026531833);
    sockets[1].netns = Some(4026532178);
    sockets[2].netns = Some(4026532178);
    let mut shot = snapshot(sockets);
    shot.namespaces = vec![
        crate::model::Namespace {
            inode: 4026531833,
            name: Some("host".into()),
            error: None,
        },
        crate::model::Namespace {
            inode: 4026532178,
            name: Some("blue".into()),
            error: None,
        },
    ];
    assert_eq!(app.update(Msg::Snapshot(Box::new(shot))), None);
    let text = screen(&app).join("\n");
    assert!(text.contains("Netns"), "{text}");
    let row = |port: &str| {
        text.lines()
            .find(|l| l.contains(port))
            .unwrap_or("")
            .to_string()
    };
    assert!(row("0.0.0.0:80").contains(" host "), "{text}");
    assert!(row("127.0.0.1:50000").contains(" blue "), "{text}");
}
