//! Terminal events to [`Msg`]s: a pure function, so key handling is tested without a terminal.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

use super::msg::{Key, Msg};

/// Rows one wheel notch moves the selection.
const WHEEL_ROWS: i32 = 3;

/// The message for `event`, or `None` for events the dashboard ignores (key releases, mouse
/// moves, focus changes).
pub fn to_msg(event: Event) -> Option<Msg> {
    match event {
        // Windows reports releases too; acting on them would run every key twice.
        Event::Key(key) if key.kind != KeyEventKind::Release => to_key(key).map(Msg::Key),
        Event::Mouse(mouse) => match mouse.kind {
            MouseEventKind::ScrollDown => Some(Msg::Scroll(WHEEL_ROWS)),
            MouseEventKind::ScrollUp => Some(Msg::Scroll(-WHEEL_ROWS)),
            _ => None,
        },
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        Event::Paste(text) => Some(Msg::Paste(text)),
        _ => None,
    }
}

fn to_key(key: KeyEvent) -> Option<Key> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c' | 'C') => Some(Key::Interrupt),
            _ => None,
        };
    }
    if key
        .modifiers
        .intersects(KeyModifiers::ALT | KeyModifiers::SUPER)
    {
        return None;
    }
    Some(match key.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEventState, MouseEvent};

    fn key(code: KeyCode, modifiers: KeyModifiers, kind: KeyEventKind) -> Event {
        Event::Key(KeyEvent {
            code,
            modifiers,
            kind,
            state: KeyEventState::NONE,
        })
    }

    fn press(code: KeyCode) -> Option<Key> {
        match to_msg(key(code, KeyModifiers::NONE, KeyEventKind::Press)) {
            Some(Msg::Key(key)) => Some(key),
            None => None,
            Some(other) => panic!("key message expected, got {other:?}"),
        }
    }

    fn mouse(kind: MouseEventKind) -> Option<Msg> {
        to_msg(Event::Mouse(MouseEvent {
            kind,
            column: 3,
            row: 4,
            modifiers: KeyModifiers::NONE,
        }))
    }

    #[test]
    fn keys_map_to_their_names() {
        assert_eq!(press(KeyCode::Char('q')), Some(Key::Char('q')));
        assert_eq!(press(KeyCode::Char('/')), Some(Key::Char('/')));
        assert_eq!(press(KeyCode::Enter), Some(Key::Enter));
        assert_eq!(press(KeyCode::Esc), Some(Key::Esc));
        assert_eq!(press(KeyCode::Backspace), Some(Key::Backspace));
        assert_eq!(press(KeyCode::PageDown), Some(Key::PageDown));
        assert_eq!(press(KeyCode::Home), Some(Key::Home));
        assert_eq!(press(KeyCode::Left), Some(Key::Left));
        assert_eq!(press(KeyCode::F(1)), None);
    }

    #[test]
    fn shifted_characters_are_plain_characters() {
        let event = key(KeyCode::Char('G'), KeyModifiers::SHIFT, KeyEventKind::Press);
        assert!(matches!(to_msg(event), Some(Msg::Key(Key::Char('G')))));
    }

    #[test]
    fn ctrl_c_interrupts_and_other_chords_are_ignored() {
        let ctrl = |c| key(KeyCode::Char(c), KeyModifiers::CONTROL, KeyEventKind::Press);
        assert!(matches!(to_msg(ctrl('c')), Some(Msg::Key(Key::Interrupt))));
        assert!(to_msg(ctrl('q')).is_none());
        let alt = key(KeyCode::Char('q'), KeyModifiers::ALT, KeyEventKind::Press);
        assert!(to_msg(alt).is_none());
    }

    #[test]
    fn releases_are_ignored_and_repeats_count() {
        let release = key(KeyCode::Down, KeyModifiers::NONE, KeyEventKind::Release);
        assert!(to_msg(release).is_none());
        let repeat = key(KeyCode::Down, KeyModifiers::NONE, KeyEventKind::Repeat);
        assert!(matches!(to_msg(repeat), Some(Msg::Key(Key::Down))));
    }

    #[test]
    fn wheel_scrolls_and_resize_reports_the_size() {
        assert!(matches!(
            mouse(MouseEventKind::ScrollDown),
            Some(Msg::Scroll(3))
        ));
        assert!(matches!(
            mouse(MouseEventKind::ScrollUp),
            Some(Msg::Scroll(-3))
        ));
        assert!(mouse(MouseEventKind::Moved).is_none());
        assert!(matches!(
            to_msg(Event::Resize(120, 30)),
            Some(Msg::Resize {
                width: 120,
                height: 30
            })
        ));
        assert!(to_msg(Event::FocusGained).is_none());
    }

    #[test]
    fn a_paste_is_one_message_not_keys() {
        assert!(matches!(
            to_msg(Event::Paste("/:80\rky".to_string())),
            Some(Msg::Paste(text)) if text == "/:80\rky"
        ));
    }
}
