//! Progress over all files of a download: bytes, speed over the last seconds, time left.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::DownloadProgress;

/// Least time between two reports while bytes flow.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);
/// The speed is measured over this much recent time.
const SPEED_WINDOW: Duration = Duration::from_secs(5);

/// Counts bytes and files and calls the progress callback.
pub(crate) struct Tracker<'a> {
    callback: &'a mut dyn FnMut(&DownloadProgress),
    state: DownloadProgress,
    /// Bytes that arrived in this call, with when: the speed's samples.
    samples: VecDeque<(Instant, u64)>,
    arrived: u64,
    last_report: Option<Instant>,
}

impl<'a> Tracker<'a> {
    pub fn new(
        callback: &'a mut dyn FnMut(&DownloadProgress),
        files_total: usize,
        bytes_total: u64,
    ) -> Self {
        Self {
            callback,
            state: DownloadProgress {
                file: String::new(),
                files_done: 0,
                files_total,
                bytes_done: 0,
                bytes_total,
                bytes_per_second: 0.0,
                remaining: None,
            },
            samples: VecDeque::new(),
            arrived: 0,
            last_report: None,
        }
    }

    /// A file that is already complete (or the complete part of one), counted as done without
    /// a report.
    pub fn already_have(&mut self, bytes: u64, whole_file: bool) {
        self.state.bytes_done += bytes;
        if whole_file {
            self.state.files_done += 1;
        }
    }

    /// A size learnt only from the headers.
    pub fn add_to_total(&mut self, bytes: u64) {
        self.state.bytes_total += bytes;
    }

    /// Bytes thrown away (a corrupted or restarted file) must come again: the total grows, so
    /// that the bytes done never go back.
    pub fn discard(&mut self, bytes: u64) {
        self.state.bytes_total += bytes;
    }

    pub fn start_file(&mut self, file: &str) {
        file.clone_into(&mut self.state.file);
        self.report(true);
    }

    pub fn advance(&mut self, bytes: u64) {
        self.state.bytes_done += bytes;
        self.arrived += bytes;
        self.report(false);
    }

    pub fn finish_file(&mut self) {
        self.state.files_done += 1;
        self.report(true);
    }

    /// Reports now, or when the last report is old enough.
    pub fn report(&mut self, force: bool) {
        let now = Instant::now();
        if !force
            && self
                .last_report
                .is_some_and(|last| now.duration_since(last) < REPORT_INTERVAL)
        {
            return;
        }
        self.last_report = Some(now);
        self.samples.push_back((now, self.arrived));
        while self
            .samples
            .front()
            .is_some_and(|(time, _)| now.duration_since(*time) > SPEED_WINDOW)
            && self.samples.len() > 2
        {
            self.samples.pop_front();
        }
        self.state.bytes_per_second = match (self.samples.front(), self.samples.back()) {
            (Some((first_time, first_bytes)), Some((last_time, last_bytes))) => {
                let seconds = last_time.duration_since(*first_time).as_secs_f64();
                if seconds > 0.0 {
                    (last_bytes - first_bytes) as f64 / seconds
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        let left = self.state.bytes_total.saturating_sub(self.state.bytes_done);
        self.state.remaining = if left == 0 {
            Some(Duration::ZERO)
        } else if self.state.bytes_per_second > 0.0 {
            Some(Duration::from_secs_f64(
                left as f64 / self.state.bytes_per_second,
            ))
        } else {
            None
        };
        (self.callback)(&self.state);
    }
}
