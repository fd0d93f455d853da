//! The live tokio driver over real 127.0.0.1 sockets (port 0): raw SIP datagrams in,
//! responses out, bad input answered precisely and never fatal.

mod in_process;

use in_process::{receive, sdp_audio_port, send, InProcessDaemon};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// Starts the daemon in-process with its own RTP range and a 4 KiB datagram limit (so
/// the oversized-request case is cheap to build).
async fn start(rtp_port_min: u16) -> InProcessDaemon {
    in_process::start(&in_process::shipped_config(), rtp_port_min, 20, &[("VEERTIEN_LIMITS__MAX_UDP_DATAGRAM_BYTES", "4096")]).await
}

async fn phone(ip: &str) -> UdpSocket {
    UdpSocket::bind(format!("{ip}:0")).await.expect("client socket on loopback")
}

/// Reads responses until one with a final status (≥ 200); returns its status line.
async fn final_response(socket: &UdpSocket) -> String {
    loop {
        let message = receive(socket, Duration::from_secs(5)).await.expect("a response within 5 s");
        let status_line = message.lines().next().unwrap_or_default().to_string();
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if status >= 200 {
            return message;
        }
    }
}

fn request(method: &str, number: &str, client: SocketAddr, call_id: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:{number}@127.0.0.1 SIP/2.0\n\
Via: SIP/2.0/UDP {client};branch=z9hG4bK-{call_id}-{method}\n\
Max-Forwards: 70\n\
From: <sip:caller@127.0.0.1>;tag=t-{call_id}\n\
To: <sip:{number}@127.0.0.1>\n\
Call-ID: {call_id}\n\
CSeq: 1 {method}\n\
Contact: <sip:caller@{client}>\n\
{extra}Content-Length: {}\n\n{body}",
        body.replace('\n', "\r\n").len()
    )
}

const OFFER: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 7000 RTP/AVP 8 0\n";

#[tokio::test]
async fn bad_input_is_answered_precisely_and_the_daemon_keeps_serving() {
    let mut daemon = start(31000).await;
    let client = phone("127.0.0.1").await;
    let me = client.local_addr().expect("addr");

    send(&client, daemon.sip, "\u{0}\u{1}\u{2} definitely not SIP\n\n").await;
    assert_eq!(receive(&client, Duration::from_millis(300)).await, None, "garbage is dropped silently");

    let no_call_id = request("OPTIONS", "14010", me, "x1", "", "").replace("Call-ID: x1\n", "");
    send(&client, daemon.sip, &no_call_id).await;
    let answer = final_response(&client).await;
    assert!(answer.starts_with("SIP/2.0 400") && answer.lines().next().unwrap_or_default().contains("Call-ID"), "{answer}");

    send(&client, daemon.sip, &request("INVITE", "14999", me, "x2", "", OFFER)).await;
    assert!(final_response(&client).await.starts_with("SIP/2.0 404"));

    let padding = format!("X-Padding: {}\n", "p".repeat(5000));
    send(&client, daemon.sip, &request("INVITE", "14010", me, "x3", &padding, OFFER)).await;
    assert!(final_response(&client).await.starts_with("SIP/2.0 513"));

    send(&client, daemon.sip, &request("SUBSCRIBE", "14010", me, "x4", "", "")).await;
    let answer = final_response(&client).await;
    assert!(answer.starts_with("SIP/2.0 405") && answer.contains("Allow: INVITE"), "{answer}");

    send(&client, daemon.sip, &request("OPTIONS", "14010", me, "x5", "", "")).await;
    assert!(final_response(&client).await.starts_with("SIP/2.0 200"), "still serving after bad input");

    let health = daemon.get("/health").await;
    assert!(health.contains("\"malformed_dropped\":1"), "{health}");
    assert!(health.contains("\"unknown_number\":1"), "{health}");
    daemon.shutdown();
    daemon.stopped_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn untrusted_source_is_refused_with_403() {
    let mut daemon = start(31100).await;
    let stranger = phone("127.0.0.2").await;
    let me = stranger.local_addr().expect("addr");
    send(&stranger, daemon.sip, &request("INVITE", "14010", me, "u1", "", OFFER)).await;
    assert!(final_response(&stranger).await.starts_with("SIP/2.0 403"));
    daemon.shutdown();
}

#[tokio::test]
async fn a_call_is_answered_and_shutdown_refuses_new_ones() {
    let mut daemon = start(31200).await;
    let client = phone("127.0.0.1").await;
    let me = client.local_addr().expect("addr");
    send(&client, daemon.sip, &request("INVITE", "14010", me, "c1", "Content-Type: application/sdp\n", OFFER)).await;
    let ok = final_response(&client).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let port = sdp_audio_port(&ok).expect("m=audio port in the answer");
    assert!((31200..31220).contains(&port), "RTP port {port} from the configured range");
    // The answered port is really bound: our RTP lands on a socket, not an ICMP error.
    let rtp = phone("127.0.0.1").await;
    rtp.send_to(&[0x80, 8, 0, 1, 0, 0, 0, 160, 0, 0, 0, 1], ("127.0.0.1", port)).await.expect("rtp send");

    let to_tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .expect("To tag")
        .trim()
        .to_string();
    let ack = request("ACK", "14010", me, "c1", "", "").replace("To: <sip:14010@127.0.0.1>", &format!("To: <sip:14010@127.0.0.1>;tag={to_tag}"));
    send(&client, daemon.sip, &ack).await;

    daemon.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = phone("127.0.0.1").await;
    let late_me = late.local_addr().expect("addr");
    send(&late, daemon.sip, &request("INVITE", "14010", late_me, "c2", "Content-Type: application/sdp\n", OFFER)).await;
    let refused = final_response(&late).await;
    assert!(refused.starts_with("SIP/2.0 503") && refused.contains("Retry-After:"), "{refused}");

    // After the 1 s drain the daemon sends BYE for the established call.
    let bye = loop {
        let message = receive(&client, Duration::from_secs(5)).await.expect("BYE after the drain");
        if message.starts_with("BYE ") {
            break message;
        }
    };
    let via = bye.lines().find(|l| l.starts_with("Via:")).expect("Via");
    let cseq = bye.lines().find(|l| l.starts_with("CSeq:")).expect("CSeq");
    let from = bye.lines().find(|l| l.starts_with("From:")).expect("From");
    let to = bye.lines().find(|l| l.starts_with("To:")).expect("To");
    let ok = format!("SIP/2.0 200 OK\n{via}\n{from}\n{to}\nCall-ID: c1\n{cseq}\nContent-Length: 0\n\n");
    send(&client, daemon.sip, &ok).await;
    daemon.stopped_within(Duration::from_secs(5)).await;
}
