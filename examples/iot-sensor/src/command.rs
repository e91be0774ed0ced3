//! The commands a node takes on `portnet/<device-id>/command`, one per message,
//! as text: `interval <milliseconds>`, `leds <mask>` (decimal, `0x…` or `0b…`),
//! `reboot`.

use core::time::Duration;

/// The shortest telemetry interval a command may set.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest telemetry interval a command may set (one day).
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// A command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Publish telemetry at this interval from now on.
    Interval(Duration),
    /// Show this mask on the LEDs.
    Leds(u8),
    /// Restart the node.
    Reboot,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Not UTF-8, or not a command this node knows.
    Unknown,
    /// A number was missing, malformed or out of range.
    BadArgument,
}

impl core::fmt::Display for CommandError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Unknown => "unknown command (expected interval <ms>, leds <mask> or reboot)",
            Self::BadArgument => "bad argument",
        })
    }
}

/// Parses one command; surrounding white space is ignored.
///
/// # Errors
///
/// [`CommandError`] for anything else than the three commands with valid arguments.
pub fn parse(payload: &[u8]) -> Result<Command, CommandError> {
    let text = core::str::from_utf8(payload).map_err(|_| CommandError::Unknown)?;
    let mut words = text.split_ascii_whitespace();
    let command = match (words.next(), words.next()) {
        (Some("reboot"), None) => Command::Reboot,
        (Some("interval"), Some(ms)) => {
            let ms: u64 = ms.parse().map_err(|_| CommandError::BadArgument)?;
            let interval = Duration::from_millis(ms);
            if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
                return Err(CommandError::BadArgument);
            }
            Command::Interval(interval)
        }
        (Some("leds"), Some(mask)) => Command::Leds(parse_mask(mask)?),
        (Some("interval" | "leds"), None) => return Err(CommandError::BadArgument),
        _ => return Err(CommandError::Unknown),
    };
    match words.next() {
        None => Ok(command),
        Some(_) => Err(CommandError::BadArgument),
    }
}

fn parse_mask(text: &str) -> Result<u8, CommandError> {
    let parsed = if let Some(hex) = text.strip_prefix("0x") {
        u8::from_str_radix(hex, 16)
    } else if let Some(bin) = text.strip_prefix("0b") {
        u8::from_str_radix(bin, 2)
    } else {
        text.parse()
    };
    parsed.map_err(|_| CommandError::BadArgument)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_commands() {
        assert_eq!(parse(b"reboot"), Ok(Command::Reboot));
        assert_eq!(parse(b"  reboot\n"), Ok(Command::Reboot));
        assert_eq!(
            parse(b"interval 500"),
            Ok(Command::Interval(Duration::from_millis(500)))
        );
        assert_eq!(parse(b"leds 3"), Ok(Command::Leds(3)));
        assert_eq!(parse(b"leds 0b10"), Ok(Command::Leds(2)));
        assert_eq!(parse(b"leds 0xff"), Ok(Command::Leds(255)));
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        assert_eq!(parse(b""), Err(CommandError::Unknown));
        assert_eq!(parse(b"explode"), Err(CommandError::Unknown));
        assert_eq!(parse(&[0xff, 0xfe]), Err(CommandError::Unknown));
        assert_eq!(parse(b"interval"), Err(CommandError::BadArgument));
        assert_eq!(parse(b"interval 99"), Err(CommandError::BadArgument));
        assert_eq!(
            parse(b"interval 99999999999"),
            Err(CommandError::BadArgument)
        );
        assert_eq!(parse(b"interval -1"), Err(CommandError::BadArgument));
        assert_eq!(parse(b"leds 256"), Err(CommandError::BadArgument));
        assert_eq!(parse(b"leds 0xZZ"), Err(CommandError::BadArgument));
        assert_eq!(parse(b"reboot now"), Err(CommandError::Unknown));
        assert_eq!(parse(b"leds 1 2"), Err(CommandError::BadArgument));
    }
}
