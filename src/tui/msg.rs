//! What the dashboard's [`App::update`](super::app::App::update) takes and asks for: a key or
//! another [`Msg`] in, an [`Effect`] for the loop to carry out.

use std::time::Duration;

use super::close::Connection;
use super::kill::ProcessStart;
use crate::model::Snapshot;

/// A key press, already stripped of terminal details (see `event.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Ctrl-C: quits from anywhere, even while typing a filter.
    Interrupt,
}

#[derive(Debug)]
pub enum Msg {
    Key(Key),
    /// Mouse wheel: move the selection by this many rows (negative: up).
    Scroll(i32),
    /// The terminal's new size.
    Resize {
        width: u16,
        height: u16,
    },
    /// A fresh collection from the collector thread.
    Snapshot(Box<Snapshot>),
    /// The collector could not take a snapshot this time; it tries again next interval.
    CollectFailed(String),
    /// How often the collector refreshes now: on a big machine it waits longer than the
    /// interval asked for (see `pause_after`).
    Cadence(Duration),
    /// What came of an [`Effect::Kill`].
    Killed {
        pid: u32,
        result: Result<(), String>,
    },
    /// What came of an [`Effect::Close`].
    Closed {
        connection: Connection,
        result: Result<(), String>,
    },
    /// What came of an [`Effect::ReadStartTimes`]: the start of each owner in the kill dialog,
    /// in its order (`None`: exited or unreadable).
    StartTimes(Vec<Option<ProcessStart>>),
    /// Text pasted into the terminal: never keystrokes, only ever filter text.
    Paste(String),
    /// A signal (SIGTERM, SIGHUP) or a lost terminal: leave now.
    Terminate,
}

/// Work with side effects, carried out by the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Send SIGTERM to this process if it still holds the socket `inode` and is still the
    /// process that `started` then (not one that reused the pid); the loop answers with
    /// [`Msg::Killed`].
    Kill {
        pid: u32,
        inode: Option<u64>,
        started: Option<ProcessStart>,
    },
    /// Ask the kernel to destroy this TCP connection if a socket with its ends and its cookie
    /// is still there (as `ss -K`); the loop answers with [`Msg::Closed`].
    Close(Connection),
    /// The kill dialog opened: record when each of its owners started (the loop answers with
    /// [`Msg::StartTimes`]), so `y` can tell them from a process that reuses the pid later.
    ReadStartTimes,
}
