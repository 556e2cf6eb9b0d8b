//! The threads that call `KeyStore::handle_http`: a fixed number, fed from one bounded
//! queue. A thread that finishes a call takes the next queued one without sleeping, so
//! under load a request costs no wake-up on the way in; when the queue already holds
//! its limit, `submit` refuses (the caller answers 503).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    jobs: VecDeque<Job>,
    idle: usize,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    max_waiting: usize,
}

/// A fixed set of worker threads.
pub struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// `threads` workers named `name`; at most `max_waiting` calls wait for one.
    pub fn new(name: &str, threads: usize, max_waiting: usize) -> std::io::Result<Pool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::with_capacity(max_waiting),
                idle: 0,
            }),
            ready: Condvar::new(),
            max_waiting,
        });
        for i in 0..threads.max(1) {
            let s = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || work(&s))?;
        }
        Ok(Pool { shared })
    }

    /// Queues `job`; `false` (and `job` dropped) when the queue is full.
    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> bool {
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        // Jobs an idle thread is about to take are not waiting.
        if (st.jobs.len() + 1).saturating_sub(st.idle) > self.shared.max_waiting {
            return false;
        }
        st.jobs.push_back(Box::new(job));
        let wake = st.idle > 0;
        drop(st);
        if wake {
            self.shared.ready.notify_one();
        }
        true
    }
}

fn work(s: &Shared) {
    let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            // A panic ends this call only (its answer's sender is dropped: 500).
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            st = s.state.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        st.idle += 1;
        st = s.ready.wait(st).unwrap_or_else(|p| p.into_inner());
        st.idle -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn an_idle_thread_takes_a_job_even_with_no_queue() {
        let pool = Pool::new("t0", 1, 0).unwrap();
        std::thread::sleep(Duration::from_millis(50)); // the thread is idle
        let (tx, rx) = channel();
        assert!(pool.submit(move || tx.send(1).unwrap()));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
    }

    #[test]
    fn runs_jobs_and_refuses_past_the_queue() {
        let pool = Pool::new("t", 1, 2).unwrap();
        let (gate_tx, gate_rx) = channel::<()>();
        let (done_tx, done_rx) = channel::<u32>();
        let gate = Mutex::new(gate_rx);
        let d = done_tx.clone();
        assert!(pool.submit(move || {
            gate.lock().unwrap().recv().unwrap();
            d.send(0).unwrap();
        }));
        std::thread::sleep(Duration::from_millis(50)); // the worker holds job 0
        for i in 1..=2 {
            let d = done_tx.clone();
            assert!(pool.submit(move || d.send(i).unwrap()));
        }
        assert!(!pool.submit(|| {}), "a third waiting job is refused");
        gate_tx.send(()).unwrap();
        let got: Vec<u32> = (0..3)
            .map(|_| done_rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert!(pool.submit(|| panic!("one call panics")));
        let d = done_tx.clone();
        assert!(pool.submit(move || d.send(9).unwrap()));
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(5)).unwrap(), 9);
    }
}
