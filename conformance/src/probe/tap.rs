//! TAP output for the probe. The harness renumbers these lines into its own
//! running count, so the probe only has to be consistent with itself.

pub struct Tap {
    count: usize,
}

impl Tap {
    pub fn new() -> Tap {
        Tap { count: 0 }
    }

    /// One case: `Ok(())` passes, `Err(detail)` fails with "expected X, got Y" style detail.
    pub fn case(&mut self, name: &str, result: Result<(), String>) {
        self.count += 1;
        match result {
            Ok(()) => println!("ok {} - {}", self.count, name),
            Err(detail) => println!("not ok {} - {}: {}", self.count, name, one_line(&detail)),
        }
    }

    /// Compare an observed value with the configured one.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, name: &str, expected: T, got: T) {
        let result = if expected == got {
            Ok(())
        } else {
            Err(format!("expected {expected:?}, got {got:?}"))
        };
        self.case(name, result);
    }

    /// Compare a value that the probe may have failed to observe.
    pub fn eq_res<T: PartialEq + std::fmt::Debug>(
        &mut self,
        name: &str,
        expected: T,
        got: Result<T, String>,
    ) {
        match got {
            Ok(got) => self.eq(name, expected, got),
            Err(e) => self.case(
                name,
                Err(format!("expected {expected:?}, could not observe: {e}")),
            ),
        }
    }

    /// A case that cannot apply here (counted as passed by the harness, marked SKIP).
    pub fn skip(&mut self, name: &str, reason: &str) {
        self.count += 1;
        println!("ok {} - {} # SKIP {}", self.count, name, one_line(reason));
    }

    pub fn comment(&self, text: &str) {
        println!("# {}", one_line(text));
    }

    /// The plan line, printed last: the harness treats its absence as a probe crash.
    pub fn finish(&self) {
        println!("1..{}", self.count);
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " | ")
}
