//! The harness's TAP stream: one running counter over every case of every
//! scenario, a plan line, and the summary line `N passed, M failed` last.

pub struct Tap {
    count: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " | ")
}

impl Tap {
    pub fn new() -> Tap {
        Tap {
            count: 0,
            passed: 0,
            failed: 0,
            skipped: 0,
        }
    }

    pub fn pass(&mut self, name: &str) {
        self.count += 1;
        self.passed += 1;
        println!("ok {} - {}", self.count, one_line(name));
    }

    /// `text` is "name: detail" (the detail saying what was expected and got).
    pub fn fail(&mut self, text: &str) {
        self.count += 1;
        self.failed += 1;
        println!("not ok {} - {}", self.count, one_line(text));
    }

    pub fn case(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.pass(name),
            Err(detail) => self.fail(&format!("{name}: {detail}")),
        }
    }

    /// A case that cannot apply here; counted as passed, and says so.
    pub fn skip(&mut self, name: &str, reason: &str) {
        self.count += 1;
        self.passed += 1;
        self.skipped += 1;
        println!(
            "ok {} - {} # SKIP {}",
            self.count,
            one_line(name),
            one_line(reason)
        );
    }

    pub fn comment(&self, text: &str) {
        println!("# {}", one_line(text));
    }

    pub fn failed(&self) -> usize {
        self.failed
    }

    /// Plan line, skip note, and the summary as the very last line.
    pub fn finish(&self) {
        println!("1..{}", self.count);
        if self.skipped > 0 {
            println!("# {} of the passed cases were skipped", self.skipped);
        }
        println!("{} passed, {} failed", self.passed, self.failed);
    }
}
