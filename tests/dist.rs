//! Distribution: the man page and shell completions generated from the flags, and `-V`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{rnetstat, run, stdout_of};

/// Run `program args` with `input` on its standard input.
fn run_with_input(program: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

/// A file in a directory of its own under the system's temporary directory, removed on drop.
struct TempFile {
    dir: std::path::PathBuf,
}

impl TempFile {
    fn with(name: &str, contents: &[u8]) -> (TempFile, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("rnetstat-dist-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write the temporary file");
        (TempFile { dir }, path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
#[cfg_attr(not(has_groff), ignore = "needs groff (apt-get install groff)")]
fn man_page_renders_without_groff_warnings() {
    let page = run(&["--generate", "man"]);
    assert!(
        page.status.success(),
        "{}",
        String::from_utf8_lossy(&page.stderr)
    );
    let text = String::from_utf8_lossy(&page.stdout);
    assert!(
        text.contains("\n.TH rnetstat 1 "),
        "not a man page:\n{text}"
    );
    let checked = run_with_input("groff", &["-man", "-ww", "-z"], &page.stdout);
    assert!(checked.status.success(), "groff failed");
    assert_eq!(
        String::from_utf8_lossy(&checked.stderr),
        "",
        "groff warned about the man page"
    );
}

#[test]
#[cfg_attr(not(has_man), ignore = "needs man (apt-get install man-db)")]
fn man_page_shows_every_flag_the_filter_language_and_exit_statuses() {
    let page = run(&["--generate", "man"]).stdout;
    let (_dir, path) = TempFile::with("rnetstat.1", &page);
    let shown = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(&path)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .output()
        .expect("run man");
    assert!(shown.status.success(), "man -l failed");
    assert_eq!(String::from_utf8_lossy(&shown.stderr), "", "man warned");
    let text = String::from_utf8_lossy(&shown.stdout);
    for expected in [
        "NAME",
        "SYNOPSIS",
        "--metrics-file",
        "--generate",
        "EXIT STATUS",
        "docs/filters.md",
        "FILTER",
    ] {
        assert!(
            text.contains(expected),
            "the man page lacks {expected}:\n{text}"
        );
    }
}

/// The candidates bash offers for `line` (completing its last word) with rnetstat's
/// generated completion loaded.
fn bash_completions(line: &str) -> Vec<String> {
    let script = stdout_of(&["--generate", "complete-bash"]);
    let (_dir, path) = TempFile::with("rnetstat.bash", script.as_bytes());
    let program = r#"
        source "$1"
        spec=$(complete -p rnetstat) || exit 3
        function=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<< "$spec")
        read -r -a COMP_WORDS <<< "$2"
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMP_LINE=$2
        COMP_POINT=${#COMP_LINE}
        "$function" rnetstat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", program, "bash"])
        .arg(&path)
        .arg(line)
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "bash could not load the completion: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|candidate| candidate.trim().to_string())
        .collect()
}

#[test]
fn bash_completion_completes_long_flags_and_generate_values() {
    let flags = bash_completions("rnetstat --me");
    assert!(flags.contains(&"--metrics".to_string()), "{flags:?}");
    assert!(flags.contains(&"--metrics-file".to_string()), "{flags:?}");
    assert!(
        flags.iter().all(|flag| flag.starts_with("--me")),
        "{flags:?}"
    );
    let kinds = bash_completions("rnetstat --generate complete-");
    for kind in ["complete-bash", "complete-zsh", "complete-fish"] {
        assert!(kinds.contains(&kind.to_string()), "{kinds:?}");
    }
}

#[test]
#[cfg_attr(not(has_fish), ignore = "needs fish (apt-get install fish)")]
fn fish_completion_completes_long_flags() {
    let script = stdout_of(&["--generate", "complete-fish"]);
    let (_dir, path) = TempFile::with("rnetstat.fish", script.as_bytes());
    let output = Command::new("fish")
        .args([
            "--no-config",
            "-c",
            "source $argv[1]; complete -C 'rnetstat --me'",
        ])
        .arg(&path)
        .output()
        .expect("run fish");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let candidates: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split('\t').next().unwrap_or(line).to_string())
        .collect();
    assert!(
        candidates.contains(&"--metrics".to_string()),
        "{candidates:?}"
    );
    assert!(
        candidates.contains(&"--metrics-file".to_string()),
        "{candidates:?}"
    );
    // The filter words, as the first word and after others; values of --sort after it.
    for (line, offered) in [
        ("rnetstat cont", "container"),
        ("rnetstat -t state est", "established"),
        ("rnetstat --sort rem", "remote"),
    ] {
        let output = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!("source $argv[1]; complete -C '{line}'"))
            .arg(&path)
            .output()
            .expect("run fish");
        let candidates: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| line.split('\t').next().unwrap_or(line).to_string())
            .collect();
        assert!(
            candidates.contains(&offered.to_string()),
            "{line}: {candidates:?}"
        );
    }
}

#[test]
#[cfg_attr(not(has_zsh), ignore = "needs zsh (apt-get install zsh)")]
fn zsh_completion_loads_and_defines_its_function() {
    let script = stdout_of(&["--generate", "complete-zsh"]);
    let (_dir, path) = TempFile::with("_rnetstat", script.as_bytes());
    // compinit registers a #compdef file found on fpath; the function must then be defined.
    let program = "fpath=(${1:h} $fpath); autoload -Uz compinit; compinit -u -D; \
                   autoload -Uz _rnetstat; whence -w _rnetstat; print -r -- ${_comps[rnetstat]}";
    let output = Command::new("zsh")
        .args(["-f", "-c", program, "zsh"])
        .arg(&path)
        .output()
        .expect("run zsh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("_rnetstat: function"), "{text}");
    assert!(text.lines().any(|line| line == "_rnetstat"), "{text}");
    let syntax = Command::new("zsh")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("run zsh -n");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
}

#[test]
fn powershell_completion_registers_an_argument_completer() {
    // PowerShell is not packaged by Debian: this checks the script names our flags.
    let script = stdout_of(&["--generate", "complete-powershell"]);
    assert!(
        script.contains("Register-ArgumentCompleter -Native -CommandName 'rnetstat'"),
        "{script}"
    );
    assert!(script.contains("'--metrics-file'"), "{script}");
}

#[test]
fn generate_with_a_bad_kind_or_another_flag_is_a_usage_error() {
    for (args, why) in [
        (
            &["--generate", "complete-tcsh"][..],
            "possible values: man, complete-bash",
        ),
        (
            &["--generate"],
            "a value is required for '--generate <KIND>'",
        ),
        (&["--generate", "man", "--json"], "cannot be used with"),
        (&["--generate", "man", "-l"], "cannot be used with"),
        (
            &["-t", "--generate", "complete-bash"],
            "cannot be used with",
        ),
        (&["--generate", "man", "sport = :22"], "cannot be used with"),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

/// `git` in the source directory; `None` when this is not a git checkout.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
#[cfg_attr(
    not(built_from_git),
    ignore = "needs a git checkout of rnetstat (the build found none)"
)]
fn version_names_the_commit_it_was_built_from() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).expect("git rev-parse");
    let version = stdout_of(&["-V"]);
    let long = stdout_of(&["--version"]);
    assert_eq!(version, long);
    // Without optional locks git does not rewrite its index, which the build script watches.
    let changes = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])
    .expect("git status");
    let dirty = if changes.is_empty() { "" } else { "-dirty" };
    assert_eq!(
        version,
        format!("rnetstat {} ({commit}{dirty})\n", env!("CARGO_PKG_VERSION"))
    );
    let toplevel = git(&["rev-parse", "--show-toplevel"]).expect("git toplevel");
    assert_eq!(
        Path::new(&toplevel).canonicalize().ok(),
        Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().ok()
    );
}

#[test]
fn man_page_carries_the_same_version_and_commit_as_dash_v() {
    let version = stdout_of(&["-V"]);
    let mut generated = rnetstat();
    let page = generated.args(["--generate", "man"]).output().expect("run");
    let page = String::from_utf8_lossy(&page.stdout);
    let version_number = version
        .trim()
        .strip_prefix("rnetstat ")
        .expect("-V starts with the name");
    assert!(
        page.contains(version_number),
        "the man page lacks {version_number}"
    );
}

/// Whether `program` runs at all here (found on PATH and executable).
#[cfg(unix)]
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
#[cfg(unix)]
fn build_time_probes_agree_with_this_machine() {
    // A wrong probe would ignore a test that could run, or run one that cannot.
    let probes = [
        ("tmux", cfg!(has_tmux)),
        ("ss", cfg!(has_ss)),
        ("netstat", cfg!(has_netstat)),
        ("python3", cfg!(has_python3)),
        ("setpriv", cfg!(has_setpriv)),
        ("prometheus", cfg!(has_prometheus)),
        ("promtool", cfg!(has_promtool)),
        ("prometheus-node-exporter", cfg!(has_node_exporter)),
        ("groff", cfg!(has_groff)),
        ("zsh", cfg!(has_zsh)),
        ("fish", cfg!(has_fish)),
    ];
    for (program, probed) in probes {
        assert_eq!(probed, runs(program), "the build's probe for {program}");
    }
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    assert_eq!(cfg!(is_root), root, "the build's probe for root");
}

/// `scripts/test_summary.sh` on a cargo test log: its output and whether it succeeded.
#[cfg(unix)]
fn test_summary(log: &str) -> (bool, String) {
    let (_dir, path) = TempFile::with("cargo-test.log", log.as_bytes());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test_summary.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(&path)
        .output()
        .expect("run bash");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
#[cfg(unix)]
fn ci_fails_when_a_test_was_ignored_and_names_it_with_the_reason() {
    let clean = "running 2 tests\n\
                 test a ... ok\n\
                 test b ... ok\n\
                 test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
                 running 1 test\n\
                 test c ... ok\n\
                 test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n";
    let (ok, text) = test_summary(clean);
    assert!(ok, "{text}");
    assert!(
        text.lines()
            .any(|line| line == "tests: 3 passed, 0 failed, 0 skipped"),
        "{text}"
    );

    let skipped = "running 2 tests\n\
                   test live_quits ... ignored, needs tmux (apt-get install tmux)\n\
                   test b ... ok\n\
                   test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n";
    let (ok, text) = test_summary(skipped);
    assert!(!ok, "{text}");
    assert!(
        text.lines()
            .any(|line| line == "tests: 1 passed, 0 failed, 1 skipped"),
        "{text}"
    );
    assert!(
        text.contains("live_quits: needs tmux (apt-get install tmux)"),
        "{text}"
    );

    let (ok, text) = test_summary("error: could not compile `rnetstat`\n");
    assert!(!ok, "no test ran, yet it passed: {text}");
}
