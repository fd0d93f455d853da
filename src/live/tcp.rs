//! SIP over TCP: accepts connections, frames each stream by Content-Length (RFC 3261
//! §18.3) and gives each connection a writer task, so the engine never blocks on a slow
//! peer. Connections are bounded; at the bound new ones are closed at once.

use super::DriverEvent;
use crate::core::ids::ConnectionId;
use crate::sip::msg::StreamFramer;
use crate::sip::transport::{Peer, TransportKind};
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Largest SIP message accepted on a stream.
pub const MAX_STREAM_MESSAGE_BYTES: usize = 64 * 1024;
/// Messages queued for one connection's writer before we drop the connection.
const WRITER_QUEUE_BOUND: usize = 1024;

/// Accepts connections until the listener fails or the engine goes away.
pub async fn accept_loop(listener: TcpListener, events: mpsc::Sender<DriverEvent>, max_connections: usize) {
    let next_id = Arc::new(AtomicU64::new(1));
    let open = Arc::new(AtomicUsize::new(0));
    let local = listener.local_addr().ok();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "tcp accept failed");
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= max_connections {
            tracing::warn!(%remote, "tcp connection limit reached; closing new connection");
            drop(stream);
            continue;
        }
        let Some(local) = local else { continue };
        let id = ConnectionId(next_id.fetch_add(1, Ordering::Relaxed));
        let peer = Peer { transport: TransportKind::Tcp, local, remote, connection: Some(id) };
        let (writer_tx, mut writer_rx) = mpsc::channel::<Bytes>(WRITER_QUEUE_BOUND);
        if events.send(DriverEvent::Connected { id, writer: writer_tx }).await.is_err() {
            return;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (mut reader, mut writer) = stream.into_split();
        tokio::spawn(async move {
            while let Some(bytes) = writer_rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let events = events.clone();
        let open = open.clone();
        tokio::spawn(async move {
            read_connection(&mut reader, peer, &events).await;
            open.fetch_sub(1, Ordering::Relaxed);
            let _ = events.send(DriverEvent::Disconnected { peer }).await;
        });
    }
}

async fn read_connection(reader: &mut tokio::net::tcp::OwnedReadHalf, peer: Peer, events: &mpsc::Sender<DriverEvent>) {
    let mut framer = StreamFramer::new(MAX_STREAM_MESSAGE_BYTES);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        framer.push(&buf[..read]);
        loop {
            match framer.next_message() {
                Ok(Some(message)) => {
                    if events.send(DriverEvent::Message { peer, bytes: message }).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::info!(%error, remote = %peer.remote, "closing unframeable tcp stream");
                    let _ = events.send(DriverEvent::StreamError { peer }).await;
                    return;
                }
            }
        }
    }
}
