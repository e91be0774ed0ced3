//! `Missing`: the stand-in for a capability a stack does not have.

use core::future::Future;
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{
    AddrFamily, Dns, ErrorKind, ErrorType, ListenOptions, Read, SocketOption, SocketOptionName,
    SocketOptions, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket, Write,
};

/// A capability the stack does not have. It has no values, so the suite never
/// calls it: the harness returns `None` for it and the cases that need it skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {}

impl ErrorType for Missing {
    type Error = ErrorKind;
}

impl Read for Missing {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        match *self {}
    }
}

impl Write for Missing {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        match *self {}
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        match *self {}
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        match *self {}
    }
}

impl SocketOptions for Missing {
    fn set_option(&self, _: SocketOption) -> Result<(), ErrorKind> {
        match *self {}
    }
    fn option(&self, _: SocketOptionName) -> Result<SocketOption, ErrorKind> {
        match *self {}
    }
}

impl TcpStream for Missing {
    type ReadHalf<'a> = Missing;
    type WriteHalf<'a> = Missing;
    fn split(&mut self) -> (Missing, Missing) {
        match *self {}
    }
    fn local_addr(&self) -> Result<SocketAddr, ErrorKind> {
        match *self {}
    }
    fn peer_addr(&self) -> Result<SocketAddr, ErrorKind> {
        match *self {}
    }
    fn abort(self) {
        match self {}
    }
}

impl TcpConnect for Missing {
    type Connection<'a> = Missing;
    fn connect(&self, _: SocketAddr) -> impl Future<Output = Result<Missing, ErrorKind>> {
        let never = *self;
        async move { match never {} }
    }
}

impl TcpListen for Missing {
    type Connection<'a> = Missing;
    type Listener<'a> = Missing;
    fn listen_with(
        &self,
        _: SocketAddr,
        _: ListenOptions,
    ) -> impl Future<Output = Result<Missing, ErrorKind>> {
        let never = *self;
        async move { match never {} }
    }
}

impl TcpListener for Missing {
    type Connection = Missing;
    fn accept(&self) -> impl Future<Output = Result<(Missing, SocketAddr), ErrorKind>> {
        let never = *self;
        async move { match never {} }
    }
    fn local_addr(&self) -> Result<SocketAddr, ErrorKind> {
        match *self {}
    }
}

impl UdpBind for Missing {
    type Socket<'a> = Missing;
    fn bind(&self, _: SocketAddr) -> impl Future<Output = Result<Missing, ErrorKind>> {
        let never = *self;
        async move { match never {} }
    }
}

impl UdpSocket for Missing {
    fn poll_send_to(
        &self,
        _: &mut Context<'_>,
        _: &[u8],
        _: SocketAddr,
    ) -> Poll<Result<(), ErrorKind>> {
        match *self {}
    }
    fn poll_recv_from(
        &self,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), ErrorKind>> {
        match *self {}
    }
    fn connect(&mut self, _: SocketAddr) -> Result<(), ErrorKind> {
        match *self {}
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        match *self {}
    }
    fn local_addr(&self) -> Result<SocketAddr, ErrorKind> {
        match *self {}
    }
}

impl Dns for Missing {
    fn resolve(
        &self,
        _: &str,
        _: AddrFamily,
    ) -> impl Future<Output = Result<core::net::IpAddr, ErrorKind>> {
        let never = *self;
        async move { match never {} }
    }
}
