//! [`FlakyDatabase`]: a TCP proxy in front of the server `MONGO_URL` names, so a test can take the
//! database away, make it hang or slow, bring it back, read the commands the service sends (OP_MSG
//! bodies, decoded), and answer a command itself with a reply of its choosing.

use std::sync::{Arc, Mutex};

use mongodb::bson::Document;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::helpers::mongo_url;

/// OP_MSG, the opcode of every command a current driver sends.
const OP_MSG: i32 = 2013;

/// What [`FlakyDatabase`] does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Forward it to the real server.
    Up,
    /// Close it at once (the database is unreachable).
    Down,
    /// Keep it waiting until the link is set to `Up` or `Down` (a database that hangs).
    Held,
    /// Connections stay open but nothing passes either way until the link is set to `Up` or
    /// `Down` (a frozen server process); new connections wait as with `Held`.
    Frozen,
    /// As `Up`, but every reply of the server is held back this long (a slow server or network).
    Slow(std::time::Duration),
}

/// A reply the proxy sends instead of the server's.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This document as the reply's body (e.g. `{ok: 0, code: 2, errmsg: …}`).
    Document(Document),
    /// These bytes as the reply's body section: not BSON, an unreadable reply.
    Garbage(Vec<u8>),
}

/// A command the proxy answers itself: the first with this name (the body's first key) whose
/// value is this collection.
#[derive(Debug, Clone)]
struct Injection {
    command: String,
    collection: String,
    answer: Answer,
}

#[derive(Default)]
struct Wire {
    commands: Vec<Document>,
    injections: Vec<Injection>,
}

pub struct FlakyDatabase {
    /// A MongoDB URL for `database` through the proxy (a direct connection).
    pub url: String,
    link: tokio::sync::watch::Sender<Link>,
    wire: Arc<Mutex<Wire>>,
}

impl FlakyDatabase {
    pub async fn start(link: Link, database: &str) -> Self {
        let url = mongo_url();
        let rest = url
            .strip_prefix("mongodb://")
            .expect("a mongodb:// MONGO_URL for this test");
        let (credentials, rest) = match rest.find('@') {
            Some(at) => rest.split_at(at + 1),
            None => ("", rest),
        };
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (target, tail) = rest.split_at(host_end);
        assert!(
            !target.contains(','),
            "this test needs a single-host MONGO_URL"
        );
        let options = tail
            .split_once('?')
            .map(|(_, o)| format!("&{o}"))
            .unwrap_or_default();
        let target = target.to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let (sender, receiver) = tokio::sync::watch::channel(link);
        let wire = Arc::new(Mutex::new(Wire::default()));
        let shared = wire.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let target = target.clone();
                let mut receiver = receiver.clone();
                let wire = shared.clone();
                tokio::spawn(async move {
                    if !passes(&mut receiver).await {
                        return;
                    }
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    let to_client = Arc::new(tokio::sync::Mutex::new(in_write));
                    // Either direction ending (or the link going down) closes both.
                    tokio::select! {
                        _ = requests(in_read, out_write, to_client.clone(), receiver.clone(), wire) => {}
                        _ = replies(out_read, to_client, receiver) => {}
                    }
                });
            }
        });
        FlakyDatabase {
            url: format!(
                "mongodb://{credentials}127.0.0.1:{port}/{database}?directConnection=true{options}"
            ),
            link: sender,
            wire,
        }
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    /// Every command body sent so far, in order.
    pub fn commands(&self) -> Vec<Document> {
        self.wire.lock().unwrap().commands.clone()
    }

    /// The commands named `command` (e.g. "find") on `collection`, in order.
    pub fn commands_on(&self, command: &str, collection: &str) -> Vec<Document> {
        self.commands()
            .into_iter()
            .filter(|c| is_command(c, command, collection))
            .collect()
    }

    /// Forgets the commands seen so far.
    pub fn clear_commands(&self) {
        self.wire.lock().unwrap().commands.clear();
    }

    /// The next `command` on `collection` is answered with `answer` instead of reaching the server.
    pub fn answer_next(&self, command: &str, collection: &str, answer: Answer) {
        self.wire.lock().unwrap().injections.push(Injection {
            command: command.to_owned(),
            collection: collection.to_owned(),
            answer,
        });
    }
}

fn is_command(body: &Document, command: &str, collection: &str) -> bool {
    body.keys().next().map(String::as_str) == Some(command)
        && body.get_str(command) == Ok(collection)
}

/// Waits while the link holds traffic; false once it is down.
async fn passes(link: &mut tokio::sync::watch::Receiver<Link>) -> bool {
    match link
        .wait_for(|l| !matches!(l, Link::Held | Link::Frozen))
        .await
    {
        Ok(l) => matches!(*l, Link::Up | Link::Slow(_)),
        Err(_) => false,
    }
}

/// Reads the next chunk of `from`, unless the link goes down first.
async fn read_some(
    from: &mut OwnedReadHalf,
    buf: &mut [u8],
    link: &mut tokio::sync::watch::Receiver<Link>,
) -> Option<usize> {
    let read = tokio::select! {
        read = from.read(buf) => read,
        _ = link.wait_for(|l| *l == Link::Down) => return None,
    };
    match read {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

/// The client's messages, whole: each is recorded (an OP_MSG's body), then forwarded to the
/// server or, when an injection matches it, answered by the proxy.
async fn requests(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    client: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    mut link: tokio::sync::watch::Receiver<Link>,
    wire: Arc<Mutex<Wire>>,
) {
    let mut buf = vec![0; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let Some(n) = read_some(&mut from, &mut buf, &mut link).await else {
            return;
        };
        if !passes(&mut link).await {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 4 {
            let len = i32::from_le_bytes(pending[..4].try_into().unwrap()) as usize;
            if pending.len() < len {
                break;
            }
            let message: Vec<u8> = pending.drain(..len).collect();
            let answer = inspect(&message, &wire);
            let written = match answer {
                Some(reply) => client.lock().await.write_all(&reply).await,
                None => to.write_all(&message).await,
            };
            if written.is_err() {
                return;
            }
        }
    }
}

/// Records an OP_MSG's body; the reply to send instead of forwarding it, if one is injected.
fn inspect(message: &[u8], wire: &Mutex<Wire>) -> Option<Vec<u8>> {
    let int = |at: usize| i32::from_le_bytes(message.get(at..at + 4)?.try_into().ok()?).into();
    let request_id: Option<i32> = int(4);
    if int(12) != Some(OP_MSG) || message.get(20) != Some(&0) {
        return None;
    }
    let body = Document::from_reader(message.get(21..)?).ok()?;
    let mut wire = wire.lock().unwrap();
    wire.commands.push(body.clone());
    let at = wire
        .injections
        .iter()
        .position(|i| is_command(&body, &i.command, &i.collection))?;
    let injection = wire.injections.remove(at);
    let section = match injection.answer {
        Answer::Document(doc) => {
            let mut bytes = Vec::new();
            doc.to_writer(&mut bytes).expect("a document serialises");
            bytes
        }
        Answer::Garbage(bytes) => bytes,
    };
    let mut reply = Vec::with_capacity(21 + section.len());
    reply.extend_from_slice(&((21 + section.len()) as i32).to_le_bytes());
    reply.extend_from_slice(&0x7fff_0000_i32.to_le_bytes());
    reply.extend_from_slice(&request_id?.to_le_bytes());
    reply.extend_from_slice(&OP_MSG.to_le_bytes());
    reply.extend_from_slice(&0_u32.to_le_bytes());
    reply.push(0);
    reply.extend_from_slice(&section);
    Some(reply)
}

/// The server's replies, held back while the link is frozen or slow, and stopped when it goes
/// down.
async fn replies(
    mut from: OwnedReadHalf,
    to: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    mut link: tokio::sync::watch::Receiver<Link>,
) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let Some(n) = read_some(&mut from, &mut buf, &mut link).await else {
            return;
        };
        let slow = match *link.borrow() {
            Link::Slow(delay) => Some(delay),
            _ => None,
        };
        if let Some(delay) = slow {
            tokio::time::sleep(delay).await;
        }
        if !passes(&mut link).await || to.lock().await.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
