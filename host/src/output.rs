//! The plugin's stdout and stderr: captured in memory up to a cap.
//!
//! wasmtime's `MemoryOutputPipe` reports a full buffer as a closed stream,
//! which a plugin may ignore and spin on until the time limit. Here a write
//! past the cap is a trap: the plugin stops at once and the host names the
//! limit it broke.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// How much a plugin may write per `check-write`; the cap itself is checked
/// on every write.
const PERMIT: usize = 64 * 1024;

/// A capped in-memory output stream. Clones share the buffer.
#[derive(Debug, Clone)]
pub(crate) struct CappedOutput {
    cap: usize,
    buffer: Arc<Mutex<BytesMut>>,
    exceeded: Arc<AtomicBool>,
}

impl CappedOutput {
    /// A stream holding at most `cap` bytes; overflowing it sets `exceeded`.
    pub(crate) fn new(cap: usize, exceeded: Arc<AtomicBool>) -> Self {
        Self {
            cap,
            buffer: Arc::default(),
            exceeded,
        }
    }

    /// What the plugin wrote.
    pub(crate) fn contents(&self) -> Vec<u8> {
        self.lock().to_vec()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // A poisoned lock only means another writer panicked mid-append;
        // the bytes are still the plugin's output.
        self.buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `bytes`, or refuses and records the overflow.
    fn append(&self, bytes: &[u8]) -> Result<(), ()> {
        let mut buffer = self.lock();
        if buffer.len().saturating_add(bytes.len()) > self.cap {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(());
        }
        buffer.extend_from_slice(bytes);
        Ok(())
    }
}

#[async_trait::async_trait]
impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes).map_err(|()| {
            StreamError::Trap(wasmtime::format_err!(
                "the plugin wrote more than {} bytes to an output stream",
                self.cap
            ))
        })
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(match self.append(buf) {
            Ok(()) => Ok(buf.len()),
            Err(()) => Err(std::io::Error::other("output limit exceeded")),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_cap_trap_and_are_recorded() {
        let exceeded = Arc::new(AtomicBool::new(false));
        let mut out = CappedOutput::new(8, exceeded.clone());
        assert!(out.write(Bytes::from_static(b"12345")).is_ok());
        assert!(matches!(
            out.write(Bytes::from_static(b"6789")),
            Err(StreamError::Trap(_))
        ));
        assert!(exceeded.load(Ordering::Relaxed));
        assert_eq!(out.contents(), b"12345");
        // A full stream never reports zero room: that would make a plugin
        // wait forever inside the host, where the time limit cannot reach it.
        assert_eq!(out.check_write().unwrap(), PERMIT);
    }
}
