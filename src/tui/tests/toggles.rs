//! TCPView's view: the keys that hide and show listeners, TCP, UDP and a family, and the
//! header that says "N shown of M" whenever anything is hidden.

use super::*;

/// The three TCP sockets, a UDP one and an IPv6 listener.
fn five_sockets() -> Vec<Socket> {
    let mut sockets = three_sockets();
    sockets.push(socket(
        Proto::Udp,
        "0.0.0.0:53",
        None,
        SocketState::Unconn,
        Some(40),
        &[200],
    ));
    sockets.push(listener("[::1]:5432", 41, &[200]));
    sockets
}

fn totals(app: &App) -> String {
    screen(app)[1].clone()
}

#[test]
fn view_keys_hide_and_show_and_the_header_counts_what_is_shown() {
    let mut app = new_app();
    feed(&mut app, five_sockets());
    assert_eq!(shown(&app).len(), 5);
    assert!(totals(&app).starts_with("5 sockets"), "{}", totals(&app));

    press(&mut app, Key::Char('l'));
    // Listeners (TCP LISTEN, unconnected UDP) hidden: the connection alone.
    assert_eq!(locals(&app), ["127.0.0.1:8080(http-alt)"]);
    assert!(
        totals(&app).starts_with("1 shown of 5 sockets"),
        "{}",
        totals(&app)
    );
    assert!(
        screen(&app)[2].contains("hiding listeners"),
        "{:?}",
        screen(&app)
    );
    press(&mut app, Key::Char('l'));
    assert_eq!(shown(&app).len(), 5);

    press(&mut app, Key::Char('t'));
    assert_eq!(locals(&app), ["0.0.0.0:53(domain)"]);
    press(&mut app, Key::Char('t'));
    press(&mut app, Key::Char('u'));
    assert_eq!(shown(&app).len(), 4);
    press(&mut app, Key::Char('u'));

    press(&mut app, Key::Char('f'));
    assert_eq!(shown(&app).len(), 4, "IPv4 only");
    press(&mut app, Key::Char('f'));
    assert_eq!(locals(&app), ["[::1]:5432(postgresql)"], "IPv6 only");
    press(&mut app, Key::Char('f'));
    assert_eq!(shown(&app).len(), 5);
    assert!(totals(&app).starts_with("5 sockets"), "{}", totals(&app));

    // A filter counts too, and hidden rows stay hidden across refreshes.
    press(&mut app, Key::Char('l'));
    feed(&mut app, five_sockets());
    assert_eq!(shown(&app).len(), 1);
}

#[test]
fn a_rate_column_with_nothing_to_show_gives_way_before_any_address_is_cut() {
    let mut app = new_app();
    // No rates known yet (a first snapshot): every Rx/s and Tx/s cell is `-`.
    feed(&mut app, three_sockets());
    let mut narrowest_with_rates = None;
    for width in (50..=160).rev() {
        let screen = screen_lines(&draw(&app, width, HEIGHT)).join("\n");
        let titles = screen
            .lines()
            .find(|l| l.trim_start().starts_with("Proto"))
            .unwrap_or_default()
            .to_string();
        let rows: Vec<&str> = screen.lines().filter(|l| l.contains(" tcp ")).collect();
        if titles.contains("Rx/s") {
            narrowest_with_rates = Some(width);
            assert!(
                rows.iter().all(|row| !row.contains('…')),
                "at {width} columns an empty rate column stays while a cell is cut:\n{screen}"
            );
        }
    }
    assert!(narrowest_with_rates.is_some(), "the rates never showed");
}
