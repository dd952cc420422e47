//! The full-screen view (ratatui over crossterm): one table refreshed every interval, keys to
//! sort, filter and scroll.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::{Frame, Terminal};

use super::sample::{Row, Sample};
use super::stats::Stats;
use super::View;

/// Raw mode and the alternate screen, undone on drop (every return path, errors too).
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> io::Result<Self> {
        terminal::enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(out, terminal::EnterAlternateScreen, cursor::Hide) {
            let _ = terminal::disable_raw_mode();
            return Err(e);
        }
        let terminal = Terminal::new(CrosstermBackend::new(out));
        match terminal {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
                let _ = terminal::disable_raw_mode();
                Err(e)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(
            self.terminal.backend_mut(),
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// What the keys change.
struct State {
    view: View,
    /// Every program's row of the last sample (filtered and sorted when drawn).
    rows: Vec<Row>,
    table: TableState,
    /// Typing a filter after `/`.
    editing: bool,
}

/// Runs the view until q/Esc/Ctrl-C or `stop` (SIGINT/SIGTERM).
pub fn run(view: View, stats: &Stats, stop: &AtomicBool) -> Result<(), Box<dyn std::error::Error>> {
    let mut screen = Screen::enter()?;
    let mut before = Sample::take()?;
    let mut state = State {
        view,
        rows: Vec::new(),
        table: TableState::default(),
        editing: false,
    };
    // The first table comes at once (rates over a short first interval), then every interval.
    let mut next = Instant::now() + Duration::from_millis(200).min(state.view.interval);
    let status = stats.to_string();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next {
            let sample = Sample::take()?;
            state.rows = state.view.all_rows(&before, &sample);
            before = sample;
            next = before.at + state.view.interval;
        }
        screen.terminal.draw(|f| draw(f, &mut state, &status))?;
        let wait = next.saturating_duration_since(Instant::now());
        if event::poll(wait.min(Duration::from_millis(100)))? {
            if let Event::Key(key) = event::read()? {
                if key.kind == KeyEventKind::Press && !handle_key(&mut state, key) {
                    return Ok(());
                }
            }
        }
    }
}

/// Applies a key; false to quit.
fn handle_key(state: &mut State, key: KeyEvent) -> bool {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return false;
    }
    if state.editing {
        match key.code {
            KeyCode::Enter => state.editing = false,
            KeyCode::Esc => {
                state.editing = false;
                state.view.filter.text.clear();
            }
            KeyCode::Backspace => {
                state.view.filter.text.pop();
            }
            KeyCode::Char(c) => state.view.filter.text.push(c),
            _ => {}
        }
        return true;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => return false,
        KeyCode::Char('s') => {
            state.view.sort = state.view.sort.next();
        }
        KeyCode::Char('r') => {
            state.view.reverse = !state.view.reverse;
        }
        KeyCode::Char('/') => state.editing = true,
        KeyCode::Down => {
            let last = state.view.shown(&state.rows).len().saturating_sub(1);
            let i = state.table.selected().map_or(0, |i| (i + 1).min(last));
            state.table.select(Some(i));
        }
        KeyCode::Up => {
            let i = state.table.selected().map_or(0, |i| i.saturating_sub(1));
            state.table.select(Some(i));
        }
        _ => {}
    }
    true
}

fn draw(f: &mut Frame<'_>, state: &mut State, status: &str) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let shown = state.view.shown(&state.rows);
    // A fold from +0.0: an empty f64 sum is -0.0.
    let total_cpu = shown.iter().fold(0.0, |sum, r| sum + r.cpu_percent);
    let header = vec![
        Line::from(format!(
            "bpfkit top - {} programs, {:.3}% CPU, every {:.2}s - {status}",
            shown.len(),
            total_cpu,
            state.view.interval.as_secs_f64()
        )),
        Line::from(format!(
            "sort: {}{}   filter: {}{}",
            state.view.sort.label(),
            if state.view.reverse {
                " (reversed)"
            } else {
                ""
            },
            state.view.filter.text,
            if state.editing { "_" } else { "" }
        )),
    ];
    f.render_widget(Paragraph::new(header), head);

    let bold = Style::default().add_modifier(Modifier::BOLD);
    let titles = [
        "ID",
        "TYPE",
        "NAME",
        "RUNS/S",
        "AVG NS",
        "CPU %",
        "RUN COUNT",
        "RUN TIME NS",
        "PROCESSES",
    ];
    let table_rows = shown.iter().map(|r| {
        TableRow::new([
            Cell::from(r.id.to_string()),
            Cell::from(r.type_name.clone()),
            Cell::from(r.name.clone()),
            Cell::from(format!("{:.1}", r.runs_per_sec)),
            Cell::from(format!("{:.0}", r.avg_ns)),
            Cell::from(format!("{:.3}", r.cpu_percent)),
            Cell::from(r.run_cnt.to_string()),
            Cell::from(r.run_time_ns.to_string()),
            Cell::from(r.owners_text()),
        ])
    });
    let widths = [
        Constraint::Length(6),
        Constraint::Length(14),
        Constraint::Length(16),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Min(10),
    ];
    let table = Table::new(table_rows, widths)
        .header(TableRow::new(titles).style(bold))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_stateful_widget(table, body, &mut state.table);
    f.render_widget(
        Paragraph::new("q quit  s sort  r reverse  / filter  Up/Down scroll"),
        foot,
    );
}
