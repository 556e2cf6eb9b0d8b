//! The request log: one line a request on stderr, written by a thread of its own so a
//! slow or blocked stderr never holds a request up (lines past a full queue are
//! dropped and counted in `keyscope_log_lines_dropped_total`).
//!
//! Lines are written in batches every 10 ms.
//!
//! A line holds the time, method, route pattern, status, duration and the client's
//! address, and nothing taken from the request otherwise: no path (a key id lives in
//! it), no query, header, body, secret or token.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::Duration;

use keyscope_core::Timestamp;

use crate::metrics::{Metrics, Route};

enum Msg {
    Line(String),
    /// Answered once everything before it is written.
    Flush(SyncSender<()>),
}

/// Sends log lines to the writer thread.
#[derive(Clone)]
pub struct Log {
    tx: SyncSender<Msg>,
    metrics: Arc<Metrics>,
}

impl Log {
    /// Starts the writer thread; it ends once every `Log` is dropped, after writing
    /// what was queued.
    pub fn start(metrics: Arc<Metrics>) -> Log {
        let (tx, rx) = sync_channel::<Msg>(16 * 1024);
        std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || write_lines(rx))
            .expect("cannot start the log thread");
        Log { tx, metrics }
    }

    /// Waits (up to a second) until every line sent so far is written.
    pub fn flush(&self) {
        let (tx, rx) = sync_channel(1);
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
    }

    /// A line of its own (start-up, shutdown, errors).
    pub fn event(&self, text: impl std::fmt::Display) {
        self.send(format!("{} {text}\n", Timestamp::now()));
    }

    /// The line of one request. `method` is only written when it is a token of
    /// letters (anything else is logged as `-`).
    pub fn request(
        &self,
        method: &str,
        route: Route,
        status: u16,
        elapsed: Duration,
        client: &str,
    ) {
        let method = if !method.is_empty()
            && method.len() <= 16
            && method.bytes().all(|b| b.is_ascii_alphabetic())
        {
            method
        } else {
            "-"
        };
        self.send(format!(
            "{} {method} {} {status} {:.3}ms client={client}\n",
            Timestamp::now(),
            route.pattern(),
            elapsed.as_secs_f64() * 1000.0,
        ));
    }

    fn send(&self, line: String) {
        match self.tx.try_send(Msg::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.log_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// Writes what is queued every few milliseconds rather than on each line: a sender
/// then never has to wake this thread (the queue holds 16 Ki lines, far more than
/// arrive in one period).
fn write_lines(rx: Receiver<Msg>) {
    let stderr = std::io::stderr();
    let mut buf = String::with_capacity(64 * 1024);
    let mut acks = Vec::new();
    loop {
        let mut disconnected = false;
        loop {
            match rx.try_recv() {
                Ok(Msg::Line(line)) => buf.push_str(&line),
                Ok(Msg::Flush(ack)) => acks.push(ack),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
            if buf.len() >= 60 * 1024 {
                let _ = stderr.lock().write_all(buf.as_bytes());
                buf.clear();
            }
        }
        if !buf.is_empty() {
            let _ = stderr.lock().write_all(buf.as_bytes());
            buf.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        if disconnected {
            return;
        }
        std::thread::sleep(PERIOD);
    }
}

/// How often queued lines are written.
const PERIOD: Duration = Duration::from_millis(10);
