//! `--generate`: the man page and the shell completion scripts, built from the clap flags so
//! they can never describe flags rnetstat does not have.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{Args, Generate};
use crate::error::Error;

/// The man page's own sections, after clap's OPTIONS (roff; lines never start with `.` or `'`
/// unless they are requests).
const MAN_EXTRA_SECTIONS: &str = r#".SH FILTERS
The FILTER words are the filter language of
.BR ss (8),
unchanged:
.IR "state STATE" ,
.IR "exclude STATE" ,
and an expression over
.BR sport ,
.BR dport ,
.BR src ,
.BR dst ,
with
.BR and ,
.BR or ,
.B not
and parentheses; rnetstat adds
.BR "process NAME" | /REGEX/ ,
.BR "pid N" ,
.BR "user NAME" | UID ,
.BR "netns NAME" | INODE ,
.BR "proto tcp" | udp
and
.BR "port N" .
The words may be one quoted argument or many. For example:
.PP
.RS
.nf
rnetstat \-tan state established '( dport = :443 or dport = :https )'
rnetstat \-tlnp process sshd
.fi
.RE
.PP
The whole language, every state name and the differences from ss are in
.I docs/filters.md
in rnetstat's source; the JSON schema of
.B \-\-json
is in
.IR docs/json.md ,
the metrics of
.B \-\-metrics
in
.IR docs/metrics.md ,
the dashboard's keys in
.IR docs/live.md ,
and every flag with examples in
.IR docs/usage.md .
.SH "EXIT STATUS"
.TP
.B 0
Success; also when whoever read the output went away (a closed pipe).
.TP
.B 1
Collecting the sockets or writing the output failed, or the live dashboard could not run.
.TP
.B 2
A usage error: an unknown flag, a bad value or a bad filter.
.TP
.B 101
An internal error (a panic in any thread), reported in one line.
.PP
The live dashboard, ended by a signal other than TERM, HUP or INT, restores the terminal and
then dies of that signal, so the shell's status names it.
.SH "SEE ALSO"
.BR ss (8),
.BR netstat (8),
.BR lsof (8)
"#;

/// Write what `kind` asks for to `out`.
/// `--generate KIND`: the text on stdout.
pub fn run(kind: Generate) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    write(&mut out, kind)
        .and_then(|()| out.flush())
        .map_err(Error::Write)
}

pub fn write(out: &mut dyn Write, kind: Generate) -> io::Result<()> {
    let mut command = Args::command();
    let shell = match kind {
        Generate::Man => return write_man_page(out, command),
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
    };
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name.clone(), out);
    if shell == Shell::Fish {
        // clap_complete's fish script offers no positional values: the filter words, as
        // words of their own (any other text is taken too).
        let words = crate::cli::args::FilterWords::WORDS.join(" ");
        writeln!(out, "complete -c {name} -a '{words}'")?;
    }
    Ok(())
}

/// clap_mangen's sections, with the filter language, exit statuses and see-also before the
/// version.
fn write_man_page(out: &mut dyn Write, command: clap::Command) -> io::Result<()> {
    let man = clap_mangen::Man::new(command);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    out.write_all(MAN_EXTRA_SECTIONS.as_bytes())?;
    write_dashboard_keys(out)?;
    man.render_version_section(out)
}

/// The dashboard's keys, from the same list its help screen shows.
fn write_dashboard_keys(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, ".SH \"DASHBOARD KEYS\"")?;
    writeln!(out, "In")?;
    writeln!(out, ".BR \\-\\-live :")?;
    for (key, what) in crate::tui::view::HELP
        .iter()
        .filter(|(key, _)| !key.is_empty())
    {
        writeln!(out, ".TP")?;
        writeln!(out, ".B {}", roff(key))?;
        writeln!(out, "{}", roff(what))?;
    }
    Ok(())
}

/// Text safe on a roff line: backslashes and hyphens escaped, non-ASCII as `\[uXXXX]`, no
/// leading `.` or `'`.
fn roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c if c.is_ascii() => out.push(c),
            // groff reads ASCII: anything else by its code point.
            c => out.push_str(&format!("\\[u{:04X}]", u32::from(c))),
        }
    }
    let text = out;
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(kind: Generate) -> String {
        let mut out = Vec::new();
        write(&mut out, kind).expect("generate");
        String::from_utf8(out).expect("text")
    }

    #[test]
    fn the_man_page_lists_every_dashboard_key_and_completions_offer_sort_keys_and_filter_words() {
        let man = generated(Generate::Man);
        assert!(man.contains(".SH \"DASHBOARD KEYS\""));
        for (key, _) in crate::tui::view::HELP
            .iter()
            .filter(|(key, _)| !key.is_empty())
        {
            assert!(man.contains(&format!(".B {}\n", roff(key))), "{key}");
        }
        for kind in [
            Generate::CompleteBash,
            Generate::CompleteZsh,
            Generate::CompleteFish,
        ] {
            let script = generated(kind);
            for (key, _) in crate::filter::sort::SortKey::NAMES {
                assert!(script.contains(key), "{kind:?} lacks {key}");
            }
            for word in ["syn-recv", "container", "cgroup", "sport"] {
                assert!(
                    script.contains(word),
                    "{kind:?} lacks the filter word {word}"
                );
            }
        }
    }

    #[test]
    fn every_kind_writes_something_naming_rnetstat() {
        for kind in [
            Generate::Man,
            Generate::CompleteBash,
            Generate::CompleteZsh,
            Generate::CompleteFish,
            Generate::CompletePowershell,
        ] {
            let mut out = Vec::new();
            write(&mut out, kind).expect("write to memory");
            let text = String::from_utf8(out).expect("utf-8");
            assert!(text.contains("rnetstat"), "{kind:?}: {text}");
        }
    }

    #[test]
    fn man_page_sections_come_in_order() {
        let mut out = Vec::new();
        write(&mut out, Generate::Man).expect("write to memory");
        let page = String::from_utf8(out).expect("utf-8");
        let positions: Vec<usize> = [
            ".TH rnetstat 1",
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH FILTERS",
            ".SH \"EXIT STATUS\"",
            ".SH \"SEE ALSO\"",
            ".SH VERSION",
        ]
        .iter()
        .map(|section| {
            page.find(section)
                .unwrap_or_else(|| panic!("no {section}:\n{page}"))
        })
        .collect();
        assert!(positions.is_sorted(), "{positions:?}\n{page}");
    }
}
