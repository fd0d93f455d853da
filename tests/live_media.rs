//! The live media plane over real 127.0.0.1 sockets: a raw UDP "phone" places a call and
//! checks the RTP it gets (welcome prompt, then hold music, one continuous stream), sends
//! RFC 4733 DTMF, goes silent (inactivity BYE), and sends from another port than its SDP
//! says (symmetric RTP).

mod in_process;

use in_process::{receive, sdp_audio_port, send, InProcessDaemon};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::net::UdpSocket;
use veertien::media::g711;
use veertien::media::rtp::{write_rtp, RtpHeader, RtpHeaderView};
use veertien::media::sdp::Codec;

const TELEPHONE_EVENT_PT: u8 = 101;

/// Starts the daemon in-process with its own RTP range and `extra` settings.
async fn start(rtp_port_min: u16, extra: &[(&str, &str)]) -> InProcessDaemon {
    in_process::start(&in_process::shipped_config(), rtp_port_min, 20, extra).await
}

async fn socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("socket on loopback")
}

fn request(method: &str, client: SocketAddr, call_id: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:14010@127.0.0.1 SIP/2.0\n\
Via: SIP/2.0/UDP {client};branch=z9hG4bK-{call_id}-{method}\n\
Max-Forwards: 70\n\
From: <sip:caller@127.0.0.1>;tag=t-{call_id}\n\
To: <sip:14010@127.0.0.1>\n\
Call-ID: {call_id}\n\
CSeq: 1 {method}\n\
Contact: <sip:caller@{client}>\n\
{extra}Content-Length: {}\n\n{body}",
        body.replace('\n', "\r\n").len()
    )
}

/// A call from a raw UDP phone, answered and acknowledged.
struct Call {
    sip: UdpSocket,
    /// The daemon's RTP address from the 200's SDP.
    daemon_rtp: SocketAddr,
}

/// Places a call offering PCMA and telephone-event with RTP at `sdp_rtp_port`; runs
/// `before_ack` between the 200 and the ACK.
async fn place_call(
    daemon: &InProcessDaemon,
    call_id: &str,
    sdp_rtp_port: u16,
    before_ack: impl AsyncFnOnce(SocketAddr),
) -> Call {
    let sip = socket().await;
    let me = sip.local_addr().expect("addr");
    let offer = format!(
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio {sdp_rtp_port} RTP/AVP 8 {TELEPHONE_EVENT_PT}\na=rtpmap:8 PCMA/8000\na=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\na=fmtp:{TELEPHONE_EVENT_PT} 0-15\n"
    );
    send(
        &sip,
        daemon.sip,
        &request("INVITE", me, call_id, "Content-Type: application/sdp\n", &offer),
    )
    .await;
    let ok = loop {
        let message = receive(&sip, Duration::from_secs(5))
            .await
            .expect("a response within 5 s");
        if message.starts_with("SIP/2.0 200") {
            break message;
        }
        assert!(message.starts_with("SIP/2.0 1"), "unexpected answer: {message}");
    };
    let port = sdp_audio_port(&ok).expect("m=audio port in the answer");
    let daemon_rtp = SocketAddr::from(([127, 0, 0, 1], port));
    before_ack(daemon_rtp).await;
    let to_tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .expect("To tag")
        .trim()
        .to_string();
    let ack = request("ACK", me, call_id, "", "").replace(
        "To: <sip:14010@127.0.0.1>",
        &format!("To: <sip:14010@127.0.0.1>;tag={to_tag}"),
    );
    send(&sip, daemon.sip, &ack).await;
    Call { sip, daemon_rtp }
}

/// One received RTP packet's fields.
#[derive(Debug, Clone)]
struct Frame {
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

async fn receive_rtp(socket: &UdpSocket, wait: Duration) -> Option<Frame> {
    let mut buf = [0u8; 2048];
    let (len, _) = tokio::time::timeout(wait, socket.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    let view = RtpHeaderView::parse(&buf[..len]).expect("the daemon sends valid RTP");
    Some(Frame {
        marker: view.marker(),
        payload_type: view.payload_type(),
        sequence: view.sequence(),
        timestamp: view.timestamp(),
        ssrc: view.ssrc(),
        payload: view.payload().to_vec(),
    })
}

fn rtp_packet(payload_type: u8, marker: bool, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let header = RtpHeader {
        marker,
        payload_type,
        sequence,
        timestamp,
        ssrc: 0x0bad_cafe,
    };
    write_rtp(&mut buf, &header, payload);
    buf
}

fn welcome_samples() -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prompts/nl/welcome.wav");
    let bytes = std::fs::read(path).expect("welcome.wav readable");
    veertien::media::wav::parse_wav(&bytes)
        .expect("welcome.wav parses")
        .len()
}

fn rms(frames: &[Frame]) -> f64 {
    let samples: Vec<f64> = frames
        .iter()
        .flat_map(|f| f.payload.iter().map(|b| f64::from(g711::decode(Codec::Pcma, *b))))
        .collect();
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

#[tokio::test]
async fn the_caller_hears_the_welcome_then_hold_music_as_one_stream() {
    let mut daemon = start(31400, &[]).await;
    let rtp = socket().await;
    let rtp_port = rtp.local_addr().expect("addr").port();
    let _call = place_call(&daemon, "m1", rtp_port, async |_| {}).await;

    let first = receive_rtp(&rtp, Duration::from_secs(3))
        .await
        .expect("the welcome starts");
    assert!(first.marker, "the first frame starts a talk spurt");
    assert_eq!(first.payload_type, 8, "PCMA as negotiated");
    let mut welcome = vec![first];
    let hold_first = loop {
        let frame = receive_rtp(&rtp, Duration::from_secs(2))
            .await
            .expect("frames keep coming");
        if frame.marker {
            break frame;
        }
        welcome.push(frame);
    };
    for pair in welcome.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence.wrapping_add(1),
            "continuous sequence numbers"
        );
        assert_eq!(
            pair[1].timestamp,
            pair[0].timestamp.wrapping_add(160),
            "20 ms timestamp steps"
        );
        assert_eq!(pair[1].ssrc, pair[0].ssrc, "one SSRC");
        assert_eq!(pair[1].payload.len(), 160, "20 ms of G.711");
    }
    let expected_frames = welcome_samples().div_ceil(160);
    assert!(
        welcome.len().abs_diff(expected_frames) <= 1,
        "welcome lasts {} frames, its WAV {expected_frames}",
        welcome.len()
    );
    assert!(rms(&welcome) > 300.0, "the welcome is audible (RMS {})", rms(&welcome));

    let last_welcome = welcome.last().expect("welcome frames");
    assert_eq!(
        hold_first.sequence,
        last_welcome.sequence.wrapping_add(1),
        "hold music continues the sequence"
    );
    assert_eq!(hold_first.ssrc, last_welcome.ssrc, "hold music continues the stream");
    assert!(
        hold_first.timestamp.wrapping_sub(last_welcome.timestamp) >= 160,
        "timestamps move forward"
    );
    let mut hold = vec![hold_first];
    for _ in 0..25 {
        hold.push(
            receive_rtp(&rtp, Duration::from_secs(1))
                .await
                .expect("hold music plays"),
        );
    }
    for pair in hold.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence.wrapping_add(1),
            "hold music sequence continuous"
        );
    }
    assert!(daemon.media_counter("rtp_packets_sent").await >= (welcome.len() + hold.len()) as u64);
    daemon.shutdown();
}

#[tokio::test]
async fn a_digit_sent_as_rfc4733_events_is_detected_once() {
    let mut daemon = start(31440, &[]).await;
    let rtp = socket().await;
    let rtp_port = rtp.local_addr().expect("addr").port();
    let call = place_call(&daemon, "m2", rtp_port, async |_| {}).await;
    receive_rtp(&rtp, Duration::from_secs(3))
        .await
        .expect("the welcome starts");

    // Digit 5: start (marker), two updates, then three end packets (RFC 4733 §2.5.1.4).
    let timestamp = 8000;
    let event = |end: bool, duration: u16| {
        let [high, low] = duration.to_be_bytes();
        [5, if end { 0x80 | 10 } else { 10 }, high, low]
    };
    let packets = [
        (true, false, 160),
        (false, false, 320),
        (false, false, 480),
        (false, true, 640),
        (false, true, 640),
        (false, true, 640),
    ];
    for (sequence, (marker, end, duration)) in packets.into_iter().enumerate() {
        let packet = rtp_packet(
            TELEPHONE_EVENT_PT,
            marker,
            sequence as u16,
            timestamp,
            &event(end, duration),
        );
        rtp.send_to(&packet, call.daemon_rtp).await.expect("rtp send");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        daemon.wait_for_counter("dtmf_digits", 1, Duration::from_secs(3)).await,
        1,
        "digit detected"
    );
    // Past the detector's end timeout: the repeated end packets did not count twice.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(daemon.media_counter("dtmf_digits").await, 1, "one press, one digit");
    assert!(daemon.media_counter("rtp_packets_received").await >= 6);
    daemon.shutdown();
}

#[tokio::test]
async fn prompt_rtp_goes_where_the_phone_sends_from_not_where_its_sdp_says() {
    let mut daemon = start(31480, &[]).await;
    let decoy = socket().await; // the address in the SDP
    let real = socket().await; // where the phone really sends from (as behind NAT)
    let decoy_port = decoy.local_addr().expect("addr").port();
    let call = place_call(&daemon, "m3", decoy_port, async |daemon_rtp| {
        let packet = rtp_packet(8, true, 1, 160, &[0xd5; 160]);
        real.send_to(&packet, daemon_rtp).await.expect("rtp send");
        tokio::time::sleep(Duration::from_millis(100)).await;
    })
    .await;
    let frame = receive_rtp(&real, Duration::from_secs(3))
        .await
        .expect("prompt RTP at the packets' source");
    assert_eq!(frame.payload_type, 8);
    assert!(
        receive_rtp(&decoy, Duration::from_millis(300)).await.is_none(),
        "nothing to the SDP address"
    );
    // A stranger cannot inject audio once the peer is latched.
    let stranger = socket().await;
    stranger
        .send_to(&rtp_packet(8, false, 2, 320, &[0xd5; 160]), call.daemon_rtp)
        .await
        .expect("send");
    assert_eq!(
        daemon
            .wait_for_counter("rtp_packets_invalid", 1, Duration::from_secs(2))
            .await,
        1
    );
    daemon.shutdown();
}

#[tokio::test]
async fn a_silent_phone_gets_a_bye_after_the_inactivity_timeout() {
    let mut daemon = start(31520, &[("VEERTIEN_RTP__INACTIVITY_TIMEOUT_S", "10")]).await;
    let rtp = socket().await;
    let rtp_port = rtp.local_addr().expect("addr").port();
    let call = place_call(&daemon, "m4", rtp_port, async |_| {}).await;
    let acked_at = tokio::time::Instant::now();
    let bye = loop {
        let message = receive(&call.sip, Duration::from_secs(13))
            .await
            .expect("BYE within 13 s");
        if message.starts_with("BYE ") {
            break message;
        }
    };
    let after = acked_at.elapsed();
    assert!(after >= Duration::from_secs(9), "not before the timeout: {after:?}");
    assert!(bye.contains("Call-ID: m4"), "{bye}");
    assert_eq!(daemon.media_counter("inactivity_timeouts").await, 1);
    daemon.shutdown();
}

#[tokio::test]
async fn a_port_another_process_holds_is_skipped_and_the_call_goes_on() {
    // Another process holds the first RTP port of the daemon's range.
    let _held = std::net::UdpSocket::bind("127.0.0.1:31700").expect("port 31700 free for the test");
    let mut daemon = start(31700, &[]).await;
    let rtp = socket().await;
    let rtp_port = rtp.local_addr().expect("addr").port();
    let call = place_call(&daemon, "m6", rtp_port, async |_| {}).await;
    assert_eq!(call.daemon_rtp.port(), 31702, "the held port is not put in the SDP");
    let frame = receive_rtp(&rtp, Duration::from_secs(2)).await.expect("the welcome prompt arrives");
    assert_eq!(frame.payload_type, 8);
    assert_eq!(daemon.media_counter("bind_failures").await, 1);
    daemon.shutdown();
}

#[tokio::test]
async fn a_missing_prompt_directory_stops_the_start_naming_it() {
    let daemon = start(31560, &[("VEERTIEN_RTP__PROMPT_DIRECTORY", "no/such/prompts")]).await;
    let result = tokio::time::timeout(Duration::from_secs(5), daemon.task)
        .await
        .expect("returns")
        .expect("no panic");
    let error = result.expect_err("startup fails");
    assert!(error.to_string().contains("no/such/prompts"), "{error}");
}

/// The media plane driven directly, as the ACD integration and the relay bench do.
mod plane {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::mpsc;
    use veertien::core::ids::{CallId, MediaSessionId};
    use veertien::engine::{MediaCommand, MediaEvent, MediaFormat, PromptRef};
    use veertien::live::media::{MediaPlane, MediaPlaneConfig, PromptCache};
    use veertien::live::LiveClock;

    fn new_plane() -> (MediaPlane, mpsc::Receiver<MediaEvent>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let prompts = Arc::new(PromptCache::load(&root.join("config/prompts/nl")).expect("prompts load"));
        let config = MediaPlaneConfig {
            bind_ip: [127, 0, 0, 1].into(),
            inactivity_timeout: Duration::from_secs(60),
            prompts,
            // Sessions open on the ports the test names; the plane binds no spare ports.
            rtp_port_min: 0,
            rtp_port_max: 0,
        };
        let (events, events_rx) = mpsc::channel(64);
        (MediaPlane::new(config, LiveClock::start(), 7, events), events_rx)
    }

    async fn open(plane: &mut MediaPlane, id: u64, port: u16, phone: &UdpSocket, codec: Codec, te: Option<u8>) {
        let format = MediaFormat {
            codec,
            payload_type: codec.static_payload_type(),
            telephone_event_pt: te,
        };
        let remote = phone.local_addr().ok();
        plane
            .handle(MediaCommand::Open {
                session: MediaSessionId(id),
                call: CallId(id),
                rtp_port: port,
                remote,
                format: Some(format),
            })
            .await;
    }

    #[tokio::test]
    async fn bridged_legs_relay_with_transcoding_and_one_continuous_stream_per_peer() {
        let (mut plane, _events) = new_plane();
        let (caller, agent) = (socket().await, socket().await);
        open(&mut plane, 1, 31600, &caller, Codec::Pcma, Some(101)).await;
        open(&mut plane, 2, 31602, &agent, Codec::Pcmu, None).await;
        let caller_side = plane.rtp_addr(MediaSessionId(1)).expect("caller leg open");
        let agent_side = plane.rtp_addr(MediaSessionId(2)).expect("agent leg open");

        // The caller hears a prompt first.
        let prompt = MediaCommand::Play {
            session: MediaSessionId(1),
            prompts: vec![PromptRef::new("welcome")],
            looped: false,
            barge_in: false,
        };
        plane.handle(prompt).await;
        let mut heard = Vec::new();
        for _ in 0..5 {
            heard.push(
                receive_rtp(&caller, Duration::from_secs(2))
                    .await
                    .expect("prompt frames"),
            );
        }
        plane
            .handle(MediaCommand::Bridge {
                a: MediaSessionId(1),
                b: MediaSessionId(2),
            })
            .await;

        // The agent speaks (µ-law); the caller hears it as A-law, in the same stream.
        let agent_tone: Vec<u8> = (0..160)
            .map(|i| g711::encode(Codec::Pcmu, if i % 2 == 0 { 4000 } else { -4000 }))
            .collect();
        for sequence in 0..3u16 {
            let packet = rtp_packet(
                0,
                sequence == 0,
                50_000 + sequence,
                1_000_000 + u32::from(sequence) * 160,
                &agent_tone,
            );
            agent.send_to(&packet, agent_side).await.expect("agent rtp");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let relayed = loop {
            let frame = receive_rtp(&caller, Duration::from_secs(2))
                .await
                .expect("relayed audio");
            if frame.marker {
                break frame;
            }
            heard.push(frame); // prompt frames in flight when the bridge started
        };
        let last_prompt = heard.last().expect("prompt frames");
        assert_eq!(
            relayed.sequence,
            last_prompt.sequence.wrapping_add(1),
            "the relay continues the prompt's sequence"
        );
        assert_eq!(relayed.ssrc, last_prompt.ssrc, "the caller sees one SSRC");
        assert_eq!(relayed.payload_type, 8, "the caller's payload type");
        let expected: Vec<u8> = agent_tone.iter().map(|b| g711::ulaw_to_alaw(*b)).collect();
        assert_eq!(relayed.payload, expected, "µ-law transcoded to A-law");
        let next = receive_rtp(&caller, Duration::from_secs(1))
            .await
            .expect("second relayed frame");
        assert_eq!(
            (next.sequence, next.timestamp),
            (relayed.sequence.wrapping_add(1), relayed.timestamp.wrapping_add(160))
        );

        // The caller's audio reaches the agent as µ-law; its DTMF is dropped (no
        // telephone-event on the agent leg) but still detected.
        let caller_voice = [g711::encode(Codec::Pcma, 1000); 160];
        caller
            .send_to(&rtp_packet(8, true, 7, 640, &caller_voice), caller_side)
            .await
            .expect("caller rtp");
        let to_agent = receive_rtp(&agent, Duration::from_secs(1))
            .await
            .expect("relayed to the agent");
        assert_eq!(to_agent.payload_type, 0);
        assert!(to_agent
            .payload
            .iter()
            .all(|b| *b == g711::alaw_to_ulaw(caller_voice[0])));
        caller
            .send_to(&rtp_packet(101, true, 8, 800, &[3, 0x80 | 10, 0, 160]), caller_side)
            .await
            .expect("dtmf");
        assert!(
            receive_rtp(&agent, Duration::from_millis(300)).await.is_none(),
            "no telephone-event to a leg without it"
        );
        let counters = plane.counters();
        assert_eq!(veertien::live::media::MediaCounters::get(&counters.dtmf_digits), 1);

        // After Unbridge nothing is relayed; Close frees the ports at once.
        plane
            .handle(MediaCommand::Unbridge {
                a: MediaSessionId(1),
                b: MediaSessionId(2),
            })
            .await;
        caller
            .send_to(&rtp_packet(8, false, 9, 960, &caller_voice), caller_side)
            .await
            .expect("caller rtp");
        assert!(
            receive_rtp(&agent, Duration::from_millis(300)).await.is_none(),
            "unbridged"
        );
        plane
            .handle(MediaCommand::Close {
                session: MediaSessionId(1),
                rtp_port: 31600,
            })
            .await;
        plane
            .handle(MediaCommand::Close {
                session: MediaSessionId(2),
                rtp_port: 31602,
            })
            .await;
        assert_eq!(plane.session_count(), 0);
        std::net::UdpSocket::bind("127.0.0.1:31600").expect("port free after Close");
    }

    #[tokio::test]
    async fn a_digit_stops_a_barge_in_prompt_and_reports_it_finished() {
        let (mut plane, mut events) = new_plane();
        let caller = socket().await;
        open(&mut plane, 1, 31640, &caller, Codec::Pcma, Some(101)).await;
        let caller_side = plane.rtp_addr(MediaSessionId(1)).expect("open");
        let prompts = vec![PromptRef::new("welcome")];
        plane
            .handle(MediaCommand::Play {
                session: MediaSessionId(1),
                prompts,
                looped: false,
                barge_in: true,
            })
            .await;
        receive_rtp(&caller, Duration::from_secs(2))
            .await
            .expect("the prompt plays");
        caller
            .send_to(&rtp_packet(101, true, 1, 800, &[9, 0x80 | 10, 0, 160]), caller_side)
            .await
            .expect("dtmf");
        let mut seen = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await {
            seen.push(event.clone());
            if event
                == (MediaEvent::PlayoutFinished {
                    session: MediaSessionId(1),
                })
            {
                break;
            }
        }
        assert_eq!(
            seen,
            vec![
                MediaEvent::Digit {
                    session: MediaSessionId(1),
                    digit: '9'
                },
                MediaEvent::PlayoutFinished {
                    session: MediaSessionId(1)
                }
            ],
            "the digit, then the prompt ends long before its 3.8 s"
        );
        // Frames already in flight aside, the prompt has stopped.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while receive_rtp(&caller, Duration::from_millis(10)).await.is_some() {}
        assert!(
            receive_rtp(&caller, Duration::from_millis(300)).await.is_none(),
            "silence after barge-in"
        );
    }

    #[tokio::test]
    async fn a_port_in_use_reports_open_failed() {
        let (mut plane, mut events) = new_plane();
        let _holder = std::net::UdpSocket::bind("127.0.0.1:31680").expect("port free for the test");
        let caller = socket().await;
        open(&mut plane, 5, 31680, &caller, Codec::Pcma, None).await;
        assert!(plane.rtp_addr(MediaSessionId(5)).is_none());
        let event = tokio::time::timeout(Duration::from_secs(1), events.recv())
            .await
            .expect("event in time");
        assert_eq!(
            event,
            Some(MediaEvent::OpenFailed {
                session: MediaSessionId(5)
            })
        );
        assert_eq!(
            veertien::live::media::MediaCounters::get(&plane.counters().bind_failures),
            1
        );
    }

    #[tokio::test]
    async fn a_late_answer_sets_the_codec_without_undoing_the_latched_peer() {
        let (mut plane, _events) = new_plane();
        let (phone, decoy) = (socket().await, socket().await);
        let session = MediaSessionId(8);
        let open = MediaCommand::Open {
            session,
            call: CallId(8),
            rtp_port: 31700,
            remote: None,
            format: None,
        };
        plane.handle(open).await;
        let daemon_side = plane.rtp_addr(session).expect("open");
        phone
            .send_to(&rtp_packet(0, true, 1, 160, &[0xff; 160]), daemon_side)
            .await
            .expect("rtp");
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The answer in the ACK: PCMU, and an SDP address other than the packets' source.
        let format = MediaFormat {
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event_pt: None,
        };
        plane
            .handle(MediaCommand::Update {
                session,
                remote: decoy.local_addr().ok(),
                format,
            })
            .await;
        let prompts = vec![PromptRef::new("welcome")];
        plane
            .handle(MediaCommand::Play {
                session,
                prompts,
                looped: false,
                barge_in: false,
            })
            .await;
        let frame = receive_rtp(&phone, Duration::from_secs(2))
            .await
            .expect("prompt at the latched source");
        assert_eq!(frame.payload_type, 0, "the codec of the late answer");
        assert!(
            receive_rtp(&decoy, Duration::from_millis(200)).await.is_none(),
            "nothing to the SDP address"
        );
    }
}
