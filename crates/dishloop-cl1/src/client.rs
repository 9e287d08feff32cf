//! Plain UDP clients for both protocols, as the public trainer programs talk to a CL1.

use crate::server::doom::DoomAddrs;
use crate::wire::WireError;
use crate::wire::doom::{DoomSpikes, DoomStim, EventPacket, Feedback, SPIKE_LEN as DOOM_SPIKE_LEN};
use crate::wire::video::{SPIKE_LEN, VideoSpikes, VideoStim};
use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

/// A client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Socket error.
    #[error("udp: {0}")]
    Io(#[from] std::io::Error),
    /// No reply within the timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The reply did not decode.
    #[error("bad reply: {0}")]
    Wire(#[from] WireError),
}

fn recv_with_timeout(
    sock: &UdpSocket,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<usize, ClientError> {
    sock.set_read_timeout(Some(timeout.max(Duration::from_micros(1))))?;
    match sock.recv_from(buf) {
        Ok((n, _)) => Ok(n),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(ClientError::Timeout(timeout))
        }
        Err(e) => Err(e.into()),
    }
}

/// diffusion-neuron's trainer side: sends 520-byte stims from the socket it receives replies on.
#[derive(Debug)]
pub struct VideoClient {
    sock: UdpSocket,
    server: SocketAddr,
    timeout: Duration,
}

impl VideoClient {
    /// Binds `local` (e.g. `"127.0.0.1:0"`) and talks to `server`, waiting `timeout` per reply
    /// (the trainer uses 5 s).
    pub fn bind(
        local: impl ToSocketAddrs,
        server: SocketAddr,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        Ok(Self {
            sock: UdpSocket::bind(local)?,
            server,
            timeout,
        })
    }

    /// The local address replies come back to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Sends one stim packet.
    pub fn send(&self, stim: &VideoStim) -> std::io::Result<()> {
        self.send_raw(&stim.encode())
    }

    /// Sends arbitrary bytes to the server (tests of bad input).
    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.send_to(bytes, self.server).map(|_| ())
    }

    /// Waits for one 264-byte reply.
    pub fn recv(&self) -> Result<VideoSpikes, ClientError> {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout(self.timeout));
            }
            let n = recv_with_timeout(&self.sock, &mut buf, left)?;
            // The trainer reads recvfrom(264); anything else is not a reply.
            if n == SPIKE_LEN {
                return Ok(VideoSpikes::decode(&buf[..n])?);
            }
        }
    }

    /// Sends a stim and waits for its reply; returns the reply and the round-trip time.
    pub fn exchange(&self, stim: &VideoStim) -> Result<(VideoSpikes, Duration), ClientError> {
        let t0 = Instant::now();
        self.send(stim)?;
        let r = self.recv()?;
        Ok((r, t0.elapsed()))
    }
}

/// doom-neuron's trainer side: sends stims, feedback and events to the CL1's three ports and
/// listens for 40-byte spike replies.
#[derive(Debug)]
pub struct DoomClient {
    send: UdpSocket,
    spikes: UdpSocket,
    addrs: DoomAddrs,
    timeout: Duration,
}

impl DoomClient {
    /// Listens for spikes on `listen` (the server's `training_host:spike_port`) and sends to
    /// `addrs`.
    pub fn bind(
        listen: impl ToSocketAddrs,
        addrs: DoomAddrs,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        let spikes = UdpSocket::bind(listen)?;
        let any: SocketAddr = if addrs.stim.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(Self {
            send: UdpSocket::bind(any)?,
            spikes,
            addrs,
            timeout,
        })
    }

    /// The address spikes are received on.
    pub fn spike_addr(&self) -> std::io::Result<SocketAddr> {
        self.spikes.local_addr()
    }

    /// Sends a stim packet.
    pub fn send_stim(&self, s: &DoomStim) -> std::io::Result<()> {
        self.send.send_to(&s.encode(), self.addrs.stim).map(|_| ())
    }

    /// Sends a feedback packet.
    pub fn send_feedback(&self, f: &Feedback) -> Result<(), ClientError> {
        self.send.send_to(&f.encode()?, self.addrs.feedback)?;
        Ok(())
    }

    /// Sends an event packet.
    pub fn send_event(&self, e: &EventPacket) -> Result<(), ClientError> {
        self.send.send_to(&e.encode()?, self.addrs.event)?;
        Ok(())
    }

    /// Sends raw bytes to the stim, event or feedback port (index 0, 1, 2).
    pub fn send_raw(&self, port: usize, bytes: &[u8]) -> std::io::Result<()> {
        let to = match port {
            0 => self.addrs.stim,
            1 => self.addrs.event,
            _ => self.addrs.feedback,
        };
        self.send.send_to(bytes, to).map(|_| ())
    }

    /// Changes how long [`DoomClient::recv_spikes`] waits.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Waits for one 40-byte spike reply.
    pub fn recv_spikes(&self) -> Result<DoomSpikes, ClientError> {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout(self.timeout));
            }
            let n = recv_with_timeout(&self.spikes, &mut buf, left)?;
            if n == DOOM_SPIKE_LEN {
                return Ok(DoomSpikes::decode(&buf[..n])?);
            }
        }
    }
}
