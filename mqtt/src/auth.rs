//! MQTT 5.0 enhanced authentication: the AUTH exchange at CONNECT and
//! re-authentication, driven by an [`Authenticator`] the application provides.

/// One side of a challenge/response authentication method (SCRAM, Kerberos, a
/// token scheme, …), called by the driver as the broker's packets arrive.
///
/// The driver asks for data in two steps, a `&mut self` call that prepares it and
/// [`Authenticator::data`] that lends it, so that an implementation keeps its
/// buffers itself and nothing is allocated.
///
/// The flow, for [`Driver::run_with_auth`](crate::Driver::run_with_auth):
/// 1. [`start(false)`](Authenticator::start), then CONNECT carries
///    [`method`](Authenticator::method) and [`data`](Authenticator::data);
/// 2. for each AUTH "continue authentication" (0x18) from the broker,
///    [`respond`](Authenticator::respond) with its data, and the client answers
///    with an AUTH 0x18 carrying `data`;
/// 3. CONNACK success: [`finish`](Authenticator::finish) with its data (a server
///    signature, say); an error there ends the connection with
///    [`Error::Auth`](crate::Error::Auth). A failing CONNACK is
///    [`Error::Refused`](crate::Error::Refused) with the broker's reason code.
///
/// Re-authentication ([`Client::reauthenticate`](crate::Client::reauthenticate))
/// runs the same with [`start(true)`](Authenticator::start), an AUTH 0x19 instead
/// of CONNECT, and an AUTH success (0x00) instead of CONNACK.
pub trait Authenticator {
    /// The authentication method (property 0x15), the same for the whole exchange.
    fn method(&self) -> &str;

    /// Prepares the first data: for CONNECT, or (`reauth`) for the AUTH that
    /// starts a re-authentication.
    ///
    /// # Errors
    ///
    /// A message saying why authentication cannot start; the connection attempt
    /// (or the re-authentication) ends with [`Error::Auth`](crate::Error::Auth).
    fn start(&mut self, reauth: bool) -> Result<(), &'static str>;

    /// Prepares the answer to the broker's challenge `data`.
    ///
    /// # Errors
    ///
    /// The challenge is unacceptable; the connection ends with
    /// [`Error::Auth`](crate::Error::Auth).
    fn respond(&mut self, challenge: Option<&[u8]>) -> Result<(), &'static str>;

    /// The data the last `start` or `respond` prepared (`None`: no data property).
    fn data(&self) -> Option<&[u8]>;

    /// The broker accepted; `data` is what its CONNACK or AUTH success carried.
    ///
    /// # Errors
    ///
    /// The broker's proof does not verify; the connection ends with
    /// [`Error::Auth`](crate::Error::Auth).
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), &'static str> {
        let _ = data;
        Ok(())
    }
}

/// Where a re-authentication the application asked for stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReAuth {
    Idle,
    /// Asked for; the driver sends AUTH 0x19.
    Requested,
    /// AUTH 0x19 sent; waiting for the broker's AUTH success.
    Sent,
    /// Finished with this result; the waiting future picks it up.
    Done(Result<(), crate::Error>),
}
