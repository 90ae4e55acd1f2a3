//! The exit codes scripts rely on: the one place that numbers them, below everything that
//! ends the process with one (`exit` for errors, `output` for a second interrupt).

/// The transfer failed.
pub(crate) const FAILED: u8 = 1;
/// Bad input: nothing was created.
pub(crate) const BAD_INPUT: u8 = 2;
/// Stopped once `--max-transfer` bytes had moved (rclone's code for it).
pub(crate) const TRANSFER_UP: u8 = 8;
/// Stopped at the end of `--max-duration` (rclone's code for it).
pub(crate) const TIME_UP: u8 = 10;
/// Interrupted by Ctrl-C, SIGTERM or SIGHUP.
pub(crate) const INTERRUPTED: u8 = 130;
/// What read the data on stdout stopped reading (`| head`): the code of a command that
/// SIGPIPE ended.
pub(crate) const READER_GONE: u8 = 141;
