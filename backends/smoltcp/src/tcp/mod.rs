//! TCP: a fixed pool of sockets, connections, listeners with a backlog, and
//! split halves.
//!
//! Every socket of the pool sits in smoltcp's socket set for the stack's whole
//! life; a connection or listener claims one and gives it back. A dropped
//! connection finishes closing in the background (bounded by
//! [`Config::linger`](crate::Config::linger)) before its socket is reused; a
//! socket in TIME-WAIT is reused at once, as lwIP and Linux do under pressure.

mod listener;
mod pool;
mod quirks;
mod stream;

pub use listener::TcpListener;
pub(crate) use pool::TcpState;
pub use pool::{TcpPool, TcpSlot};
pub(crate) use pool::{after_egress, after_ingress, reclaim};
pub(crate) use quirks::{is_held_back, note_sent};
pub use stream::{TcpConnection, TcpReadHalf, TcpWriteHalf};
