//! The agent: serves a [`RemotePeer`](portnet_conformance::remote::RemotePeer)'s requests on a real stack.
//!
//! One local task per socket; a connection's reads and writes run concurrently
//! (each in request order), as they would on the socket itself. A connection's
//! drop waits for its earlier writes, as closing a kernel socket keeps its send
//! buffer; an abort does not.

use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use core::future::pending;
use core::net::SocketAddr;
use core::pin::pin;
use std::collections::HashMap;
use std::io;

use portnet::future::{Either, join, select};
use portnet::{
    ReadExt, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocketExt, WriteExt,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use portnet_conformance::remote::wire::{MAX_DATA, Reply, Request, op, split_frame};

/// A stack the agent can serve every request on.
pub trait PeerStack: TcpConnect + TcpListen + UdpBind + 'static {}

impl<S: TcpConnect + TcpListen + UdpBind + 'static> PeerStack for S {}

type Out = UnboundedSender<Vec<u8>>;

fn send(out: &Out, reply: Reply<'_>) {
    // A closed channel means the link is gone; the reply has nowhere to go.
    let _ = out.send(reply.encode());
}

fn failed(out: &Out, op: u8, handle: u32, error: &impl portnet::Error) {
    send(
        out,
        Reply::Failed {
            op,
            handle,
            kind: error.kind(),
        },
    );
}

enum ConnCommand {
    Read(u32),
    Write(Vec<u8>),
    Close,
    Drop,
    Abort,
}

struct Accept {
    conn: u32,
    commands: UnboundedReceiver<ConnCommand>,
}

enum SocketCommand {
    SendTo(SocketAddr, Vec<u8>),
    RecvFrom,
}

/// Runs the agent on `stack` over a byte stream until the stream ends.
///
/// Must run inside a [`tokio::task::LocalSet`] (the stack's futures need not be
/// `Send`).
///
/// # Errors
///
/// The stream failed or carried something that is not a request.
///
/// # Cancel safety
///
/// Not cancel safe: dropping it drops every socket it serves.
pub async fn serve<S, R, W>(stack: &'static S, mut rx: R, mut tx: W) -> io::Result<()>
where
    S: PeerStack,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + 'static,
{
    let (out, mut replies) = unbounded_channel::<Vec<u8>>();
    let writer = tokio::task::spawn_local(async move {
        while let Some(frame) = replies.recv().await {
            tx.write_all(&frame).await?;
        }
        tx.flush().await
    });
    let mut dispatcher = Dispatcher {
        stack,
        out,
        conns: HashMap::new(),
        listeners: HashMap::new(),
        sockets: HashMap::new(),
        conn_tasks: HashMap::new(),
    };
    let mut pending_bytes: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let result = loop {
        let n = rx.read(&mut buf).await?;
        if n == 0 {
            break Ok(());
        }
        pending_bytes.extend_from_slice(&buf[..n]);
        let mut consumed = 0;
        let parsed = loop {
            match split_frame(&pending_bytes[consumed..]) {
                Ok(Some((body, rest))) => match Request::decode(body) {
                    Ok(request) => {
                        dispatcher.dispatch(request).await;
                        consumed = pending_bytes.len() - rest.len();
                    }
                    Err(e) => break Err(e),
                },
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = parsed {
            break Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
        }
        pending_bytes.drain(..consumed);
    };
    drop(dispatcher);
    writer.abort();
    result
}

struct Dispatcher<S: 'static> {
    stack: &'static S,
    out: Out,
    conns: HashMap<u32, UnboundedSender<ConnCommand>>,
    listeners: HashMap<u32, Task<Accept>>,
    sockets: HashMap<u32, Task<SocketCommand>>,
    conn_tasks: HashMap<u32, JoinHandle<()>>,
}

/// A socket's task and the channel of its commands. Dropping a listener or a
/// socket closes the channel and waits for the task: its port is free before the
/// next request is served, as a local drop frees it at once.
struct Task<C> {
    commands: UnboundedSender<C>,
    task: JoinHandle<()>,
}

impl<S: PeerStack> Dispatcher<S> {
    fn forward(&mut self, conn: u32, command: ConnCommand, failing_op: u8) {
        let delivered = self
            .conns
            .get(&conn)
            .is_some_and(|tx| tx.send(command).is_ok());
        if !delivered && matches!(failing_op, op::READ | op::WRITE | op::CLOSE) {
            send(
                &self.out,
                Reply::Failed {
                    op: failing_op,
                    handle: conn,
                    kind: portnet::ErrorKind::NotConnected,
                },
            );
        }
    }

    async fn dispatch(&mut self, request: Request<'_>) {
        let stack = self.stack;
        let out = self.out.clone();
        match request {
            Request::Connect { conn, remote } => {
                let (tx, mut commands) = unbounded_channel();
                self.conns.insert(conn, tx);
                let task = tokio::task::spawn_local(async move {
                    let connected = {
                        let connecting = pin!(stack.connect(remote));
                        // Before the reply, the only possible command is a drop.
                        let dropped = pin!(commands.recv());
                        match select(connecting, dropped).await {
                            Either::Left(result) => result,
                            Either::Right(_) => return,
                        }
                    };
                    match connected {
                        Ok(connection) => match (connection.local_addr(), connection.peer_addr()) {
                            (Ok(local), Ok(peer)) => {
                                send(&out, Reply::Connected { conn, local, peer });
                                serve_connection(conn, connection, commands, out).await;
                            }
                            (Err(e), _) | (_, Err(e)) => failed(&out, op::CONNECT, conn, &e),
                        },
                        Err(e) => failed(&out, op::CONNECT, conn, &e),
                    }
                });
                self.conn_tasks.insert(conn, task);
            }
            Request::Listen { listener, local } => {
                let (commands, accepts) = unbounded_channel();
                let task =
                    tokio::task::spawn_local(serve_listener(stack, listener, local, accepts, out));
                self.listeners.insert(listener, Task { commands, task });
            }
            Request::Accept { listener, conn } => {
                let (tx, commands) = unbounded_channel();
                self.conns.insert(conn, tx);
                let delivered = self
                    .listeners
                    .get(&listener)
                    .is_some_and(|l| l.commands.send(Accept { conn, commands }).is_ok());
                if !delivered {
                    self.conns.remove(&conn);
                    send(
                        &out,
                        Reply::Failed {
                            op: op::ACCEPT,
                            handle: listener,
                            kind: portnet::ErrorKind::NotConnected,
                        },
                    );
                }
            }
            Request::DropListener { listener } => {
                if let Some(Task { commands, task }) = self.listeners.remove(&listener) {
                    drop(commands);
                    let _ = task.await;
                }
            }
            Request::Read { conn, max } => self.forward(conn, ConnCommand::Read(max), op::READ),
            Request::Write { conn, data } => {
                self.forward(conn, ConnCommand::Write(data.to_vec()), op::WRITE);
            }
            Request::Close { conn } => self.forward(conn, ConnCommand::Close, op::CLOSE),
            Request::Abort { conn } => {
                self.forward(conn, ConnCommand::Abort, op::ABORT);
                self.conns.remove(&conn);
                // The reset is sent before the next request is served.
                if let Some(task) = self.conn_tasks.remove(&conn) {
                    let _ = task.await;
                }
            }
            Request::DropConn { conn } => {
                self.forward(conn, ConnCommand::Drop, op::DROP_CONN);
                self.conns.remove(&conn);
                // Not awaited: the drop waits for earlier writes, which may wait
                // for the other end to read.
                self.conn_tasks.remove(&conn);
            }
            Request::Bind { socket, local } => {
                let (tx, commands) = unbounded_channel();
                let task =
                    tokio::task::spawn_local(serve_socket(stack, socket, local, commands, out));
                self.sockets.insert(socket, Task { commands: tx, task });
            }
            Request::SendTo {
                socket,
                remote,
                data,
            } => {
                let command = SocketCommand::SendTo(remote, data.to_vec());
                let delivered = self
                    .sockets
                    .get(&socket)
                    .is_some_and(|s| s.commands.send(command).is_ok());
                if !delivered {
                    send(
                        &out,
                        Reply::Failed {
                            op: op::SEND_TO,
                            handle: socket,
                            kind: portnet::ErrorKind::NotConnected,
                        },
                    );
                }
            }
            Request::RecvFrom { socket, max: _ } => {
                if let Some(s) = self.sockets.get(&socket) {
                    let _ = s.commands.send(SocketCommand::RecvFrom);
                }
            }
            Request::DropSocket { socket } => {
                if let Some(Task { commands, task }) = self.sockets.remove(&socket) {
                    drop(commands);
                    let _ = task.await;
                }
            }
        }
    }
}

async fn serve_listener<S: PeerStack>(
    stack: &'static S,
    id: u32,
    local: SocketAddr,
    mut accepts: UnboundedReceiver<Accept>,
    out: Out,
) {
    let listener = match stack.listen(local).await {
        Ok(listener) => listener,
        Err(e) => return failed(&out, op::LISTEN, id, &e),
    };
    match listener.local_addr() {
        Ok(local) => send(
            &out,
            Reply::Listening {
                listener: id,
                local,
            },
        ),
        Err(e) => return failed(&out, op::LISTEN, id, &e),
    }
    while let Some(Accept { conn, commands }) = accepts.recv().await {
        let accepted = {
            let accepting = pin!(listener.accept());
            // One accept is asked at a time: the channel only closes meanwhile.
            let dropped = pin!(accepts.recv());
            match select(accepting, dropped).await {
                Either::Left(result) => result,
                Either::Right(_) => return,
            }
        };
        match accepted {
            Ok((connection, peer)) => match connection.local_addr() {
                Ok(local) => {
                    send(
                        &out,
                        Reply::Accepted {
                            listener: id,
                            conn,
                            local,
                            peer,
                        },
                    );
                    tokio::task::spawn_local(serve_connection(
                        conn,
                        connection,
                        commands,
                        out.clone(),
                    ));
                }
                Err(e) => failed(&out, op::ACCEPT, id, &e),
            },
            Err(e) => failed(&out, op::ACCEPT, id, &e),
        }
    }
}

async fn serve_connection<C: TcpStream>(
    id: u32,
    mut connection: C,
    mut commands: UnboundedReceiver<ConnCommand>,
    out: Out,
) {
    let (reads_tx, mut reads) = unbounded_channel::<u32>();
    let (writes_tx, mut writes) = unbounded_channel::<ConnCommand>();
    let abort = {
        let (mut reader, mut writer) = connection.split();
        let route = pin!(async {
            while let Some(command) = commands.recv().await {
                match command {
                    ConnCommand::Read(max) => {
                        let _ = reads_tx.send(max);
                    }
                    ConnCommand::Abort => return true,
                    other => {
                        let _ = writes_tx.send(other);
                    }
                }
            }
            // The link is gone: keep serving what was asked until the agent stops.
            pending::<bool>().await
        });
        let reading = pin!(async {
            while let Some(max) = reads.recv().await {
                let mut buf = vec![0u8; (max as usize).clamp(1, MAX_DATA)];
                match reader.read(&mut buf).await {
                    Ok(n) => send(
                        &out,
                        Reply::Data {
                            conn: id,
                            data: &buf[..n],
                        },
                    ),
                    Err(e) => failed(&out, op::READ, id, &e),
                }
            }
            pending::<bool>().await
        });
        let writing = pin!(async {
            while let Some(command) = writes.recv().await {
                match command {
                    ConnCommand::Write(data) => match writer.write_all(&data).await {
                        Ok(()) => send(
                            &out,
                            Reply::Wrote {
                                conn: id,
                                len: u32::try_from(data.len()).unwrap_or(u32::MAX),
                            },
                        ),
                        Err(e) => failed(&out, op::WRITE, id, &e),
                    },
                    ConnCommand::Close => match writer.close().await {
                        Ok(()) => send(&out, Reply::Closed { conn: id }),
                        Err(e) => failed(&out, op::CLOSE, id, &e),
                    },
                    ConnCommand::Drop => return false,
                    ConnCommand::Read(_) | ConnCommand::Abort => {}
                }
            }
            pending::<bool>().await
        });
        match select(route, select(reading, writing)).await {
            Either::Left(abort) | Either::Right(Either::Left(abort) | Either::Right(abort)) => {
                abort
            }
        }
    };
    if abort {
        connection.abort();
    }
}

async fn serve_socket<S: PeerStack>(
    stack: &'static S,
    id: u32,
    local: SocketAddr,
    mut commands: UnboundedReceiver<SocketCommand>,
    out: Out,
) {
    let socket = match stack.bind(local).await {
        Ok(socket) => socket,
        Err(e) => return failed(&out, op::BIND, id, &e),
    };
    match portnet::UdpSocket::local_addr(&socket) {
        Ok(local) => send(&out, Reply::Bound { socket: id, local }),
        Err(e) => return failed(&out, op::BIND, id, &e),
    }
    let (sends_tx, mut sends) = unbounded_channel::<(SocketAddr, Vec<u8>)>();
    let (recvs_tx, mut recvs) = unbounded_channel::<()>();
    let route = async move {
        while let Some(command) = commands.recv().await {
            match command {
                SocketCommand::SendTo(remote, data) => {
                    let _ = sends_tx.send((remote, data));
                }
                SocketCommand::RecvFrom => {
                    let _ = recvs_tx.send(());
                }
            }
        }
        // Dropped: the datagrams sent before the drop still go out.
        drop(sends_tx);
    };
    let sending = async {
        while let Some((remote, data)) = sends.recv().await {
            match socket.send_to(&data, remote).await {
                Ok(()) => send(&out, Reply::Sent { socket: id }),
                Err(e) => failed(&out, op::SEND_TO, id, &e),
            }
        }
    };
    let receiving = pin!(async {
        let mut buf: Box<[u8]> = vec![0u8; MAX_DATA].into_boxed_slice();
        while recvs.recv().await.is_some() {
            match socket.recv_from(&mut buf).await {
                Ok((len, from)) => send(
                    &out,
                    Reply::Received {
                        socket: id,
                        from,
                        len: u32::try_from(len).unwrap_or(u32::MAX),
                        data: &buf[..len.min(buf.len())],
                    },
                ),
                Err(e) => failed(&out, op::RECV_FROM, id, &e),
            }
        }
        pending::<()>().await;
    });
    // The socket goes when its handle is dropped (the channel closes) and what
    // was sent before has gone out.
    let _ = select(pin!(join(pin!(route), pin!(sending))), receiving).await;
}

/// Runs the agent for `stack` on a new current-thread tokio runtime, over a Unix
/// stream (a socket pair's end, or QEMU's serial port socket), until the stream
/// ends. For a thread of its own.
///
/// # Errors
///
/// As [`serve`], or the runtime could not start.
pub fn run_unix<S: PeerStack>(
    stack: &'static S,
    stream: std::os::unix::net::UnixStream,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        stream.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(stream)?;
        let (rx, tx) = stream.into_split();
        serve(stack, rx, tx).await
    })
}
