//! Registrar (placeholder while the message-layer parsers land).
