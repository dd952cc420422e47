//! Records encoded by bpfkit-log-common's encoder (the layout the eBPF side writes through
//! the same `LogArg::write_slot`), decoded, rendered and forwarded to a `log::Log`.

use std::sync::Mutex;

use bpfkit_log::{decode, forward, Arg, DecodeError};
use bpfkit_log_common::{Level, LogArg, RecordBuilder};

/// An 8-byte aligned scratch buffer.
struct Buf([u64; 64]);

impl Buf {
    fn new() -> Self {
        Buf([0; 64])
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: viewing the u64 array as bytes; same size and lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), 512) }
    }
}

fn encode_one<T: LogArg + ?Sized>(buf: &mut Buf, fmt: &str, arg: &T) -> usize {
    RecordBuilder::new(buf.bytes(), Level::Info, "prog::net", fmt, 42)
        .and_then(|b| b.arg(arg))
        .map(|b| b.finish())
        .expect("record fits")
}

fn message_of<T: LogArg + ?Sized>(fmt: &str, arg: &T) -> String {
    let mut buf = Buf::new();
    let len = encode_one(&mut buf, fmt, arg);
    let bytes = buf.bytes();
    decode(&bytes[..len])
        .expect("decodes")
        .message()
        .expect("renders")
}

#[test]
fn integers_render_in_decimal_and_hex() {
    assert_eq!(message_of("pid {}", &4242u32), "pid 4242");
    assert_eq!(message_of("delta {}", &-17i64), "delta -17");
    assert_eq!(message_of("flags {:x}", &0xbeefu16), "flags beef");
    assert_eq!(message_of("flags {:X}", &0xbeefu64), "flags BEEF");
    assert_eq!(message_of("neg {:x}", &-1i8), "neg ff");
    assert_eq!(message_of("ok {}", &true), "ok true");
}

#[test]
fn strings_and_byte_arrays_render_as_text_or_hex() {
    assert_eq!(
        message_of("comm {}", b"bash\0\0\0\0\0\0\0\0\0\0\0\0"),
        "comm bash"
    );
    assert_eq!(message_of("path {}", "/usr/bin/true"), "path /usr/bin/true");
    assert_eq!(
        message_of("key {:x}", &[0xde_u8, 0xad, 0xbe, 0xef]),
        "key deadbeef"
    );
    let long = "x".repeat(100);
    assert_eq!(
        message_of("{}", long.as_str()),
        "x".repeat(64),
        "cut at STR_CAPACITY"
    );
}

#[test]
fn addresses_render_as_ipv4_ipv6_and_mac() {
    // A __be32 as the kernel stores 10.1.2.3: its bytes in memory are the octets.
    let be32 = u32::from_ne_bytes([10, 1, 2, 3]);
    assert_eq!(message_of("from {:i}", &be32), "from 10.1.2.3");
    assert_eq!(
        message_of("from {:i}", &[192u8, 168, 0, 1]),
        "from 192.168.0.1"
    );
    let v6 = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets();
    assert_eq!(message_of("to {:i}", &v6), "to 2001:db8::1");
    assert_eq!(
        message_of("mac {:mac}", &[0x02u8, 0x42, 0xac, 0x11, 0, 0x0a]),
        "mac 02:42:ac:11:00:0a"
    );
}

#[test]
fn record_header_fields_are_decoded() {
    let mut buf = Buf::new();
    let len = RecordBuilder::new(
        buf.bytes(),
        Level::Warn,
        "execsnoop",
        "{} {{literal}} {:x}",
        7,
    )
    .and_then(|b| b.arg(&1u8))
    .and_then(|b| b.arg(&255u32))
    .map(|b| b.finish())
    .expect("record fits");
    let bytes = buf.bytes();
    let record = decode(&bytes[..len]).expect("decodes");
    assert_eq!(record.level, Level::Warn);
    assert_eq!(record.target, "execsnoop");
    assert_eq!(record.line, 7);
    assert_eq!(
        record.args,
        vec![
            Arg::Unsigned { value: 1, size: 1 },
            Arg::Unsigned {
                value: 255,
                size: 4
            }
        ]
    );
    assert_eq!(record.message().unwrap(), "1 {literal} ff");
}

#[test]
fn malformed_records_are_errors_naming_the_part() {
    let mut buf = Buf::new();
    let len = encode_one(&mut buf, "pid {}", &1u32);
    let bytes = buf.bytes().to_vec();
    assert_eq!(
        decode(&bytes[..10]),
        Err(DecodeError::Truncated {
            part: "header",
            start: 0,
            end: 16,
            len: 10
        })
    );
    assert!(matches!(
        decode(&bytes[..len - 1]),
        Err(DecodeError::Truncated { part: "record", .. })
    ));
    let mut bad = bytes.clone();
    bad[0] = 9;
    assert_eq!(
        decode(&bad[..len]),
        Err(DecodeError::Version {
            found: 9,
            expected: 1
        })
    );
    let mut bad = bytes.clone();
    bad[1] = 0;
    assert_eq!(decode(&bad[..len]), Err(DecodeError::Level { value: 0 }));
    // first argument descriptor sits after header (16), target "prog::net" (16), fmt (8)
    let mut bad = bytes.clone();
    bad[40] = 77;
    assert_eq!(
        decode(&bad[..len]),
        Err(DecodeError::ArgTag {
            index: 0,
            tag: 77,
            offset: 40
        })
    );
}

#[test]
fn hint_and_argument_mismatch_is_reported() {
    let mut buf = Buf::new();
    let len = encode_one(&mut buf, "{:mac}", &5u32);
    let bytes = buf.bytes();
    let err = decode(&bytes[..len]).unwrap().message().unwrap_err();
    assert_eq!(
        err.to_string(),
        "log record argument 0: {:mac} cannot render a u32"
    );
    let len = encode_one(&mut buf, "{} {}", &5u32);
    let bytes = buf.bytes();
    let err = decode(&bytes[..len]).unwrap().message().unwrap_err();
    assert_eq!(
        err,
        DecodeError::ArgCount {
            placeholders: 2,
            args: 1
        }
    );
}

/// (level, target, line, message) of one forwarded record.
type Logged = (log::Level, String, Option<u32>, String);

struct Capture(Mutex<Vec<Logged>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0.lock().unwrap().push((
            record.level(),
            record.target().to_string(),
            record.line(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

#[test]
fn forward_logs_with_level_target_and_line() {
    let capture = Capture(Mutex::new(Vec::new()));
    let mut buf = Buf::new();
    let len = RecordBuilder::new(buf.bytes(), Level::Error, "xdp_fw", "drop {:i}", 99)
        .and_then(|b| b.arg(&[10u8, 0, 0, 1]))
        .map(|b| b.finish())
        .expect("fits");
    let bytes = buf.bytes();
    forward(&bytes[..len], &capture).expect("forwards");
    let got = capture.0.lock().unwrap();
    assert_eq!(
        *got,
        vec![(
            log::Level::Error,
            "xdp_fw".to_string(),
            Some(99),
            "drop 10.0.0.1".to_string()
        )]
    );
}
