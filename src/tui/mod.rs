//! `rnetstat --live`: the loop around [`app::App`]. A collector thread sends whole snapshots,
//! an input thread sends terminal events, a signal thread sends SIGTERM/SIGHUP; this thread
//! only updates the app, carries out its effects and draws. A slow collection never holds up
//! keys or drawing, and the terminal is restored on quit, on error, on panic and on signals.

pub mod app;
pub mod event;
mod kill;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::{self, IsTerminal, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::Error;
use crate::cli::LiveOptions;
use crate::filter::Query;
use crate::platform;
use crate::services::Services;
use app::{App, Effect, Msg};

/// Messages handled before the next frame is drawn, so a burst of keys costs one frame
/// but a flood cannot starve the screen.
const MESSAGES_PER_FRAME: usize = 256;

pub fn run(query: &Query, options: &LiveOptions) -> Result<(), Error> {
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(Error::Live("--live needs a terminal".to_string()));
    }
    let mut query = query.clone();
    query.owners = true;
    let mut app = App::new(Services::load(), query.clone(), options);

    let (sender, receiver) = mpsc::channel();
    #[cfg(unix)]
    watch_signals(sender.clone())
        .map_err(|e| Error::Live(format!("installing signal handlers: {e}")))?;

    install_panic_hook();
    let _restore = RestoreOnDrop;
    let mut terminal =
        enter_terminal().map_err(|e| Error::Live(format!("setting up the terminal: {e}")))?;

    let snapshot_queued = Arc::new(AtomicBool::new(false));
    spawn_collector(
        query,
        options.interval,
        sender.clone(),
        Arc::clone(&snapshot_queued),
    )?;
    spawn_input(sender)?;

    let size = terminal
        .size()
        .map_err(|e| Error::Live(format!("reading the terminal size: {e}")))?;
    app.update(Msg::Resize {
        width: size.width,
        height: size.height,
    });
    event_loop(&mut app, &mut terminal, &receiver, &snapshot_queued)
        .map_err(|e| Error::Live(format!("drawing the dashboard: {e}")))
}

fn event_loop(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    receiver: &Receiver<Msg>,
    snapshot_queued: &AtomicBool,
) -> io::Result<()> {
    loop {
        terminal.draw(|frame| view::render(app, frame))?;
        // Every sender gone means the input and collector threads died: nothing more can happen.
        let Ok(first) = receiver.recv() else {
            return Ok(());
        };
        let mut next = Some(first);
        for _ in 0..MESSAGES_PER_FRAME {
            let Some(msg) = next.take() else { break };
            if matches!(msg, Msg::Snapshot(_)) {
                snapshot_queued.store(false, Ordering::Release);
            }
            if !dispatch(app, msg) {
                return Ok(());
            }
            next = receiver.try_recv().ok();
        }
    }
}

/// Update the app and carry out what it asks for; false means quit.
fn dispatch(app: &mut App, msg: Msg) -> bool {
    match app.update(msg) {
        None => true,
        Some(Effect::Quit) => false,
        Some(Effect::Kill { pid, inode }) => {
            let result = kill::terminate_holder(pid, inode);
            dispatch(app, Msg::Killed { pid, result })
        }
    }
}

/// Take a snapshot every `interval` (or, when collecting is slower than that, after a pause as
/// long as the collection took) and send it whole. At most one snapshot waits in the channel:
/// if the UI falls behind, the collector waits instead of piling them up.
fn spawn_collector(
    query: Query,
    interval: Duration,
    sender: Sender<Msg>,
    snapshot_queued: Arc<AtomicBool>,
) -> Result<(), Error> {
    thread::Builder::new()
        .name("collector".to_string())
        .spawn(move || {
            // One collector for the whole session: it remembers owners between refreshes.
            let mut collector = platform::Collector::new(query);
            loop {
                let started = Instant::now();
                let msg = match collector.snapshot() {
                    Ok(snapshot) => {
                        snapshot_queued.store(true, Ordering::Release);
                        Msg::Snapshot(Box::new(snapshot))
                    }
                    Err(e) => Msg::CollectFailed(e.to_string()),
                };
                if sender.send(msg).is_err() {
                    return;
                }
                // Collect at most half the time: where one collection outlasts the interval
                // (100,000s of sockets), back-to-back collections would keep a core busy.
                let took = started.elapsed();
                thread::sleep(interval.saturating_sub(took).max(took));
                while snapshot_queued.load(Ordering::Acquire) {
                    thread::sleep(interval.min(Duration::from_millis(50)));
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Live(format!("starting the collector thread: {e}")))
}

fn spawn_input(sender: Sender<Msg>) -> Result<(), Error> {
    thread::Builder::new()
        .name("input".to_string())
        .spawn(move || {
            loop {
                let msg = match crossterm::event::read() {
                    Ok(event) => match event::to_msg(event) {
                        Some(msg) => msg,
                        None => continue,
                    },
                    // The terminal is gone (hangup): nothing can be shown or typed any more.
                    Err(_) => Msg::Terminate,
                };
                let terminate = matches!(msg, Msg::Terminate);
                if sender.send(msg).is_err() || terminate {
                    return;
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Live(format!("starting the input thread: {e}")))
}

#[cfg(unix)]
fn watch_signals(sender: Sender<Msg>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = sender.send(Msg::Terminate);
            }
        })
        .map(drop)
}

fn enter_terminal() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    enable_raw_mode()?;
    crossterm::execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    // Legacy Windows consoles cannot bracket pastes; there a paste arrives as keys, as before.
    let _ = crossterm::execute!(io::stdout(), EnableBracketedPaste);
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.hide_cursor()?;
    terminal.clear()?;
    Ok(terminal)
}

/// Put the terminal back as the shell left it. Safe to call more than once.
fn restore_terminal() {
    let _ = crossterm::execute!(
        io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}

/// Restores the terminal however `run` returns.
struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Restore the terminal before the panic message is printed, so it is readable and the
/// shell is usable; then hand over to the previous hook.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}
