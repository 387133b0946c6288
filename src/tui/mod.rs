//! `rnetstat --live`: the loop around [`app::App`]. A collector thread sends whole snapshots,
//! an input thread sends terminal events, a signal thread sends the signals that end or stop
//! the program; this thread only updates the app, carries out its effects, handles those
//! signals around the terminal and draws. A slow collection never holds up keys or drawing,
//! and the terminal is restored on quit, on error, on panic and on signals.

pub mod app;
mod close;
pub mod details;
pub mod event;
mod kill;
pub mod layout;
pub mod msg;
pub mod rows;
pub mod search;
pub mod table;
pub mod view;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use crate::error::Error;
use crate::filter::Query;
use crate::platform;
use crate::services::Services;
use app::App;
pub use app::LiveOptions;
use msg::{Effect, Msg};

/// Messages handled before the next frame is drawn, so a burst of keys costs one frame
/// but a flood cannot starve the screen.
const MESSAGES_PER_FRAME: usize = 256;

/// Held by the UI thread whenever it is not waiting for a message (it draws, or takes the
/// terminal back): a panicking thread takes it before it restores the terminal, so that no
/// frame lands on the shell's screen after that.
static TERMINAL_IN_USE: Mutex<()> = Mutex::new(());

/// The thread that runs the loop and alone draws.
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// A mutex's value, also after a thread panicked holding it (the value is still whole).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn terminal_in_use() -> MutexGuard<'static, ()> {
    lock(&TERMINAL_IN_USE)
}

/// What the loop receives: the app's messages, and signals, which only the thread that owns
/// the terminal may act on (it must not draw between restoring the terminal and dying).
enum Incoming {
    App(Msg),
    #[cfg(unix)]
    Signal(std::ffi::c_int),
}

pub fn run(query: &Query, options: &LiveOptions) -> Result<(), Error> {
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(Error::Run("--live needs a terminal".to_string()));
    }
    let mut query = query.clone();
    query.owners = true;
    // The Rx/s and Tx/s columns are deltas of tcp_info byte counters.
    query.tcp_info = true;
    // The command line's filter is the dashboard's starting `/` text (`options.filter`), which
    // the user may edit or clear: the collector must not drop the rows it would hide.
    query.filter = None;
    let mut app = App::new(Services::load(), query.clone(), options);

    let (sender, receiver) = mpsc::channel();
    #[cfg(unix)]
    watch_signals(sender.clone())
        .map_err(|e| Error::Run(format!("installing signal handlers: {e}")))?;

    let _ = UI_THREAD.set(thread::current().id());
    install_panic_hook();
    let _restore = RestoreOnDrop;
    let mut terminal =
        enter_terminal().map_err(|e| Error::Run(format!("setting up the terminal: {e}")))?;

    let shared = Arc::new(Shared::default());
    spawn_collector(query, options.interval, sender.clone(), Arc::clone(&shared))?;
    spawn_input(sender)?;

    let size = terminal
        .size()
        .map_err(|e| Error::Run(format!("reading the terminal size: {e}")))?;
    app.update(Msg::Resize {
        width: size.width,
        height: size.height,
    });
    event_loop(&mut app, &mut terminal, &receiver, &shared)
        .map_err(|e| Error::Run(format!("drawing the dashboard: {e}")))
}

fn event_loop(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    receiver: &Receiver<Incoming>,
    shared: &Shared,
) -> io::Result<()> {
    let mut next = None;
    loop {
        let in_use = terminal_in_use();
        for _ in 0..MESSAGES_PER_FRAME {
            let Some(incoming) = next.take() else { break };
            let go_on = match incoming {
                Incoming::App(msg) => {
                    if matches!(msg, Msg::Snapshot(_)) {
                        shared.snapshot_queued.store(false, Ordering::Release);
                        // What merging costs counts in the collector's pace (pause_after).
                        let started = Instant::now();
                        let go_on = dispatch(app, msg);
                        // The snapshot before is freed: give its pages back (a few ms).
                        platform::system::release_free_memory();
                        let micros = u64::try_from(started.elapsed().as_micros());
                        (shared.merge_micros).store(micros.unwrap_or(u64::MAX), Ordering::Relaxed);
                        go_on
                    } else {
                        dispatch(app, msg)
                    }
                }
                #[cfg(unix)]
                Incoming::Signal(signal) => on_signal(app, terminal, signal)?,
            };
            if !go_on {
                return Ok(());
            }
            next = receiver.try_recv().ok();
        }
        terminal.draw(|frame| view::render(app, frame))?;
        drop(in_use);
        let in_view = app.cookies_in_view();
        let mut shown = lock(&shared.in_view);
        if **shown != in_view {
            *shown = Arc::new(in_view);
        }
        drop(shown);
        if next.is_none() {
            // Every sender gone means the input and collector threads died: nothing more can happen.
            let Ok(incoming) = receiver.recv() else {
                return Ok(());
            };
            next = Some(incoming);
        }
    }
}

/// Act on a signal as a full-screen program should; false means quit. TERM, HUP and INT quit
/// normally. TSTP restores the terminal and stops; CONT (after TSTP, or after a STOP we could
/// not catch) takes the terminal back and redraws everything, as vim and htop do. Any other
/// signal we watch restores the terminal and then dies of it by its default action, so the
/// exit status says which signal it was.
#[cfg(unix)]
fn on_signal(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    signal: std::ffi::c_int,
) -> io::Result<bool> {
    use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP};
    use signal_hook::low_level::emulate_default_handler;
    match signal {
        SIGTERM | SIGHUP | SIGINT => Ok(dispatch(app, Msg::Terminate)),
        SIGTSTP => {
            restore_terminal();
            // Returns once the process is continued.
            emulate_default_handler(SIGTSTP)?;
            take_terminal_back(app, terminal)?;
            Ok(true)
        }
        SIGCONT => {
            take_terminal_back(app, terminal)?;
            Ok(true)
        }
        _ => {
            restore_terminal();
            emulate_default_handler(signal)?;
            // Still alive: the signal's default action is not to end the program.
            Ok(false)
        }
    }
}

/// After a stop: the terminal again, all of it repainted, at its size, which may have changed.
#[cfg(unix)]
fn take_terminal_back(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
) -> io::Result<()> {
    take_over_terminal()?;
    terminal.hide_cursor()?;
    // Not `Terminal::clear`: it asks for the cursor position, and the input thread would take
    // the answer. Forgetting the last frame makes the next draw repaint every cell.
    crossterm::execute!(
        io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )?;
    terminal.swap_buffers();
    let size = terminal.size()?;
    app.update(Msg::Resize {
        width: size.width,
        height: size.height,
    });
    Ok(())
}

/// Update the app and carry out what it asks for; false means quit.
fn dispatch(app: &mut App, msg: Msg) -> bool {
    match app.update(msg) {
        None => true,
        Some(Effect::Quit) => false,
        Some(Effect::Kill {
            pid,
            inode,
            started,
        }) => {
            let result = platform::terminate_holder(pid, inode, started);
            dispatch(app, Msg::Killed { pid, result })
        }
        Some(Effect::Close(connection)) => {
            let result = platform::close_connection(&app.query, &connection);
            dispatch(app, Msg::Closed { connection, result })
        }
        Some(Effect::ReadStartTimes) => {
            let owners = app
                .confirm
                .as_ref()
                .map_or(&[][..], |target| &target.owners);
            let starts = owners
                .iter()
                .map(|owner| platform::process_start(owner.pid))
                .collect();
            dispatch(app, Msg::StartTimes(starts))
        }
    }
}

/// What the UI thread and the collector thread share.
#[derive(Default)]
struct Shared {
    /// A snapshot waits in the channel: the collector does not take another.
    snapshot_queued: AtomicBool,
    /// How long merging the last snapshot into the rows took (it counts in the pace).
    merge_micros: AtomicU64,
    /// The sockets (by cookie) whose whole tcp_info the dashboard may show: the rows in view
    /// and a page either side, and the one detailed. The others' rates need only the byte
    /// counters, so the collector keeps only those of them.
    in_view: Mutex<Arc<HashSet<u64>>>,
}

/// The most of the time a refresh (collecting, then merging into the rows) takes, as a
/// fraction `1 / COLLECT_SHARE`.
const COLLECT_SHARE: u32 = 10;

/// How long the collector waits after a collection that `took`, when merging the last
/// snapshot into the rows took the app `merged`: the rest of `interval`, but long enough that
/// the two together take at most a tenth of the time. On a big machine (a dump of 200,000
/// sockets with tcp_info takes a third of a second) a refresh then costs a tenth of a core,
/// not a half, and the rows are refreshed less often instead (the header says how often).
pub(crate) fn pause_after(took: Duration, merged: Duration, interval: Duration) -> Duration {
    interval
        .max((took + merged) * COLLECT_SHARE)
        .saturating_sub(took)
}

/// Take a snapshot every `interval` (or, when collecting is slow, as [`pause_after`] says),
/// tell the app the cadence, and send the snapshot whole. At most one snapshot waits in the channel:
/// if the UI falls behind, the collector waits instead of piling them up.
fn spawn_collector(
    query: Query,
    interval: Duration,
    sender: Sender<Incoming>,
    shared: Arc<Shared>,
) -> Result<(), Error> {
    thread::Builder::new()
        .name("collector".to_string())
        .spawn(move || {
            // One collector for the whole session: it remembers owners between refreshes.
            let mut collector = platform::Collector::new(query);
            loop {
                let started = Instant::now();
                // Whole tcp_info only for the rows on screen (and a page either side).
                collector.keep_whole_tcp_info_of(Some(Arc::clone(&lock(&shared.in_view))));
                let msg = match collector.snapshot() {
                    Ok(snapshot) => {
                        shared.snapshot_queued.store(true, Ordering::Release);
                        Msg::Snapshot(Box::new(snapshot))
                    }
                    Err(e) => Msg::CollectFailed(e.to_string()),
                };
                if sender.send(Incoming::App(msg)).is_err() {
                    return;
                }
                // Debug builds only: lets tests/live.rs see how a panicking thread ends --live.
                #[cfg(debug_assertions)]
                if std::env::var_os("RNETSTAT_TEST_PANIC_IN_COLLECTOR").is_some() {
                    panic!("RNETSTAT_TEST_PANIC_IN_COLLECTOR is set");
                }
                let took = started.elapsed();
                let merged = Duration::from_micros(shared.merge_micros.load(Ordering::Relaxed));
                let pause = pause_after(took, merged, interval);
                // The header says how often the rows really are refreshed.
                if sender
                    .send(Incoming::App(Msg::Cadence(took + pause)))
                    .is_err()
                {
                    return;
                }
                thread::sleep(pause);
                while shared.snapshot_queued.load(Ordering::Acquire) {
                    thread::sleep(interval.min(Duration::from_millis(50)));
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Run(format!("starting the collector thread: {e}")))
}

fn spawn_input(sender: Sender<Incoming>) -> Result<(), Error> {
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
                if sender.send(Incoming::App(msg)).is_err() || terminate {
                    return;
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Run(format!("starting the input thread: {e}")))
}

/// Forward every signal that ends or stops the program (and CONT) to the loop. STOP cannot be
/// caught, and TTIN/TTOU keep their default: catching them would turn a background tcsetattr
/// into a loop; CONT then repaints.
#[cfg(unix)]
fn watch_signals(sender: Sender<Incoming>) -> io::Result<()> {
    use signal_hook::consts::{
        SIGALRM, SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2,
    };
    let mut signals = signal_hook::iterator::Signals::new([
        SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGCONT,
    ])?;
    thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            for signal in signals.forever() {
                if sender.send(Incoming::Signal(signal)).is_err() {
                    return;
                }
            }
        })
        .map(drop)
}

fn enter_terminal() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    take_over_terminal()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.hide_cursor()?;
    terminal.clear()?;
    Ok(terminal)
}

/// Raw mode, the alternate screen, mouse reports and bracketed paste: what `restore_terminal`
/// undoes. Also how the dashboard takes the terminal back after SIGTSTP/SIGCONT.
fn take_over_terminal() -> io::Result<()> {
    enable_raw_mode()?;
    crossterm::execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    // Legacy Windows consoles cannot bracket pastes; there a paste arrives as keys, as before.
    let _ = crossterm::execute!(io::stdout(), EnableBracketedPaste);
    Ok(())
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
/// shell is usable; then hand over to the previous hook, which ends the program.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Another thread waits for the frame being drawn and keeps the UI thread from drawing
        // the next; the UI thread itself cannot be drawing while it panics.
        let _in_use = (UI_THREAD.get() != Some(&thread::current().id())).then(terminal_in_use);
        restore_terminal();
        previous(info);
    }));
}
