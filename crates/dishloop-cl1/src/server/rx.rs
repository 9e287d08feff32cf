//! Receiving datagrams with the time they reached the host.
//!
//! On Linux every listening socket gets `SO_TIMESTAMPNS`, and datagrams are read with `recvmsg`:
//! the kernel stamps each datagram when its network stack takes it in (on loopback, inside the
//! sender's `sendto`), so the arrival time does not depend on when the server's thread is
//! scheduled. Elsewhere, or if the option is refused, the arrival is the instant `recv` returned
//! (which includes the receiving thread's wake-up delay).
//!
//! Linux switches receive timestamping on through deferred work when the first socket in the
//! system asks for it, so datagrams in the first moments after a server binds (when no other
//! socket had it on) may be stamped when they are read; the servers therefore enable it at bind
//! time.
//!
//! Datagrams that arrive while a socket's kernel buffer is full are dropped by the kernel, as
//! on the real device. On Linux each socket also gets `SO_RXQ_OVFL`, and every datagram read
//! carries the socket's cumulative drop count, so the servers report how many datagrams never
//! reached them (`dropped_by_kernel`; drops after the last datagram read stay unseen). The
//! servers ask for a 4 MiB receive buffer (the kernel caps it at `net.core.rmem_max`).
//!
//! Two ways to receive ([`Receivers`]):
//! - **threads** (default): one blocking receiver thread per socket feeds a bounded queue that
//!   the device loop drains every tick;
//! - **busy poll** (`--busy-poll`): no threads; the sockets are non-blocking and the device loop
//!   drains them itself right after each tick boundary, which it reaches by spinning. Datagrams
//!   wait in the kernel's socket buffer in between.

use super::{Datagram, ServerError, io_err};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;
/// Datagrams buffered between a receiver thread and the loop (beyond this the kernel buffers, then
/// drops, as it would for the real device).
const QUEUE_DATAGRAMS: usize = 65_536;
/// Receive buffer the servers ask for, bytes (capped by the kernel at `net.core.rmem_max`).
const RECV_BUFFER_BYTES: usize = 4 << 20;
/// A kernel timestamp older than this is taken as a wall-clock step, not a real age.
const MAX_PLAUSIBLE_AGE: Duration = Duration::from_secs(10);

/// Asks the kernel to timestamp datagrams on `sock` and to report its drop count with each;
/// `true` if it will timestamp.
pub(crate) fn enable_kernel_timestamps(sock: &UdpSocket) -> bool {
    imp::enable(sock)
}

/// Reads one datagram: `(bytes, sender, arrival, arrival came from the kernel)`.
pub(crate) fn recv_stamped(
    sock: &UdpSocket,
    buf: &mut [u8],
    kernel: bool,
) -> std::io::Result<Datagram> {
    let (n, from, stamp, drops) = if kernel {
        imp::recv(sock, buf)?
    } else {
        let (n, from) = sock.recv_from(buf)?;
        (n, from, None, None)
    };
    let now = Instant::now();
    let (arrived, kernel_stamped) = match stamp {
        Some(t) => (realtime_to_instant(t, now, SystemTime::now()), true),
        None => (now, false),
    };
    Ok(Datagram {
        bytes: buf[..n].to_vec(),
        from,
        arrived,
        kernel_stamped,
        kernel_drops: drops,
    })
}

/// The monotonic instant of a `CLOCK_REALTIME` stamp, given a pair of "now" readings.
fn realtime_to_instant(stamp: SystemTime, now: Instant, now_sys: SystemTime) -> Instant {
    match now_sys.duration_since(stamp) {
        Ok(age) if age <= MAX_PLAUSIBLE_AGE => now.checked_sub(age).unwrap_or(now),
        // Stamped "in the future" (clock step back) or implausibly old (step forward).
        _ => now,
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, SystemTime};

    fn set_int(sock: &UdpSocket, opt: libc::c_int, value: libc::c_int) -> bool {
        // SAFETY: a valid fd and a c_int option value of the stated length.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    }

    pub fn enable(sock: &UdpSocket) -> bool {
        // Best effort: a smaller buffer or no drop counter only lose information.
        let _ = set_int(
            sock,
            libc::SO_RCVBUF,
            super::RECV_BUFFER_BYTES.min(libc::c_int::MAX as usize) as libc::c_int,
        );
        let _ = set_int(sock, libc::SO_RXQ_OVFL, 1);
        set_int(sock, libc::SO_TIMESTAMPNS, 1)
    }

    /// `recvmsg` with the `SCM_TIMESTAMPNS` control message parsed.
    pub fn recv(
        sock: &UdpSocket,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, SocketAddr, Option<SystemTime>, Option<u32>)> {
        // SAFETY: every pointer in `msg` refers to a live local buffer of the stated length for
        // the duration of the call; the kernel writes at most those lengths; control messages
        // are walked with the libc CMSG macros within `msg_controllen` and read unaligned.
        unsafe {
            let mut addr: libc::sockaddr_storage = std::mem::zeroed();
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // u64 for alignment; 128 bytes hold a timespec control message several times over.
            let mut control = [0u64; 16];
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut stamp = None;
            let mut drops = None;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    if t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec) {
                        stamp = Some(
                            SystemTime::UNIX_EPOCH
                                + Duration::new(t.tv_sec as u64, t.tv_nsec as u32),
                        );
                    }
                } else if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_RXQ_OVFL
                {
                    drops = Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<u32>()));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            let from = match addr.ss_family as libc::c_int {
                libc::AF_INET => {
                    let a = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                    SocketAddr::V4(SocketAddrV4::new(
                        Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                        u16::from_be(a.sin_port),
                    ))
                }
                libc::AF_INET6 => {
                    let a = &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                    SocketAddr::V6(SocketAddrV6::new(
                        Ipv6Addr::from(a.sin6_addr.s6_addr),
                        u16::from_be(a.sin6_port),
                        a.sin6_flowinfo,
                        a.sin6_scope_id,
                    ))
                }
                other => {
                    return Err(std::io::Error::other(format!(
                        "recvmsg: unexpected address family {other}"
                    )));
                }
            };
            Ok((n as usize, from, stamp, drops))
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::net::UdpSocket;
    use std::time::SystemTime;

    pub fn enable(_sock: &UdpSocket) -> bool {
        false
    }

    pub fn recv(
        sock: &UdpSocket,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, SocketAddr, Option<SystemTime>, Option<u32>)> {
        let (n, from) = sock.recv_from(buf)?;
        Ok((n, from, None, None))
    }
}

/// The listening sockets of a server, read by threads or polled by the loop.
pub(crate) struct Receivers {
    inner: Inner,
    kernel_timestamps: bool,
    /// Largest cumulative kernel drop count seen per socket.
    drops: Vec<u32>,
}

enum Inner {
    Threads {
        rx: mpsc::Receiver<(usize, Datagram)>,
        shutdown: Arc<AtomicBool>,
        handles: Vec<JoinHandle<()>>,
    },
    Poll {
        sockets: Vec<UdpSocket>,
        buf: Vec<u8>,
    },
}

impl Receivers {
    /// Starts receiving on `sockets` (tagged by index): receiver threads, or with `busy_poll`
    /// non-blocking sockets that [`Receivers::drain`] reads directly.
    pub fn spawn(sockets: Vec<UdpSocket>, busy_poll: bool) -> Result<Self, ServerError> {
        let mut kernel_timestamps = true;
        for s in &sockets {
            kernel_timestamps &= enable_kernel_timestamps(s);
        }
        let drops = vec![0; sockets.len()];
        if busy_poll {
            for s in &sockets {
                s.set_nonblocking(true)
                    .map_err(io_err("making a socket non-blocking"))?;
            }
            return Ok(Self {
                inner: Inner::Poll {
                    sockets,
                    buf: vec![0; MAX_DATAGRAM],
                },
                kernel_timestamps,
                drops,
            });
        }
        let (tx, rx) = mpsc::sync_channel(QUEUE_DATAGRAMS);
        let shutdown = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for (idx, sock) in sockets.into_iter().enumerate() {
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .map_err(io_err("setting a socket read timeout"))?;
            let tx = tx.clone();
            let stop = shutdown.clone();
            let kernel = kernel_timestamps;
            let h = std::thread::Builder::new()
                .name(format!("cl1-rx-{idx}"))
                .spawn(move || receive_loop(idx, sock, kernel, tx, stop))
                .map_err(io_err("spawning a receiver thread"))?;
            handles.push(h);
        }
        Ok(Self {
            inner: Inner::Threads {
                rx,
                shutdown,
                handles,
            },
            kernel_timestamps,
            drops,
        })
    }

    /// Datagrams the kernel dropped because a socket's buffer was full, as reported with the
    /// datagrams read so far (Linux `SO_RXQ_OVFL`; 0 elsewhere).
    pub fn kernel_dropped(&self) -> u64 {
        self.drops.iter().map(|&d| u64::from(d)).sum()
    }

    /// Whether arrivals are kernel timestamps (else user-space receive instants).
    pub fn kernel_timestamps(&self) -> bool {
        self.kernel_timestamps
    }

    /// Hands every datagram received so far to `f`, without blocking.
    pub fn drain(&mut self, mut f: impl FnMut(usize, Datagram)) {
        let kernel = self.kernel_timestamps;
        let drops = &mut self.drops;
        let mut f = |i: usize, d: Datagram| {
            note_drops(drops, i, &d);
            f(i, d)
        };
        match &mut self.inner {
            Inner::Threads { rx, .. } => {
                while let Ok((i, d)) = rx.try_recv() {
                    f(i, d);
                }
            }
            Inner::Poll { sockets, buf } => {
                for (i, s) in sockets.iter().enumerate() {
                    // WouldBlock ends the socket's turn; other errors (ICMP "connection refused"
                    // after replying to a closed port) are skipped, as the threads do.
                    let mut errors = 0;
                    loop {
                        match recv_stamped(s, buf, kernel) {
                            Ok(d) => f(i, d),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(_) => {
                                errors += 1;
                                if errors > 64 {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Waits up to `timeout` for datagrams (an idle accelerated loop), handing them to `f`.
    pub fn wait(&mut self, timeout: Duration, mut f: impl FnMut(usize, Datagram)) {
        let end = Instant::now() + timeout;
        match &mut self.inner {
            Inner::Threads { rx, .. } => {
                if let Ok((i, d)) = rx.recv_timeout(timeout) {
                    note_drops(&mut self.drops, i, &d);
                    f(i, d);
                }
            }
            Inner::Poll { .. } => loop {
                let mut got = false;
                self.drain(|i, d| {
                    got = true;
                    f(i, d);
                });
                if got || Instant::now() >= end {
                    return;
                }
                std::hint::spin_loop();
            },
        }
    }
}

/// Keeps the largest cumulative drop count a socket has reported.
fn note_drops(drops: &mut [u32], i: usize, d: &Datagram) {
    if let (Some(c), Some(slot)) = (d.kernel_drops, drops.get_mut(i)) {
        *slot = (*slot).max(c);
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        let Inner::Threads {
            rx,
            shutdown,
            handles,
        } = &mut self.inner
        else {
            return;
        };
        shutdown.store(true, Ordering::Relaxed);
        // Unblock senders waiting on a full queue, then join.
        while rx.try_recv().is_ok() {}
        for h in handles.drain(..) {
            while !h.is_finished() {
                while rx.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = h.join();
        }
    }
}

fn receive_loop(
    idx: usize,
    sock: UdpSocket,
    kernel: bool,
    tx: mpsc::SyncSender<(usize, Datagram)>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::Relaxed) {
        match recv_stamped(&sock, &mut buf, kernel) {
            Ok(d) => {
                if tx.send((idx, d)).is_err() {
                    return;
                }
            }
            // Timeouts, and ICMP "connection refused/reset" after replying to a closed port.
            Err(_) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_stamp_precedes_the_read_and_is_recent() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let kernel = enable_kernel_timestamps(&rx);
        assert_eq!(kernel, cfg!(target_os = "linux"));
        let mut buf = [0u8; 64];
        // Linux turns receive timestamping on through deferred work after the first socket asks
        // for it; until then a datagram is stamped when it is read. So allow a few attempts.
        let mut stamped_on_arrival = false;
        for _ in 0..20 {
            let before = Instant::now();
            tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
            let after = Instant::now();
            // The datagram waits ≥ 30 ms in the socket buffer; a kernel stamp must not include
            // that.
            std::thread::sleep(Duration::from_millis(30));
            let d = recv_stamped(&rx, &mut buf, kernel).unwrap();
            let read_at = Instant::now();
            assert_eq!(d.bytes, b"hello");
            assert_eq!(d.from, tx.local_addr().unwrap());
            assert_eq!(d.kernel_stamped, kernel);
            // Allow 1 ms for the realtime → monotonic conversion.
            let slack = Duration::from_millis(1);
            assert!(d.arrived + slack >= before, "stamped before the send");
            assert!(d.arrived <= read_at + slack, "stamped after the read");
            if !kernel {
                assert!(d.arrived >= after + Duration::from_millis(30));
                return;
            }
            // Loopback stamps inside the sender's sendto.
            if d.arrived <= after + slack {
                assert!(read_at - d.arrived >= Duration::from_millis(29));
                stamped_on_arrival = true;
                break;
            }
        }
        assert!(stamped_on_arrival, "no datagram carried its arrival time");
    }

    #[test]
    fn realtime_conversion_guards_clock_steps() {
        let now = Instant::now();
        let sys = SystemTime::now();
        let ms5 = Duration::from_millis(5);
        assert_eq!(realtime_to_instant(sys - ms5, now, sys), now - ms5);
        assert_eq!(realtime_to_instant(sys + ms5, now, sys), now);
        assert_eq!(
            realtime_to_instant(sys - 2 * MAX_PLAUSIBLE_AGE, now, sys),
            now
        );
    }

    #[test]
    fn busy_poll_drains_in_order_and_ipv6_addresses_survive() {
        let Ok(rx) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback here
        };
        let tx = UdpSocket::bind("[::1]:0").unwrap();
        let to = rx.local_addr().unwrap();
        let mut r = Receivers::spawn(vec![rx], true).unwrap();
        for i in 0..5u8 {
            tx.send_to(&[i; 3], to).unwrap();
        }
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(2);
        while got.len() < 5 && Instant::now() < end {
            r.wait(Duration::from_millis(10), |i, d| got.push((i, d)));
        }
        assert_eq!(got.len(), 5);
        for (k, (i, d)) in got.iter().enumerate() {
            assert_eq!(*i, 0);
            assert_eq!(d.bytes, vec![k as u8; 3]);
            assert_eq!(d.from, tx.local_addr().unwrap());
        }
    }
}
