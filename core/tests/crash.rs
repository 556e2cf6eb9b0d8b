//! Crash safety: a writer process is SIGKILLed at a random point, a hundred times, on
//! one store (an SQLite file, or a PostgreSQL schema when the suite runs there).
//! After each kill: SQLite's `PRAGMA integrity_check` is `ok`; every key reads back
//! whole (its fields as written, never a mix); every write the writer acknowledged
//! (it prints the id after the call returns) is there; and the audit log matches the
//! keys: a `create` record for every key, a `delete` for every key gone, and each
//! key's version equal to 1 + its `update` and `refresh` records.
//!
//! The writer is this test binary again, running `crash_writer_child` with
//! `KEYSCOPE_CRASH_WRITER` set.
//!
//! On PostgreSQL a killed client's server session lives on for a moment: a `COMMIT`
//! the writer sent just before the kill may still land. Each check therefore waits
//! until the writer's sessions (found by their `application_name`) have ended, so it
//! reads the final state rather than one that changes under it.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyscope_core::{
    Argon2Params, AuditAction, KeyStore, KeyUpdate, ListQuery, NewKey, Options, StatusFilter,
};

const KILLS: usize = 100;
const GRANTS: [&str; 2] = ["deployments.networks:write", "reports:read"];
const NETWORKS: [&str; 1] = ["64.100.10.0/24"];

fn options() -> Options {
    Options {
        signing_keys: vec![("k1".into(), vec![7; 32])],
        argon2: Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        },
        revocation_staleness: 0.0,
        ..Options::default()
    }
}

fn open(location: &str, schema: Option<&str>) -> KeyStore {
    let mut o = options();
    o.store.schema = schema.map(str::to_owned);
    KeyStore::open(location, o).expect("open the store")
}

/// The writer: creates, updates, refreshes and deletes keys until killed, printing
/// `BEGIN <op> <id>` before a call on an existing key and `ACK <op> <id> <version>`
/// after any call returns.
#[test]
fn crash_writer_child() {
    let Ok(location) = std::env::var("KEYSCOPE_CRASH_WRITER") else {
        return;
    };
    let schema = std::env::var("KEYSCOPE_CRASH_SCHEMA").ok();
    let run = std::env::var("KEYSCOPE_CRASH_RUN").unwrap();
    let store = open(&location, schema.as_deref());
    let mut mine: Vec<String> = Vec::new();
    for i in 0u64.. {
        match i % 6 {
            0..=2 => {
                let (key, _) = store
                    .create_key(NewKey {
                        name: format!("key-{run}-{i}"),
                        description: Some(format!("written by run {run}, step {i}")),
                        grants: GRANTS.iter().map(|g| g.to_string()).collect(),
                        networks: NETWORKS.iter().map(|n| n.to_string()).collect(),
                        actor: Some("crash-writer".into()),
                        ..NewKey::default()
                    })
                    .unwrap();
                println!("ACK create {} {}", key.id, key.version);
                mine.push(key.id);
            }
            3 => {
                let id = &mine[(i as usize * 7) % mine.len()];
                println!("BEGIN update {id}");
                let key = store
                    .update_key(
                        id,
                        KeyUpdate {
                            description: Some(Some(format!("updated at step {i}"))),
                            actor: Some("crash-writer".into()),
                            ..KeyUpdate::default()
                        },
                    )
                    .unwrap();
                println!("ACK update {id} {}", key.version);
            }
            4 => {
                let id = &mine[(i as usize * 5) % mine.len()];
                println!("BEGIN refresh {id}");
                let (key, _) = store.refresh_key(id, 0, None, None).unwrap();
                println!("ACK refresh {id} {}", key.version);
            }
            _ => {
                let id = mine.remove((i as usize * 3) % mine.len());
                println!("BEGIN delete {id}");
                store
                    .delete_key(&id, Some("crash-writer".into()), None)
                    .unwrap();
                println!("ACK delete {id} 0");
            }
        }
    }
}

/// A small deterministic generator for the kill delays (the seed is printed).
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Default)]
struct Expected {
    /// Acknowledged creates, not deleted since (acknowledged or begun).
    live: HashSet<String>,
    /// Keys whose delete was begun but not acknowledged: either way is fine.
    maybe_deleted: HashSet<String>,
    /// Acknowledged deletes.
    deleted: HashSet<String>,
    /// The least version each key must have.
    min_version: HashMap<String, i64>,
}

impl Expected {
    fn read(&mut self, out: &str) -> usize {
        let mut acks = 0;
        // A line cut by the kill has no newline: it is ignored.
        let complete = match out.rfind('\n') {
            Some(i) => &out[..=i],
            None => "",
        };
        for line in complete.lines() {
            let w: Vec<&str> = line.split(' ').collect();
            match w.as_slice() {
                ["BEGIN", "delete", id] => {
                    self.live.remove(*id);
                    self.maybe_deleted.insert(id.to_string());
                }
                ["ACK", op, id, version] => {
                    acks += 1;
                    let v: i64 = version.parse().unwrap();
                    match *op {
                        "create" => {
                            self.live.insert(id.to_string());
                        }
                        "delete" => {
                            self.maybe_deleted.remove(*id);
                            self.deleted.insert(id.to_string());
                        }
                        _ => {}
                    }
                    let m = self.min_version.entry(id.to_string()).or_insert(0);
                    *m = (*m).max(v);
                }
                _ => {}
            }
        }
        acks
    }
}

fn all_keys(store: &KeyStore) -> Vec<keyscope_core::ApiKey> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_keys(&ListQuery {
                status: StatusFilter::All,
                limit: 1000,
                cursor,
                ..ListQuery::default()
            })
            .unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn audit(store: &KeyStore) -> Vec<keyscope_core::AuditRecord> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.audit_log(None, 1000, cursor.as_deref()).unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn check(db: &common::Db, expected: &Expected, round: usize) {
    let at = |what: String| format!("after kill {round}: {what}");
    if db.schema().is_none() {
        let c = rusqlite::Connection::open(db.location()).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok", "{}", at("integrity_check".into()));
    }
    let store = open(db.location(), db.schema());
    let keys = all_keys(&store);
    let by_id: HashMap<&str, &keyscope_core::ApiKey> =
        keys.iter().map(|k| (k.id.as_str(), k)).collect();
    // Whole keys: every field as the writer wrote it.
    for k in &keys {
        let mut grants: Vec<String> = k.grants.iter().map(|g| g.to_string()).collect();
        grants.sort();
        assert_eq!(grants, GRANTS, "{}", at(format!("grants of {}", k.id)));
        let networks: Vec<String> = k.networks.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            networks,
            NETWORKS,
            "{}",
            at(format!("networks of {}", k.id))
        );
        assert!(
            k.name.starts_with("key-"),
            "{}",
            at(format!("name {:?}", k.name))
        );
        let d = k.description.as_deref().unwrap_or("");
        assert!(
            d.starts_with("written by run") || d.starts_with("updated at step"),
            "{}",
            at(format!("description {d:?}"))
        );
        assert_eq!(store.get_key(&k.id, None).unwrap().version, k.version);
    }
    // Every acknowledged write.
    for id in &expected.live {
        let k = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{}", at(format!("acknowledged key {id} is missing"))));
        assert!(
            k.version >= expected.min_version[id],
            "{}",
            at(format!(
                "{id} is at version {}, acknowledged {}",
                k.version, expected.min_version[id]
            ))
        );
    }
    for id in &expected.deleted {
        assert!(
            !by_id.contains_key(id.as_str()),
            "{}",
            at(format!("deleted {id} is back"))
        );
    }
    // The audit log matches the keys.
    let log = audit(&store);
    let mut created: HashSet<&str> = HashSet::new();
    let mut gone: HashSet<&str> = HashSet::new();
    let mut changes: HashMap<&str, i64> = HashMap::new();
    for r in &log {
        match r.action {
            AuditAction::Create => {
                assert!(created.insert(&r.key_id), "{}", at("two creates".into()))
            }
            AuditAction::Delete => assert!(gone.insert(&r.key_id), "{}", at("two deletes".into())),
            AuditAction::Update | AuditAction::Refresh => {
                *changes.entry(&r.key_id).or_default() += 1
            }
            AuditAction::SigningKeyRotated | AuditAction::SigningKeyRetired => {}
        }
    }
    for k in &keys {
        assert!(
            created.contains(k.id.as_str()),
            "{}",
            at(format!("{} has no create record", k.id))
        );
        assert!(
            !gone.contains(k.id.as_str()),
            "{}",
            at(format!("{} has a delete record", k.id))
        );
        assert_eq!(
            k.version,
            1 + changes.get(k.id.as_str()).copied().unwrap_or(0),
            "{}",
            at(format!("{}: version and audit records disagree", k.id))
        );
    }
    for id in &created {
        assert!(
            by_id.contains_key(id) || gone.contains(id),
            "{}",
            at(format!(
                "{id} was created, is gone, and has no delete record"
            ))
        );
    }
    for id in &expected.deleted {
        assert!(
            gone.contains(id.as_str()),
            "{}",
            at(format!("acknowledged delete of {id} not audited"))
        );
    }
    store.close();
}

/// The name the writer's PostgreSQL sessions report, one per store.
fn writer_application_name(schema: &str) -> String {
    format!("crash-writer-{schema}")
}

/// Where the writer opens the store: on PostgreSQL, the URL with the writer's
/// `application_name`.
fn writer_location(db: &common::Db) -> String {
    match db.schema() {
        None => db.location().to_owned(),
        Some(schema) => {
            let sep = if db.location().contains('?') {
                '&'
            } else {
                '?'
            };
            format!(
                "{}{sep}application_name={}",
                db.location(),
                writer_application_name(schema)
            )
        }
    }
}

/// Waits until the server has ended every session of the killed writer (it notices
/// the closed socket on its next read), so a commit in flight at the kill has landed
/// or rolled back before the check reads. Returns whether any session was still open.
fn wait_for_writer_sessions(db: &common::Db, round: usize) -> bool {
    let Some(schema) = db.schema() else {
        return false;
    };
    let name = writer_application_name(schema);
    let mut client = common::admin_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    for polls in 0.. {
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        if left == 0 {
            return polls > 0;
        }
        assert!(
            Instant::now() < deadline,
            "after kill {round}: {left} session(s) of the killed writer still open after 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    unreachable!()
}

#[test]
fn a_writer_killed_at_random_points_loses_nothing_acknowledged() {
    if std::env::var("KEYSCOPE_CRASH_WRITER").is_ok() {
        return;
    }
    let db = common::Db::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("crash test seed {seed}");
    let mut rng = XorShift(seed);
    let exe = std::env::current_exe().unwrap();
    // The first run creates the schema, so kills do not all land in opening.
    let mut expected = Expected::default();
    drop(open(db.location(), db.schema()));
    let (mut acks, mut lingered, start) = (0, 0, Instant::now());
    for round in 0..KILLS {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KEYSCOPE_CRASH_WRITER", writer_location(&db))
        .env("KEYSCOPE_CRASH_RUN", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if let Some(s) = db.schema() {
            cmd.env("KEYSCOPE_CRASH_SCHEMA", s);
        }
        let mut child = cmd.spawn().unwrap();
        // The writer's output, read as it comes, so the kill can wait for its start.
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut out = Vec::new();
        // One round in ten is killed at a random point of its start (while opening);
        // the others once the writer has acknowledged a first write, then at a random
        // point among its writes. Waiting for the start keeps the test independent of
        // how long a process takes to start on a loaded machine.
        if round % 10 != 0 {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !out.windows(4).any(|w| w == b"ACK ") && Instant::now() < deadline {
                if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
                    out.extend(chunk);
                }
            }
        }
        std::thread::sleep(Duration::from_micros(2_000 + rng.next() % 60_000));
        child.kill().unwrap(); // SIGKILL
        reader.join().unwrap();
        out.extend(rx.try_iter().flatten());
        let out = String::from_utf8(out).unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer stopped by itself: {out}");
        acks += expected.read(&out);
        lingered += usize::from(wait_for_writer_sessions(&db, round));
        check(&db, &expected, round);
    }
    println!(
        "{KILLS} kills, {acks} acknowledged writes, {} keys live, \
         {lingered} checks waited for the writer's server sessions, in {:.1?}",
        expected.live.len(),
        start.elapsed()
    );
    assert!(
        acks > KILLS,
        "the writer barely wrote: {acks} acknowledged writes"
    );
}
