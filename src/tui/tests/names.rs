//! Host names in the dashboard: rows show the names a snapshot brings (the resolver's, in the
//! background), `n` switches to numbers and back.

use super::*;

fn feed_named(app: &mut App) {
    let mut snapshot = snapshot(three_sockets());
    snapshot.host_names = HashMap::from([("127.0.0.1".parse().unwrap(), "localhost".to_string())]);
    assert_eq!(app.update(Msg::Snapshot(Box::new(snapshot))), None);
}

#[test]
fn rows_show_host_names_and_n_switches_to_numbers_and_back() {
    let mut app = new_app();
    feed_named(&mut app);
    let text = screen(&app).join("\n");
    assert!(text.contains("localhost:8080(http-alt)"), "{text}");
    assert!(!text.contains("127.0.0.1:8080"), "{text}");
    press(&mut app, Key::Char('n'));
    let text = screen(&app).join("\n");
    assert!(text.contains("127.0.0.1:8080 "), "{text}");
    assert!(
        !text.contains("localhost") && text.contains("numeric"),
        "{text}"
    );
    // Names stay numbers across refreshes while numeric.
    feed_named(&mut app);
    assert!(!screen(&app).join("\n").contains("localhost"));
    press(&mut app, Key::Char('n'));
    assert!(screen(&app).join("\n").contains("localhost:8080(http-alt)"));
}

#[test]
fn a_name_that_arrives_later_renames_rows_already_shown() {
    let mut app = new_app();
    feed(&mut app, three_sockets());
    assert!(!screen(&app).join("\n").contains("localhost"));
    feed_named(&mut app);
    assert!(screen(&app).join("\n").contains("localhost:8080(http-alt)"));
}
